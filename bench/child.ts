// One benchmark measurement in a fresh process: `node bench/out/js/bench/child.js <mode> <file>`.
// Prints one JSON line: the time of the work alone (process start-up excluded), frames, bytes, the
// process's peak RSS (process.resourceUsage().maxRSS) and CPU time. Modes:
//   floor        the header-walk floor: large reads, record headers walked, Ethernet/IPv4/TCP ports peeked
//   zlib         node:zlib inflating the file alone (the floor for gzipped input)
//   reader       readCapture, a sink that counts frames
//   decode       readCapture + decodePacket into one reused DecodedPacket
//   analyze      pipeline analyze([file]) -> Report
//   pcap-parser  the pcap-parser package iterating the file (classic pcap only)
//   twice:MODE   MODE twice in the same process: the first pass (cold, as above) and, in detail.warmMs /
//                detail.warmCpuMs, the second (the code already compiled and optimised by V8)
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { readCapture, type FrameView } from '../src/capture/index.js';
import { DecodedPacket, decodePacket } from '../src/net/index.js';
import { analyze } from '../src/pipeline.js';

export interface ChildResult {
  mode: string;
  file: string;
  ms: number;
  frames: number;
  /** Capture bytes processed (decompressed for gzip). */
  bytes: number;
  maxRssKB: number;
  cpuMs: number;
  detail: Record<string, unknown>;
}

const CHUNK = 4 * 1024 * 1024;

/**
 * The floor: a minimal loop over one reused 4 MiB buffer that walks classic pcap record headers or
 * pcapng blocks (little-endian files, as the corpus writes them) and peeks at each packet's
 * EtherType, IPv4 protocol and TCP ports, counting port 3389.
 */
export function headerWalk(path: string): { frames: number; bytes: number; port3389: number } {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(CHUNK);
  let filled = 0;
  let pos = 0;
  let frames = 0;
  let port3389 = 0;
  let ng = -1;
  let off = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, filled, buf.length - filled, pos);
      pos += n;
      filled += n;
      if (ng < 0) {
        if (filled < 24) break;
        ng = buf.readUInt32LE(0) === 0x0a0d0d0a ? 1 : 0;
        off = ng ? 0 : 24;
      }
      for (;;) {
        let data: number;
        let cap: number;
        let next: number;
        if (ng) {
          if (off + 12 > filled) break;
          const len = buf[off + 4]! | (buf[off + 5]! << 8) | (buf[off + 6]! << 16) | (buf[off + 7]! << 24);
          if (len < 12 || len > buf.length) throw new Error(`bad block length at ${pos - filled + off}`);
          if (off + len > filled) break;
          next = off + len;
          if (buf[off] !== 6 || buf[off + 1] !== 0) {
            off = next;
            continue;
          }
          data = off + 28;
          cap = buf[off + 20]! | (buf[off + 21]! << 8) | (buf[off + 22]! << 16);
        } else {
          if (off + 16 > filled) break;
          cap = buf[off + 8]! | (buf[off + 9]! << 8) | (buf[off + 10]! << 16);
          if (off + 16 + cap > filled) break;
          data = off + 16;
          next = data + cap;
        }
        frames++;
        if (cap >= 34 && buf[data + 12] === 0x08 && buf[data + 13] === 0x00 && buf[data + 23] === 6) {
          const l4 = data + 14 + (buf[data + 14]! & 15) * 4;
          if (l4 + 4 <= data + cap) {
            const sp = (buf[l4]! << 8) | buf[l4 + 1]!;
            const dp = (buf[l4 + 2]! << 8) | buf[l4 + 3]!;
            if (sp === 3389 || dp === 3389) port3389++;
          }
        }
        off = next;
      }
      if (n === 0) break;
      buf.copyWithin(0, off, filled);
      filled -= off;
      off = 0;
    }
  } finally {
    closeSync(fd);
  }
  return { frames, bytes: pos, port3389 };
}

async function zlibAlone(path: string): Promise<{ bytes: number }> {
  let bytes = 0;
  await pipeline(
    createReadStream(path, { highWaterMark: CHUNK }),
    createGunzip({ chunkSize: 1 << 20 }),
    new Writable({
      write(chunk: Buffer, _enc, cb): void {
        bytes += chunk.length;
        cb();
      },
    }),
  );
  return { bytes };
}

