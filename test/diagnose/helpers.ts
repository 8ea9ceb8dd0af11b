// Builders of plausible ConnectionRecords for the diagnosis tests: a healthy,
// completed mstsc-like connection to 10.0.0.5:3389 by default, with overrides.
import type { DnsTransaction, FlowFacts, TcpFacts } from '../../src/flow/types.js';
import { endpointText } from '../../src/flow/types.js';
import type {
  CertificateInfo,
  ConnectionRecord,
  CredsspInfo,
  Died,
  NegotiationInfo,
  PhaseReached,
  TimelineEvent,
  TlsInfo,
} from '../../src/handshake/types.js';
import type { DiagnosisInput } from '../../src/diagnose/types.js';

/** 2025-03-10 12:00:00 UTC */
export const T0 = Date.UTC(2025, 2, 10, 12, 0, 0) / 1000;

export function makeTcp(o: Partial<TcpFacts> = {}): TcpFacts {
  return {
    synFrames: [1],
    synAckFrames: [2],
    ackFrame: 3,
    handshakeRtt: 0.001,
    rtt: [
      { count: 10, min: 0.001, median: 0.002, max: 0.004 },
      { count: 10, min: 0.001, median: 0.002, max: 0.004 },
    ],
    retransmissions: [0, 0],
    retransmissionFrames: [[], []],
    dupAcks: [0, 0],
    zeroWindows: [0, 0],
    keepAlives: [0, 0],
    outOfOrder: [0, 0],
    fins: [],
    rsts: [],
    ttl: [128, 127],
    ttlsSeen: [[128], [127]],
    maxSegment: [1200, 1460],
    maxAckedSegment: [1200, 1460],
    lostSegments: [],
    missingRanges: [],
    unansweredKeepAlives: [null, null],
    maxIdle: { seconds: 0.2, frame: 20 },
    mss: [1460, 1460],
    dataAcks: [null, null],
    ...o,
  };
}

export function makeFlow(o: Partial<FlowFacts> = {}, tcp: Partial<TcpFacts> | null = {}): FlowFacts {
  return {
    id: 1,
    transport: 'tcp',
    fileIndex: 0,
    ipVersion: 4,
    client: { ip: '10.0.0.9', port: 49702 },
    server: { ip: '10.0.0.5', port: 3389 },
    clientBy: 'syn',
    firstFrame: 1,
    lastFrame: 60,
    start: T0,
    end: T0 + 5,
    packets: [30, 30],
    payloadBytes: [6000, 60000],
    badChecksums: 0,
    icmp: [],
    tcp: tcp === null ? null : makeTcp(tcp),
    udp: null,
    gapBytes: [0, 0],
    cutBytes: [0, 0],
    skippedPrefix: [0, 0],
    captureDuplicates: 0,
    captureDuplicateFrames: [],
    ...o,
  };
}

export function makeCert(o: Partial<CertificateInfo> = {}): CertificateInfo {
  return {
    subject: 'CN=WORK-PC.corp.example.com',
    issuer: 'CN=WORK-PC.corp.example.com',
    san: [],
    notBefore: '2024-09-01T00:00:00.000Z',
    notAfter: '2025-09-01T00:00:00.000Z',
    selfSigned: true,
    keyType: 'RSA',
    keyBits: 2048,
    signatureAlgorithm: 'sha256WithRSAEncryption',
    serialNumber: '1a2b',
    sha256: 'ab'.repeat(32),
    ...o,
  };
}

export function makeTls(o: Partial<TlsInfo> = {}): TlsInfo {
  return {
    version: 'TLS1.2',
    clientVersions: ['TLS1.2', 'TLS1.1', 'TLS1.0'],
    cipherSuite: 0xc030,
    cipherSuiteName: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
    clientCipherSuites: [0xc02c, 0xc02b, 0xc030, 0xc02f, 0x009d, 0x009c],
    sni: null,
    clientHelloFrame: 6,
    serverHelloFrame: 7,
    certificateFrame: 7,
    certificateEncrypted: false,
    certificates: [makeCert()],
    serverHelloDoneFrame: 7,
    clientFinishedFrame: 9,
    serverFinishedFrame: 10,
    establishedFrame: 10,
    alerts: [],
    appRecords: { client: 20, server: 40 },
    ...o,
  };
}

export function makeNegotiation(o: Partial<NegotiationInfo> = {}): NegotiationInfo {
  return {
    cookie: 'alice',
    routingToken: null,
    requestFlags: 0,
    requestedProtocols: 0x0b,
    requestedProtocolNames: ['SSL', 'HYBRID', 'HYBRID_EX'],
    correlationId: null,
    responseFlags: 0x1f,
    selectedProtocol: 0x2,
    selectedProtocolName: 'HYBRID',
    failureCode: null,
    failureCodeName: null,
    requestFrame: 4,
    confirmFrame: 5,
    ...o,
  };
}

