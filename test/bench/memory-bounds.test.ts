// The memory bounds the benchmark relies on (docs/architecture.md, Performance): the timeline kept
// per connection record (first TIMELINE_HEAD + last TIMELINE_TAIL, the death always kept) and the
// flow table's half-open cap under a SYN flood (oldest evicted and counted, every attempt counted
// per server).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSynFlood } from '../../bench/corpus.js';
import { FlowTable } from '../../src/flow/index.js';
import { HALF_OPEN_BUDGET_BYTES, MAX_HALF_OPEN } from '../../src/flow/table.js';
import { SLOT_BYTES } from '../../src/flow/halfopen.js';
import type { FlowFacts } from '../../src/flow/types.js';
import { ConnectionMachine, MAX_TIMELINE, TIMELINE_HEAD, TIMELINE_PINNED, TIMELINE_TAIL } from '../../src/handshake/machine.js';
import type { ConnectionRecord } from '../../src/handshake/types.js';
import { DecodedPacket, decodePacket } from '../../src/net/index.js';
import { MAX_BARE_RECORDS, analyze } from '../../src/pipeline.js';
import { exitCodeOf } from '../../src/cli/run.js';
import { Conn } from '../handshake/harness.js';
import { ACK, SYN, tcpFrame } from '../flow/harness.js';

function rst(c: Conn, dir: 0 | 1): number {
  const f = c.next();
  c.m.onTcpEvent({ kind: 'rst', dir, frame: f, time: c.time, ttl: 128 });
  return f;
}

function end(c: Conn): ConnectionRecord {
  c.m.onEnd(c.facts, 'closed', c.time);
  expect(c.rec).not.toBeNull();
  return c.rec!;
}

const omittedMarker = (r: ConnectionRecord) => r.timeline.filter((e) => /^… \d+ events omitted$/.test(e.event));

describe('timeline bound per connection record', () => {
  it('under the bound: every event kept, no marker', () => {
    const c = new Conn();
    for (let i = 0; i < TIMELINE_HEAD + TIMELINE_TAIL - 1; i++) c.syn();
    const f = rst(c, 1);
    const r = end(c);
    expect(r.timeline).toHaveLength(TIMELINE_HEAD + TIMELINE_TAIL);
    expect(omittedMarker(r)).toEqual([]);
    expect(r.timeline.map((e) => e.frame)).toEqual(Array.from({ length: f }, (_, i) => i + 1));
  });

  it('500 SYN retransmissions then the server\'s reset: first 48, one marker counting the rest, last 16 with the death', () => {
    const c = new Conn();
    for (let i = 0; i < 500; i++) c.syn();
    const f = rst(c, 1);
    const r = end(c);
    const marker = omittedMarker(r);
    expect(marker).toHaveLength(1);
    const omitted = 501 - TIMELINE_HEAD - TIMELINE_TAIL;
    expect(marker[0]!.event).toBe(`… ${omitted} events omitted`);
    expect(marker[0]!.frame).toBe(TIMELINE_HEAD + 1);
    expect(marker[0]!.detail).toBe(`frames ${TIMELINE_HEAD + 1}..${500 - TIMELINE_TAIL + 1}; the first ${TIMELINE_HEAD} and the last ${TIMELINE_TAIL} events are kept`);
    expect(r.timeline).toHaveLength(TIMELINE_HEAD + 1 + TIMELINE_TAIL);
    expect(r.timeline.length).toBeLessThanOrEqual(MAX_TIMELINE + 1);
    // Frame order; the head is frames 1..48, the tail the last 16 frames.
    const frames = r.timeline.map((e) => e.frame);
    expect(frames).toEqual([...frames].sort((a, b) => a - b));
    expect(frames.slice(0, TIMELINE_HEAD)).toEqual(Array.from({ length: TIMELINE_HEAD }, (_, i) => i + 1));
    expect(frames.slice(-TIMELINE_TAIL)).toEqual(Array.from({ length: TIMELINE_TAIL }, (_, i) => f - TIMELINE_TAIL + 1 + i));
    expect(r.died?.frame).toBe(f);
    expect(r.timeline.at(-1)).toMatchObject({ frame: f, event: 'RST' });
    expect(r.warnings.some((w) => w.message === `${omitted} timeline events were omitted (the first ${TIMELINE_HEAD} and the last ${TIMELINE_TAIL} are kept)`)).toBe(true);
  });

  it('the death is kept even when many events follow it (pinned out of the omitted middle)', () => {
    const c = new Conn();
    for (let i = 0; i < 100; i++) c.syn();
    const death = rst(c, 1);
    for (let i = 0; i < 200; i++) c.syn();
    const r = end(c);
    expect(r.died).not.toBeNull();
    const d = r.died!.frame!;
    expect(r.timeline.some((e) => e.frame === d)).toBe(true);
    expect(r.timeline.some((e) => e.frame === death && e.event === 'RST')).toBe(true);
    expect(r.timeline.length).toBeLessThanOrEqual(MAX_TIMELINE + 1);
    const marker = omittedMarker(r);
    expect(marker).toHaveLength(1);
    // Every pushed event is kept, pinned or counted in the marker.
    const pushed = 301;
    expect(r.timeline.length - 1 + Number(/… (\d+)/.exec(marker[0]!.event)![1])).toBe(pushed);
  });

  it('pinned events are bounded too (a reset storm after the death)', () => {
    const c = new Conn();
    c.syn();
    for (let i = 0; i < 300; i++) {
      rst(c, 1);
      c.syn();
    }
    const r = end(c);
    expect(r.timeline.length).toBeLessThanOrEqual(TIMELINE_HEAD + TIMELINE_TAIL + TIMELINE_PINNED + 1);
    expect(r.timeline.some((e) => e.frame === r.died?.frame)).toBe(true);
  });
});

