// The diagnosis of a probe: what the server's answers mean for the clients that connect to it,
// as findings of the same catalogue (src/diagnose/catalogue.ts: remediation, confirm, mstsc's
// 0x904 wording) with the frames of the probe's capture that show them. The probe ends its own
// connections on purpose (after the Confirm, the TLS handshake or the CHALLENGE), so the
// capture rules, which read a client's close at those points as a refusal, do not apply to them;
// these rules read the answers instead. The rules read a ProbeResult only (built from the sockets
// by src/probe/run.ts, or from a probe capture's records by src/probe/records.ts), so a probe and
// `analyze` of its capture reach the same verdict.
import type { ConnectionRecord } from '../handshake/types.js';
import type { Finding } from '../diagnose/types.js';
import { convFilter, makeFinding } from '../diagnose/facts.js';
import {
  HYBRID_REQUIRED_BY_SERVER,
  INCONSISTENT_FLAGS,
  SSL_CERT_NOT_ON_SERVER,
  SSL_NOT_ALLOWED_BY_SERVER,
  SSL_REQUIRED_BY_SERVER,
  SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER,
} from '../diagnose/codes.js';
import type { ProbeResult, TlsStep, X224Step } from '../report/probe.js';

/** The record of a probe connection (by the probe's connection id), for frames and filters. */
export type RecordOf = (connectionId: string | null) => ConnectionRecord | null;

const TLS_ALERTS_MISMATCH = new Set(['protocol_version', 'handshake_failure', 'insufficient_security', 'no_application_protocol', 'illegal_parameter']);

function modernAccepted(r: ProbeResult): X224Step | null {
  return r.x224.find((s) => (s.set === 'HYBRID' || s.set === 'HYBRID_EX') && s.outcome === 'selected') ?? null;
}

function stepFrames(rec: ConnectionRecord | null): (number | null)[] {
  if (!rec) return [];
  return [rec.negotiation?.requestFrame ?? null, rec.negotiation?.confirmFrame ?? null, rec.died?.frame ?? null];
}

function filterOf(rec: ConnectionRecord | null, extra: string): string {
  return rec ? `${convFilter(rec)} && (${extra})` : extra;
}

function serverName(r: ProbeResult): string {
  const a = r.address ?? r.host;
  const hp = a.includes(':') ? `[${a}]:${r.port}` : `${a}:${r.port}`;
  return r.dns ? `${r.host} (${hp})` : hp;
}

function tlsStepFrames(rec: ConnectionRecord | null): (number | null)[] {
  if (!rec?.tls) return stepFrames(rec);
  const t = rec.tls;
  return [t.clientHelloFrame, t.serverHelloFrame, t.certificateFrame, ...t.alerts.filter((a) => a.by === 'server').map((a) => a.frame), rec.died?.by === 'server' ? rec.died.frame : null];
}

