// One or more records per cause where that cause is the right answer, with what
// the top finding must show (frames, values named in its sentence).
import type { CauseId, DiagnosisInput } from '../../src/diagnose/types.js';
import type { ConnectionRecord } from '../../src/handshake/types.js';
import {
  T0,
  clientClosedAfterTls,
  died,
  ev,
  healthyTimeline,
  input,
  makeCert,
  makeCredssp,
  makeDns,
  makeFlow,
  makeNegotiation,
  makeRecord,
  makeTcp,
  makeTls,
  phase,
} from './helpers.js';

export interface Scenario {
  name: string;
  cause: CauseId;
  conn: ConnectionRecord;
  input: DiagnosisInput;
  minConfidence: number;
  maxConfidence?: number;
  frames: number[];
  mentions: string[];
}

const caCert = () => makeCert({ subject: 'CN=WORK-PC.corp.example.com', issuer: 'CN=Corp Issuing CA', selfSigned: false, san: ['DNS:WORK-PC.corp.example.com'] });
const caChain = () => [caCert(), makeCert({ subject: 'CN=Corp Issuing CA', issuer: 'CN=Corp Root CA', selfSigned: false })];

function one(name: string, cause: CauseId, conn: ConnectionRecord, rest: Omit<Scenario, 'name' | 'cause' | 'conn' | 'input'>, inp?: DiagnosisInput): Scenario {
  return { name, cause, conn, input: inp ?? input([conn]), ...rest };
}

/** A connection to the same server that got a SYN/ACK with TTL `ttl` (for cross-connection TTL checks). */
export function answeredElsewhere(ttl: number, id = 'c0'): ConnectionRecord {
  return makeRecord({
    id,
    flow: makeFlow({ client: { ip: '10.0.0.9', port: 49690 }, start: T0 - 60, end: T0 - 50, firstFrame: 1, lastFrame: 9 }, { synAckFrames: [2], ttl: [128, ttl], ttlsSeen: [[128], [ttl]] }),
    start: T0 - 60,
    end: T0 - 50,
  });
}

function synOnly(o: Partial<ConnectionRecord> = {}, tcp: Parameters<typeof makeTcp>[0] = {}): ConnectionRecord {
  const flow = makeFlow(
    { client: { ip: '10.0.0.9', port: 49702 }, firstFrame: 20, lastFrame: 30, end: T0 + 9, packets: [3, 0] },
    { synFrames: [20, 25, 30], synAckFrames: [], ackFrame: null, handshakeRtt: null, rtt: [null, null], ttl: [128, null], ttlsSeen: [[128], []], maxSegment: [0, 0], maxAckedSegment: [0, 0], maxIdle: null, ...tcp },
  );
  return makeRecord({
    id: 'c1',
    flow,
    start: T0,
    end: T0 + 9,
    outcome: 'failed',
    reached: 'none',
    phases: [],
    died: died({ phase: 'tcp', how: 'no_answer', by: 'network', frame: 30 }),
    security: null,
    negotiation: null,
    tls: null,
    timeline: [ev(20, 'c2s', 'SYN', 'tcp', T0), ev(25, 'c2s', 'SYN', 'tcp', T0 + 3), ev(30, 'c2s', 'SYN', 'tcp', T0 + 9)],
    ...o,
  });
}

function rstToSyn(ttl: number): ConnectionRecord {
  return synOnly(
    { died: died({ phase: 'tcp', how: 'rst', by: 'server', frame: 21 }), timeline: [ev(20, 'c2s', 'SYN', 'tcp', T0), ev(21, 's2c', 'RST/ACK', 'tcp', T0 + 0.001)] },
    { synFrames: [20], rsts: [{ frame: 21, time: T0 + 0.001, dir: 1, ttl, answersSyn: true }], ttl: [128, ttl], ttlsSeen: [[128], [ttl]] },
  );
}

function x224Only(o: Partial<ConnectionRecord> = {}, id = 'c1', port = 49702, start = T0): ConnectionRecord {
  return makeRecord({
    id,
    flow: makeFlow({ client: { ip: '10.0.0.9', port }, start, end: start + 40 }, {}),
    start,
    end: start + 40,
    outcome: 'failed',
    reached: 'tcp',
    phases: [phase('tcp', 3, start)],
    died: died({ phase: 'x224', how: 'timeout', by: 'server', frame: 4 }),
    negotiation: makeNegotiation({ confirmFrame: null, selectedProtocol: null, selectedProtocolName: null, responseFlags: null }),
    tls: null,
    security: null,
    timeline: [ev(1, 'c2s', 'SYN', 'tcp', start), ev(2, 's2c', 'SYN/ACK', 'tcp', start), ev(4, 'c2s', 'X.224 Connection Request', 'x224', start + 0.01)],
    ...o,
  });
}

function negFailure(code: number, name: string, requested = 0x0b): ConnectionRecord {
  return makeRecord({
    outcome: 'failed',
    reached: 'x224',
    phases: [phase('tcp', 3), phase('x224', 5)],
    died: died({ phase: 'x224', how: 'negotiation_failure', by: 'server', frame: 5 }),
    negotiation: makeNegotiation({ requestedProtocols: requested, selectedProtocol: null, selectedProtocolName: null, failureCode: code, failureCodeName: name }),
    tls: null,
    security: null,
    timeline: healthyTimeline().slice(0, 4),
  });
}

