// The probe's steps, in order, each bounded by the step timeout and each on its own connection:
// name lookup; one X.224 Connection Request per protocol set (the first connection is the TCP
// connect test: when it fails nothing else is tried); on the first connection whose server chose a
// TLS-based protocol, a TLS handshake offering TLS 1.0-1.2 (as mstsc does: the certificate then
// travels in the clear, RFC 5246 7.4.2) and, for HYBRID, a CredSSP TSRequest with an NTLM NEGOTIATE
// (MS-CSSP 3.1.5, MS-NLMP 3.1.5.1.1) whose CHALLENGE names the server; then one connection per TLS
// version offered alone. At most 6 + 4 connections, no retries.
import dns from 'node:dns/promises';
import net from 'node:net';
import type tls from 'node:tls';
import { decodeConnectionConfirm } from '../rdp/x224.js';
import { failureCodeName, selectedProtocolName, PROTOCOL_HYBRID, PROTOCOL_HYBRID_EX, PROTOCOL_RDP, PROTOCOL_RDSTLS, PROTOCOL_SSL } from '../rdp/codes.js';
import { readTsRequest } from '../rdp/credssp.js';
import { readNtlmMessage } from '../rdp/ntlm.js';
import { parseCertificate, certificateValidAt, nameMatches } from '../rdp/x509.js';
import type { CertificateInfo } from '../handshake/types.js';
import { ProbeConnection } from './conn.js';
import { connectionRequest, derComplete, ntlmNegotiate, tpktComplete, tsRequest } from './messages.js';
import type { CertJudgement, CredsspStep, LogonStep, ProbeResult, TlsStep, X224Step } from '../report/probe.js';
import { logonTsRequest } from './nla.js';
import type { WireConnection } from './wire.js';

export interface ProbeOptions {
  /** Per step (connect, each answer awaited), milliseconds. */
  timeoutMs: number;
  /** Default port when the target names none. */
  defaultPort?: number;
  /** The local clock (tests). */
  now?: () => Date;
  /** An NLA logon test with these credentials (never sent as such: only the NTLMv2 proof is). */
  credentials?: Credentials;
}

export interface Credentials {
  user: string;
  domain: string;
  password: string;
}

export interface ProbeRun {
  result: ProbeResult;
  /** Every connection's socket record, in the order they were opened. */
  connections: WireConnection[];
  /** NSS key log lines of every TLS session. */
  keyLog: string;
}

/** The protocol sets asked for, one connection each (MS-RDPBCGR 2.2.1.1.1 requestedProtocols). */
export const PROTOCOL_SETS: readonly { set: string; requested: number | null }[] = [
  { set: 'RDP', requested: PROTOCOL_RDP },
  { set: 'SSL', requested: PROTOCOL_SSL },
  { set: 'HYBRID', requested: PROTOCOL_SSL | PROTOCOL_HYBRID },
  { set: 'HYBRID_EX', requested: PROTOCOL_SSL | PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX },
  { set: 'RDSTLS', requested: PROTOCOL_SSL | PROTOCOL_RDSTLS },
  { set: 'none', requested: null },
];

export const TLS_VERSIONS: readonly tls.SecureVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** Our names for OpenSSL's version strings. */
export function tlsVersionName(v: string | null): string | null {
  if (v === null) return null;
  return ({ TLSv1: 'TLS1.0', 'TLSv1.1': 'TLS1.1', 'TLSv1.2': 'TLS1.2', 'TLSv1.3': 'TLS1.3' } as Record<string, string>)[v] ?? v;
}

