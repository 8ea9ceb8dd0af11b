// Records where the right answer is "completed" or "the capture cannot tell":
// no finding may be confident (>= 0.5).
import { describe, expect, it } from 'vitest';
import { INCOMPLETE_MAX_CONFIDENCE, diagnose, diagnoseConnection } from '../../src/diagnose/index.js';
import { networkUnstable } from '../../src/diagnose/rules/network_unstable.js';
import { T0, clientClosedAfterTls, died, ev, healthyTimeline, input, makeCert, makeFlow, makeRecord, makeTls, phase } from './helpers.js';

function maxConfidence(conn: Parameters<typeof diagnoseConnection>[0], inp = input([conn])): number {
  return Math.max(0, ...diagnoseConnection(conn, inp).map((f) => f.confidence));
}

describe('completed connections get no cause', () => {
  it('a healthy NLA connection', () => {
    const c = makeRecord();
    expect(diagnose(input([c])).get('c1')).toEqual([]);
  });
  it('even with an expired certificate the user accepted', () => {
    const c = makeRecord({ tls: makeTls({ certificates: [makeCert({ notAfter: '2025-01-01T00:00:00Z' })] }) });
    expect(diagnoseConnection(c, input([c]))).toEqual([]);
  });
  it('even over a lossy path', () => {
    const c = makeRecord({ flow: makeFlow({}, { retransmissions: [30, 30], dupAcks: [20, 20] }) });
    expect(diagnoseConnection(c, input([c]))).toEqual([]);
  });
});

describe('a healthy capture with 2 retransmissions and keep-alives', () => {
  const flow = makeFlow(
    { packets: [400, 900], end: T0 + 600 },
    {
      retransmissions: [1, 1],
      retransmissionFrames: [[120], [340]],
      keepAlives: [12, 0],
      dupAcks: [1, 0],
      maxIdle: { seconds: 30, frame: 500 },
      rtt: [
        { count: 200, min: 0.01, median: 0.02, max: 0.09 },
        { count: 400, min: 0.01, median: 0.02, max: 0.11 },
      ],
    },
  );
  it('does not trip network_unstable when the session later fails for another reason', () => {
    const c = makeRecord({ flow, end: T0 + 600, outcome: 'failed', reached: 'active', died: died({ phase: 'active', how: 'error_info', by: 'server', frame: 900 }) });
    expect(networkUnstable.check(c, input([c]))).toBeNull();
    expect(diagnoseConnection(c, input([c])).map((f) => f.cause)).not.toContain('network_unstable');
  });
  it('does not trip it on a 30 s idle gap that ends in a keep-alive', () => {
    const c = makeRecord({ flow, outcome: 'failed', reached: 'active', died: died({ phase: 'active', how: 'rst', by: 'server', frame: 900 }) });
    expect(networkUnstable.check(c, input([c]))).toBeNull();
  });
  it('but a gap that ends in a retransmission plus loss does', () => {
    const lossy = makeFlow({ packets: [40, 40] }, { retransmissions: [2, 4], retransmissionFrames: [[30], [31, 32]], maxIdle: { seconds: 8, frame: 31 } });
    const c = makeRecord({ flow: lossy, outcome: 'failed', reached: 'tls', died: died({ phase: 'tls', how: 'timeout', by: 'server', frame: 40 }) });
    const f = networkUnstable.check(c, input([c]));
    expect(f?.explanation).toContain('stalled for 8.0 s');
  });
});

