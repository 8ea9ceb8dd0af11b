// Across connections: ordering, retry stories, per-server summaries, the headline.
import { describe, expect, it } from 'vitest';
import { ATTEMPT_WINDOW_SECONDS, diagnose, diagnoseConnection, groupAttempts, headline, serverSentence, sortFindings, summarizeServers } from '../../src/diagnose/index.js';
import type { Finding } from '../../src/diagnose/types.js';
import type { ConnectionRecord } from '../../src/handshake/types.js';
import { T0, clientClosedAfterTls, died, healthyTimeline, input, makeCert, makeFlow, makeNegotiation, makeRecord, phase } from './helpers.js';
import { answeredElsewhere } from './scenarios.js';

function at(conn: ConnectionRecord, id: string, start: number, port: number): ConnectionRecord {
  conn.id = id;
  conn.start = start;
  conn.end = start + 1;
  conn.flow = { ...conn.flow, start, end: start + 1, client: { ...conn.flow.client, port } };
  conn.client = `${conn.flow.client.ip}:${port}`;
  for (const e of conn.timeline) e.time = start + (e.time - T0);
  return conn;
}

function sslNotAllowed(id: string, start: number, port: number): ConnectionRecord {
  return at(
    makeRecord({
      outcome: 'failed',
      reached: 'x224',
      phases: [phase('tcp', 3), phase('x224', 5)],
      died: died({ phase: 'x224', how: 'negotiation_failure', by: 'server', frame: 5 }),
      negotiation: makeNegotiation({ requestedProtocols: 0x3, selectedProtocol: null, selectedProtocolName: null, failureCode: 2, failureCodeName: 'SSL_NOT_ALLOWED_BY_SERVER' }),
      tls: null,
      security: null,
      timeline: healthyTimeline().slice(0, 4),
    }),
    id,
    start,
    port,
  );
}

function rdpCompleted(id: string, start: number, port: number): ConnectionRecord {
  return at(
    makeRecord({
      security: 'rdp',
      tls: null,
      negotiation: makeNegotiation({ requestedProtocols: 0, selectedProtocol: 0, selectedProtocolName: 'PROTOCOL_RDP' }),
    }),
    id,
    start,
    port,
  );
}

describe('findings are sorted by confidence, top first', () => {
  it('an expired certificate over a lossy path', () => {
    const c = clientClosedAfterTls(
      { flow: makeFlow({ packets: [40, 40] }, { retransmissions: [6, 6], retransmissionFrames: [[20], [21]], dupAcks: [8, 0] }) },
      { certificates: [makeCert({ notAfter: '2025-01-01T00:00:00Z' })] },
    );
    const f = diagnoseConnection(c, input([c]));
    expect(f.map((x) => x.cause)).toEqual(['cert_expired', 'network_unstable']);
    for (let i = 1; i < f.length; i++) expect(f[i - 1]!.confidence).toBeGreaterThanOrEqual(f[i]!.confidence);
  });
  it('equal confidences keep catalogue order', () => {
    const mk = (cause: Finding['cause'], confidence: number): Finding => ({ cause, confidence, confidenceReason: null, frames: [], explanation: '', remediation: [], confirm: '', filter: '', errorCode: '' });
    expect(sortFindings([mk('client_abort', 0.5), mk('cert_expired', 0.5), mk('dns_failure', 0.9)]).map((f) => f.cause)).toEqual(['dns_failure', 'cert_expired', 'client_abort']);
  });
  it('client_abort is dropped when a better cause exists', () => {
    const c = clientClosedAfterTls({}, { certificates: [makeCert({ notAfter: '2025-01-01T00:00:00Z' })] });
    expect(diagnoseConnection(c, input([c])).map((x) => x.cause)).not.toContain('client_abort');
  });
});