interface PcapParser {
  on(ev: 'packet', f: (p: { data: Buffer }) => void): void;
  on(ev: 'end', f: () => void): void;
  on(ev: 'error', f: (e: Error) => void): void;
}

function pcapParser(path: string): Promise<{ frames: number; bytes: number }> {
  const require = createRequire(import.meta.url);
  const pcapp = require('pcap-parser') as { parse(input: string): PcapParser };
  return new Promise((resolve, reject) => {
    let frames = 0;
    let bytes = 24;
    const p = pcapp.parse(path);
    p.on('packet', (pkt) => {
      frames++;
      bytes += 16 + pkt.data.length;
    });
    p.on('end', () => resolve({ frames, bytes }));
    p.on('error', reject);
  });
}

export async function measure(mode: string, file: string): Promise<ChildResult> {
  const cpu0 = process.cpuUsage();
  // The window on process.hrtime's clock (CLOCK_MONOTONIC, the clock of --cpu-prof's timestamps).
  const hrStartUs = Number(process.hrtime.bigint() / 1000n);
  const t0 = performance.now();
  let frames = 0;
  let bytes = 0;
  let detail: Record<string, unknown> = {};
  switch (mode) {
    case 'floor': {
      const r = headerWalk(file);
      frames = r.frames;
      bytes = r.bytes;
      detail = { port3389: r.port3389 };
      break;
    }
    case 'zlib':
      bytes = (await zlibAlone(file)).bytes;
      break;
    case 'reader': {
      const info = await readCapture({ kind: 'file', path: file }, 0, {
        onFrame(): void {
          frames++;
        },
      });
      bytes = info.bytes;
      detail = { damage: info.damage?.message ?? null };
      break;
    }
    case 'decode': {
      const pkt = new DecodedPacket();
      let port3389 = 0;
      const info = await readCapture({ kind: 'file', path: file }, 0, {
        onFrame(v: FrameView): void {
          frames++;
          decodePacket(v.buf, v.off, v.capLen, v.linkType, pkt);
          if (pkt.ipProto === 6 && (pkt.srcPort === 3389 || pkt.dstPort === 3389)) port3389++;
        },
      });
      bytes = info.bytes;
      detail = { port3389 };
      break;
    }
    case 'analyze': {
      const r = await analyze([{ kind: 'file', path: file }]);
      frames = r.capture.frames;
      bytes = r.capture.bytes;
      const s = r.capture.stats;
      detail = {
        connections: r.summary.connections,
        failed: r.summary.failed,
        completed: r.summary.completed,
        // Connections with a decoded X.224 Connection Request (what Suricata's initial_request counts).
        connectionRequests: r.connections.filter((c) => c.negotiation !== null).length,
        flowsEvicted: s.flowsEvicted,
        halfOpenEvicted: s.halfOpenEvicted,
        badChecksums: s.badChecksums,
        // What the report made of them: probe groups (a SYN flood, say) and the attempts they hold.
        reportedAs: r.probes.length === 0 ? 'attempts' : r.probes.map((p) => `${p.kind} (${p.connections})`).join(', '),
      };
      break;
    }
    case 'pcap-parser': {
      const r = await pcapParser(file);
      frames = r.frames;
      bytes = r.bytes;
      break;
    }
    default:
      throw new Error(`unknown mode ${mode}`);
  }
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  detail = { ...detail, hrStartUs, hrEndUs: Number(process.hrtime.bigint() / 1000n) };
  return { mode, file, ms, frames, bytes, maxRssKB: process.resourceUsage().maxRSS, cpuMs: (cpu.user + cpu.system) / 1000, detail };
}

/** `mode` twice in one process: the first pass's result, with the second pass's times in detail (warmMs, warmCpuMs). */
export async function measureTwice(mode: string, file: string): Promise<ChildResult> {
  const cold = await measure(mode, file);
  const warm = await measure(mode, file);
  return { ...cold, mode: `twice:${mode}`, maxRssKB: warm.maxRssKB, detail: { ...cold.detail, warmMs: warm.ms, warmCpuMs: warm.cpuMs } };
}

const [mode, file] = process.argv.slice(2);
if (mode && file && /child\.[jt]s$/.test(process.argv[1] ?? '')) {
  (mode.startsWith('twice:') ? measureTwice(mode.slice(6), file) : measure(mode, file)).then(
    (r) => process.stdout.write(JSON.stringify(r) + '\n'),
    (e: unknown) => {
      process.stderr.write(`${mode}: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
