// Steps that fit the server stack the capture shows: a host whose SYN/ACK left with the initial TTL
// 128 is Windows, so the xrdp.ini step is left out; a TTL-64 host (Linux, where xrdp runs) keeps it.
import { describe, expect, it } from 'vitest';
import { diagnoseConnection } from '../../src/diagnose/index.js';
import { clientClosedAfterTls, died, healthyTimeline, input, makeCert, makeFlow, makeNegotiation, makeRecord, phase } from './helpers.js';

function refused(serverTtl: number | null) {
  return makeRecord({
    outcome: 'failed',
    reached: 'x224',
    phases: [phase('tcp', 3), phase('x224', 5)],
    died: died({ phase: 'x224', how: 'negotiation_failure', by: 'server', frame: 5 }),
    negotiation: makeNegotiation({ requestedProtocols: 0x1, selectedProtocol: null, selectedProtocolName: null, failureCode: 2, failureCodeName: 'SSL_NOT_ALLOWED_BY_SERVER' }),
    tls: null,
    security: null,
    timeline: healthyTimeline().slice(0, 4),
    flow: makeFlow({}, { synAckFrames: serverTtl === null ? [] : [2], ttl: [128, serverTtl] }),
  });
}

const xrdp = /xrdp\.ini/;

describe('remediation steps and the server stack', () => {
  it('a Windows host (SYN/ACK TTL 125, initial 128): no xrdp.ini step', () => {
    const c = refused(125);
    const top = diagnoseConnection(c, input([c]))[0]!;
    expect(top.cause).toBe('security_layer_mismatch');
    expect(top.remediation.some((s) => xrdp.test(s))).toBe(false);
    expect(top.remediation[0]).toMatch(/gpedit\.msc/);
  });

  it('a Linux host (TTL 64, where xrdp runs): the xrdp.ini step stays, after the Windows policy its words refer to', () => {
    const c = refused(61);
    const top = diagnoseConnection(c, input([c]))[0]!;
    expect(top.remediation[0]).toMatch(/gpedit\.msc/);
    expect(top.remediation[1]).toMatch(xrdp);
  });

  it('no SYN/ACK seen: nothing is ruled out, the catalogue order kept', () => {
    const c = refused(null);
    const top = diagnoseConnection(c, input([c]))[0]!;
    expect(top.remediation[0]).toMatch(/gpedit\.msc/);
    expect(top.remediation[1]).toMatch(xrdp);
  });

  it('fixture security_layer_mismatch_xrdp (xrdp, TTL 63): the xrdp.ini step is there', async () => {
    const { analyze } = await import('../../src/pipeline.js');
    const path = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'captures', 'security_layer_mismatch_xrdp.pcap');
    const r = await analyze([{ kind: 'file', path: file }]);
    const top = r.connections[0]!.findings[0]!;
    expect(top.cause).toBe('security_layer_mismatch');
    expect(top.remediation.some((s) => xrdp.test(s))).toBe(true);
  });
});

describe('remediation steps and the certificate', () => {
  const update = /^Update the client/;

  it('a self-signed certificate refused: no "update the client" step (no update makes a client trust it)', () => {
    const c = clientClosedAfterTls({ negotiation: makeNegotiation({ selectedProtocol: 0x1, selectedProtocolName: 'SSL' }), security: 'tls' });
    const top = diagnoseConnection(c, input([c]))[0]!;
    expect(top.cause).toBe('cert_untrusted');
    expect(top.remediation[0]).toMatch(/certificate its clients trust/);
    expect(top.remediation.some((s) => update.test(s))).toBe(false);
  });

  it('an issuer the client may lack (not self-signed): the update step stays (Windows Update refreshes the trusted roots)', () => {
    const cert = makeCert({ subject: 'CN=WORK-PC.corp.example.com', issuer: 'CN=Some Public CA', selfSigned: false });
    const c = clientClosedAfterTls({ negotiation: makeNegotiation({ selectedProtocol: 0x1, selectedProtocolName: 'SSL' }), security: 'tls' }, { certificates: [cert] });
    const top = diagnoseConnection(c, input([c]))[0]!;
    expect(top.cause).toBe('cert_untrusted');
    expect(top.remediation.some((s) => update.test(s))).toBe(true);
  });
});

describe('what the capture is said to hold', () => {
  it('a reset to the SYN with nothing to compare its TTL with: the capture is not said to hold no other packet from the host (only RDP ports are read)', async () => {
    const { scenarios } = await import('./scenarios.js');
    const s = scenarios().find((x) => x.name === 'RST, nothing to compare the TTL with')!;
    const top = diagnoseConnection(s.conn, s.input)[0]!;
    expect(top.cause).toBe('port_not_listening');
    expect(top.confidenceReason).not.toMatch(/No other packet/);
    expect(top.confidenceReason).toContain(`No SYN/ACK from ${s.conn.flow.server.ip} to a connection on an RDP port is in the capture (connections to other ports are not read)`);
    expect(top.confidenceReason).toContain(`ip.src==${s.conn.flow.server.ip} && tcp.flags.syn==1 && tcp.flags.ack==1`);
  });
});

