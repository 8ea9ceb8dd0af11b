// RDP attempt templates for the benchmark corpus: the committed fixture captures (fixtures/captures/,
// one per cause of design.md's table, built from fixtures/lib/scenarios.ts) read back with our own
// reader, reduced to their IP packets, and replayed re-addressed and re-timed with correct checksums,
// so every RDP attempt in the corpus is a real handshake (real TLS bytes, real certificates).
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCapture } from '../src/capture/index.js';
import { DecodedPacket, decodePacket } from '../src/net/index.js';

export const FIXTURE_CAPTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/captures');

/** Fixtures left out: they only make sense with options the benchmark does not pass (--port). */
const EXCLUDED = new Set(['rdp_on_other_port']);
/**
 * Fixtures of capture artefacts, not of RDP attempts (field_*: clock jumps of decades, duplicated frames,
 * a stream spliced 3 GB away, scans): replayed re-timed into a corpus they would distort it (a frame
 * decades after the others keeps the generation running), so they are left out too.
 */
const EXCLUDED_PREFIXES = ['field_'];

export interface TemplateFrame {
  /** Microseconds after the template's first frame. */
  dt: number;
  /** The IP packet (IPv4 or IPv6 header onward), as captured. */
  ip: Buffer;
}

export interface Template {
  name: string;
  frames: TemplateFrame[];
  /** Distinct addresses (4 or 16 bytes, as hex) in order of first appearance: index j is re-addressed by j. */
  addresses: string[];
  /** Microseconds from the first to the last frame. */
  duration: number;
  /** Time of the first frame, microseconds since the epoch (certificate dates are judged against it). */
  start: number;
  bytes: number;
}

/** Loads every fixture capture (sorted by name, so the order is stable) as a template. */
export async function loadTemplates(dir: string = FIXTURE_CAPTURES): Promise<Template[]> {
  const files = readdirSync(dir)
    .filter((f) => /\.(pcap|pcapng|pcap\.gz)$/.test(f))
    .sort();
  const out: Template[] = [];
  for (const f of files) {
    const name = f.replace(/\.(pcap|pcapng|pcap\.gz)$/, '');
    if (EXCLUDED.has(name) || EXCLUDED_PREFIXES.some((p) => name.startsWith(p))) continue;
    out.push(await loadTemplate(name, path.join(dir, f)));
  }
  return out;
}

async function loadTemplate(name: string, file: string): Promise<Template> {
  const pkt = new DecodedPacket();
  const frames: TemplateFrame[] = [];
  const addrs = new Map<string, number>();
  let t0 = -1;
  const note = (b: Buffer, off: number, len: number): void => {
    const k = b.toString('hex', off, off + len);
    if (!addrs.has(k)) addrs.set(k, addrs.size);
  };
  await readCapture({ kind: 'buffer', name: file, data: readFileSync(file) }, 0, {
    onFrame(v): void {
      decodePacket(v.buf, v.off, v.capLen, v.linkType, pkt);
      if (pkt.ipOff < 0 || pkt.isFragment) return;
      // Up to the IP datagram's own end (pkt.ipEnd): Ethernet padding is not part of it.
      const ip = Buffer.from(v.buf.subarray(pkt.ipOff, pkt.ipEnd));
      const t = v.tsSec * 1e6 + Math.floor(v.tsNsec / 1000);
      if (t0 < 0) t0 = t;
      const alen = pkt.ipVersion === 4 ? 4 : 16;
      note(v.buf, pkt.srcOff, alen);
      note(v.buf, pkt.dstOff, alen);
      frames.push({ dt: t - t0, ip });
    },
  });
  const bytes = frames.reduce((a, f) => a + f.ip.length + 14, 0);
  const duration = frames.length ? frames[frames.length - 1]!.dt : 0;
  return { name, frames, addresses: [...addrs.keys()], duration, start: t0, bytes };
}

// ---------------------------------------------------------------- re-addressing

/** The new address of a template's address index j in instance k (IPv4: 100+j.k.k.k; IPv6: fd00:100+j::k). */
export function mapAddress(orig: Buffer | Uint8Array, j: number, k: number): Buffer {
  if (orig.length === 4) return Buffer.from([100 + j, (k >>> 16) & 255, (k >>> 8) & 255, k & 255]);
  const b = Buffer.alloc(16);
  b[0] = 0xfd;
  b[3] = 100 + j;
  b.writeUInt32BE(k >>> 0, 12);
  return b;
}

/** RFC 1071 sum of b[from, to) (not folded, not complemented). */
export function sum16(b: Uint8Array, from: number, to: number): number {
  let s = 0;
  let i = from;
  for (; i + 1 < to; i += 2) s += (b[i]! << 8) | b[i + 1]!;
  if (i < to) s += b[i]! << 8;
  return s;
}

export function fold(s: number): number {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return ~s & 0xffff;
}

/**
 * Rewrites, in place, one IP packet of a template for instance k: addresses (IP header, the packet an
 * ICMP error quotes, DNS A/AAAA answers that name a template address), then every checksum (IPv4
 * header RFC 791 3.1, TCP RFC 9293 3.1, UDP RFC 768, ICMP RFC 792, ICMPv6 RFC 4443 2.3). Packets cut by
 * the snaplen keep their transport checksum (it covers bytes we do not have).
 */