/** Splits "host", "host:port", "[v6]:port", "v6" into host and port. */
export function parseTarget(target: string, defaultPort = 3389): { host: string; port: number } | string {
  const t = target.trim();
  if (t === '') return 'empty target';
  let host = t;
  let port = defaultPort;
  const br = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  if (br) {
    host = br[1]!;
    if (br[2] !== undefined) port = Number(br[2]);
    if (!net.isIPv6(host)) return `"${target}": not an IPv6 address in brackets`;
  } else if (net.isIPv6(t)) {
    host = t;
  } else {
    const m = /^([^:]+)(?::(\d+))?$/.exec(t);
    if (!m) return `"${target}": expected HOST, HOST:PORT or [IPv6]:PORT`;
    host = m[1]!;
    if (m[2] !== undefined) port = Number(m[2]);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) return `"${target}": port must be 1..65535`;
  if (!net.isIP(host) && !/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_.])?$/.test(host)) return `"${target}": not a host name or IP address`;
  return { host, port };
}

function tlsCapable(selected: number): boolean {
  return selected !== PROTOCOL_RDP;
}

/** The chain node:tls saw, leaf first, each DER parsed by our own X.509 decoder. */
function peerChain(sock: tls.TLSSocket): CertificateInfo[] {
  const out: CertificateInfo[] = [];
  let c = sock.getPeerCertificate(true) as tls.DetailedPeerCertificate | Record<string, never>;
  const seen = new Set<string>();
  while (c && 'raw' in c && c.raw && out.length < 10) {
    const info = parseCertificate(c.raw);
    if (seen.has(info.sha256)) break;
    seen.add(info.sha256);
    out.push(info);
    c = c.issuerCertificate;
  }
  return out;
}

/** RFC 5280 chain judgement against the probed name and the local clock. */
export function judgeChain(chain: CertificateInfo[], name: string, now: Date, seenIn: 'capture' | 'socket'): CertJudgement | null {
  const leaf = chain[0];
  if (!leaf) return null;
  return {
    chain,
    name,
    nameMatches: nameMatches(leaf, name),
    validity: certificateValidAt(leaf, now),
    selfSigned: leaf.selfSigned,
    // NIST SP 800-57 / CA/B Forum: RSA below 2048 bits is weak.
    weakKey: leaf.keyType === 'RSA' && leaf.keyBits !== null && leaf.keyBits < 2048,
    sha1: chain.some((c) => !c.selfSigned && /sha1|sha-1/i.test(c.signatureAlgorithm ?? '')) || /sha1|sha-1/i.test(leaf.signatureAlgorithm ?? ''),
    seenIn,
  };
}

/** OpenSSL's alert name from an error ("...:tlsv1 alert protocol version:..." -> "protocol_version"). */
function alertOf(e: Error): string | null {
  const m = /(?:tlsv\d+|sslv3) alert ([a-z ]+)/i.exec(e.message);
  if (m) return m[1]!.trim().replace(/ /g, '_');
  const code = (e as NodeJS.ErrnoException).code ?? '';
  const m2 = /ERR_SSL_(?:TLSV1|SSLV3)_ALERT_([A-Z_]+)/.exec(code);
  return m2 ? m2[1]!.toLowerCase() : null;
}