describe('steps that fit the cause', () => {
  it('fixture mtu_blackhole: the steps make full-size packets pass (MTU, ICMP fragmentation needed, MSS), not a port test that a SYN passes anyway', async () => {
    const { analyze } = await import('../../src/pipeline.js');
    const path = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'captures', 'mtu_blackhole.pcap');
    const r = await analyze([{ kind: 'file', path: file }]);
    const top = r.connections[0]!.findings[0]!;
    expect(top.cause).toBe('mtu_blackhole');
    expect(top.remediation[0]).toContain('mtu=1400');
    expect(top.remediation[0]).toContain('type 3 code 4');
    expect(top.remediation.join('\n')).not.toMatch(/Test-NetConnection|Restart both machines/);
  });
});

describe('steps that fit a licensing error', () => {
  it('fixture server_denied_license (ERR_NO_LICENSE_SERVER): the RD licensing step, not a restart or a stuck-session reset', async () => {
    const { analyze } = await import('../../src/pipeline.js');
    const path = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'captures', 'server_denied_license.pcap');
    const r = await analyze([{ kind: 'file', path: file }]);
    const top = r.connections[0]!.findings[0]!;
    expect(top.cause).toBe('server_denied');
    expect(top.explanation).toContain('ERR_NO_LICENSE_SERVER');
    expect(top.remediation).toHaveLength(1);
    expect(top.remediation[0]).toContain('RD Licensing Diagnoser (lsdiag.msc)');
  });
});

describe('steps that fit a legacy client', () => {
  it('Standard RDP Security because the client sent no RDP_NEG_REQ: only "update the client" (the host did not make TLS fail)', async () => {
    const { scenarios } = await import('./scenarios.js');
    const s = scenarios().find((x) => x.name === 'a legacy client without RDP_NEG_REQ, Standard RDP Security')!;
    const top = diagnoseConnection(s.conn, s.input).find((f) => f.cause === 'standard_rdp_security')!;
    expect(top.remediation).toHaveLength(1);
    expect(top.remediation[0]).toMatch(/^Update the client/);
    const neg = scenarios().find((x) => x.name === 'a completed session over Standard RDP Security (RC4)')!;
    expect(diagnoseConnection(neg.conn, neg.input).find((f) => f.cause === 'standard_rdp_security')!.remediation[0]).toMatch(/^Once the problem that made TLS fail is fixed/);
  });
});

describe('server_denied: steps that fit what the connection shows', () => {
  // FreeRDP /sec:rdp against a default xrdp (live capture, 2026-12-07): Standard RDP Security, the
  // Client Info sent, then the server's Disconnect Provider Ultimatum during the MCS setup.
  function ended(o: { requestedProtocols: number | null; reachedLicensing: boolean }) {
    const mcs = { connectInitialFrame: 6, connectResponseFrame: 7, result: 0, client: null, server: null, erectDomainFrame: 8, attachUserRequestFrame: 9, attachUserConfirmFrame: 10, attachUserResult: 0, channelJoins: [], securityExchangeFrame: 11, clientInfoFrame: 12, disconnectUltimatum: { frame: 14, by: 'server' as const, reason: 3, reasonName: 'rn-user-requested' } };
    const reached = o.reachedLicensing ? 'licensing' : 'mcs';
    return makeRecord({
      outcome: 'failed',
      reached,
      phases: [phase('tcp', 3), phase('x224', 5), phase('mcs', 6), ...(o.reachedLicensing ? [phase('licensing', 13)] : [])],
      died: died({ phase: reached, how: 'disconnect_ultimatum', by: 'server', frame: 14 }),
      negotiation: makeNegotiation({ requestedProtocols: o.requestedProtocols, requestedProtocolNames: o.requestedProtocols === null ? [] : ['SSL', 'HYBRID'], selectedProtocol: o.requestedProtocols === null ? null : 0, selectedProtocolName: o.requestedProtocols === null ? null : 'RDP' }),
      tls: null,
      security: 'rdp',
      mcs,
    });
  }

  it('no NLA asked for, licensing not reached: neither the NLA policy nor the RD licensing step; the phase in words', () => {
    const c = ended({ requestedProtocols: null, reachedLicensing: false });
    const top = diagnoseConnection(c, input([c]))[0]!;
    expect(top.cause).toBe('server_denied');
    expect(top.remediation.some((s) => /Network Level Authentication/.test(s))).toBe(false);
    expect(top.remediation.some((s) => /licens/i.test(s))).toBe(false);
    expect(top.remediation.length).toBeGreaterThan(0);
    expect(top.explanation).toContain('during the MCS connection setup');
    expect(top.explanation).not.toMatch(/during mcs/);
  });

  it('NLA asked for and licensing reached: the catalogue steps, all of them', () => {
    const c = ended({ requestedProtocols: 0x3, reachedLicensing: true });
    const top = diagnoseConnection(c, input([c]))[0]!;
    expect(top.cause).toBe('server_denied');
    expect(top.remediation.some((s) => /Network Level Authentication/.test(s))).toBe(true);
    expect(top.remediation.some((s) => /RD Licensing/.test(s))).toBe(true);
  });
});
