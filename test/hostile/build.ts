// Builders and runners for the hostile-input tests: a capture of one scripted TCP connection
// (fixtures/lib/session.ts) whose payloads the test chooses byte by byte, written with PcapWriter;
// the library (`analyze`) and the built command line (`node dist/cli/main.js`) as runners.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { PcapWriter, type WriterRecord } from '../../src/capture/writer.js';
import { analyze } from '../../src/pipeline.js';
import type { Report, ReportedConnection } from '../../src/report/types.js';
import { Capture, MS, SEC, TcpSession, type Side } from '../../fixtures/lib/session.js';
import * as R from '../../fixtures/lib/rdp-bytes.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLIENT = '192.0.2.10';
export const SERVER = '198.51.100.20';
/** 2026-03-10T09:00:00Z in µs. */
export const T0 = 1_773_133_200 * SEC;

export { MS, SEC };

export interface Step {
  from: Side;
  data: Buffer;
  delay?: number;
}

export interface Built {
  pcap: Buffer;
  records: WriterRecord[];
  /** Frame number of the last segment of each step, in order. */
  stepFrames: number[];
  /** Frame number of the first segment of each step. */
  firstFrames: number[];
  /** Frame numbers of the segments the `session` hook emitted (ids it returned). */
  extraFrames: number[];
  /** Byte offset in the pcap of each frame's record header (index = frame - 1). */
  recordOffsets: number[];
}

/** One TCP connection CLIENT:50000 -> SERVER:3389: handshake, the steps, then (optionally) a FIN exchange. */
export function connection(steps: Step[], o: { fin?: boolean; port?: number; session?: (s: TcpSession) => number[] | void } = {}): Built {
  const cap = new Capture();
  const s = new TcpSession(cap, { client: { ip: CLIENT, port: 50000 }, server: { ip: SERVER, port: o.port ?? 3389 }, start: T0 });
  s.handshake();
  const ids: number[] = [];
  const firsts: number[] = [];
  for (const st of steps) {
    const r = s.send(st.from, st.data, { delay: st.delay ?? 0 });
    ids.push(r.last);
    firsts.push(r.first);
  }
  const extra = o.session?.(s) ?? [];
  if (o.fin !== false) s.fin('client', { peerFin: true, delay: 5 * MS });
  s.done();
  const f = cap.finish();
  return { ...pcapOf(f.records, f.linkType), stepFrames: ids.map((id) => cap.frameOf(id)), firstFrames: firsts.map((id) => cap.frameOf(id)), extraFrames: extra.map((id) => cap.frameOf(id)) };
}

export function pcapOf(records: WriterRecord[], linkType: number): Pick<Built, 'pcap' | 'records' | 'recordOffsets'> {
  const w = new PcapWriter({ linkType });
  const recordOffsets: number[] = [];
  let off = 24;
  for (const r of records) {
    recordOffsets.push(off);
    w.add(r);
    off += 16 + r.data.length;
  }
  return { pcap: w.toBuffer(), records, recordOffsets };
}

/** The X.224 exchange every case starts from: a Request for SSL|HYBRID and a Confirm selecting `selected`. */
export function x224(selected: number = R.PROTOCOL_SSL): Step[] {
  return [
    { from: 'client', data: R.x224ConnectionRequest({ cookie: 'alice', neg: { requestedProtocols: R.PROTOCOL_SSL | R.PROTOCOL_HYBRID } }) },
    { from: 'server', data: R.x224ConnectionConfirm({ type: 'rsp', selectedProtocol: selected }) },
  ];
}

export async function analyzeBuffer(pcap: Buffer, name = 'hostile.pcap'): Promise<Report> {
  return analyze([{ kind: 'buffer', name, data: pcap }]);
}

export function only(r: Report): ReportedConnection {
  const tcp = r.connections.filter((c) => c.transport === 'tcp');
  expect(tcp, 'exactly one TCP connection').toHaveLength(1);
  return tcp[0]!;
}

// ---------------------------------------------------------------- the built command line

const CLI = path.join(repoRoot, 'dist/cli/main.js');
let built = false;

/** Newest modification time of the sources under src/. */
function newestSource(dir = path.join(repoRoot, 'src')): number {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newestSource(p) : e.name.endsWith('.ts') ? statSync(p).mtimeMs : 0);
  }
  return t;
}

/**
 * `tsc -p tsconfig.build.json` when dist/ is older than src/ (other engineers' type errors do not
 * stop the emit), at most once per test process.
 */
export function buildCli(): void {
  if (built) return;
  if (existsSync(CLI) && statSync(CLI).mtimeMs >= newestSource()) {
    built = true;
    return;
  }
  try {
    execFileSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', path.join(repoRoot, 'tsconfig.build.json')], {
      cwd: repoRoot,
      stdio: 'pipe',
    });
  } catch {
    // Emitted anyway unless the program is unusable; the existence check below decides.
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} was not built`);
  built = true;
}

export const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-hostile-'));

export function writeTmp(name: string, data: Buffer): string {
  const p = path.join(tmp, name);
  writeFileSync(p, data);
  return p;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function cli(args: string[], input?: Buffer): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd: repoRoot,
    input,
    encoding: 'buffer',
    env: { ...process.env, NO_COLOR: '1' },
    timeout: 60_000,
    maxBuffer: 64 << 20,
  });
  return { code: r.status ?? -1, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
}

/** No stack trace anywhere (a line starting with "at " after spaces), no "internal error". */
export function expectNoStack(r: CliResult): void {
  for (const s of [r.stdout, r.stderr]) {
    expect(s).not.toMatch(/^\s+at /m);
    expect(s).not.toMatch(/internal error/i);
  }
}

/** Exactly one non-empty line on stderr, prefixed with the tool's name. */
export function expectOneLineError(r: CliResult): string {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^rdp-autopsy: /);
  return lines[0]!;
}

/** A deterministic byte generator (xorshift32) for noise that must not depend on the run. */
export function noise(n: number, seed = 0x9e3779b9): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}