export async function runProbe(target: string, opts: ProbeOptions): Promise<ProbeRun | string> {
  const parsed = parseTarget(target, opts.defaultPort ?? 3389);
  if (typeof parsed === 'string') return parsed;
  const now = opts.now ?? ((): Date => new Date());
  const timeoutMs = opts.timeoutMs;
  const start = now();
  const result: ProbeResult = {
    target,
    host: parsed.host,
    port: parsed.port,
    dns: null,
    address: null,
    connect: null,
    x224: [],
    tls: [],
    certificate: null,
    credssp: null,
    logon: null,
    time: start.toISOString(),
    timeoutMs,
  };
  const connections: WireConnection[] = [];
  let keyLog = '';
  const onKeylog = (line: string): void => {
    keyLog += line;
  };

  if (net.isIP(parsed.host)) {
    result.address = parsed.host;
  } else {
    const t0 = Date.now();
    try {
      const addrs = await Promise.race([
        dns.lookup(parsed.host, { all: true, verbatim: true }),
        new Promise<never>((_, reject) => setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })), timeoutMs).unref()),
      ]);
      result.dns = { name: parsed.host, addresses: addrs.map((a) => a.address), error: null, ms: Date.now() - t0 };
      result.address = addrs[0]?.address ?? null;
    } catch (e) {
      result.dns = { name: parsed.host, addresses: [], error: (e as NodeJS.ErrnoException).code ?? 'error', ms: Date.now() - t0 };
    }
    if (result.address === null) return { result, connections, keyLog };
  }
  const address = result.address!;
  const certName = parsed.host;
  const tlsBase: tls.ConnectionOptions = {
    rejectUnauthorized: false,
    // TLS 1.0 / 1.1 and old ciphers must be offerable to find out whether the server takes them.
    ciphers: 'DEFAULT:@SECLEVEL=0',
    ...(net.isIP(parsed.host) ? {} : { servername: parsed.host }),
  };

  const open = async (): Promise<{ conn: ProbeConnection; ok: boolean }> => {
    const conn = new ProbeConnection(address, parsed.port);
    connections.push(conn.wire);
    const c = await conn.connect(timeoutMs);
    if (result.connect === null) result.connect = c;
    return { conn, ok: c.outcome === 'connected' };
  };
  const connId = (): string => `c${connections.length}`;

  let tlsSet: { set: string; requested: number } | null = null;
  for (const ps of PROTOCOL_SETS) {
    const t0 = Date.now();
    const { conn, ok } = await open();
    const step: X224Step = {
      set: ps.set,
      requestedProtocols: ps.requested,
      outcome: 'not_connected',
      selectedProtocol: null,
      selectedProtocolName: null,
      failureCode: null,
      failureCodeName: null,
      ms: 0,
      connectionId: connId(),
      detail: '',
    };
    result.x224.push(step);
    if (!ok) {
      step.detail = `TCP connect: ${result.connect!.outcome}`;
      conn.close();
      // The connect test failed: a handful of further connections would say nothing more.
      break;
    }
    conn.send(connectionRequest(ps.requested));
    const pdu = await conn.receive(tpktComplete, timeoutMs);
    step.ms = Date.now() - t0;
    if (pdu === null) {
      step.outcome = conn.ended === 'rst' ? 'reset' : conn.ended === 'fin' ? 'closed' : 'no_answer';
      step.detail = step.outcome === 'no_answer' ? `no X.224 Connection Confirm within ${timeoutMs} ms` : `the server ${step.outcome === 'reset' ? 'reset' : 'closed'} the connection without a Confirm`;
      conn.close();
      continue;
    }
    const cc = decodeConnectionConfirm(pdu, 0, pdu.length);
    if (!cc.ok) {
      step.outcome = 'malformed';
      step.detail = cc.kind === 'malformed' ? `not an X.224 Connection Confirm: ${cc.reason} at byte ${cc.at}` : 'a cut X.224 Connection Confirm';
      conn.close();
      continue;
    }
    const v = cc.value;
    if (v.negFailure) {
      step.outcome = 'failure';
      step.failureCode = v.negFailure.failureCode;
      step.failureCodeName = failureCodeName(v.negFailure.failureCode);
      step.detail = `RDP_NEG_FAILURE ${step.failureCodeName}`;
    } else if (v.negRsp) {
      step.outcome = 'selected';
      step.selectedProtocol = v.negRsp.selectedProtocol;
      step.selectedProtocolName = selectedProtocolName(v.negRsp.selectedProtocol);
      step.detail = `RDP_NEG_RSP selectedProtocol ${step.selectedProtocolName}`;
    } else {
      step.outcome = 'confirm_without_negotiation';
      step.selectedProtocol = PROTOCOL_RDP;
      step.selectedProtocolName = selectedProtocolName(PROTOCOL_RDP);
      step.detail = 'a Confirm without RDP_NEG_RSP (Standard RDP Security)';
    }
    const sel = step.selectedProtocol;
    const wantsTls = step.outcome === 'selected' && sel !== null && tlsCapable(sel) && (ps.set === 'SSL' || ps.set === 'HYBRID' || (tlsSet === null && ps.requested !== null));
    if (wantsTls && (result.tls.length === 0 || ps.set === 'HYBRID')) {
      const ts = await tlsStep(conn, 'default', { ...tlsBase, minVersion: 'TLSv1', maxVersion: 'TLSv1.2' }, timeoutMs, onKeylog, connId());
      if (result.tls.length === 0 || ts.outcome === 'handshake') {
        if (result.tls.length === 0) result.tls.push(ts);
        if (ts.socket && ts.outcome === 'handshake' && result.certificate === null) {
          result.certificate = judgeChain(peerChain(ts.socket), certName, now(), 'capture');
        }
      }
      if (ts.outcome === 'handshake' && ts.socket && (sel & (PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX)) !== 0 && result.credssp === null) {
        const negotiate = ntlmNegotiate();
        const cs = await credsspStep(conn, ts.socket, timeoutMs, connId(), negotiate);
        if (opts.credentials && cs.outcome === 'challenge') result.logon = await logonStep(conn, ts.socket, opts.credentials, negotiate, cs, timeoutMs);
        delete cs.challenge;
        result.credssp = cs;
      }
      ts.socket?.end();
      await settle();
    }
    if (tlsSet === null && step.outcome === 'selected' && sel !== null && tlsCapable(sel) && ps.requested !== null) tlsSet = { set: ps.set, requested: ps.requested };
    conn.close();
  }

  if (tlsSet !== null) {
    for (const v of TLS_VERSIONS) {
      const { conn, ok } = await open();
      if (!ok) {
        result.tls.push(emptyTls(tlsVersionName(v)!, 'not_tried', connId(), 'TCP connect failed'));
        conn.close();
        continue;
      }
      conn.send(connectionRequest(tlsSet.requested));
      const pdu = await conn.receive(tpktComplete, timeoutMs);
      const cc = pdu ? decodeConnectionConfirm(pdu, 0, pdu.length) : null;
      if (!cc || !cc.ok || !cc.value.negRsp || !tlsCapable(cc.value.negRsp.selectedProtocol)) {
        result.tls.push(emptyTls(tlsVersionName(v)!, 'not_tried', connId(), `the ${tlsSet.set} request was not answered with a TLS-based protocol this time`));
        conn.close();
        continue;
      }
      const ts = await tlsStep(conn, tlsVersionName(v)!, { ...tlsBase, minVersion: v, maxVersion: v }, timeoutMs, onKeylog, connId());
      result.tls.push(ts);
      if (ts.socket && ts.outcome === 'handshake' && result.certificate === null) {
        // TLS 1.3 encrypts the Certificate message (RFC 8446 4.4.2): only the socket saw it.
        result.certificate = judgeChain(peerChain(ts.socket), certName, now(), v === 'TLSv1.3' ? 'socket' : 'capture');
      }
      ts.socket?.end();
      await settle();
      conn.close();
    }
  }
  await settle();
  for (const t of result.tls) delete (t as { socket?: unknown }).socket;
  return { result, connections, keyLog };
}

