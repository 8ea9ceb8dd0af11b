// A probe's answers read back from its capture: the connection records the pipeline built from the
// probe's packets (each X.224 request carries the cookie "rdp-autopsy-probe") turned into the
// ProbeResult the probe's own rules read (src/probe/judge.ts), so `analyze` of a probe capture and
// the probe itself reach the same verdict. What a capture cannot hold is missing here and said so:
// a certificate sent under TLS 1.3 (encrypted, RFC 8446 4.4.2), the CredSSP messages (inside TLS),
// the socket's error code for an ICMP unreachable (the probe saw no ICMP packet).
import type { ConnectionRecord } from '../handshake/types.js';
import { judgeChain, PROTOCOL_SETS } from './run.js';
import { PROBE_COOKIE } from './messages.js';
import type { CredsspStep, ProbeResult, TlsStep, X224Step } from '../report/probe.js';
import { selectedProtocolName, PROTOCOL_RDP } from '../rdp/codes.js';

/**
 * True when the records are a probe's and nothing else: some X.224 request carries the probe's
 * cookie, every X.224 request does, and every connection goes to that one server. A capture that
 * holds a probe among other traffic is analysed as any capture.
 */
export function isProbeCapture(records: ConnectionRecord[]): boolean {
  const marked = records.find((c) => c.negotiation?.cookie === PROBE_COOKIE);
  if (!marked) return false;
  return records.every((c) => c.server === marked.server && (c.negotiation === null || c.negotiation.cookie === PROBE_COOKIE));
}

function ipPort(s: string): { ip: string; port: number } {
  const m = /^\[(.*)\]:(\d+)$/.exec(s) ?? /^(.*):(\d+)$/.exec(s);
  return m ? { ip: m[1]!, port: Number(m[2]) } : { ip: s, port: 0 };
}

/** The probe connections of one server, in the order they were opened. */
export function probeConnections(records: ConnectionRecord[]): ConnectionRecord[] {
  const marked = records.filter((c) => c.negotiation?.cookie === PROBE_COOKIE);
  const server = marked[0]?.server ?? null;
  // A probe whose TCP connect failed sent no X.224 request: its only connection is the SYN's.
  const list = server !== null ? records.filter((c) => c.server === server && (c.negotiation === null || c.negotiation.cookie === PROBE_COOKIE)) : records.filter((c) => c.transport === 'tcp');
  return [...list].sort((a, b) => a.start - b.start || a.flow.firstFrame - b.flow.firstFrame);
}

function tlsOf(rec: ConnectionRecord, offered: string, connectionId: string): TlsStep {
  const t = rec.tls;
  const serverAlert = t?.alerts.find((a) => a.by === 'server' && !a.encrypted) ?? null;
  const d = rec.died;
  const base = { offered, version: null, cipher: null, alert: null, ms: 0, connectionId };
  if (t && t.serverHelloFrame !== null && t.version !== null && serverAlert === null && !(d && d.by === 'server' && d.how === 'rst' && t.establishedFrame === null && t.version !== 'TLS1.3')) {
    return { ...base, outcome: 'handshake', version: t.version, cipher: t.cipherSuiteName, detail: `${t.version} ${t.cipherSuiteName ?? ''}`.trim() };
  }
  if (serverAlert) return { ...base, outcome: 'alert', alert: serverAlert.description, detail: `alert ${serverAlert.description}` };
  if (d && d.by === 'server' && d.how === 'rst') return { ...base, outcome: 'reset', detail: 'the server reset the connection during the TLS handshake' };
  if (d && d.by === 'server' && d.how === 'fin') return { ...base, outcome: 'closed', detail: 'the server closed the connection during the TLS handshake' };
  return { ...base, outcome: 'no_answer', detail: 'no answer to the ClientHello' };
}

