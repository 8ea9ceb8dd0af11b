// Test helper (not a test): a deliberately tiny classic-pcap reader for the TLS tests, so they
// can read the shared real captures without depending on the capture/net/flow stages.
// Ethernet (+802.1Q), BSD loopback, raw IP; IPv4/IPv6; TCP; in-order payload per direction
// (retransmitted or duplicated bytes dropped). Then TPKT is skipped and TLS records are read
// with readTlsRecord, each tagged with the frame that completed it (as tshark does).
import { readFileSync } from 'node:fs';
import { looksLikeTlsRecord, readTlsRecord } from '../../src/rdp/tls.js';

export interface CapturedRecord {
  dir: 'c2s' | 's2c';
  contentType: number;
  length: number;
  /** Frame holding the record's last byte. */
  frame: number;
  time: number;
  /** The fragment bytes (copy). */
  fragment: Uint8Array;
}

interface Seg {
  frame: number;
  time: number;
  data: Uint8Array;
}

export interface CapturedConnection {
  client: string;
  server: string;
  records: CapturedRecord[];
}

/** Reads TCP connections to `port` from a classic pcap and returns their TLS records. */
export function tlsRecordsOfPcap(file: string, port = 3389): CapturedConnection[] {
  const f = readFileSync(file);
  const magic = f.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const nano = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  const u32 = (o: number) => (le ? f.readUInt32LE(o) : f.readUInt32BE(o));
  const link = u32(20);
  const conns = new Map<string, { client: string; server: string; c2s: Seg[]; s2c: Seg[]; next: Record<string, number | undefined> }>();
  let off = 24;
  let frame = 0;
  while (off + 16 <= f.length) {
    const time = u32(off) + u32(off + 4) / (nano ? 1e9 : 1e6);
    const cap = u32(off + 8);
    const pkt = f.subarray(off + 16, off + 16 + cap);
    off += 16 + cap;
    frame++;
    let p = 0;
    let etype: number;
    if (link === 1) {
      etype = pkt.readUInt16BE(12);
      p = 14;
      while (etype === 0x8100 || etype === 0x88a8) {
        etype = pkt.readUInt16BE(p + 2);
        p += 4;
      }
    } else if (link === 0) {
      const fam = pkt.readUInt32LE(0);
      etype = fam === 2 ? 0x0800 : 0x86dd;
      p = 4;
    } else if (link === 101) {
      etype = pkt[0]! >> 4 === 4 ? 0x0800 : 0x86dd;
    } else continue;
    let src: string;
    let dst: string;
    let proto: number;
    let ipEnd: number;
    if (etype === 0x0800) {
      const ihl = (pkt[p]! & 0x0f) * 4;
      proto = pkt[p + 9]!;
      src = Array.from(pkt.subarray(p + 12, p + 16)).join('.');
      dst = Array.from(pkt.subarray(p + 16, p + 20)).join('.');
      ipEnd = p + pkt.readUInt16BE(p + 2);
      p += ihl;
    } else if (etype === 0x86dd) {
      proto = pkt[p + 6]!;
      src = pkt.subarray(p + 8, p + 24).toString('hex');
      dst = pkt.subarray(p + 24, p + 40).toString('hex');
      ipEnd = p + 40 + pkt.readUInt16BE(p + 4);
      p += 40;
    } else continue;
    if (proto !== 6) continue;
    const sport = pkt.readUInt16BE(p);
    const dport = pkt.readUInt16BE(p + 2);
    if (sport !== port && dport !== port) continue;
    const seq = pkt.readUInt32BE(p + 4);
    const flags = pkt[p + 13]!;
    const doff = (pkt[p + 12]! >> 4) * 4;
    const payload = pkt.subarray(p + doff, Math.min(ipEnd, pkt.length));
    const c2s = dport === port;
    const client = c2s ? `${src}:${sport}` : `${dst}:${dport}`;
    const server = c2s ? `${dst}:${dport}` : `${src}:${sport}`;
    const key = `${client}|${server}`;
    let c = conns.get(key);
    if (!c || (flags & 0x02 && !(flags & 0x10) && c.next.c2s !== undefined && c.c2s.length > 0)) {
      c = { client, server, c2s: [], s2c: [], next: {} };
      conns.set(key, c);
    }
    const d = c2s ? 'c2s' : 's2c';
    if (flags & 0x02) {
      c.next[d] = (seq + 1) >>> 0;
      continue;
    }
    if (payload.length === 0) continue;
    const exp = c.next[d];
    if (exp === undefined) {
      c.next[d] = seq;
    }
    const e = c.next[d]!;
    const delta = (seq - e) | 0;
    if (delta > 0) continue; // hole: stop trusting this direction's order (not in our captures)
    if (-delta >= payload.length) continue; // retransmission / duplicate
    const data = payload.subarray(-delta);
    (c2s ? c.c2s : c.s2c).push({ frame, time, data: Uint8Array.from(data) });
    c.next[d] = (e + data.length) >>> 0;
  }
  const out: CapturedConnection[] = [];
  for (const c of conns.values()) {
    const records: CapturedRecord[] = [];
    for (const dir of ['c2s', 's2c'] as const) {
      const segs = c[dir];
      const total = segs.reduce((a, s) => a + s.data.length, 0);
      const stream = new Uint8Array(total);
      const ends: number[] = [];
      let q = 0;
      for (const s of segs) {
        stream.set(s.data, q);
        q += s.data.length;
        ends.push(q);
      }
      const segAt = (pos: number) => segs[ends.findIndex((e) => pos < e)]!;
      let p = 0;
      while (p < total) {
        if (!looksLikeTlsRecord(stream, p, total)) {
          // TPKT (RFC 1006) before TLS: skip it by its length.
          if (stream[p] === 3 && stream[p + 1] === 0 && p + 4 <= total) {
            p += (stream[p + 2]! << 8) | stream[p + 3]!;
            continue;
          }
          break;
        }
        const r = readTlsRecord(stream, p, total);
        if (!r.ok) break;
        const s = segAt(r.value.end - 1);
        records.push({ dir, contentType: r.value.contentType, length: r.value.length, frame: s.frame, time: s.time, fragment: stream.slice(r.value.fragmentOff, r.value.end) });
        p = r.value.end;
      }
    }
    records.sort((a, b) => a.frame - b.frame || (a.dir === b.dir ? 0 : a.dir === 'c2s' ? -1 : 1));
    out.push({ client: c.client, server: c.server, records });
  }
  return out;
}