/** Lets a close_notify and FIN go out (and the server's answer come in) before the next step. */
function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 20));
}

function emptyTls(offered: string, outcome: TlsStep['outcome'], connectionId: string, detail: string): TlsStep {
  return { offered, outcome, version: null, cipher: null, alert: null, ms: 0, connectionId, detail };
}

async function tlsStep(
  conn: ProbeConnection,
  offered: string,
  opts: tls.ConnectionOptions,
  timeoutMs: number,
  onKeylog: (line: string) => void,
  connectionId: string,
): Promise<TlsStep & { socket?: tls.TLSSocket }> {
  const t0 = Date.now();
  const r = await conn.startTls(opts, timeoutMs, onKeylog);
  const ms = Date.now() - t0;
  if (r.error === null) {
    const version = tlsVersionName(r.socket.getProtocol());
    const cipher = r.socket.getCipher()?.standardName ?? r.socket.getCipher()?.name ?? null;
    return { offered, outcome: 'handshake', version, cipher, alert: null, ms, connectionId, detail: `${version ?? '?'} ${cipher ?? ''}`.trim(), socket: r.socket };
  }
  r.socket.destroy();
  const alert = alertOf(r.error);
  const outcome: TlsStep['outcome'] = alert !== null ? 'alert' : r.timedOut ? 'no_answer' : conn.ended === 'rst' ? 'reset' : conn.ended === 'fin' ? 'closed' : 'error';
  const detail =
    outcome === 'alert'
      ? `alert ${alert}`
      : outcome === 'no_answer'
        ? `no answer to the ClientHello within ${timeoutMs} ms`
        : outcome === 'reset'
          ? 'the server reset the connection during the TLS handshake'
          : outcome === 'closed'
            ? 'the server closed the connection during the TLS handshake'
            : r.error.message.split('\n')[0]!;
  return { offered, outcome, version: null, cipher: null, alert, ms, connectionId, detail };
}