describe('cannot tell', () => {
  it('a capture that starts late gets at most low-confidence findings, with the reason', () => {
    const c = clientClosedAfterTls({ outcome: 'incomplete_capture', incompleteReason: 'started_late' }, { certificates: [makeCert({ notAfter: '2025-01-01T00:00:00Z' })] });
    const f = diagnoseConnection(c, input([c]));
    expect(f.length).toBeGreaterThan(0);
    for (const x of f) expect(x.confidence).toBeLessThanOrEqual(INCOMPLETE_MAX_CONFIDENCE);
    expect(f[0]!.confidenceReason).toMatch(/started after/);
  });
  it('one SYN and the capture ends a second later', () => {
    const flow = makeFlow({ end: T0 + 1, packets: [1, 0] }, { synFrames: [1], synAckFrames: [], ackFrame: null, ttl: [128, null] });
    const c = makeRecord({ flow, start: T0, end: T0, outcome: 'incomplete_capture', incompleteReason: 'ended_early', reached: 'none', phases: [], died: null, negotiation: null, tls: null, timeline: [ev(1, 'c2s', 'SYN', 'tcp', T0)] });
    expect(maxConfidence(c, input([c], { captureEnd: [T0 + 1] }))).toBeLessThan(0.5);
  });
  it('the same, even if the pipeline called it failed', () => {
    const flow = makeFlow({ end: T0 + 1, packets: [1, 0] }, { synFrames: [1], synAckFrames: [], ackFrame: null, ttl: [128, null] });
    const c = makeRecord({ flow, start: T0, end: T0, outcome: 'failed', reached: 'none', phases: [], died: died({ phase: 'tcp', how: 'capture_ended', by: 'network', frame: 1 }), negotiation: null, tls: null, timeline: [ev(1, 'c2s', 'SYN', 'tcp', T0)] });
    const f = diagnoseConnection(c, input([c], { captureEnd: [T0 + 1] }));
    expect(f[0]?.cause).toBe('port_blocked');
    expect(f[0]!.confidence).toBeLessThan(0.5);
    expect(f[0]!.confidenceReason).toMatch(/capture ended/);
  });
  it('TLS 1.3 hides the certificate: a refusal is not asserted as a certificate cause', () => {
    const c = clientClosedAfterTls({}, { version: 'TLS1.3', certificates: [], certificateEncrypted: true, certificateFrame: null, appRecords: { client: 1, server: 3 } });
    const f = diagnoseConnection(c, input([c]));
    expect(f[0]?.cause).toBe('cert_rejected');
    expect(f[0]!.confidence).toBeLessThan(0.5);
    expect(f.map((x) => x.cause)).not.toContain('cert_expired');
    expect(f[0]!.confidenceReason).toContain('certlm.msc');
  });
  it('encrypted CredSSP that ends with the client leaving is not a confident NLA failure', () => {
    const c = makeRecord({
      outcome: 'failed',
      reached: 'credssp',
      phases: [phase('tcp', 3), phase('x224', 5), phase('tls', 10), phase('credssp', 12, undefined, true)],
      died: died({ phase: 'credssp', how: 'fin', by: 'client', frame: 13 }),
      tls: makeTls({ certificates: [makeCert({ issuer: 'CN=CA', selfSigned: false }), makeCert({ subject: 'CN=CA', selfSigned: true })], appRecords: { client: 1, server: 1 } }),
      timeline: [...healthyTimeline(), ev(11, 'c2s', 'TLS application data', 'credssp'), ev(12, 's2c', 'TLS application data', 'credssp'), ev(13, 'c2s', 'FIN', 'credssp')],
    });
    expect(maxConfidence(c)).toBeLessThan(0.6);
  });
  it('a connection that simply stops mid-session with the capture gets nothing confident', () => {
    const c = makeRecord({ outcome: 'incomplete_capture', incompleteReason: 'ended_early', reached: 'mcs', died: died({ phase: 'mcs', how: 'capture_ended', by: 'network', frame: 20 }) });
    expect(maxConfidence(c)).toBeLessThan(0.5);
  });
  it('the X.224 cookie (a user name) is never compared with the certificate', () => {
    const c = clientClosedAfterTls({}, { sni: null, certificates: [makeCert({ issuer: 'CN=CA', selfSigned: false }), makeCert({ subject: 'CN=CA' })] });
    c.negotiation!.cookie = 'SOMEONE-ELSE';
    expect(diagnoseConnection(c, input([c])).map((f) => f.cause)).not.toContain('cert_name_mismatch');
  });
  it('an SNI that is an IP address is not a name mismatch', () => {
    const c = clientClosedAfterTls({}, { sni: '10.0.0.5' });
    expect(diagnoseConnection(c, input([c])).map((f) => f.cause)).not.toContain('cert_name_mismatch');
  });
  it('a short host name matching the certificate FQDN is not a mismatch', () => {
    const c = clientClosedAfterTls({}, { sni: 'work-pc' });
    expect(diagnoseConnection(c, input([c])).map((f) => f.cause)).not.toContain('cert_name_mismatch');
  });
  it('a wildcard certificate matches one label', () => {
    const cert = makeCert({ subject: 'CN=*.corp.example.com', san: ['DNS:*.corp.example.com'], issuer: 'CN=CA', selfSigned: false });
    const ok = clientClosedAfterTls({}, { sni: 'work-pc.corp.example.com', certificates: [cert, makeCert({ subject: 'CN=CA' })] });
    const deep = clientClosedAfterTls({}, { sni: 'a.work-pc.corp.example.com', certificates: [cert, makeCert({ subject: 'CN=CA' })] });
    expect(diagnoseConnection(ok, input([ok])).map((f) => f.cause)).not.toContain('cert_name_mismatch');
    expect(diagnoseConnection(deep, input([deep])).map((f) => f.cause)).toContain('cert_name_mismatch');
  });
});
