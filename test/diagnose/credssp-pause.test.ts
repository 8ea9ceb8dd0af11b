// A client that stops CredSSP after its AUTHENTICATE (MS-CSSP 3.1.5) without a key log: the size of
// the server's answer, the certificate and a completed retry decide between a refused logon and a
// refused certificate. Also: a client that only goes quiet is not refusing, a lone SYN is a scan.
import { describe, expect, it } from 'vitest';
import { diagnoseConnection } from '../../src/diagnose/index.js';
import { appDataRecords, clientStoppedBeforeCredentials } from '../../src/diagnose/facts.js';
import type { ConnectionRecord, TimelineEvent } from '../../src/handshake/types.js';
import { T0, died, ev, healthyTimeline, input, makeCert, makeFlow, makeNegotiation, makeRecord, makeTls, phase } from './helpers.js';

function rec(frame: number, dir: 'c2s' | 's2c', bytes: number): TimelineEvent {
  return { ...ev(frame, dir, 'Application Data', 'credssp'), detail: `${bytes} bytes` };
}

/** NEGOTIATE 11 (c), CHALLENGE 12 (s), AUTHENTICATE 13 (c), the server's answer 14 (s), client FIN 15. */
function paused(answer: number, o: Partial<ConnectionRecord> = {}, cert = makeCert({ subject: 'CN=WORK-PC.corp.example.com', issuer: 'CN=Corp CA', selfSigned: false })): ConnectionRecord {
  return makeRecord({
    outcome: 'failed',
    reached: 'credssp',
    phases: [phase('tcp', 3), phase('x224', 5), phase('tls', 10), phase('credssp', 11, undefined, true)],
    died: died({ phase: 'credssp', how: 'fin', by: 'client', frame: 15 }),
    tls: makeTls({ appRecords: { client: 2, server: 2 }, certificates: [cert, makeCert({ subject: 'CN=Corp CA', issuer: 'CN=Corp CA', selfSigned: true })] }),
    timeline: [...healthyTimeline(), rec(11, 'c2s', 80), rec(12, 's2c', 336), rec(13, 'c2s', 928), rec(14, 's2c', answer), ev(15, 'c2s', 'FIN', 'credssp')],
    ...o,
  });
}

const selfSigned = () => makeCert({ subject: 'CN=WIN2K8R2.example', issuer: 'CN=WIN2K8R2.example', selfSigned: true });

describe('the shape of the stop', () => {
  it('reads the record lengths from the timeline', () => {
    const c = paused(45);
    expect(appDataRecords(c).map((r) => [r.frame, r.dir, r.length])).toEqual([
      [11, 'c2s', 80],
      [12, 's2c', 336],
      [13, 'c2s', 928],
      [14, 's2c', 45],
    ]);
    expect(clientStoppedBeforeCredentials(c)).toMatchObject({ frame: 15, how: 'fin', errorSized: true, proofSized: false, answer: { frame: 14 }, challenge: { frame: 12 } });
    expect(clientStoppedBeforeCredentials(paused(336))).toMatchObject({ errorSized: false, proofSized: true });
    expect(clientStoppedBeforeCredentials(paused(150))).toMatchObject({ errorSized: false, proofSized: false });
  });
  it('is only that point of CredSSP', () => {
    expect(clientStoppedBeforeCredentials(paused(45, { died: died({ phase: 'credssp', how: 'fin', by: 'server', frame: 15 }) }))).toBeNull();
    expect(clientStoppedBeforeCredentials(paused(45, { tls: makeTls({ appRecords: { client: 3, server: 2 } }) }))).toBeNull();
    expect(clientStoppedBeforeCredentials(paused(45, { security: 'tls', negotiation: makeNegotiation({ selectedProtocol: 1, selectedProtocolName: 'SSL' }) }))).toBeNull();
    expect(clientStoppedBeforeCredentials(paused(45, { outcome: 'completed' }))).toBeNull();
  });
});

