// Test helpers for the net stage: decoding shortcuts, hex vectors, a minimal pcap /
// pcapng record reader (tests only: the project's reader lives in src/capture) and tshark.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DecodedPacket } from '../../src/net/packet.js';
import { decodePacket } from '../../src/net/decode.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const sharedCaptures = path.resolve(repoRoot, '../shared/captures');

/** Bytes from hex text (spaces, newlines and comments after '#' ignored). */
export function hex(text: string): Buffer {
  return Buffer.from(text.replace(/#[^\n]*/g, '').replace(/\s+/g, ''), 'hex');
}

/** Decodes a whole frame into a fresh DecodedPacket. */
export function decode(frame: Buffer, linkType: number): DecodedPacket {
  const p = new DecodedPacket();
  decodePacket(frame, 0, frame.length, linkType, p);
  return p;
}

/** Decodes a frame placed at a non-zero offset inside a larger buffer (as the reader's chunks do). */
export function decodeAt(frame: Buffer, linkType: number, before = 7, after = 5): DecodedPacket {
  const buf = Buffer.alloc(before + frame.length + after, 0xee);
  frame.copy(buf, before);
  const p = new DecodedPacket();
  decodePacket(buf, before, frame.length, linkType, p);
  return p;
}

export interface Rec {
  frame: number;
  linkType: number;
  data: Buffer;
}

/** Records of a classic pcap or pcapng file (enough for the differential tests). */
export function readRecords(file: string): Rec[] {
  const b = readFileSync(file);
  const recs: Rec[] = [];
  const magic = b.readUInt32LE(0);
  if (magic === 0x0a0d0d0a) {
    let off = 0;
    let le = true;
    let linkTypes: number[] = [];
    while (off + 12 <= b.length) {
      let type = le ? b.readUInt32LE(off) : b.readUInt32BE(off);
      if (type === 0x0a0d0d0a) {
        le = b.readUInt32LE(off + 8) === 0x1a2b3c4d;
        type = 0x0a0d0d0a;
        linkTypes = [];
      }
      const len = le ? b.readUInt32LE(off + 4) : b.readUInt32BE(off + 4);
      if (len < 12 || off + len > b.length) break;
      const r16 = (o: number): number => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
      const r32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
      if (type === 1) linkTypes.push(r16(off + 8));
      else if (type === 6) {
        const capLen = r32(off + 20);
        recs.push({ frame: recs.length + 1, linkType: linkTypes[r32(off + 8)] ?? -1, data: b.subarray(off + 28, off + 28 + capLen) });
      } else if (type === 3) {
        const capLen = Math.min(r32(off + 8), len - 16);
        recs.push({ frame: recs.length + 1, linkType: linkTypes[0] ?? -1, data: b.subarray(off + 12, off + 12 + capLen) });
      }
      off += len;
    }
    return recs;
  }
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const r32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const linkType = r32(20) & 0xffff;
  let off = 24;
  while (off + 16 <= b.length) {
    const capLen = r32(off + 8);
    if (off + 16 + capLen > b.length) break;
    recs.push({ frame: recs.length + 1, linkType, data: b.subarray(off + 16, off + 16 + capLen) });
    off += 16 + capLen;
  }
  return recs;
}

export const TSHARK = '/usr/bin/tshark';
export const hasTshark = existsSync(TSHARK);

/** tshark -T fields output: one row per frame, one string per field. */
export function tsharkFields(file: string, fields: string[], extra: string[] = []): string[][] {
  const args = ['-r', file, '-n', ...extra, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a', '-E', 'aggregator=,'];
  for (const f of fields) args.push('-e', f);
  const out = execFileSync(TSHARK, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 << 20 });
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => l.split('\t'));
}

/** A classic little-endian microsecond pcap of whole frames (tests only). */
export function pcapBytes(linkType: number, frames: Buffer[]): Buffer {
  const h = Buffer.alloc(24);
  h.writeUInt32LE(0xa1b2c3d4, 0);
  h.writeUInt16LE(2, 4);
  h.writeUInt16LE(4, 6);
  h.writeUInt32LE(262144, 16);
  h.writeUInt32LE(linkType, 20);
  const parts: Buffer[] = [h];
  frames.forEach((d, i) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(1_700_000_000 + i, 0);
    r.writeUInt32LE(d.length, 8);
    r.writeUInt32LE(d.length, 12);
    parts.push(r, d);
  });
  return Buffer.concat(parts);
}