/** The ProbeResult a probe capture shows (records from analyze() of it). */
export function probeResultFromRecords(all: ConnectionRecord[]): ProbeResult | null {
  const conns = probeConnections(all);
  if (conns.length === 0) return null;
  const first = conns[0]!;
  const server = ipPort(first.server);
  const sni = conns.find((c) => c.tls?.sni)?.tls?.sni ?? null;
  const r: ProbeResult = {
    target: sni ? `${sni}:${server.port}` : first.server,
    host: sni ?? server.ip,
    port: server.port,
    dns: sni ? { name: sni, addresses: [server.ip], error: null, ms: 0 } : null,
    address: server.ip,
    connect: null,
    x224: [],
    tls: [],
    certificate: null,
    credssp: null,
    // The logon runs inside TLS: a capture without its keys decoded does not show it.
    logon: null,
    time: new Date(first.start * 1000).toISOString(),
    timeoutMs: 0,
  };
  const synAck = first.phases.some((p) => p.phase === 'tcp') || first.negotiation !== null;
  const refused = first.died?.phase === 'tcp' && first.died.how === 'rst';
  r.connect = {
    outcome: synAck ? 'connected' : refused ? 'refused' : 'filtered',
    ms: Math.max(0, (first.died?.phase === 'tcp' ? first.end : first.start) - first.start) * 1000,
    errno: null,
  };
  let tlsSetRequested: number | null = null;
  conns.forEach((c, i) => {
    const id = c.id;
    const neg = c.negotiation;
    const isSweep = i >= PROTOCOL_SETS.length;
    if (!isSweep) {
      const req = neg?.requestedProtocols ?? null;
      const set = PROTOCOL_SETS.find((p) => p.requested === req)?.set ?? (neg ? `0x${(req ?? 0).toString(16)}` : PROTOCOL_SETS[i]!.set);
      const s: X224Step = {
        set,
        requestedProtocols: req,
        outcome: 'not_connected',
        selectedProtocol: null,
        selectedProtocolName: null,
        failureCode: null,
        failureCodeName: null,
        ms: 0,
        connectionId: id,
        detail: '',
      };
      if (!neg) {
        s.detail = `TCP connect: ${r.connect!.outcome}`;
      } else if (neg.failureCode !== null) {
        s.outcome = 'failure';
        s.failureCode = neg.failureCode;
        s.failureCodeName = neg.failureCodeName;
        s.detail = `RDP_NEG_FAILURE ${neg.failureCodeName}`;
      } else if (neg.selectedProtocol !== null) {
        s.outcome = 'selected';
        s.selectedProtocol = neg.selectedProtocol;
        s.selectedProtocolName = neg.selectedProtocolName ?? selectedProtocolName(neg.selectedProtocol);
        s.detail = `RDP_NEG_RSP selectedProtocol ${s.selectedProtocolName}`;
      } else if (neg.confirmFrame !== null) {
        s.outcome = 'confirm_without_negotiation';
        s.selectedProtocol = PROTOCOL_RDP;
        s.selectedProtocolName = selectedProtocolName(PROTOCOL_RDP);
        s.detail = 'a Confirm without RDP_NEG_RSP (Standard RDP Security)';
      } else {
        const d = c.died;
        s.outcome = d && d.by === 'server' ? (d.how === 'rst' ? 'reset' : 'closed') : 'no_answer';
        s.detail = s.outcome === 'no_answer' ? 'no X.224 Connection Confirm' : `the server ${s.outcome === 'reset' ? 'reset' : 'closed'} the connection without a Confirm`;
      }
      r.x224.push(s);
      if (s.outcome === 'selected' && s.selectedProtocol !== PROTOCOL_RDP && req !== null && tlsSetRequested === null) tlsSetRequested = req;
      if (c.tls && c.tls.clientHelloFrame !== null) {
        const step = tlsOf(c, 'default', id);
        if (r.tls.length === 0) r.tls.push(step);
        if (r.certificate === null && step.outcome === 'handshake' && c.tls.certificates.length > 0) {
          r.certificate = judgeChain(c.tls.certificates, sni ?? server.ip, new Date(c.start * 1000), 'capture');
        }
        const hybrid = s.selectedProtocol !== null && (s.selectedProtocol & 0x0a) !== 0;
        if (hybrid && step.outcome === 'handshake' && r.credssp === null) r.credssp = credsspOf(c);
      }
    } else {
      const offered = c.tls?.clientVersions.length === 1 ? c.tls.clientVersions[0]! : (c.tls?.clientVersions.at(-1) ?? '?');
      if (!c.tls || c.tls.clientHelloFrame === null) {
        r.tls.push({ offered, outcome: 'not_tried', version: null, cipher: null, alert: null, ms: 0, connectionId: id, detail: 'no TLS-based protocol was chosen this time' });
        return;
      }
      const step = tlsOf(c, offered, id);
      r.tls.push(step);
      if (r.certificate === null && step.outcome === 'handshake' && c.tls.certificates.length > 0) {
        r.certificate = judgeChain(c.tls.certificates, sni ?? server.ip, new Date(c.start * 1000), 'capture');
      }
    }
  });
  void tlsSetRequested;
  return r;
}

/** What a capture shows of the CredSSP exchange: decoded when decrypted, else its shape. */
function credsspOf(c: ConnectionRecord): CredsspStep {
  const step: CredsspStep = {
    outcome: 'no_answer',
    version: c.credssp?.version ?? null,
    errorCode: c.credssp?.errorCode ?? null,
    errorName: c.credssp?.errorName ?? null,
    nbComputer: null,
    nbDomain: null,
    dnsComputer: null,
    dnsDomain: null,
    osBuild: null,
    connectionId: c.id,
    detail: '',
  };
  if (step.errorCode !== null) {
    step.outcome = 'error_code';
    step.detail = `TSRequest errorCode ${step.errorName ?? step.errorCode}`;
    return step;
  }
  const serverRecords = c.tls?.appRecords.server ?? 0;
  const d = c.died;
  if (serverRecords > 0 || (c.credssp?.tokens.includes('2') ?? false)) {
    step.outcome = 'challenge';
    step.detail = 'the server answered the NTLM NEGOTIATE (its CHALLENGE is encrypted in the capture)';
  } else if (d && d.by === 'server' && (d.how === 'rst' || d.how === 'fin')) {
    step.outcome = d.how === 'rst' ? 'reset' : 'closed';
    step.detail = `the server ${d.how === 'rst' ? 'reset' : 'closed'} the connection after the NTLM NEGOTIATE`;
  } else {
    step.detail = 'no answer to the NTLM NEGOTIATE';
  }
  return step;
}