describe('nla_failed vs cert_untrusted at the stop', () => {
  it('an errorCode-sized answer: the server refused the logon', () => {
    const c = paused(45);
    const f = diagnoseConnection(c, input([c]));
    expect(f[0]!.cause).toBe('nla_failed');
    expect(f[0]!.confidence).toBe(0.65);
    expect(f[0]!.frames).toEqual([10, 14, 15]);
    expect(f[0]!.confidenceReason).toMatch(/45 bytes, frame 14\) is far smaller than its CHALLENGE \(336 bytes\)/);
  });
  it('an errorCode-sized answer with a self-signed certificate is still the server refusing', () => {
    const c = paused(45, {}, selfSigned());
    const f = diagnoseConnection(c, input([c]));
    expect(f.map((x) => [x.cause, x.confidence])).toEqual([['nla_failed', 0.65]]);
  });
  it('an answer of unknown meaning: NLA failure is likely, as before', () => {
    const c = paused(150);
    expect(diagnoseConnection(c, input([c]))[0]).toMatchObject({ cause: 'nla_failed', confidence: 0.55 });
  });
  it('a proof-sized answer and a self-signed certificate: possibly the certificate, nothing likely', () => {
    const c = paused(336, {}, selfSigned());
    const f = diagnoseConnection(c, input([c]));
    expect(f.map((x) => [x.cause, x.confidence])).toEqual([
      ['cert_untrusted', 0.45],
      ['client_abort', 0.4],
      ['nla_failed', 0.15],
    ]);
    expect(f[0]!.explanation).toBe(
      'The server\'s certificate "CN=WIN2K8R2.example" (frame 7) is self-signed (issuer "CN=WIN2K8R2.example"), and the client closed the connection (FIN) in frame 15 after the server\'s CredSSP answer (frame 14), before sending its credentials.',
    );
    expect(f[0]!.frames).toEqual([7, 14, 15]);
  });
  it('an address the certificate does not carry counts as a doubt too', () => {
    const c = paused(150);
    c.tls = { ...c.tls!, sni: '192.168.1.150', certificates: [makeCert({ subject: 'CN=srv.example', issuer: 'CN=Corp CA', selfSigned: false }), makeCert({ subject: 'CN=Corp CA', issuer: 'CN=Corp CA' })] };
    const f = diagnoseConnection(c, input([c]));
    expect(f.find((x) => x.cause === 'nla_failed')).toMatchObject({ confidence: 0.4 });
    expect(f.find((x) => x.cause === 'nla_failed')!.confidenceReason).toMatch(/not the address 192\.168\.1\.150/);
  });
  it('a completed retry from the same client lowers the NLA story and is named', () => {
    const c = paused(150, { id: 'c1' });
    const retry = makeRecord({ id: 'c2', flow: makeFlow({ client: { ip: '10.0.0.9', port: 49800 }, start: T0 + 30, end: T0 + 90 }), start: T0 + 30, end: T0 + 90 });
    const f = diagnoseConnection(c, input([c, retry]));
    const nla = f.find((x) => x.cause === 'nla_failed')!;
    expect(nla.confidence).toBe(0.45);
    expect(nla.confidenceReason).toMatch(/The next attempt \(c2\) completed 25 s later\./);
  });
});

describe('a client that only goes quiet after a Confirm without NLA', () => {
  it('is not a confident NLA mismatch; one that closes is', () => {
    const base = {
      outcome: 'failed' as const,
      reached: 'x224' as const,
      tls: null,
      security: null,
      negotiation: makeNegotiation({ requestedProtocols: 0x3, selectedProtocol: 0x1, selectedProtocolName: 'SSL' }),
      timeline: healthyTimeline().slice(0, 4),
    };
    const quiet = makeRecord({ ...base, died: died({ phase: 'x224', how: 'timeout', by: 'client', frame: 5 }) });
    const f = diagnoseConnection(quiet, input([quiet]));
    expect(f[0]).toMatchObject({ cause: 'nla_mismatch', confidence: 0.3 });
    expect(f[0]!.explanation).toMatch(/and the client sent nothing more\.$/);
    const left = makeRecord({ ...base, died: died({ phase: 'x224', how: 'fin', by: 'client', frame: 6 }) });
    expect(diagnoseConnection(left, input([left]))[0]).toMatchObject({ cause: 'nla_mismatch', confidence: 0.65 });
  });
});

describe('a lone SYN never retransmitted', () => {
  it('is blocked or down, and the reason says the sender gave up at once', () => {
    const c = makeRecord({
      outcome: 'failed',
      reached: 'tcp',
      phases: [phase('tcp', 18)],
      died: died({ phase: 'tcp', how: 'no_answer', by: 'network', frame: 18 }),
      negotiation: null,
      tls: null,
      security: null,
      timeline: [ev(18, 'c2s', 'SYN', 'tcp')],
      flow: makeFlow(
        { firstFrame: 18, lastFrame: 18, end: T0, packets: [1, 0] },
        { synFrames: [18], synAckFrames: [], ackFrame: null, handshakeRtt: null, rtt: [null, null], ttl: [64, null], ttlsSeen: [[64], []], maxIdle: null },
      ),
      end: T0,
    });
    const f = diagnoseConnection(c, input([c], { captureEnd: [T0 + 20] }));
    expect(f[0]).toMatchObject({ cause: 'port_blocked', confidence: 0.6, frames: [18] });
    expect(f[0]!.confidenceReason).toMatch(/never retransmitted.*as port scanners do/);
  });
});