export function phase(p: PhaseReached['phase'], frame: number, time = T0 + frame * 0.01, inferred = false): PhaseReached {
  return { phase: p, frame, time, inferred, confidence: inferred ? 0.7 : 1 };
}

export function ev(frame: number, direction: TimelineEvent['direction'], event: string, p: TimelineEvent['phase'], time = T0 + frame * 0.01): TimelineEvent {
  return { frame, time, direction, event, phase: p };
}

/** A completed NLA connection: SYN 1, SYN/ACK 2, ACK 3, CR 4, CC 5, TLS 6..10, CredSSP 11..16, MCS 17.., active 40. */
export function healthyTimeline(): TimelineEvent[] {
  return [
    ev(1, 'c2s', 'SYN', 'tcp'),
    ev(2, 's2c', 'SYN/ACK', 'tcp'),
    ev(4, 'c2s', 'X.224 Connection Request', 'x224'),
    ev(5, 's2c', 'X.224 Connection Confirm', 'x224'),
    ev(6, 'c2s', 'TLS ClientHello', 'tls'),
    ev(7, 's2c', 'TLS ServerHello, Certificate, ServerHelloDone', 'tls'),
    ev(9, 'c2s', 'TLS ClientKeyExchange, ChangeCipherSpec, Finished', 'tls'),
    ev(10, 's2c', 'TLS ChangeCipherSpec, Finished', 'tls'),
  ];
}

export function makeRecord(o: Partial<ConnectionRecord> = {}): ConnectionRecord {
  const flow = o.flow ?? makeFlow();
  const client = endpointText(flow.client);
  const server = endpointText(flow.server);
  return {
    id: 'c1',
    transport: 'tcp',
    file: 'test.pcapng',
    fileIndex: 0,
    client,
    server,
    start: flow.start,
    end: flow.end,
    outcome: 'completed',
    incompleteReason: null,
    reached: 'active',
    phases: [phase('tcp', 3), phase('x224', 5), phase('tls', 10), phase('credssp', 16, undefined, true), phase('mcs', 18, undefined, true), phase('active', 40, undefined, true)],
    died: null,
    security: 'credssp',
    negotiation: makeNegotiation(),
    tls: makeTls(),
    credssp: null,
    mcs: null,
    licensing: [],
    errorInfo: [],
    sideChannels: [],
    timeline: healthyTimeline(),
    flow,
    warnings: [],
    ...o,
  };
}

export function died(o: Partial<Died> & Pick<Died, 'phase' | 'how' | 'by'>): Died {
  return { frame: null, detail: '', ...o };
}

export function makeCredssp(o: Partial<CredsspInfo> = {}): CredsspInfo {
  return { visible: false, version: null, tokens: [], errorCode: null, errorName: null, earlyUserAuthResult: null, frames: [], ...o };
}

export function makeDns(o: Partial<DnsTransaction> = {}): DnsTransaction {
  return {
    fileIndex: 0,
    id: 0x1234,
    client: '10.0.0.9',
    server: '10.0.0.1',
    queryFrame: 100,
    time: T0 - 1,
    name: 'work-pc.corp.example.com',
    qtype: 1,
    responseFrame: 101,
    responseTime: T0 - 0.99,
    rcode: 0,
    addresses: ['10.0.0.5'],
    cnames: [],
    ...o,
  };
}

export function input(connections: ConnectionRecord[], o: Partial<DiagnosisInput> = {}): DiagnosisInput {
  const end = Math.max(...connections.map((c) => c.end), T0) + 30;
  return { connections, dns: [], captureEnd: [end], names: new Map(), ...o };
}

/**
 * A connection that failed right after the TLS handshake, the client closing
 * with a FIN (what mstsc does when it refuses the certificate).
 */
export function clientClosedAfterTls(o: Partial<ConnectionRecord> = {}, tls: Partial<TlsInfo> = {}): ConnectionRecord {
  return makeRecord({
    outcome: 'failed',
    reached: 'tls',
    phases: [phase('tcp', 3), phase('x224', 5), phase('tls', 10)],
    died: died({ phase: 'tls', how: 'fin', by: 'client', frame: 11, detail: 'client FIN right after the TLS handshake' }),
    tls: makeTls({ appRecords: { client: 0, server: 0 }, ...tls }),
    timeline: [...healthyTimeline(), ev(11, 'c2s', 'FIN', 'tls')],
    ...o,
  });
}