describe('retry stories', () => {
  it('SSL_NOT_ALLOWED_BY_SERVER, then PROTOCOL_RDP completes: the root cause is on the first attempt', () => {
    const a = sslNotAllowed('c1', T0, 49702);
    const b = rdpCompleted('c2', T0 + 1.5, 49703);
    const conns = [b, a];
    const findings = diagnose(input(conns));
    // The fallback worked: no cause, only the warning that it runs over Standard RDP Security.
    expect(findings.get('c2')!.map((f) => [f.cause, f.severity])).toEqual([['standard_rdp_security', 'warning']]);
    expect(findings.get('c1')![0]!.cause).toBe('security_layer_mismatch');
    const groups = groupAttempts(conns, findings);
    expect(groups).toHaveLength(1);
    expect(groups[0]!.connectionIds).toEqual(['c1', 'c2']);
    expect(groups[0]!.rootCauseConnectionId).toBe('c1');
    expect(groups[0]!.summary).toMatch(/^Failed once, then completed with PROTOCOL_RDP/);
    expect(groups[0]!.summary).toContain('SSL_NOT_ALLOWED_BY_SERVER');
    expect(groups[0]!.client).toBe('10.0.0.9');
    expect(groups[0]!.server).toBe('10.0.0.5:3389');
  });
  it('three failures in a row: the first carries the root cause', () => {
    const conns = [sslNotAllowed('c1', T0, 1), sslNotAllowed('c2', T0 + 5, 2), sslNotAllowed('c3', T0 + 10, 3)];
    const g = groupAttempts(conns, diagnose(input(conns)));
    expect(g).toHaveLength(1);
    expect(g[0]!.rootCauseConnectionId).toBe('c1');
    expect(g[0]!.summary).toMatch(/^Failed 3 times:/);
  });
  it(`attempts more than ${ATTEMPT_WINDOW_SECONDS} s apart are separate stories`, () => {
    const conns = [sslNotAllowed('c1', T0, 1), rdpCompleted('c2', T0 + ATTEMPT_WINDOW_SECONDS + 10, 2)];
    const g = groupAttempts(conns, diagnose(input(conns)));
    expect(g.map((x) => x.connectionIds)).toEqual([['c1'], ['c2']]);
    expect(g[1]!.rootCauseConnectionId).toBeNull();
    expect(g[1]!.summary).toBe('Completed with PROTOCOL_RDP. The session (c2) ran over Standard RDP Security: RC4, the server not authenticated.');
  });
  it('different servers are different stories', () => {
    const other = rdpCompleted('c2', T0 + 1, 2);
    other.flow = { ...other.flow, server: { ip: '10.0.0.6', port: 3389 } };
    const conns = [sslNotAllowed('c1', T0, 1), other];
    expect(groupAttempts(conns, diagnose(input(conns)))).toHaveLength(2);
  });
});

describe('cross-connection rules', () => {
  it('the same RST is port_not_listening or port_blocked depending on the server TTL seen in another connection', () => {
    const rst = (ttl: number) =>
      makeRecord({
        id: 'c1',
        flow: makeFlow({}, { synFrames: [20], synAckFrames: [], ackFrame: null, rsts: [{ frame: 21, time: T0, dir: 1, ttl, answersSyn: true }], ttl: [128, ttl] }),
        outcome: 'failed',
        reached: 'none',
        phases: [],
        died: died({ phase: 'tcp', how: 'rst', by: 'server', frame: 21 }),
        negotiation: null,
        tls: null,
      });
    const same = rst(120);
    expect(diagnoseConnection(same, input([answeredElsewhere(120), same]))[0]!.cause).toBe('port_not_listening');
    const diff = rst(250);
    expect(diagnoseConnection(diff, input([answeredElsewhere(120), diff]))[0]!.cause).toBe('port_blocked');
    expect(diagnoseConnection(diff, input([diff]))[0]!.cause).toBe('port_not_listening');
  });
  it('a silent SYN to a host that answered other connections is more likely a firewall', () => {
    const silent = makeRecord({
      id: 'c1',
      flow: makeFlow({ packets: [3, 0] }, { synFrames: [20, 25, 30], synAckFrames: [], ackFrame: null, ttl: [128, null] }),
      outcome: 'failed',
      reached: 'none',
      phases: [],
      died: died({ phase: 'tcp', how: 'no_answer', by: 'network', frame: 30 }),
      negotiation: null,
      tls: null,
    });
    const alone = diagnoseConnection(silent, input([silent]))[0]!;
    const withOther = diagnoseConnection(silent, input([answeredElsewhere(120), silent]))[0]!;
    expect(withOther.confidence).toBeGreaterThan(alone.confidence);
    expect(withOther.explanation).toContain('connection c0');
  });
});