describe('half-open cap under a SYN flood', () => {
  const server = '10.20.0.15';

  it('100 000 SYNs (each answered, never completed) through FlowTable and ConnectionMachines: at most MAX_HALF_OPEN half-open at once, evictions counted, every attempt recorded once for the server', () => {
    const records: ConnectionRecord[] = [];
    let machines = 0;
    const table = new FlowTable({ rdpPorts: [3389] }, (facts: FlowFacts) => {
      machines++;
      return new ConnectionMachine(facts, { id: `c${machines}`, file: 'flood.pcap', fileIndex: 0, onRecord: (rec) => records.push(rec) });
    });
    const pkt = new DecodedPacket();
    const N = 100_000;
    let frame = 0;
    let time = 1_773_133_200;
    let maxHalfOpen = 0;
    const feed = (b: Buffer): void => {
      frame++;
      time += 10e-6;
      decodePacket(b, 0, b.length, 1, pkt);
      table.handle(pkt, frame, time, 0);
    };
    for (let i = 0; i < N; i++) {
      const client = `11.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      const port = 1024 + (i % 60000);
      feed(tcpFrame({ src: client, dst: server }, port, 3389, i * 7919, 0, SYN));
      feed(tcpFrame({ src: server, dst: client }, 3389, port, i * 104729, (i * 7919 + 1) >>> 0, SYN | ACK));
      if (table.halfOpenFlows > maxHalfOpen) maxHalfOpen = table.halfOpenFlows;
    }
    // The cap comes from a memory budget: 12 MiB of half-open slots (halfopen.ts).
    expect(MAX_HALF_OPEN).toBe(Math.floor(HALF_OPEN_BUDGET_BYTES / SLOT_BYTES));
    expect(SLOT_BYTES).toBeLessThan(256);
    expect(maxHalfOpen).toBe(MAX_HALF_OPEN);
    expect(table.stats.halfOpenEvicted).toBe(N - MAX_HALF_OPEN);
    expect(table.stats.flowsEvicted).toBe(N - MAX_HALF_OPEN);
    expect(records).toHaveLength(N - MAX_HALF_OPEN);
    table.finish(time);
    expect(table.openFlows).toBe(0);
    expect(table.halfOpenFlows).toBe(0);
    expect(records).toHaveLength(N);
    expect(new Set(records.map((r) => r.server))).toEqual(new Set([`${server}:3389`]));
    expect(new Set(records.map((r) => r.client)).size).toBe(N);
    // The evicted ones say so.
    expect(records.slice(0, 3).every((r) => r.warnings.some((w) => /evicted this flow/.test(w.message)))).toBe(true);
  }, 120_000);

  describe('analyze() on a generated flood', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-flood-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('100 000 half-open attempts: all counted for the server, the half-open evictions reported, records capped', async () => {
      const flood = generateSynFlood({ seed: 7, flows: 100_000, path: path.join(dir, 'flood.pcap') });
      expect(MAX_HALF_OPEN).toBeLessThan(100_000);
      const r = await analyze([{ kind: 'file', path: flood.path }], { maxRecords: 1000 });
      expect(r.capture.stats.halfOpenEvicted).toBe(100_000 - MAX_HALF_OPEN);
      expect(r.capture.stats.flowsEvicted).toBe(100_000 - MAX_HALF_OPEN);
      // Reported as what it is (issue 19): one SYN flood, its 1,000 recorded and 99,000 counted attempts
      // together, none an RDP client's attempt; the capture fails (exit 1): no handshake completed.
      expect(r.connections).toHaveLength(0);
      expect(r.summary).toMatchObject({ connections: 0, failed: 0, incompleteCapture: 0 });
      expect(r.probes).toHaveLength(1);
      expect(r.probes[0]).toMatchObject({ kind: 'syn_flood', targets: ['10.20.0.15:3389'], connections: 100_000, failedHandshakes: 100_000, sources: 1000 });
      expect(r.probes[0]!.summary).toMatch(/^100000 connections to 10\.20\.0\.15:3389 from 1000 or more sources, none completing the TCP handshake and none sending a byte \(1000 of the 1000 recorded answered by SYN\/ACK, about \d+ a second\): a SYN flood/);
      expect(r.summary.headline).toBe('No RDP connection attempt in this capture (200000 frames); the 100000 connections to RDP ports were probes (a SYN flood), not RDP clients.');
      expect(r.servers).toEqual([]);
      expect(exitCodeOf(r)).toBe(1);
    }, 120_000);

    it('records of attempts that never carried data stop at MAX_BARE_RECORDS; the rest are counted with their outcome', async () => {
      const flood = generateSynFlood({ seed: 8, flows: 30_000, path: path.join(dir, 'flood30k.pcap') });
      const r = await analyze([{ kind: 'file', path: flood.path }]);
      expect(r.servers).toEqual([]);
      expect(r.warnings).toContain(`25000 connections beyond the first 5000 were counted per server, not recorded (attempts that carried no data beyond the first 5000) (all of them in the SYN flood under probes)`);
      // The records stop at MAX_BARE_RECORDS; with the counted ones they make one flood.
      expect(r.probes).toHaveLength(1);
      expect(r.probes[0]).toMatchObject({ kind: 'syn_flood', connections: 30_000, sources: MAX_BARE_RECORDS });
      expect(r.summary.connections).toBe(0);
    }, 120_000);
  });
});

describe('a capture that is one big scan', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-scan-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A classic pcap (Ethernet, microseconds) of the frames, one every `step` seconds. */
  function pcap(file: string, frames: Buffer[], step: number): string {
    const head = Buffer.alloc(24);
    head.writeUInt32LE(0xa1b2c3d4, 0);
    head.writeUInt16LE(2, 4);
    head.writeUInt16LE(4, 6);
    head.writeUInt32LE(65535, 16);
    head.writeUInt32LE(1, 20);
    const parts: Buffer[] = [head];
    frames.forEach((f, i) => {
      const r = Buffer.alloc(16);
      const t = 1_773_133_200 + i * step;
      r.writeUInt32LE(Math.floor(t), 0);
      r.writeUInt32LE(Math.round((t % 1) * 1e6) % 1_000_000, 4);
      r.writeUInt32LE(f.length, 8);
      r.writeUInt32LE(f.length, 12);
      parts.push(r, f);
    });
    writeFileSync(path.join(dir, file), Buffer.concat(parts));
    return path.join(dir, file);
  }

  it(`one source's SYNs to 8,000 hosts' port 3389, unanswered: one scan with all of them (the ${MAX_BARE_RECORDS} recorded and the rest counted), exit 1`, async () => {
    const frames: Buffer[] = [];
    for (let i = 0; i < 8000; i++) frames.push(tcpFrame({ src: '192.0.2.66', dst: `10.${40 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}` }, 40000 + (i % 20000), 3389, i * 7919, 0, SYN));
    const file = pcap('scan.pcap', frames, 0.001);
    const r = await analyze([{ kind: 'file', path: file }]);
    expect(r.probes).toHaveLength(1);
    expect(r.probes[0]).toMatchObject({ kind: 'scanner', client: '192.0.2.66', connections: 8000, failedHandshakes: 8000, targetCount: MAX_BARE_RECORDS, sources: 1 });
    expect(r.probes[0]!.summary).toMatch(/^192\.0\.2\.66 touched 5000 hosts on port 3389 in \d+ s \(5000 connections, 0 accepted, and 3000 more half-open connections counted, not recorded\) without sending a byte: a port scan/);
    expect(r.connections).toEqual([]);
    expect(r.summary).toMatchObject({ connections: 0, failed: 0, incompleteCapture: 0 });
    expect(r.servers).toEqual([]);
    expect(exitCodeOf(r)).toBe(1);
  }, 120_000);
});