export function readdress(ip: Buffer, index: Map<string, number>, k: number): void {
  const v = ip[0]! >> 4;
  if (v === 4) {
    const hl = (ip[0]! & 15) * 4;
    swap(ip, 12, 4, index, k);
    swap(ip, 16, 4, index, k);
    const total = Math.min(ip.readUInt16BE(2), ip.length);
    const proto = ip[9]!;
    const l4 = hl;
    if (proto === 1 && total - l4 >= 8 + 20) readdressQuoted(ip, l4 + 8, total, index, k);
    if (proto === 17) readdressDns(ip, l4, total, index, k);
    ip[10] = 0;
    ip[11] = 0;
    const hck = fold(sum16(ip, 0, hl));
    ip[10] = hck >> 8;
    ip[11] = hck & 255;
    const wire = ip.readUInt16BE(2);
    if (wire > ip.length) return;
    if (proto === 6 || proto === 17) {
      const ckOff = l4 + (proto === 6 ? 16 : 6);
      if (ckOff + 2 > total) return;
      ip[ckOff] = 0;
      ip[ckOff + 1] = 0;
      const len = total - l4;
      let c = fold(sum16(ip, 12, 20) + proto + len + sum16(ip, l4, total));
      if (proto === 17 && c === 0) c = 0xffff;
      ip[ckOff] = c >> 8;
      ip[ckOff + 1] = c & 255;
    } else if (proto === 1 && l4 + 4 <= total) {
      ip[l4 + 2] = 0;
      ip[l4 + 3] = 0;
      const c = fold(sum16(ip, l4, total));
      ip[l4 + 2] = c >> 8;
      ip[l4 + 3] = c & 255;
    }
    return;
  }
  if (v !== 6 || ip.length < 40) return;
  swap(ip, 8, 16, index, k);
  swap(ip, 24, 16, index, k);
  const plen = ip.readUInt16BE(4);
  if (40 + plen > ip.length) return;
  const proto = ip[6]!; // fixtures carry no extension headers on their own packets
  const total = 40 + plen;
  if (proto === 58 && plen >= 8 + 40) readdressQuoted(ip, 48, total, index, k);
  if (proto === 17) readdressDns(ip, 40, total, index, k);
  const ckOff = proto === 6 ? 56 : proto === 17 ? 46 : proto === 58 ? 42 : -1;
  if (ckOff < 0 || ckOff + 2 > total) return;
  ip[ckOff] = 0;
  ip[ckOff + 1] = 0;
  // RFC 8200 8.1 pseudo-header
  let c = fold(sum16(ip, 8, 40) + plen + proto + sum16(ip, 40, total));
  if (proto === 17 && c === 0) c = 0xffff;
  ip[ckOff] = c >> 8;
  ip[ckOff + 1] = c & 255;
}

function swap(b: Buffer, off: number, len: number, index: Map<string, number>, k: number): void {
  const j = index.get(b.toString('hex', off, off + len));
  if (j === undefined) return;
  mapAddress(b.subarray(off, off + len), j, k).copy(b, off);
}

/** The IP packet quoted by an ICMP / ICMPv6 error (RFC 792, RFC 4443 3): its addresses and header checksum. */
function readdressQuoted(b: Buffer, q: number, end: number, index: Map<string, number>, k: number): void {
  const v = b[q]! >> 4;
  if (v === 4 && q + 20 <= end) {
    swap(b, q + 12, 4, index, k);
    swap(b, q + 16, 4, index, k);
    const hl = (b[q]! & 15) * 4;
    if (q + hl > end) return;
    b[q + 10] = 0;
    b[q + 11] = 0;
    const c = fold(sum16(b, q, q + hl));
    b[q + 10] = c >> 8;
    b[q + 11] = c & 255;
  } else if (v === 6 && q + 40 <= end) {
    swap(b, q + 8, 16, index, k);
    swap(b, q + 24, 16, index, k);
  }
}

/** DNS answers (RFC 1035 4.1) of type A / AAAA whose data is a template address. */
function readdressDns(b: Buffer, udp: number, end: number, index: Map<string, number>, k: number): void {
  if (udp + 8 > end) return;
  const sport = b.readUInt16BE(udp);
  const dport = b.readUInt16BE(udp + 2);
  if (sport !== 53 && dport !== 53) return;
  const d = udp + 8;
  if (d + 12 > end) return;
  const qd = b.readUInt16BE(d + 4);
  const an = b.readUInt16BE(d + 6);
  let o = d + 12;
  const skipName = (p: number): number => {
    while (p < end) {
      const l = b[p]!;
      if (l === 0) return p + 1;
      if ((l & 0xc0) === 0xc0) return p + 2;
      p += 1 + l;
    }
    return end;
  };
  for (let i = 0; i < qd && o < end; i++) o = skipName(o) + 4;
  for (let i = 0; i < an && o + 10 <= end; i++) {
    o = skipName(o);
    if (o + 10 > end) return;
    const type = b.readUInt16BE(o);
    const rdlen = b.readUInt16BE(o + 8);
    o += 10;
    if (o + rdlen > end) return;
    if ((type === 1 && rdlen === 4) || (type === 28 && rdlen === 16)) swap(b, o, rdlen, index, k);
    o += rdlen;
  }
}
