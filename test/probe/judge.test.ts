// The probe's rules on answers that loopback servers cannot give (an ICMP unreachable, a name that
// answers as another machine, a TLS 1.0-only server), from ProbeResult values written out here.
import { describe, expect, it } from 'vitest';
import { judgeProbe } from '../../src/probe/judge.js';
import type { ProbeResult, X224Step } from '../../src/report/probe.js';

function base(o: Partial<ProbeResult> = {}): ProbeResult {
  return {
    target: 'rdp.corp.example',
    host: 'rdp.corp.example',
    port: 3389,
    dns: { name: 'rdp.corp.example', addresses: ['10.0.0.5'], error: null, ms: 3 },
    address: '10.0.0.5',
    connect: { outcome: 'connected', ms: 1.2, errno: null },
    x224: [],
    tls: [],
    certificate: null,
    credssp: null,
    logon: null,
    time: '2026-12-07T00:00:00.000Z',
    timeoutMs: 5000,
    ...o,
  };
}

const sel = (set: string, name: string, id: string): X224Step => ({
  set,
  requestedProtocols: 1,
  outcome: 'selected',
  selectedProtocol: 1,
  selectedProtocolName: name,
  failureCode: null,
  failureCodeName: null,
  ms: 1,
  connectionId: id,
  detail: '',
});

describe('judgeProbe', () => {
  it('EHOSTUNREACH: port_blocked, naming the error and the time', () => {
    const f = judgeProbe(base({ connect: { outcome: 'unreachable', ms: 3.1, errno: 'EHOSTUNREACH' }, x224: [{ ...sel('RDP', 'RDP', 'c1'), outcome: 'not_connected' }] }), () => null);
    expect(f[0]?.cause).toBe('port_blocked');
    expect(f[0]?.explanation).toMatch(/EHOSTUNREACH after 3\.1 ms/);
  });

  it('a name that answers as another machine: possibly dns_failure', () => {
    const f = judgeProbe(
      base({
        x224: [sel('SSL', 'SSL', 'c2'), sel('HYBRID', 'HYBRID', 'c3')],
        credssp: { outcome: 'challenge', version: 6, errorCode: null, errorName: null, nbComputer: 'RDP-OLD', nbDomain: 'CORP', dnsComputer: 'rdp-old.corp.example', dnsDomain: 'corp.example', osBuild: '10.0.17763', connectionId: 'c3', detail: '' },
      }),
      () => null,
    );
    const d = f.find((x) => x.cause === 'dns_failure');
    expect(d?.confidence).toBeLessThan(0.5);
    expect(d?.explanation).toMatch(/calls itself rdp-old\.corp\.example/);
  });

  it('the same name as the machine gives itself: no dns finding', () => {
    const f = judgeProbe(
      base({
        host: 'rdp-old',
        dns: { name: 'RDP-OLD', addresses: ['10.0.0.5'], error: null, ms: 1 },
        credssp: { outcome: 'challenge', version: 6, errorCode: null, errorName: null, nbComputer: 'RDP-OLD', nbDomain: 'CORP', dnsComputer: 'rdp-old.corp.example', dnsDomain: 'corp.example', osBuild: null, connectionId: 'c3', detail: '' },
      }),
      () => null,
    );
    expect(f.map((x) => x.cause)).not.toContain('dns_failure');
  });

  it('a server that takes only TLS 1.0 / 1.1: tls_mismatch for hardened clients', () => {
    const t = (offered: string, ok: boolean, id: string) => ({
      offered,
      outcome: ok ? ('handshake' as const) : ('alert' as const),
      version: ok ? offered : null,
      cipher: ok ? 'TLS_RSA_WITH_AES_128_CBC_SHA' : null,
      alert: ok ? null : 'protocol_version',
      ms: 1,
      connectionId: id,
      detail: ok ? offered : 'alert protocol_version',
    });
    const f = judgeProbe(base({ x224: [sel('SSL', 'SSL', 'c2')], tls: [{ ...t('default', true, 'c2'), version: 'TLS1.0' }, t('TLS1.0', true, 'c7'), t('TLS1.1', false, 'c8'), t('TLS1.2', false, 'c9'), t('TLS1.3', false, 'c10')] }), () => null);
    expect(f[0]?.cause).toBe('tls_mismatch');
    expect(f[0]?.summary).toBe('the server accepts only TLS1.0');
  });

  it('a healthy server without TLS 1.0 / 1.1: nothing', () => {
    const t = (offered: string, ok: boolean) => ({ offered, outcome: ok ? ('handshake' as const) : ('alert' as const), version: ok ? 'TLS1.2' : null, cipher: null, alert: ok ? null : 'protocol_version', ms: 1, connectionId: 'c', detail: '' });
    const f = judgeProbe(base({ x224: [sel('SSL', 'SSL', 'c2')], tls: [t('default', true), t('TLS1.0', false), t('TLS1.1', false), t('TLS1.2', true), t('TLS1.3', true)] }), () => null);
    expect(f).toEqual([]);
  });
});