/** Writes one TSRequest and waits for the server's (one whole DER TLV), or null (closed, reset, timeout). */
function tsExchange(sock: tls.TLSSocket, request: Buffer, timeoutMs: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  return new Promise<Buffer | null>((resolve) => {
    const timer = setTimeout(() => done(null), timeoutMs);
    function done(b: Buffer | null): void {
      clearTimeout(timer);
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('close', onEnd);
      sock.off('error', onEnd);
      resolve(b);
    }
    function onData(d: Buffer): void {
      chunks.push(d);
      const all = Buffer.concat(chunks);
      const n = derComplete(all);
      if (n !== null && n <= all.length) done(all.subarray(0, n));
    }
    function onEnd(): void {
      done(null);
    }
    sock.on('data', onData);
    sock.once('end', onEnd);
    sock.once('close', onEnd);
    sock.once('error', onEnd);
    sock.write(request);
  });
}

/** One TSRequest carrying an NTLM NEGOTIATE; reads the server's TSRequest (MS-CSSP 3.1.5 steps 1-2). */
async function credsspStep(conn: ProbeConnection, sock: tls.TLSSocket, timeoutMs: number, connectionId: string, negotiate: Buffer): Promise<CredsspStep & { challenge?: Buffer }> {
  const step: CredsspStep & { challenge?: Buffer } = {
    outcome: 'no_answer',
    version: null,
    errorCode: null,
    errorName: null,
    nbComputer: null,
    nbDomain: null,
    dnsComputer: null,
    dnsDomain: null,
    osBuild: null,
    connectionId,
    detail: '',
  };
  // MS-CSSP 2.2.1: version 6 (the current one); the server answers with its own.
  const answer = await tsExchange(sock, tsRequest(6, negotiate), timeoutMs);
  if (answer === null) {
    step.outcome = conn.ended === 'rst' ? 'reset' : conn.ended === 'fin' ? 'closed' : 'no_answer';
    step.detail = step.outcome === 'no_answer' ? `no TSRequest answer within ${timeoutMs} ms` : `the server ${step.outcome === 'reset' ? 'reset' : 'closed'} the connection after the NTLM NEGOTIATE`;
    return step;
  }
  const ts = readTsRequest(answer, 0, answer.length);
  if (!ts.ok) {
    step.outcome = 'malformed';
    step.detail = ts.kind === 'malformed' ? `not a TSRequest: ${ts.reason} at byte ${ts.at}` : 'a cut TSRequest';
    return step;
  }
  step.version = ts.value.version;
  if (ts.value.errorCode !== null) {
    step.outcome = 'error_code';
    step.errorCode = ts.value.errorCode;
    step.errorName = ts.value.errorName;
    step.detail = `TSRequest errorCode ${step.errorName ?? ts.value.errorCode}`;
  }
  const tok = ts.value.negoTokens[0];
  if (tok) {
    const m = readNtlmMessage(answer, tok.off, tok.off + tok.length);
    if (m.ok && m.value.messageType === 2) {
      step.outcome = 'challenge';
      step.challenge = Buffer.from(answer.subarray(tok.off, tok.off + tok.length));
      step.nbComputer = m.value.nbComputer;
      step.nbDomain = m.value.nbDomain;
      step.dnsComputer = m.value.dnsComputer;
      step.dnsDomain = m.value.dnsDomain;
      if (m.value.version) step.osBuild = `${m.value.version.major}.${m.value.version.minor}.${m.value.version.build}`;
      step.detail = `NTLM CHALLENGE from ${step.nbDomain ?? '?'}\\${step.nbComputer ?? '?'}${step.osBuild ? `, Windows ${step.osBuild}` : ''}`;
    }
  }
  return step;
}