function credsspShape(by: 'client' | 'server', cs = makeCredssp()): ConnectionRecord {
  return makeRecord({
    outcome: 'failed',
    reached: 'credssp',
    phases: [phase('tcp', 3), phase('x224', 5), phase('tls', 10), phase('credssp', 12, undefined, true)],
    died: died({ phase: 'credssp', how: 'fin', by, frame: 15 }),
    tls: makeTls({ certificates: caChain(), appRecords: { client: 2, server: 2 } }),
    credssp: cs,
    timeline: [...healthyTimeline(), ev(11, 'c2s', 'TLS application data', 'credssp'), ev(12, 's2c', 'TLS application data', 'credssp'), ev(13, 'c2s', 'TLS application data', 'credssp'), ev(14, 's2c', 'TLS application data', 'credssp')],
  });
}

export function scenarios(): Scenario[] {
  const out: Scenario[] = [];

  // cert_expired
  {
    const c = clientClosedAfterTls({}, { certificates: [makeCert({ notAfter: '2025-01-01T00:00:00.000Z', notBefore: '2024-01-01T00:00:00.000Z' })] });
    out.push(one('expired certificate, client FIN after the handshake', 'cert_expired', c, { minConfidence: 0.8, frames: [7, 11], mentions: ['2025-01-01', '2025-03-10', 'FIN', 'frame 11'] }));
    const a = clientClosedAfterTls(
      { died: died({ phase: 'tls', how: 'tls_alert', by: 'client', frame: 8 }) },
      {
        certificates: [makeCert({ notAfter: '2025-01-01T00:00:00.000Z' })],
        clientFinishedFrame: null,
        serverFinishedFrame: null,
        establishedFrame: null,
        alerts: [{ frame: 8, by: 'client', level: 'fatal', description: 'certificate_expired', code: 45, encrypted: false }],
      },
    );
    out.push(one('expired certificate, client alert certificate_expired', 'cert_expired', a, { minConfidence: 0.95, frames: [7, 8], mentions: ['certificate_expired', 'frame 8', '2025-01-01'] }));
    const nb = clientClosedAfterTls({}, { certificates: [makeCert({ notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2027-01-01T00:00:00.000Z' })] });
    out.push(one('certificate not yet valid', 'cert_not_yet_valid', nb, { minConfidence: 0.8, frames: [7, 11], mentions: ['not valid before 2026-01-01', 'clock'] }));
  }
  // cert_untrusted
  {
    const c = clientClosedAfterTls(
      { died: died({ phase: 'tls', how: 'tls_alert', by: 'client', frame: 8 }) },
      { establishedFrame: null, alerts: [{ frame: 8, by: 'client', level: 'fatal', description: 'unknown_ca', code: 48, encrypted: false }] },
    );
    out.push(one('self-signed, client alert unknown_ca', 'cert_untrusted', c, { minConfidence: 0.9, frames: [7, 8], mentions: ['self-signed', 'unknown_ca', 'frame 8'] }));
    const f = clientClosedAfterTls();
    // NLA selected (HYBRID): leaving before the first CredSSP message is not mstsc's prompt, which comes at CredSSP's end.
    out.push(one('self-signed, NLA selected, client FIN after the handshake before CredSSP', 'cert_untrusted', f, { minConfidence: 0.4, maxConfidence: 0.49, frames: [7, 11], mentions: ['self-signed', 'frame 11', 'before starting NLA'] }));
    const fSsl = clientClosedAfterTls({ negotiation: makeNegotiation({ selectedProtocol: 0x1, selectedProtocolName: 'SSL' }), security: 'tls' });
    out.push(one('self-signed, SSL selected, client FIN after the handshake', 'cert_untrusted', fSsl, { minConfidence: 0.55, maxConfidence: 0.7, frames: [7, 11], mentions: ['self-signed', 'frame 11'] }));
  }
  // cert_rejected
  {
    const c = clientClosedAfterTls(
      { died: died({ phase: 'tls', how: 'encrypted_alert', by: 'client', frame: 12 }) },
      {
        version: 'TLS1.3',
        clientVersions: ['TLS1.3', 'TLS1.2'],
        certificates: [],
        certificateEncrypted: true,
        certificateFrame: null,
        serverHelloDoneFrame: null,
        clientFinishedFrame: null,
        serverFinishedFrame: null,
        establishedFrame: null,
        appRecords: { client: 2, server: 4 },
        alerts: [{ frame: 12, by: 'client', level: null, description: 'encrypted', code: null, encrypted: true }],
      },
    );
    out.push(one('TLS 1.3, client encrypted alert right after the server flight', 'cert_rejected', c, { minConfidence: 0.4, maxConfidence: 0.49, frames: [7, 12], mentions: ['TLS 1.3', 'frame 12'] }));
    // mstsc offered SSL | HYBRID | HYBRID_EX and the server (NLA off) selected SSL: a normal choice, not an NLA mismatch.
    const ssl = clientClosedAfterTls(
      { negotiation: makeNegotiation({ selectedProtocol: 0x1, selectedProtocolName: 'SSL' }), security: 'tls' },
      { version: 'TLS1.3', clientVersions: ['TLS1.3', 'TLS1.2'], certificates: [], certificateEncrypted: true, certificateFrame: null, serverHelloDoneFrame: null, appRecords: { client: 1, server: 4 } },
    );
    out.push(one('HYBRID offered, SSL selected, TLS 1.3, client FIN after its Finished', 'cert_rejected', ssl, { minConfidence: 0.4, maxConfidence: 0.49, frames: [11], mentions: ['TLS 1.3', 'frame 11'] }));
  }
  // cert_unavailable
  {
    out.push(one('RDP_NEG_FAILURE SSL_CERT_NOT_ON_SERVER', 'cert_unavailable', negFailure(3, 'SSL_CERT_NOT_ON_SERVER'), { minConfidence: 0.9, frames: [4, 5], mentions: ['SSL_CERT_NOT_ON_SERVER', 'frame 5'] }));
    const r = makeRecord({
      outcome: 'failed',
      reached: 'x224',
      phases: [phase('tcp', 3), phase('x224', 5)],
      died: died({ phase: 'tls', how: 'rst', by: 'server', frame: 7 }),
      tls: makeTls({ serverHelloFrame: null, certificateFrame: null, certificates: [], serverHelloDoneFrame: null, clientFinishedFrame: null, serverFinishedFrame: null, establishedFrame: null, appRecords: { client: 0, server: 0 }, version: null }),
      timeline: [...healthyTimeline().slice(0, 5), ev(7, 's2c', 'RST', 'tls')],
    });
    out.push(one('server RST right after the ClientHello', 'cert_unavailable', r, { minConfidence: 0.55, maxConfidence: 0.7, frames: [6, 7], mentions: ['reset', 'frame 7', 'ClientHello (frame 6)'] }));
  }
  // cert_name_mismatch
  {
    const c = clientClosedAfterTls({}, { sni: 'rdp.example.org', certificates: caChain() });
    out.push(one('SNI not in the certificate', 'cert_name_mismatch', c, { minConfidence: 0.65, frames: [6, 7, 11], mentions: ['rdp.example.org', 'work-pc.corp.example.com'] }));
  }
  // port_blocked
  {
    const silent = synOnly();
    out.push(one('three SYNs, no answer, capture runs on', 'port_blocked', silent, { minConfidence: 0.7, frames: [20, 25, 30], mentions: ['3 SYNs', '10.0.0.5:3389', 'no ICMP'] }));
    const icmp = synOnly(
      { died: died({ phase: 'tcp', how: 'icmp_unreachable', by: 'network', frame: 21 }) },
      { synFrames: [20] },
    );
    icmp.flow.icmp.push({ frame: 21, time: T0 + 0.01, ipVersion: 4, from: '10.0.0.1', type: 3, code: 13, mtu: null, quotedDir: 0 });
    out.push(one('ICMP administratively prohibited', 'port_blocked', icmp, { minConfidence: 0.9, frames: [20, 21], mentions: ['type 3 code 13', '10.0.0.1', 'administratively prohibited'] }));
    const mid = rstToSyn(64);
    const other = answeredElsewhere(117);
    out.push(one('RST with a TTL unlike the server\'s (from another connection)', 'port_blocked', mid, { minConfidence: 0.8, frames: [20, 21, 2], mentions: ['TTL 64', 'TTL 117', 'connection c0'] }, input([other, mid])));
  }
  // port_not_listening
  {
    const r = rstToSyn(117);
    out.push(one('RST with the server\'s own TTL', 'port_not_listening', r, { minConfidence: 0.85, frames: [20, 21], mentions: ['TTL 117', 'frame 21', 'connection c0'] }, input([answeredElsewhere(117), r])));
    const alone = rstToSyn(117);
    out.push(one('RST, nothing to compare the TTL with', 'port_not_listening', alone, { minConfidence: 0.7, maxConfidence: 0.8, frames: [20, 21], mentions: ['frame 21', 'TTL 117'] }));
  }
  // server_unresponsive
  {
    const c = x224Only();
    out.push(one('Connection Request never confirmed', 'server_unresponsive', c, { minConfidence: 0.75, frames: [2, 4], mentions: ['frame 4', 'no Connection Confirm'] }, input([c], { captureEnd: [T0 + 60] })));
    const crowd = Array.from({ length: 6 }, (_, i) => x224Only({}, `c${i + 1}`, 49700 + i, T0 + i * 0.2));
    out.push(one('many half-open handshakes at once', 'server_unresponsive', crowd[0]!, { minConfidence: 0.85, frames: [4], mentions: ['5 other handshakes'] }, input(crowd, { captureEnd: [T0 + 60] })));
    // The client gives up after 10 s (FIN, frame 6); a Confirm failing with HYBRID_REQUIRED_BY_SERVER comes later (frame 7).
    const late = x224Only({
      flow: makeFlow({ client: { ip: '10.0.0.9', port: 49702 }, start: T0, end: T0 + 12 }, { fins: [{ frame: 6, time: T0 + 10.2, dir: 0 }], rsts: [{ frame: 8, time: T0 + 11.6, dir: 0, ttl: 128, answersSyn: false }] }),
      reached: 'x224',
      phases: [phase('tcp', 3), phase('x224', 4)],
      negotiation: makeNegotiation({ confirmFrame: 7, selectedProtocol: null, selectedProtocolName: null, failureCode: 5, failureCodeName: 'HYBRID_REQUIRED_BY_SERVER' }),
      timeline: [ev(1, 'c2s', 'SYN', 'tcp'), ev(2, 's2c', 'SYN/ACK', 'tcp'), ev(4, 'c2s', 'X.224 Connection Request', 'x224'), ev(6, 'c2s', 'FIN', 'x224', T0 + 10.2), ev(7, 's2c', 'X.224 Connection Confirm', 'x224', T0 + 11.5), ev(8, 'c2s', 'RST', 'x224', T0 + 11.6)],
    });
    out.push(one('a Confirm that comes only after the client gave up', 'server_unresponsive', late, { minConfidence: 0.75, frames: [4, 6, 7], mentions: ['gave up after 10 s', 'came only in frame 7'] }));
    // The ClientHello (frame 8) is retransmitted and never acknowledged; the server closes (frame 14).
    const unread = clientClosedAfterTls(
      {
        flow: makeFlow({}, { lostSegments: [{ dir: 0, frame: 8, retransmitFrames: [9, 10, 11, 12], length: 275, acked: false }], retransmissions: [4, 0], retransmissionFrames: [[9, 10, 11, 12], []] }),
        died: died({ phase: 'tls', how: 'fin', by: 'server', frame: 14 }),
        timeline: [...healthyTimeline().slice(0, 5), ev(14, 's2c', 'FIN', 'tls')],
      },
      { clientHelloFrame: 8, serverHelloFrame: null, certificateFrame: null, certificates: [], serverHelloDoneFrame: null, clientFinishedFrame: null, serverFinishedFrame: null, establishedFrame: null, version: null },
    );
    out.push(one('a ClientHello never acknowledged, then the server closes', 'server_unresponsive', unread, { minConfidence: 0.45, maxConfidence: 0.55, frames: [8, 9, 14], mentions: ['never acknowledged', 'frame 8', 'retransmitted 4 times'] }));
  }
  // security_layer_mismatch
  out.push(one('SSL_NOT_ALLOWED_BY_SERVER', 'security_layer_mismatch', negFailure(2, 'SSL_NOT_ALLOWED_BY_SERVER'), { minConfidence: 0.9, frames: [4, 5], mentions: ['SSL_NOT_ALLOWED_BY_SERVER', 'PROTOCOL_SSL', 'frame 5'] }));
  out.push(one('SSL_REQUIRED_BY_SERVER', 'security_layer_mismatch', negFailure(1, 'SSL_REQUIRED_BY_SERVER', 0), { minConfidence: 0.9, frames: [4, 5], mentions: ['SSL_REQUIRED_BY_SERVER', 'PROTOCOL_RDP'] }));
  {
    // xrdp (security_layer=tls): a Confirm without negotiation data, then a Disconnect Provider Ultimatum for the Connect Initial.
    const mcs = { connectInitialFrame: 6, connectResponseFrame: null, result: null, client: null, server: null, erectDomainFrame: null, attachUserRequestFrame: null, attachUserConfirmFrame: null, attachUserResult: null, channelJoins: [], securityExchangeFrame: null, clientInfoFrame: null, disconnectUltimatum: { frame: 7, by: 'server' as const, reason: 3, reasonName: 'rn-user-requested' } };
    const c = makeRecord({
      outcome: 'failed',
      reached: 'mcs',
      phases: [phase('tcp', 3), phase('x224', 5), phase('mcs', 6)],
      died: died({ phase: 'mcs', how: 'disconnect_ultimatum', by: 'server', frame: 7 }),
      negotiation: makeNegotiation({ requestedProtocols: null, requestedProtocolNames: [], selectedProtocol: null, selectedProtocolName: null, responseFlags: null }),
      tls: null,
      security: 'rdp',
      mcs,
      timeline: [...healthyTimeline().slice(0, 4), ev(6, 'c2s', 'MCS Connect Initial', 'mcs'), ev(7, 's2c', 'MCS Disconnect Provider Ultimatum', 'mcs')],
    });
    out.push(one('Standard RDP Security refused at the Connect Initial (xrdp)', 'security_layer_mismatch', c, { minConfidence: 0.7, frames: [4, 5, 6, 7], mentions: ['no RDP_NEG_REQ', 'without negotiation data', 'Disconnect Provider Ultimatum'] }));
    const rdp = makeRecord({
      outcome: 'failed',
      reached: 'x224',
      phases: [phase('tcp', 3), phase('x224', 5)],
      died: died({ phase: 'x224', how: 'fin', by: 'client', frame: 6 }),
      negotiation: makeNegotiation({ requestedProtocols: 0x1, requestedProtocolNames: ['SSL'], selectedProtocol: 0, selectedProtocolName: 'RDP' }),
      tls: null,
      security: 'rdp',
      timeline: [...healthyTimeline().slice(0, 4), ev(6, 'c2s', 'FIN', 'x224')],
    });
    out.push(one('PROTOCOL_RDP selected for a client that offered SSL only', 'security_layer_mismatch', rdp, { minConfidence: 0.65, frames: [4, 5, 6], mentions: ['PROTOCOL_SSL', 'selected PROTOCOL_RDP', 'frame 6'] }));
  }
  // nla_mismatch
  out.push(one('HYBRID_REQUIRED_BY_SERVER', 'nla_mismatch', negFailure(5, 'HYBRID_REQUIRED_BY_SERVER', 0x1), { minConfidence: 0.9, frames: [4, 5], mentions: ['HYBRID_REQUIRED_BY_SERVER', 'PROTOCOL_SSL'] }));
  {
    const c = makeRecord({
      outcome: 'failed',
      reached: 'x224',
      phases: [phase('tcp', 3), phase('x224', 5)],
      died: died({ phase: 'x224', how: 'fin', by: 'client', frame: 6 }),
      negotiation: makeNegotiation({ requestedProtocols: 0x3, selectedProtocol: 0x1, selectedProtocolName: 'SSL' }),
      tls: null,
      security: 'tls',
      timeline: [...healthyTimeline().slice(0, 4), ev(6, 'c2s', 'FIN', 'x224')],
    });
    out.push(nlaSelectedNotOffered());
    out.push(one('HYBRID offered, SSL selected, client leaves', 'nla_mismatch', c, { minConfidence: 0.6, frames: [4, 5, 6], mentions: ['PROTOCOL_HYBRID', 'selected PROTOCOL_SSL', 'frame 6'] }));
  }
  // nla_failed
  {
    const v = credsspShape('server', makeCredssp({ visible: true, version: 6, tokens: ['1', '2', '3'], errorCode: 0xc000006d, errorName: 'STATUS_LOGON_FAILURE', frames: [11, 12, 13, 14] }));
    out.push(one('TSRequest errorCode STATUS_LOGON_FAILURE', 'nla_failed', v, { minConfidence: 0.9, frames: [11, 14, 15], mentions: ['STATUS_LOGON_FAILURE', '0xC000006D'] }));
    const s = credsspShape('server');
    out.push(one('short encrypted CredSSP exchange, server FIN', 'nla_failed', s, { minConfidence: 0.55, maxConfidence: 0.7, frames: [10, 15], mentions: ['2 client and 2 server', 'frame 15'] }));
    // The server ends CredSSP with an encrypted alert (frame 14); the client's two records after it
    // (frames 15, 16) are not part of the exchange it ended.
    const data = (frame: number, dir: 'c2s' | 's2c', bytes: number) => ({ ...ev(frame, dir, 'Application Data', 'credssp'), detail: `${bytes} bytes` });
    const alerted = makeRecord({
      ...credsspShape('server'),
      died: died({ phase: 'credssp', how: 'encrypted_alert', by: 'server', frame: 14 }),
      tls: makeTls({ certificates: caChain(), appRecords: { client: 4, server: 1 } }),
      timeline: [...healthyTimeline(), data(11, 'c2s', 81), data(12, 's2c', 215), data(13, 'c2s', 633), ev(14, 's2c', 'Encrypted Alert', 'credssp'), data(15, 'c2s', 61), data(16, 'c2s', 33)],
    });
    out.push(
      one('short encrypted CredSSP exchange, server encrypted alert, client records after it', 'nla_failed', alerted, {
        minConfidence: 0.55,
        maxConfidence: 0.7,
        frames: [10, 14],
        mentions: ['(2 client and 1 server encrypted records) ended with the server', 'frame 14; the client sent 2 more records after it (frames 15, 16)'],
      }),
    );
    const cl = credsspShape('client');
    cl.died = died({ phase: 'credssp', how: 'encrypted_alert', by: 'client', frame: 15 });
    cl.flow.tcp!.fins.push({ frame: 16, time: T0 + 0.2, dir: 1 });
    out.push(one('client stops after the server answers AUTHENTICATE, server FIN', 'nla_failed', cl, { minConfidence: 0.55, maxConfidence: 0.7, frames: [10, 15, 16], mentions: ['2 client and 2 server', 'instead of sending its credentials', 'frame 16'] }));
    const k = credsspShape('server', makeCredssp({ visible: true, version: 6, tokens: ['spnego', 'spnego'], kerberosError: { frame: 12, code: 37, name: 'KRB_AP_ERR_SKEW' }, frames: [11, 12] }));
    out.push(one('decrypted Kerberos KRB-ERROR KRB_AP_ERR_SKEW', 'nla_failed', k, { minConfidence: 0.8, frames: [11, 12, 15], mentions: ['KRB_AP_ERR_SKEW', 'frame 12'] }));
    const o = credsspShape('client', makeCredssp({ visible: true, version: 3, clientVersion: 6, tokens: ['1', '2', '3'], frames: [11, 12, 13, 14] }));
    out.push(one('decrypted TSRequest versions 6 / 3, client stops: encryption oracle', 'nla_failed', o, { minConfidence: 0.8, frames: [11, 14, 15], mentions: ['version 6 from the client and 3 from the server', 'CVE-2018-0886', 'the server lacks'] }));
    const n = credsspShape('server', makeCredssp({ visible: true, version: 6, clientVersion: 6, tokens: ['1', '2'], frames: [11, 12] }));
    out.push(one('decrypted CredSSP without errorCode, server FIN', 'nla_failed', n, { minConfidence: 0.65, maxConfidence: 0.75, frames: [11, 12, 15], mentions: ['decrypted CredSSP exchange (negoTokens 1, 2)', 'no TSRequest carried an errorCode'] }));
    const e = credsspShape('server', makeCredssp({ earlyUserAuthResult: 5, frames: [16] }));
    out.push(one('Early User Authorization Result ACCESS_DENIED', 'nla_failed', e, { minConfidence: 0.85, frames: [16], mentions: ['ACCESS_DENIED'] }));
    // The clear text around CredSSP: the client's KDC refused it seconds before (RFC 4120 KRB-ERROR).
    const krb = (errorCode: number, errorName: string, frame: number, dt: number) => ({
      fileIndex: 0,
      frame,
      time: T0 + dt,
      transport: 'tcp' as const,
      kdc: '10.0.0.2',
      client: '10.0.0.9',
      errorCode,
      errorName,
      crealm: 'CORP.EXAMPLE',
      cname: 'bob',
      realm: 'CORP.EXAMPLE',
      sname: 'krbtgt/CORP.EXAMPLE',
      eText: null,
    });
    const revoked = credsspShape('server');
    out.push(
      one('KDC_ERR_CLIENT_REVOKED from the KDC before a short CredSSP exchange', 'nla_failed', revoked, { minConfidence: 0.9, frames: [1, 15], mentions: ['KDC_ERR_CLIENT_REVOKED (18)', 'frame 1', 'bob@CORP.EXAMPLE', 'disabled, locked out or expired'] }, input([revoked], { kerberos: [krb(25, 'KDC_ERR_PREAUTH_REQUIRED', 2, -3), krb(18, 'KDC_ERR_CLIENT_REVOKED', 1, -2)] })),
    );
    const skew = credsspShape('server');
    out.push(one('KRB_AP_ERR_SKEW: the clocks differ', 'nla_failed', skew, { minConfidence: 0.9, frames: [7], mentions: ['KRB_AP_ERR_SKEW', 'clocks'] }, input([skew], { kerberos: [krb(37, 'KRB_AP_ERR_SKEW', 7, -1)] })));
    const ipSni = credsspShape('server');
    ipSni.tls = makeTls({ certificates: caChain(), appRecords: { client: 2, server: 2 }, sni: '10.0.0.5' });
    out.push(one('SNI is an IP address: NTLM, not Kerberos', 'nla_failed', ipSni, { minConfidence: 0.55, frames: [15], mentions: ['SNI "10.0.0.5"', 'Kerberos cannot be used', 'NTLM'] }));
  }
  // tls_mismatch
  {
    const c = makeRecord({
      outcome: 'failed',
      reached: 'x224',
      phases: [phase('tcp', 3), phase('x224', 5)],
      died: died({ phase: 'tls', how: 'tls_alert', by: 'server', frame: 7 }),
      tls: makeTls({
        clientVersions: ['TLS1.0'],
        serverHelloFrame: null,
        certificateFrame: null,
        certificates: [],
        serverHelloDoneFrame: null,
        clientFinishedFrame: null,
        serverFinishedFrame: null,
        establishedFrame: null,
        version: null,
        appRecords: { client: 0, server: 0 },
        alerts: [{ frame: 7, by: 'server', level: 'fatal', description: 'protocol_version', code: 70, encrypted: false }],
      }),
      timeline: [...healthyTimeline().slice(0, 5), ev(7, 's2c', 'TLS Alert fatal protocol_version', 'tls')],
    });
    out.push(one('server alert protocol_version', 'tls_mismatch', c, { minConfidence: 0.85, frames: [6, 7], mentions: ['protocol_version', 'server', 'TLS1.0'] }));
    const r = makeRecord({
      ...c,
      died: died({ phase: 'tls', how: 'rst', by: 'server', frame: 7 }),
      tls: { ...c.tls!, alerts: [], clientVersions: ['TLS1.0', 'SSL3.0'] },
    });
    out.push(one('old-only ClientHello, server RST', 'tls_mismatch', r, { minConfidence: 0.55, frames: [6, 7], mentions: ['TLS1.0, SSL3.0'] }));
  }
  // network_unstable
  {
    const c = makeRecord({
      flow: makeFlow(
        { packets: [60, 60] },
        {
          retransmissions: [8, 12],
          retransmissionFrames: [[30, 31], [32, 33]],
          dupAcks: [10, 2],
          rtt: [
            { count: 20, min: 0.04, median: 0.05, max: 2.4 },
            { count: 20, min: 0.04, median: 0.05, max: 0.3 },
          ],
        },
      ),
      outcome: 'failed',
      reached: 'mcs',
      died: died({ phase: 'mcs', how: 'rst', by: 'client', frame: 50 }),
      timeline: [...healthyTimeline(), ev(45, 'c2s', 'TLS application data', 'mcs')],
    });
    out.push(one('loss, dup ACKs and RTT spikes', 'network_unstable', c, { minConfidence: 0.75, frames: [30, 33, 50], mentions: ['20 of 120 packets', '12 duplicate ACKs', '2.4 s'] }));
  }
  // mtu_blackhole
  {
    const c = makeRecord({
      flow: makeFlow(
        { packets: [8, 10] },
        {
          retransmissions: [0, 3],
          retransmissionFrames: [[], [8, 12, 20]],
          lostSegments: [{ dir: 1, frame: 7, retransmitFrames: [8, 12, 20], length: 1460, acked: false }],
          maxSegment: [180, 1460],
          maxAckedSegment: [180, 19],
        },
      ),
      outcome: 'failed',
      reached: 'x224',
      phases: [phase('tcp', 3), phase('x224', 5)],
      died: died({ phase: 'tls', how: 'timeout', by: 'server', frame: 20 }),
      tls: makeTls({ certificates: [], clientFinishedFrame: null, serverFinishedFrame: null, establishedFrame: null, appRecords: { client: 0, server: 0 } }),
      timeline: healthyTimeline().slice(0, 6),
    });
    out.push(one('full-size certificate flight lost', 'mtu_blackhole', c, { minConfidence: 0.75, frames: [7, 8, 12, 20], mentions: ['1460-byte', 'frame 7', '4 times', 'up to 19 bytes', 'fragmentation needed'] }));
  }
  // dns_failure
  {
    const c = clientClosedAfterTls({}, { certificates: caChain() });
    const inp = input([c], { dns: [makeDns({ name: 'work-pc.corp.example.com', addresses: ['10.0.0.7'] })] });
    out.push(one('the certificate name resolves elsewhere', 'dns_failure', c, { minConfidence: 0.55, frames: [100, 101], mentions: ['work-pc.corp.example.com', '10.0.0.7', '10.0.0.5:3389'] }, inp));
  }
  out.push(connectedElsewhere());
  // server_denied
  {
    const c = makeRecord({
      outcome: 'failed',
      reached: 'licensing',
      died: died({ phase: 'licensing', how: 'error_info', by: 'server', frame: 30 }),
      security: 'rdp',
      errorInfo: [{ frame: 29, code: 7, name: 'ERRINFO_SERVER_DENIED_CONNECTION', description: 'The server denied the connection.' }],
    });
    out.push(one('Set Error Info ERRINFO_SERVER_DENIED_CONNECTION', 'server_denied', c, { minConfidence: 0.9, frames: [29, 30], mentions: ['ERRINFO_SERVER_DENIED_CONNECTION', '0x00000007', 'frame 29'] }));
    const l = makeRecord({
      outcome: 'failed',
      reached: 'licensing',
      died: died({ phase: 'licensing', how: 'licensing_error', by: 'server', frame: 31 }),
      licensing: [{ frame: 31, by: 'server', msgType: 0xff, msgName: 'ERROR_ALERT', errorCode: 2, errorName: 'ERR_NO_LICENSE', stateTransition: 2 }],
    });
    out.push(one('licensing ERR_NO_LICENSE', 'server_denied', l, { minConfidence: 0.8, frames: [31], mentions: ['ERR_NO_LICENSE'] }));
  }
  // client_abort
  {
    const c = makeRecord({
      outcome: 'failed',
      reached: 'mcs',
      phases: [phase('tcp', 3), phase('x224', 5), phase('tls', 10), phase('credssp', 16, undefined, true), phase('mcs', 18, undefined, true)],
      died: died({ phase: 'mcs', how: 'rst', by: 'client', frame: 19 }),
      timeline: [...healthyTimeline(), ev(17, 'c2s', 'MCS Connect Initial (inferred)', 'mcs'), ev(18, 's2c', 'MCS Connect Response (inferred)', 'mcs'), ev(19, 'c2s', 'RST', 'mcs')],
    });
    out.push(one('client RST after the MCS Connect Response', 'client_abort', c, { minConfidence: 0.45, frames: [18, 19], mentions: ['MCS Connect Response', 'frame 19', 'RST'] }));
  }

  // standard_rdp_security (a warning on a completed connection)
  {
    const c = makeRecord({
      security: 'rdp',
      tls: null,
      negotiation: makeNegotiation({ requestedProtocols: 0, selectedProtocol: 0, selectedProtocolName: 'PROTOCOL_RDP' }),
      mcs: {
        connectInitialFrame: 6,
        connectResponseFrame: 7,
        result: 0,
        client: null,
        server: { versionMajor: 8, versionMinor: 4, clientRequestedProtocols: 0, encryptionMethod: 0x2, encryptionLevel: 2, serverRandomLen: 32, serverCertLen: 184, serverCertType: 'proprietary', certificates: [], channelIds: [] },
        erectDomainFrame: 8,
        attachUserRequestFrame: 9,
        attachUserConfirmFrame: 10,
        attachUserResult: 0,
        channelJoins: [],
        securityExchangeFrame: 12,
        clientInfoFrame: 13,
        disconnectUltimatum: null,
      },
    });
    out.push(one('a completed session over Standard RDP Security (RC4)', 'standard_rdp_security', c, { minConfidence: 1, frames: [5, 7, 12], mentions: ['PROTOCOL_RDP', 'ENCRYPTION_METHOD_128BIT (RC4)', 'Security Exchange (frame 12)'] }));
    // A legacy client (no RDP_NEG_REQ, MS-RDPBCGR 2.2.1.1): the Connection Request is the evidence cited, not the bare Confirm.
    const legacy = makeRecord({ ...c, negotiation: makeNegotiation({ requestedProtocols: null, requestedProtocolNames: [], responseFlags: null, selectedProtocol: null, selectedProtocolName: null }) });
    out.push(one('a legacy client without RDP_NEG_REQ, Standard RDP Security', 'standard_rdp_security', legacy, { minConfidence: 1, frames: [4, 7, 12], mentions: ['no RDP_NEG_REQ (frame 4)', 'Security Exchange (frame 12)'] }));
  }

  // no_user_logon (a warning on a completed, decrypted connection without a Save Session Info)
  {
    const c = makeRecord({
      security: 'tls',
      negotiation: makeNegotiation({ requestedProtocols: 0x1, selectedProtocol: 0x1, selectedProtocolName: 'SSL' }),
      tls: makeTls({ decryption: { status: 'decrypted', reason: 'decrypted', clientRandom: null, records: { client: 20, server: 24 }, failure: null } }),
      phases: [phase('tcp', 3), phase('x224', 5), phase('tls', 10), phase('mcs', 12), phase('licensing', 28), phase('capabilities', 30), phase('finalization', 32), phase('active', 44)],
      mcs: {
        connectInitialFrame: 12,
        connectResponseFrame: 13,
        result: 0,
        client: null,
        server: null,
        erectDomainFrame: 14,
        attachUserRequestFrame: 15,
        attachUserConfirmFrame: 16,
        attachUserResult: 0,
        channelJoins: [],
        securityExchangeFrame: null,
        clientInfoFrame: 27,
        disconnectUltimatum: { frame: 60, by: 'client', reason: 3, reasonName: 'rn-user-requested' },
      },
    });
    out.push(one('a completed decrypted session in which no user logged on', 'no_user_logon', c, { minConfidence: 0.9, frames: [27, 30, 44, 60], mentions: ['Demand Active in frame 30', 'no Save Session Info', 'Disconnect Provider Ultimatum (rn-user-requested) in frame 60'] }));
  }
  return out;
}

/** nla_mismatch the other way: NLA selected although the client offered SSL only. */
export function nlaSelectedNotOffered(): Scenario {
  const c = makeRecord({
    outcome: 'failed',
    reached: 'x224',
    phases: [phase('tcp', 3), phase('x224', 5)],
    died: died({ phase: 'x224', how: 'rst', by: 'client', frame: 6 }),
    negotiation: makeNegotiation({ requestedProtocols: 0x1, selectedProtocol: 0x2, selectedProtocolName: 'HYBRID' }),
    tls: null,
    timeline: [...healthyTimeline().slice(0, 4), ev(6, 'c2s', 'RST', 'x224')],
  });
  return one('NLA selected but not offered', 'nla_mismatch', c, { minConfidence: 0.55, frames: [4, 5, 6], mentions: ['selected PROTOCOL_HYBRID', 'PROTOCOL_SSL'] });
}

/** dns_failure: the name resolved to one address just before, the client connected to another that never answers. */
export function connectedElsewhere(): Scenario {
  const c = makeRecord({
    id: 'c1',
    flow: makeFlow({ server: { ip: '10.0.0.99', port: 3389 }, packets: [4, 0], firstFrame: 3 }, { synFrames: [3, 4, 5, 6], synAckFrames: [], ackFrame: null, ttl: [128, null] }),
    outcome: 'failed',
    reached: 'none',
    phases: [],
    died: died({ phase: 'tcp', how: 'no_answer', by: 'network', frame: 6 }),
    negotiation: null,
    tls: null,
    security: null,
    timeline: [ev(3, 'c2s', 'SYN', 'tcp', T0)],
  });
  const inp = input([c], { dns: [makeDns({ queryFrame: 1, responseFrame: 2, time: T0 - 0.5, name: 'rdp-srv01.corp.example', addresses: ['10.0.0.5'] })] });
  return one('connected to an address the name does not point at', 'dns_failure', c, { minConfidence: 0.55, frames: [1, 2, 3], mentions: ['rdp-srv01.corp.example', '10.0.0.5', '10.0.0.99:3389'] }, inp);
}