/** Findings about the server, top first (the same ordering as the capture findings). */
export function judgeProbe(r: ProbeResult, recOf: RecordOf): Finding[] {
  const out: Finding[] = [];
  const server = serverName(r);

  // ---- name lookup
  if (r.dns && r.dns.error !== null) {
    out.push(
      makeFinding('dns_failure', {
        confidence: 0.9,
        confidenceReason: 'The lookup was made from this machine; a client with other DNS servers (VPN, another site) may resolve the name.',
        frames: [],
        explanation: `The name ${r.dns.name} did not resolve from this machine (${r.dns.error} after ${r.dns.ms} ms), so no client using it can connect.`,
        filter: `dns.qry.name == "${r.dns.name.replace(/[\\"]/g, '')}"`,
        summary: `the name ${r.dns.name} does not resolve`,
      }),
    );
    return out;
  }

  // ---- TCP
  const first = r.x224[0];
  const c1 = recOf(first?.connectionId ?? null);
  const synFrame = c1?.flow.firstFrame ?? null;
  if (r.connect && r.connect.outcome !== 'connected') {
    const c = r.connect;
    if (c.outcome === 'refused') {
      out.push(
        makeFinding('port_not_listening', {
          confidence: 0.9,
          confidenceReason: 'The reset is what the host sends when nothing listens; a firewall that rejects with a reset looks the same from here.',
          frames: [synFrame, c1?.died?.frame ?? null],
          explanation: `The SYN to ${server} was answered with a reset after ${c.ms.toFixed(1)} ms: nothing listens on port ${r.port} (the Remote Desktop service is stopped or listens on another port).`,
          filter: filterOf(c1, 'tcp.flags.syn == 1 || tcp.flags.reset == 1'),
          summary: `nothing listens on ${server} (the SYN was reset)`,
        }),
      );
    } else if (c.outcome === 'unreachable') {
      out.push(
        makeFinding('port_blocked', {
          confidence: 0.75,
          confidenceReason: `The socket reported ${c.errno} (an ICMP unreachable or no route); the capture holds the SYN only, not the ICMP message.`,
          frames: [synFrame],
          explanation: `Connecting to ${server} failed with ${c.errno} after ${c.ms.toFixed(1)} ms: a router or firewall said the host or port cannot be reached.`,
          filter: filterOf(c1, 'tcp.flags.syn == 1') + ' || icmp.type == 3 || icmpv6.type == 1',
          summary: `${server} is unreachable (${c.errno})`,
        }),
      );
    } else {
      out.push(
        makeFinding('port_blocked', {
          confidence: c.outcome === 'filtered' ? 0.8 : 0.5,
          confidenceReason: 'No answer at all is what a dropping firewall gives; a host that is down or an address nobody uses gives the same.',
          frames: [synFrame],
          explanation:
            c.outcome === 'filtered'
              ? `The SYN to ${server} got no answer within ${r.timeoutMs} ms: a firewall drops it, or the host is down.`
              : `Connecting to ${server} failed (${c.errno ?? 'error'}) after ${c.ms.toFixed(1)} ms.`,
          filter: filterOf(c1, 'tcp.flags.syn == 1'),
          summary: `the SYN to ${server} got no answer (dropped by a firewall, or the host is down)`,
        }),
      );
    }
    return out;
  }

  // ---- X.224 negotiation
  const answered = r.x224.filter((s) => s.outcome === 'selected' || s.outcome === 'failure' || s.outcome === 'confirm_without_negotiation');
  if (answered.length === 0 && r.x224.length > 0) {
    const silent = r.x224.filter((s) => s.outcome === 'no_answer');
    const rec = recOf(r.x224[0]!.connectionId);
    out.push(
      makeFinding('server_unresponsive', {
        confidence: silent.length === r.x224.length ? 0.85 : 0.6,
        confidenceReason:
          silent.length === r.x224.length
            ? 'TCP connects but no Connection Confirm comes: a hung or overloaded Remote Desktop service, or something else listening on the port.'
            : 'The server ended every connection without a Connection Confirm; the service may be failing, or the port may belong to another program.',
        frames: [rec?.negotiation?.requestFrame ?? null, rec?.died?.frame ?? null],
        explanation:
          silent.length === r.x224.length
            ? `${server} accepted ${r.x224.length} TCP connections but answered none of the X.224 Connection Requests within ${r.timeoutMs} ms.`
            : `${server} accepted TCP but ended each of ${r.x224.length} connections without an X.224 Connection Confirm (${r.x224.map((s) => `${s.set}: ${s.outcome}`).join(', ')}).`,
        filter: filterOf(rec, 'cotp || tcp.flags.fin == 1 || tcp.flags.reset == 1'),
        summary: `${server} accepts TCP but never answers the X.224 request`,
      }),
    );
    return out;
  }
  const modern = modernAccepted(r);
  for (const s of r.x224) {
    const rec = recOf(s.connectionId);
    if (s.outcome === 'failure' && s.failureCode !== null) {
      const code = s.failureCode;
      const offered = s.requestedProtocols === null ? 'no RDP_NEG_REQ (Standard RDP Security only)' : `the ${s.set} set`;
      const sure = modern === null;
      const reason = sure
        ? 'The server refused the security layers the probe offered; which policy setting causes it is on the host.'
        : `Clients that offer HYBRID (mstsc, current FreeRDP) are accepted (${modern!.set}: ${modern!.selectedProtocolName}); only clients limited to ${s.set} fail this way.`;
      if (code === SSL_REQUIRED_BY_SERVER || code === SSL_NOT_ALLOWED_BY_SERVER || code === INCONSISTENT_FLAGS) {
        out.push(
          makeFinding('security_layer_mismatch', {
            confidence: sure ? 0.9 : 0.5,
            confidenceReason: reason,
            frames: stepFrames(rec),
            explanation: `Offered ${offered}, ${server} answered RDP_NEG_FAILURE ${s.failureCodeName}${code === SSL_REQUIRED_BY_SERVER ? ': it requires TLS, and a client that offers only Standard RDP Security is refused' : code === SSL_NOT_ALLOWED_BY_SERVER ? ': it allows only Standard RDP Security' : ''}.`,
            filter: filterOf(rec, 'rdp.negReq.requestedProtocols || rdp.negFailure.failureCode'),
            summary: `the server refuses ${s.set === 'RDP' || s.set === 'none' ? 'Standard RDP Security' : s.set} (${s.failureCodeName})`,
          }),
        );
      } else if (code === HYBRID_REQUIRED_BY_SERVER || code === SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER) {
        out.push(
          makeFinding('nla_mismatch', {
            confidence: sure ? 0.9 : 0.5,
            confidenceReason: reason,
            frames: stepFrames(rec),
            explanation: `Offered ${offered}, ${server} answered RDP_NEG_FAILURE ${s.failureCodeName}: it requires Network Level Authentication (CredSSP), and a client that does not offer it is refused.`,
            filter: filterOf(rec, 'rdp.negReq.requestedProtocols || rdp.negFailure.failureCode'),
            summary: `the server requires NLA (${s.failureCodeName} to ${s.set})`,
          }),
        );
      } else if (code === SSL_CERT_NOT_ON_SERVER) {
        out.push(
          makeFinding('cert_unavailable', {
            confidence: 0.9,
            confidenceReason: 'The failure code names it; why the host has no certificate is on the host.',
            frames: stepFrames(rec),
            explanation: `Offered ${offered}, ${server} answered RDP_NEG_FAILURE SSL_CERT_NOT_ON_SERVER: it has no certificate to run TLS with.`,
            filter: filterOf(rec, 'rdp.negFailure.failureCode'),
            summary: 'the server has no certificate (SSL_CERT_NOT_ON_SERVER)',
          }),
        );
      }
    }
  }
  // One finding per cause from the negotiation: the first (the strongest set) stands for the others.
  dedupe(out);

  // ---- TLS
  const tlsTried = r.tls.filter((t) => t.outcome !== 'not_tried');
  const ok = tlsTried.filter((t) => t.outcome === 'handshake');
  const def = r.tls.find((t) => t.offered === 'default') ?? null;
  if (tlsTried.length > 0 && ok.length === 0) {
    const t = tlsTried[0]!;
    const rec = recOf(t.connectionId);
    if (t.outcome === 'reset' || t.outcome === 'closed') {
      out.push(
        makeFinding('cert_unavailable', {
          confidence: 0.6,
          confidenceReason: 'A server that chose TLS and then drops every ClientHello is what a host without a usable certificate does; a TLS-inspecting device in between can do the same.',
          frames: tlsStepFrames(rec),
          explanation: `${server} chose ${recSelected(r, t)} in its Connection Confirm, then ${t.outcome === 'reset' ? 'reset' : 'closed'} every connection at the TLS handshake (${tlsTried.map((x) => `${x.offered}: ${x.outcome}`).join(', ')}).`,
          filter: filterOf(rec, 'tls.handshake.type == 1 || tcp.flags.reset == 1 || tcp.flags.fin == 1'),
          summary: `the server ends every TLS handshake (${t.outcome === 'reset' ? 'reset' : 'close'} after the ClientHello)`,
        }),
      );
    } else if (t.outcome === 'no_answer') {
      out.push(
        makeFinding('server_unresponsive', {
          confidence: 0.6,
          confidenceReason: 'The server chose TLS but never answered the ClientHello; a hung service or a device in between can do this.',
          frames: tlsStepFrames(rec),
          explanation: `${server} chose TLS in its Connection Confirm but answered no ClientHello within ${r.timeoutMs} ms.`,
          filter: filterOf(rec, 'tls.handshake.type == 1'),
          summary: 'the server never answers the TLS ClientHello',
        }),
      );
    } else {
      out.push(
        makeFinding('tls_mismatch', {
          confidence: 0.85,
          confidenceReason: 'The server refused every TLS version the probe offered (TLS 1.0 to 1.3 with OpenSSL\'s ciphers); a client with other ciphers could still agree.',
          frames: tlsStepFrames(rec),
          explanation: `${server} refused every TLS handshake: ${tlsTried.map((x) => `${x.offered}: ${x.detail}`).join('; ')}.`,
          filter: filterOf(rec, 'tls.alert_message || tls.handshake.type == 1'),
          summary: 'the server refuses every TLS version and cipher offered',
        }),
      );
    }
  } else if (ok.length > 0) {
    const versions = ok.map((t) => t.version).filter((v): v is string => v !== null);
    const upTo12 = def !== null && def.outcome !== 'handshake' && def.outcome !== 'not_tried';
    if (upTo12) {
      const rec = recOf(def.connectionId);
      out.push(
        makeFinding('tls_mismatch', {
          confidence: 0.85,
          confidenceReason: 'Clients that support the versions the server takes connect; the ones that offer TLS 1.0-1.2 only (mstsc on most Windows versions) fail.',
          frames: tlsStepFrames(rec),
          explanation: `Offered TLS 1.0 to 1.2 as mstsc does, ${server} answered ${def.detail}; it accepts only ${[...new Set(versions)].join(', ')}.`,
          filter: filterOf(rec, 'tls.alert_message || tls.handshake.type == 1'),
          summary: `the server accepts only ${[...new Set(versions)].join(', ')}`,
        }),
      );
    } else {
      const pinned = r.tls.filter((t) => t.offered !== 'default' && t.outcome !== 'not_tried');
      const onlyOld = pinned.length > 0 && pinned.every((t) => t.outcome !== 'handshake' || t.offered === 'TLS1.0' || t.offered === 'TLS1.1');
      if (onlyOld) {
        const t = pinned.find((x) => x.offered === 'TLS1.2') ?? pinned[0]!;
        const rec = recOf(t.connectionId);
        out.push(
          makeFinding('tls_mismatch', {
            confidence: 0.7,
            confidenceReason: 'Clients that still allow TLS 1.0/1.1 connect; clients hardened to TLS 1.2 or later fail.',
            frames: tlsStepFrames(rec),
            explanation: `${server} accepts only ${[...new Set(versions)].join(', ')}: offered TLS 1.2 alone it answered ${t.detail}.`,
            filter: filterOf(rec, 'tls.alert_message || tls.handshake.type == 1'),
            summary: `the server accepts only ${[...new Set(versions)].join(', ')}`,
          }),
        );
      }
    }
  }

  // ---- certificate
  const cert = r.certificate;
  if (cert && cert.chain[0]) {
    const leaf = cert.chain[0];
    const t = (def && def.outcome === 'handshake' ? def : ok.find((x) => x.version !== 'TLS1.3') ?? ok[0]) ?? null;
    const rec = recOf(t?.connectionId ?? null);
    const frames = [rec?.tls?.certificateFrame ?? null];
    const certFilter = filterOf(rec, 'tls.handshake.type == 11');
    const where = cert.seenIn === 'socket' ? ' (sent under TLS 1.3: read from the socket, encrypted in the capture)' : '';
    const subject = leaf.subject || '(no subject)';
    if (cert.validity === 'expired' || cert.validity === 'not_yet_valid') {
      const expired = cert.validity === 'expired';
      out.push(
        // A certificate from the future is most often a wrong clock: its own cause, with its own steps.
        makeFinding(expired ? 'cert_expired' : 'cert_not_yet_valid', {
          confidence: 0.95,
          confidenceReason: "Judged against this machine's clock; check that the clocks of the client and the server are right.",
          frames,
          explanation: expired
            ? `${server}'s certificate "${subject}"${where} expired on ${leaf.notAfter.slice(0, 10)} (notAfter ${leaf.notAfter}); it is ${r.time.slice(0, 10)} here.`
            : `${server}'s certificate "${subject}"${where} is not valid before ${leaf.notBefore} (notBefore); it is ${r.time} here.`,
          filter: certFilter,
          summary: expired ? `the server's certificate expired on ${leaf.notAfter.slice(0, 10)}` : `the server's certificate is not valid before ${leaf.notBefore.slice(0, 10)}`,
        }),
      );
    }
    if (!cert.nameMatches) {
      const names = [leaf.subject, ...leaf.san].filter((x) => x !== '').join(', ');
      out.push(
        makeFinding('cert_name_mismatch', {
          confidence: r.dns ? 0.85 : 0.45,
          confidenceReason: r.dns
            ? 'Clients that connect by another name that the certificate carries are not affected.'
            : 'The server was probed by its address; Windows certificates carry host names, so clients that connect by name may match.',
          frames,
          explanation: `${server}'s certificate${where} is issued to ${names || 'no name'}, not to "${cert.name}", the name probed.`,
          filter: certFilter,
          summary: `the server's certificate does not carry the name ${cert.name}`,
        }),
      );
    }
    const trustProblems: string[] = [];
    if (cert.selfSigned) trustProblems.push('self-signed');
    if (cert.weakKey) trustProblems.push(`a ${leaf.keyBits}-bit ${leaf.keyType} key`);
    if (cert.sha1) trustProblems.push('a SHA-1 signature');
    if (trustProblems.length > 0 && cert.validity === 'valid') {
      const weak = cert.weakKey || cert.sha1;
      out.push(
        makeFinding('cert_untrusted', {
          confidence: weak ? 0.6 : 0.4,
          confidenceReason: cert.selfSigned && !weak
            ? 'Self-signed is the Remote Desktop default: clients warn ("the identity of the remote computer cannot be verified") unless they trust it, and refuse it when policy says so.'
            : 'Whether clients refuse it depends on their policy; current Windows and OpenSSL builds refuse SHA-1 signatures and keys under 2048 bits by default.',
          frames,
          explanation: `${server}'s certificate "${subject}"${where} is ${trustProblems.join(', ')}.`,
          filter: certFilter,
          summary: `the server's certificate is ${trustProblems.join(', ')}`,
        }),
      );
    }
  }

  // ---- CredSSP
  const cs = r.credssp;
  if (cs && (cs.outcome === 'error_code' || cs.outcome === 'reset' || cs.outcome === 'closed')) {
    const rec = recOf(cs.connectionId);
    out.push(
      makeFinding('nla_failed', {
        confidence: cs.outcome === 'error_code' ? 0.8 : 0.5,
        confidenceReason:
          cs.outcome === 'error_code'
            ? 'The server answered the NTLM NEGOTIATE with an error; with credentials the reason may differ.'
            : 'The server ended CredSSP at its first message, before any credentials: its CredSSP or NTLM settings (or a device in between) refuse the exchange.',
        frames: [rec?.died?.frame ?? null, rec?.tls?.establishedFrame ?? null],
        explanation: `After the TLS handshake, the TSRequest with an NTLM NEGOTIATE got ${cs.detail}.`,
        filter: filterOf(rec, 'tls.record.content_type == 23 || tcp.flags.fin == 1 || tcp.flags.reset == 1'),
        summary: cs.outcome === 'error_code' ? `the server ended NLA with ${cs.errorName ?? cs.errorCode}` : 'the server ends NLA at its first message',
      }),
    );
  }
  // ---- the name: does the machine that answered call itself by it? (MS-NLMP 2.2.2.1 MsvAvDnsComputerName)
  if (r.dns && r.dns.error === null && cs?.outcome === 'challenge' && cs.dnsComputer) {
    const probed = r.dns.name.toLowerCase().replace(/\.$/, '');
    const own = cs.dnsComputer.toLowerCase();
    const label = probed.split('.')[0]!;
    const nb = (cs.nbComputer ?? '').toLowerCase();
    // "localhost" is this machine by definition (RFC 6761 6.3), never the name a server gives itself.
    if (probed !== 'localhost' && probed !== own && label !== nb && label !== own.split('.')[0]) {
      const rec = recOf(cs.connectionId);
      out.push(
        makeFinding('dns_failure', {
          confidence: 0.4,
          confidenceReason: 'An alias (a CNAME, a load-balanced name) also answers from a machine with another name; only a stale or wrong record is a fault.',
          frames: [rec?.tls?.establishedFrame ?? null],
          explanation: `${r.dns.name} resolved to ${r.dns.addresses.join(', ')}, and the machine there calls itself ${cs.dnsComputer}${cs.nbComputer ? ` (${cs.nbComputer})` : ''} in its NTLM CHALLENGE: the name may point at another machine than the one meant.`,
          filter: filterOf(rec, 'tls.handshake.type == 1'),
          summary: `${r.dns.name} answers as ${cs.dnsComputer}`,
        }),
      );
    }
  }

  const lg = r.logon;
  if (lg && (lg.outcome === 'error_code' || lg.outcome === 'reset' || lg.outcome === 'closed')) {
    const rec = recOf(lg.connectionId);
    out.push(
      makeFinding('nla_failed', {
        confidence: lg.outcome === 'error_code' ? 0.9 : 0.6,
        confidenceReason:
          lg.outcome === 'error_code'
            ? 'The server named the error; the account may still be fine from another client or domain.'
            : 'The server closed instead of naming an error, as CredSSP before version 3 does on a failed logon; a device in between could also end it.',
        frames: [rec?.died?.frame ?? null],
        explanation: `An NLA logon as ${lg.user} was refused: ${lg.detail}.`,
        filter: filterOf(rec, 'tls.record.content_type == 23 || tcp.flags.fin == 1 || tcp.flags.reset == 1'),
        summary: lg.outcome === 'error_code' ? `the NLA logon as ${lg.user} failed with ${lg.errorName ?? lg.errorCode}` : `the NLA logon as ${lg.user} was ended by the server`,
      }),
    );
  }
  return out.sort((a, b) => b.confidence - a.confidence);
}

function recSelected(r: ProbeResult, t: TlsStep): string {
  const s = r.x224.find((x) => x.connectionId === t.connectionId);
  return s?.selectedProtocolName ?? r.x224.find((x) => x.outcome === 'selected' && x.selectedProtocol !== 0)?.selectedProtocolName ?? 'TLS';
}

/** One finding per cause: a later one's frames join the first's (its connections then show it too). */
function dedupe(out: Finding[]): void {
  const first = new Map<string, Finding>();
  for (let i = 0; i < out.length; i++) {
    const f = out[i]!;
    const kept = first.get(f.cause);
    if (kept) {
      kept.frames = [...new Set([...kept.frames, ...f.frames])].sort((a, b) => a - b);
      out.splice(i--, 1);
    } else {
      first.set(f.cause, f);
    }
  }
}
