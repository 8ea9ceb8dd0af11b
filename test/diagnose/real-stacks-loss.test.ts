// Issue 12, patterns 5 and 6 end to end on the fixture captures that reproduce the real stacks'
// wire behaviour: an MTU black hole seen from the client, a session lost after `active` to
// unanswered keep-alives, a slow lossy TLS handshake before a client that gives up in licensing,
// and a SYN retransmitted until the client gives up while the capture runs on.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import type { ReportedConnection } from '../../src/report/types.js';

const FIX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'captures');

async function only(name: string): Promise<{ c: ReportedConnection; headline: string }> {
  const r = await analyze([{ kind: 'file', path: path.join(FIX, `${name}.pcap`) }]);
  expect(r.connections).toHaveLength(1);
  return { c: r.connections[0]!, headline: r.summary.headline };
}

describe.skipIf(!existsSync(FIX))('real stacks: loss seen from either side (issue 12, patterns 5 and 6)', () => {
  it('an MTU black hole seen from the client: a gap of full-size server segments, dup ACKs / SACKs, keep-alives', async () => {
    const { c, headline } = await only('mtu_blackhole_client_side');
    expect(c.outcome).toBe('failed');
    expect(c.reached).toBe('tls');
    // The client was waiting for bytes that never arrived: the silence is the network's, not the client's.
    expect(c.died).toMatchObject({ phase: 'tls', how: 'timeout', by: 'network' });
    expect(c.died!.detail).toMatch(/1460 bytes of the server's data never arrived/);
    const top = c.findings[0]!;
    expect(top.cause).toBe('mtu_blackhole');
    expect(top.confidence).toBeGreaterThanOrEqual(0.6);
    expect(top.explanation).toMatch(/never arrived before frame \d+ \(the TLS certificate flight\)/);
    expect(top.explanation).toMatch(/duplicate ACKs and 2 keep-alives/);
    expect(top.frames).toContain(c.died!.frame);
    expect(c.findings.some((f) => f.cause === 'client_abort')).toBe(false);
    expect(headline).toMatch(/MTU black hole/);
  });

  it('a session lost after active to unanswered keep-alives and a kernel reset: failed in active, network_unstable', async () => {
    const { c } = await only('network_unstable_active_lost');
    expect(c.outcome).toBe('failed');
    expect(c.reached).toBe('active');
    expect(c.died).toMatchObject({ phase: 'active', how: 'rst', by: 'client' });
    const top = c.findings[0]!;
    expect(top.cause).toBe('network_unstable');
    expect(top.confidence).toBeGreaterThanOrEqual(0.5);
    expect(top.explanation).toMatch(/5 keep-alives from the client \(frames \d+-\d+\) got no answer, then the client reset the connection/);
    expect(top.frames).toContain(c.died!.frame);
    expect(c.findings.some((f) => f.cause === 'client_abort')).toBe(false);
  });

  it('a client that gives up in licensing after a TLS handshake of seconds of retransmissions: network_unstable', async () => {
    const { c } = await only('network_unstable_slow_tls');
    expect(c.outcome).toBe('failed');
    expect(c.reached).toBe('licensing');
    expect(c.died).toMatchObject({ phase: 'licensing', how: 'fin', by: 'client' });
    expect(c.findings[0]!.cause).toBe('network_unstable');
    expect(c.findings[0]!.confidence).toBeGreaterThanOrEqual(0.5);
    expect(c.findings[0]!.explanation).toMatch(/retransmissions/);
  });

  it('a SYN retransmitted until the client gives up, the capture running on: failed, port_blocked', async () => {
    const { c } = await only('port_blocked_syn_give_up');
    expect(c.outcome).toBe('failed');
    expect(c.reached).toBe('tcp');
    expect(c.died).toMatchObject({ phase: 'tcp', how: 'no_answer', by: 'network' });
    expect(c.findings[0]!.cause).toBe('port_blocked');
    expect(c.findings[0]!.confidence).toBeGreaterThanOrEqual(0.5);
  });
});
