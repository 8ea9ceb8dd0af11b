// Issue 18: health checks and scans are not RDP clients. findProbes on records, the headline of a
// capture with only probes, and end to end on the fixture field_probes.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { findProbes, FLOOD_MIN_CONNECTIONS, FLOOD_MIN_RATE, FLOOD_MIN_SOURCES, HEALTH_CHECK_MIN, SCAN_MIN_TARGETS } from '../../src/diagnose/probes.js';
import { headline } from '../../src/diagnose/index.js';
import type { ConnectionRecord } from '../../src/handshake/types.js';
import { analyze } from '../../src/pipeline.js';
import { renderText } from '../../src/report/text.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderHtml } from '../../src/report/html.js';
import { exitCodeOf } from '../../src/cli/run.js';
import { makeFlow, makeRecord, T0 } from '../diagnose/helpers.js';

let n = 0;
/** A connection from `client` to `server` at `t` that carried `bytes` (client, server); `how` it went at the TCP level. */
function conn(client: string, server: string, t: number, how: 'connect_close' | 'syn_only' | 'syn_rst', bytes: [number, number] = [0, 0]): ConnectionRecord {
  n++;
  const [sip, sport] = server.split(':');
  const tcp =
    how === 'connect_close'
      ? { synFrames: [n * 10], synAckFrames: [n * 10 + 1], fins: [{ dir: 0 as const, frame: n * 10 + 3, time: t + 0.01 }] }
      : how === 'syn_rst'
        ? { synFrames: [n * 10], synAckFrames: [], ackFrame: null, rsts: [{ dir: 1 as const, frame: n * 10 + 1, time: t + 0.001, ttl: 128, answersSyn: true }] }
        : { synFrames: [n * 10], synAckFrames: [], ackFrame: null };
  const flow = makeFlow({ client: { ip: client, port: 40000 + n }, server: { ip: sip!, port: Number(sport) }, start: t, end: t + 0.01, firstFrame: n * 10, payloadBytes: bytes }, tcp);
  return makeRecord({ id: `c${n}`, flow, start: t, end: t + 0.01, outcome: 'failed' });
}

describe('findProbes', () => {
  it('one source connecting to one server every few seconds and closing without a byte is a health check', () => {
    const list = Array.from({ length: 6 }, (_, i) => conn('10.0.0.2', '10.0.0.5:3389', T0 + i * 5, 'connect_close'));
    const { probes, ids } = findProbes(list);
    expect(probes).toHaveLength(1);
    expect(probes[0]).toMatchObject({ kind: 'health_check', client: '10.0.0.2', targets: ['10.0.0.5:3389'], connections: 6, intervalSeconds: 5 });
    expect(ids.size).toBe(6);
  });
  it(`fewer than ${HEALTH_CHECK_MIN}, or minutes apart, or with a byte sent, are not health checks`, () => {
    expect(findProbes([conn('10.0.0.2', '10.0.0.5:3389', T0, 'connect_close'), conn('10.0.0.2', '10.0.0.5:3389', T0 + 5, 'connect_close')]).probes).toEqual([]);
    expect(findProbes([0, 1, 2].map((i) => conn('10.0.0.2', '10.0.0.5:3389', T0 + i * 600, 'connect_close'))).probes).toEqual([]);
    expect(findProbes([0, 1, 2].map((i) => conn('10.0.0.2', '10.0.0.5:3389', T0 + i * 5, 'connect_close', [19, 0]))).probes).toEqual([]);
  });
  it('a client retrying a filtered server (SYNs only, one target) is not a probe', () => {
    expect(findProbes([0, 1, 2, 3].map((i) => conn('10.0.0.9', '10.0.0.5:3389', T0 + i * 3, 'syn_only'))).probes).toEqual([]);
  });
  it(`one source touching ${SCAN_MIN_TARGETS} or more hosts without a byte is a scan; its RDP connections stay`, () => {
    const scan = Array.from({ length: 8 }, (_, i) => conn('192.0.2.66', `10.0.1.${i + 1}:3389`, T0 + i * 0.01, i % 2 ? 'syn_rst' : 'syn_only'));
    const real = conn('192.0.2.66', '10.0.1.1:3389', T0 + 1, 'connect_close', [19, 19]);
    const { probes, ids } = findProbes([...scan, real]);
    expect(probes).toHaveLength(1);
    expect(probes[0]).toMatchObject({ kind: 'scanner', client: '192.0.2.66', targetCount: 8, connections: 8, intervalSeconds: null });
    expect(probes[0]!.summary).toMatch(/touched 8 hosts on port 3389 .* a port scan, not an RDP client/);
    expect(ids.has(real.id)).toBe(false);
  });
  it('a scan of many ports of one host is a scan too', () => {
    const list = [3389, 3390, 3391, 3392, 3393].map((p, i) => conn('192.0.2.67', `10.0.1.9:${p}`, T0 + i * 0.01, 'syn_rst'));
    expect(findProbes(list).probes[0]?.summary).toMatch(/touched 5 ports of 10\.0\.1\.9/);
  });
  it(`many sources to one server's port, fast and without a byte, is a SYN flood; the attempts only counted join it`, () => {
    const flood = Array.from({ length: FLOOD_MIN_CONNECTIONS }, (_, i) => conn(`11.0.${i >> 8}.${i & 255}`, '10.0.0.5:3389', T0 + i * 0.001, 'syn_only'));
    const real = conn('10.0.0.7', '10.0.0.5:3389', T0 + 0.5, 'connect_close', [19, 19]);
    const { probes, ids, countedServers } = findProbes([...flood, real], new Map([['10.0.0.5:3389', { failed: 10, incomplete: 4990 }]]));
    expect(probes).toHaveLength(1);
    expect(probes[0]).toMatchObject({ kind: 'syn_flood', targets: ['10.0.0.5:3389'], connections: FLOOD_MIN_CONNECTIONS + 5000, failedHandshakes: FLOOD_MIN_CONNECTIONS + 5000, sources: FLOOD_MIN_CONNECTIONS });
    expect(probes[0]!.summary).toBe(
      `6000 connections to 10.0.0.5:3389 from 1000 or more sources, none completing the TCP handshake and none sending a byte (0 of the 1000 recorded answered by SYN/ACK, about 1001 a second): a SYN flood or a scan spread over many addresses, not RDP clients.`,
    );
    expect(ids.size).toBe(FLOOD_MIN_CONNECTIONS);
    expect(ids.has(real.id)).toBe(false);
    expect([...countedServers]).toEqual(['10.0.0.5:3389']);
    expect(headline([], new Map(), { frames: 12000, probes })).toBe('No RDP connection attempt in this capture (12000 frames); the 6000 connections to RDP ports were probes (a SYN flood), not RDP clients.');
  });
  it(`an outage's retries (${FLOOD_MIN_SOURCES}+ clients, slower than ${FLOOD_MIN_RATE} a second) or too few sources are no flood`, () => {
    // 200 users, each retrying every 30 s for 5 minutes: 2,000 attempts at ~7 a second, gaps under a minute.
    const outage = Array.from({ length: 2000 }, (_, i) => conn(`10.9.${(i % 200) >> 8}.${i % 200}`, '10.0.0.5:3389', T0 + i * 0.15, 'syn_only'));
    expect(findProbes(outage).probes).toEqual([]);
    const few = Array.from({ length: 2000 }, (_, i) => conn(`11.1.0.${i % (FLOOD_MIN_SOURCES - 1)}`, '10.0.0.5:3389', T0 + i * 0.001, 'syn_only'));
    expect(findProbes(few).probes.filter((p) => p.kind === 'syn_flood')).toEqual([]);
  });
  it('the headline of a capture with only probes says there is no RDP client in it', () => {
    const list = Array.from({ length: 4 }, (_, i) => conn('10.0.0.2', '10.0.0.5:3389', T0 + i * 5, 'connect_close'));
    const { probes } = findProbes(list);
    expect(headline([], new Map(), { frames: 24, probes })).toBe('No RDP connection attempt in this capture (24 frames); the 4 connections to RDP ports were probes (health checks), not RDP clients.');
  });
});

const FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/captures/field_probes.pcapng');

describe.skipIf(!existsSync(FILE))('health checks and a scan among RDP clients (field_probes)', () => {
  it('sets the probes apart: not in the connections, the counts or the headline, no remediation; the RDP clients keep their verdicts', async () => {
    const r = await analyze([{ kind: 'file', path: FILE }], { rdpPorts: [3389] });
    expect(r.connections.map((c) => c.client).sort()).toEqual(['192.168.10.25:50840', '192.168.10.31:50841']);
    expect(r.summary).toMatchObject({ connections: 2, completed: 1, failed: 1, incompleteCapture: 0 });
    expect(r.summary.headline).toBe("The connection attempt to 10.20.0.15:3389 failed: the server's certificate expired on 2025-03-01. 1 attempt to other servers did not fail.");
    const failed = r.connections.find((c) => c.outcome === 'failed')!;
    expect(failed.findings[0]?.cause).toBe('cert_expired');
    expect(r.probes.map((p) => [p.kind, p.client, p.connections, p.targetCount])).toEqual([
      ['health_check', '10.20.0.2', 20, 1],
      ['scanner', '192.168.66.6', 20, 20],
    ]);
    expect(r.probes[0]!.intervalSeconds).toBe(5);
    expect(r.servers.map((s) => s.server).sort()).toEqual(['10.20.0.15:3389', '10.20.0.16:3389']);
    expect(r.servers.find((s) => s.server === '10.20.0.15:3389')!.attempts).toBe(1);
    expect(exitCodeOf(r)).toBe(1); // the expired certificate, not the probes
    const text = renderText(r, { color: false });
    expect(text).toContain('Probes (not RDP clients, not counted as attempts):');
    expect(text).toContain("20 connections from 10.20.0.2 to 10.20.0.15:3389 about every 5 s, each opened and closed by 10.20.0.2 without sending a byte: a load balancer's or monitor's health check, not an RDP client.");
    expect(text).toContain('192.168.66.6 touched 20 hosts on port 3389 in 0.2 s (20 connections, 7 accepted) without sending a byte: a port scan, not an RDP client.');
    expect(renderMarkdown(r, {})).toContain('## Probes (not RDP clients, not counted as attempts)');
    expect(renderHtml(r, {})).toContain('<ul id="probes">');
  });
});