describe('server summaries and the headline', () => {
  function blocked(id: string, port: number, start: number): ConnectionRecord {
    return makeRecord({
      id,
      flow: makeFlow({ client: { ip: '10.0.0.9', port }, server: { ip: '10.2.0.5', port: 3389 }, packets: [3, 0], start, end: start + 9 }, { synFrames: [1, 2, 3], synAckFrames: [], ackFrame: null, ttl: [128, null] }),
      start,
      end: start + 9,
      outcome: 'failed',
      reached: 'none',
      phases: [],
      died: died({ phase: 'tcp', how: 'no_answer', by: 'network', frame: 3 }),
      negotiation: null,
      tls: null,
    });
  }
  it('"14 attempts to 10.2.0.5:3389: 12 blocked by a firewall (no SYN-ACK), 2 completed"', () => {
    const conns: ConnectionRecord[] = [];
    for (let i = 0; i < 12; i++) conns.push(blocked(`c${i + 1}`, 50000 + i, T0 + i * 40));
    for (let i = 0; i < 2; i++) {
      const ok = makeRecord({ id: `ok${i}`, flow: makeFlow({ client: { ip: '10.0.0.8', port: 51000 + i }, server: { ip: '10.2.0.5', port: 3389 } }) });
      conns.push(ok);
    }
    const f = diagnose(input(conns, { captureEnd: [T0 + 1000] }));
    const s = summarizeServers(conns, f);
    expect(s).toHaveLength(1);
    expect(s[0]).toMatchObject({ server: '10.2.0.5:3389', attempts: 14, completed: 2, failed: 12, incomplete: 0 });
    expect(serverSentence(s[0]!)).toBe('14 attempts to 10.2.0.5:3389: 12 blocked by a firewall (no SYN-ACK), 2 completed');
    expect(headline(conns, f)).toBe('12 of 14 attempts to 10.2.0.5:3389 failed: the SYN got no answer (dropped by a firewall).');
  });
  it('each summary line is built from the attempts it counts, each cause with its own count', () => {
    // One attempt to 10.2.0.5:3389 blocked (no SYN-ACK), one refused for its expired certificate,
    // one with no finding: no line may give one attempt's cause to the others.
    const flow = (port: number, start: number) => makeFlow({ client: { ip: '10.0.0.9', port }, server: { ip: '10.2.0.5', port: 3389 }, start, end: start + 1 });
    const cert = clientClosedAfterTls({ id: 'c2', flow: flow(50101, T0 + 10), start: T0 + 10, end: T0 + 11 }, { certificates: [makeCert({ notAfter: '2025-01-01T00:00:00Z' })] });
    const unclear = makeRecord({ id: 'c3', flow: flow(50102, T0 + 20), start: T0 + 20, end: T0 + 21, outcome: 'failed', reached: 'tls', died: died({ phase: 'active', how: 'fin', by: 'server', frame: 40 }) });
    const conns = [blocked('c1', 50100, T0), cert, unclear];
    const f = diagnose(input(conns, { captureEnd: [T0 + 1000] }));
    expect(f.get('c3')).toEqual([]);
    expect(serverSentence(summarizeServers(conns, f)[0]!)).toBe(
      "3 attempts to 10.2.0.5:3389: 1 blocked by a firewall (no SYN-ACK), 1 refused: the server's certificate expired, 1 failed with no clear cause",
    );
    expect(headline(conns, f)).toBe(
      "3 of 3 attempts to 10.2.0.5:3389 failed: in 1, the SYN got no answer (dropped by a firewall); in 1, the server's certificate expired on 2025-01-01; in 1, the capture does not show why.",
    );
    const g = groupAttempts(conns, f);
    expect(g).toHaveLength(1);
    expect(g[0]!.summary).toBe(
      "Failed 3 times: the SYN got no answer (dropped by a firewall) (c1); the server's certificate expired on 2025-01-01 (c2); the capture does not show why (c3).",
    );
    // With a second server, its part of the headline counts only its own attempts.
    const other = makeRecord({ id: 'c4', flow: makeFlow({ client: { ip: '10.0.0.9', port: 50200 }, server: { ip: '10.2.0.6', port: 3389 } }) });
    const f2 = diagnose(input([...conns, other], { captureEnd: [T0 + 1000] }));
    expect(headline([...conns, other], f2)).toMatch(/^3 of 3 attempts to 10\.2\.0\.5:3389 failed: in 1, .*; in 1, .*; in 1, the capture does not show why\. 1 attempt to other servers did not fail\.$/);
  });
  it('one cause for all: told once, with the count in the head', () => {
    const conns = [blocked('c1', 50100, T0), blocked('c2', 50101, T0 + 5)];
    const f = diagnose(input(conns, { captureEnd: [T0 + 1000] }));
    expect(headline(conns, f)).toBe('2 of 2 attempts to 10.2.0.5:3389 failed: the SYN got no answer (dropped by a firewall, or the host is down).');
    expect(groupAttempts(conns, f)[0]!.summary).toBe('Failed twice: the SYN got no answer (dropped by a firewall, or the host is down) (c1).');
  });
  it('all completed', () => {
    const conns = [makeRecord({ id: 'a' }), makeRecord({ id: 'b' }), makeRecord({ id: 'c' })];
    expect(headline(conns, diagnose(input(conns)))).toBe('All 3 connection attempts completed.');
    expect(headline([conns[0]!], diagnose(input([conns[0]!])))).toBe('The connection attempt completed.');
    expect(headline([], new Map())).toBe('No RDP connection attempt in this capture.');
    expect(headline([], new Map(), { frames: 1 })).toBe('No RDP connection attempt in this capture (1 frame).');
  });
  it('names the certificate date', () => {
    const bad = (id: string) => {
      const c = clientClosedAfterTls({ id }, { certificates: [makeCert({ notAfter: '2025-01-01T00:00:00Z' })] });
      return c;
    };
    const conns = [bad('c1'), makeRecord({ id: 'c2' }), bad('c3'), makeRecord({ id: 'c4' }), makeRecord({ id: 'c5' })];
    expect(headline(conns, diagnose(input(conns)))).toBe("2 of 5 attempts to 10.0.0.5:3389 failed: the server's certificate expired on 2025-01-01.");
  });
  it('says "possibly" for a weak cause and counts partly captured attempts', () => {
    const weak = clientClosedAfterTls({ id: 'c1' }, { version: 'TLS1.3', certificates: [], certificateEncrypted: true, appRecords: { client: 1, server: 2 } });
    const partial = makeRecord({ id: 'c2', outcome: 'incomplete_capture', incompleteReason: 'started_late' });
    const h = headline([weak, partial], diagnose(input([weak, partial])));
    expect(h).toMatch(/^1 of 2 attempts to 10\.0\.0\.5:3389 failed: possibly the client refused/);
    expect(h).toMatch(/1 attempt was only partly captured\.$/);
  });
  it('an IPv6 server: "[addr]:port" in groups, servers (the JSON contract) and the headline', () => {
    const flow = makeFlow({ ipVersion: 6, client: { ip: 'fd00::9', port: 50000 }, server: { ip: 'fd00:20::15', port: 3389 } });
    const c = clientClosedAfterTls({ id: 'c1', flow, client: '[fd00::9]:50000', server: '[fd00:20::15]:3389' }, { certificates: [makeCert({ notAfter: '2025-01-01T00:00:00Z' })] });
    const f = diagnose(input([c]));
    expect(groupAttempts([c], f)[0]!.server).toBe('[fd00:20::15]:3389');
    expect(summarizeServers([c], f)[0]!.server).toBe('[fd00:20::15]:3389');
    expect(headline([c], f)).toBe("The connection attempt to [fd00:20::15]:3389 failed: the server's certificate expired on 2025-01-01.");
  });
});

describe('steps name the connection\'s own port', () => {
  it('a blocked SYN to 3390: Test-NetConnection -Port 3390, firewall for port 3390', () => {
    const c = makeRecord({
      id: 'c1',
      flow: makeFlow({ client: { ip: '10.0.0.9', port: 50000 }, server: { ip: '10.2.0.5', port: 3390 }, packets: [3, 0], start: T0, end: T0 + 9 }, { synFrames: [1, 2, 3], synAckFrames: [], ackFrame: null, ttl: [128, null] }),
      outcome: 'failed',
      reached: 'none',
      phases: [],
      died: died({ phase: 'tcp', how: 'no_answer', by: 'network', frame: 3 }),
      negotiation: null,
      tls: null,
    });
    const f = diagnoseConnection(c, input([c], { captureEnd: [T0 + 1000] }))[0]!;
    expect(f.cause).toBe('port_blocked');
    const text = [...f.remediation, f.confirm].join('\n');
    expect(text).toContain('-Port 3390');
    expect(text).toContain('port 3390');
    expect(text).not.toContain('3389');
  });
});