/**
 * The NLA logon (MS-CSSP 3.1.5 step 3): AUTHENTICATE + pubKeyAuth; the server's answer is its own
 * pubKeyAuth (accepted) or an errorCode. TSCredentials are never sent.
 */
async function logonStep(
  conn: ProbeConnection,
  sock: tls.TLSSocket,
  creds: Credentials,
  negotiate: Buffer,
  cs: CredsspStep & { challenge?: Buffer },
  timeoutMs: number,
): Promise<LogonStep> {
  const step: LogonStep = { user: creds.domain ? `${creds.domain}\\${creds.user}` : creds.user, outcome: 'not_tried', errorCode: null, errorName: null, detail: '', connectionId: cs.connectionId };
  const spki = sock.getPeerX509Certificate()?.publicKey.export({ type: 'spki', format: 'der' });
  if (!cs.challenge || !spki) {
    step.detail = !cs.challenge ? 'no NTLM CHALLENGE to answer' : "the server's public key was not available";
    return step;
  }
  const req = logonTsRequest(creds, negotiate, cs.challenge, cs.version ?? 2, spki);
  if (typeof req === 'string') {
    step.outcome = 'malformed';
    step.detail = req;
    return step;
  }
  const answer = await tsExchange(sock, req, timeoutMs);
  if (answer === null) {
    step.outcome = conn.ended === 'rst' ? 'reset' : conn.ended === 'fin' ? 'closed' : 'no_answer';
    step.detail =
      step.outcome === 'no_answer'
        ? `no answer to the AUTHENTICATE within ${timeoutMs} ms`
        : `the server ${step.outcome === 'reset' ? 'reset' : 'closed'} the connection after the AUTHENTICATE (CredSSP before version 3 closes instead of sending an errorCode)`;
    return step;
  }
  const ts = readTsRequest(answer, 0, answer.length);
  if (!ts.ok) {
    step.outcome = 'malformed';
    step.detail = ts.kind === 'malformed' ? `not a TSRequest: ${ts.reason} at byte ${ts.at}` : 'a cut TSRequest';
    return step;
  }
  if (ts.value.errorCode !== null) {
    step.outcome = 'error_code';
    step.errorCode = ts.value.errorCode;
    step.errorName = ts.value.errorName;
    step.detail = `TSRequest errorCode ${ts.value.errorName ?? ts.value.errorCode}`;
  } else if (ts.value.pubKeyAuth) {
    step.outcome = 'accepted';
    step.detail = "the server answered with its pubKeyAuth: the logon was accepted (the probe sent no credentials to delegate and stopped there)";
  } else {
    step.outcome = 'malformed';
    step.detail = 'a TSRequest with neither pubKeyAuth nor errorCode';
  }
  return step;
}
