// Condensed text reports (issue 17): a storm of identical failures is one block with its count,
// attempt ids and time span; a cause's steps are printed once; --detail full shows every attempt.
import { describe, expect, it } from 'vitest';
import { renderText } from '../../src/report/text.js';
import type { Report, ReportedConnection } from '../../src/report/types.js';
import { fixtureReport } from './helpers.js';

/** The sample's refused attempt, copied `n` times a second apart, plus the expired-certificate one to another server. */
async function storm(n: number): Promise<Report> {
  const r = await fixtureReport('sample.pcapng');
  const refused = r.connections.find((c) => c.findings[0]?.cause === 'port_not_listening')!;
  const expired = r.connections.find((c) => c.findings[0]?.cause === 'cert_expired')!;
  const ok = r.connections.find((c) => c.outcome === 'completed')!;
  const conns: ReportedConnection[] = [];
  for (let i = 0; i < n; i++) conns.push({ ...structuredClone(refused), id: `c${i + 1}`, start: refused.start + i, end: refused.end + i });
  conns.push({ ...structuredClone(expired), id: `c${n + 1}` });
  for (let i = 0; i < 30; i++) conns.push({ ...structuredClone(ok), id: `c${n + 2 + i}` });
  r.connections = conns;
  return r;
}

describe('a storm of identical failures', () => {
  it('is one block with its count, ids and time span; steps once; completed attempts counted', async () => {
    const r = await storm(2000);
    const t = renderText(r, { color: false });
    const blocks = t.split('\n').filter((l) => l.startsWith('FAILED'));
    expect(blocks).toEqual([
      'FAILED 2000 attempts to 10.20.0.17:3389 from 192.168.10.25, the same way: the server reset the connection during the TCP handshake',
      expect.stringMatching(/^FAILED c2001 tcp 192\.168\.10\.25:\d+ -> 10\.20\.0\.15:3389: /),
    ]);
    expect(t).toContain('  attempts: c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12 and 1988 more');
    expect(t).toMatch(/ {2}between 2026-03-10 09:00:08 \.\. 09:33:27 UTC/);
    expect(t).toContain('Identical failures (same server, cause and phase) are shown once, with their count; --detail full shows every attempt.');
    expect(t).toContain('30 to 10.20.0.16:3389 (c2002, c2003');
    // A person reads it in a minute: the size does not grow with the storm.
    expect(t.split('\n').length).toBeLessThan(150);
    expect((await storm(20)).connections.length).toBe(51);
    expect(renderText(await storm(20), { color: false }).split('\n').length).toBe(t.split('\n').length);
  });
  it('--detail full: every attempt on its own', async () => {
    const t = renderText(await storm(50), { color: false, detail: 'full' });
    expect(t.split('\n').filter((l) => l.startsWith('FAILED')).length).toBe(51);
    expect(t).not.toContain('Identical failures');
  });
  it('steps are printed once per cause, then pointed to', async () => {
    const r = await fixtureReport('sample.pcapng');
    const refused = r.connections.find((c) => c.findings[0]?.cause === 'port_not_listening')!;
    // The same cause at two servers: two blocks, the steps once.
    const other = structuredClone(refused);
    other.id = 'c9';
    other.server = '10.20.0.99:3389';
    r.connections = [refused, other];
    const t = renderText(r, { color: false });
    expect(t.match(/^ {2}FAILED|^FAILED/gm)!.length).toBe(2);
    expect(t.match(/ steps:$/gm)!.length).toBe(1);
    expect(t).toContain(`steps: the same as for ${refused.id} above`);
  });
});

describe('evidence files of a condensed block', () => {
  it('are listed next to its attempts', async () => {
    const r = await storm(30);
    for (const c of r.connections) if (c.outcome === 'failed') c.evidenceFile = `ev/${c.id}.pcapng`;
    const t = renderText(r, { color: false });
    expect(t).toContain('  evidence: c1 ev/c1.pcapng, c2 ev/c2.pcapng,');
    expect(t).toContain('c12 ev/c12.pcapng and 18 more in the same folder');
    expect(t).toContain('evidence: ev/c31.pcapng');
  });
});
