// The probe's own traffic as a capture. A probe talks through ordinary sockets (node:net, node:tls),
// so it never sees packets: what it sees is each socket's byte stream and its events (connected,
// refused, timed out, data, end, reset). This file records those and RECONSTRUCTS IPv4/IPv6 + TCP
// packets from them (RFC 9293 3.1 headers, 3.4 sequence numbers; RFC 1071 checksums; MSS-sized
// segments with the peer's ACK), written as pcapng (LINKTYPE_RAW, one IP packet per Enhanced Packet
// Block) with the TLS key log in a Decryption Secrets Block (pcapng 4.7, type 'TLSK'). The SHB's
// shb_userappl says the packets are reconstructed: timings are the socket events' times, sequence
// numbers, window and TTL are made up, retransmissions the kernel may have sent are not there.
import { isIPv4, isIPv6 } from 'node:net';
import { PcapngWriter, type WriterRecord } from '../capture/writer.js';
import { SECRETS_TYPE_TLS_KEY_LOG } from '../rdp/keylog.js';

/** LINKTYPE_RAW: the packet starts with its IP header (https://www.tcpdump.org/linktypes.html). */
export const LINKTYPE_RAW = 101;
/** Stated in every probe capture's Section Header Block. */
export const PROBE_APPLICATION =
  'rdp-autopsy probe: packets reconstructed from the socket byte streams (timings from socket events; sequence numbers, windows and TTLs synthesized; kernel retransmissions absent)';

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;
const MSS = 1460;

export type WireEvent =
  | { t: number; kind: 'syn' }
  | { t: number; kind: 'synack' }
  | { t: number; kind: 'refused' }
  | { t: number; kind: 'data'; from: 'client' | 'server'; bytes: Buffer }
  | { t: number; kind: 'fin'; from: 'client' | 'server' }
  | { t: number; kind: 'rst'; from: 'client' | 'server' };

/** One TCP connection's socket events, in the order they happened. Times: µs since the epoch. */
export interface WireConnection {
  clientIp: string;
  clientPort: number;
  serverIp: string;
  serverPort: number;
  events: WireEvent[];
}

/** Microseconds since the epoch, from the monotonic clock anchored at process start. */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  if (!isIPv6(ip)) throw new RangeError(`not an IP address: ${ip}`);
  const zone = ip.indexOf('%');
  const a = zone >= 0 ? ip.slice(0, zone) : ip;
  const mapped = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(a);
  let text = a;
  if (mapped) {
    const v4 = mapped[2]!.split('.').map(Number);
    text = `${mapped[1]}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, null];
  const h = head ? head.split(':') : [];
  const t = tail !== null && tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** RFC 1071 ones'-complement sum of `parts`. */
function checksum(parts: Buffer[]): number {
  let sum = 0;
  for (const p of parts) {
    for (let i = 0; i + 1 < p.length; i += 2) sum += (p[i]! << 8) | p[i + 1]!;
    if (p.length & 1) sum += p[p.length - 1]! << 8;
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IP packet (IPv4 RFC 791 / IPv6 RFC 8200) carrying one TCP segment (RFC 9293 3.1). */
export function tcpPacket(
  src: string,
  dst: string,
  srcPort: number,
  dstPort: number,
  seq: number,
  ack: number,
  flags: number,
  payload: Buffer,
  ttl: number,
): Buffer {
  const syn = (flags & SYN) !== 0;
  // SYN segments carry an MSS option (RFC 9293 3.7.1), as every stack sends.
  const optLen = syn ? 4 : 0;
  const tcp = Buffer.alloc(20 + optLen + payload.length);
  tcp.writeUInt16BE(srcPort, 0);
  tcp.writeUInt16BE(dstPort, 2);
  tcp.writeUInt32BE(seq >>> 0, 4);
  tcp.writeUInt32BE(flags & ACK ? ack >>> 0 : 0, 8);
  tcp[12] = ((20 + optLen) / 4) << 4;
  tcp[13] = flags;
  tcp.writeUInt16BE(flags & RST ? 0 : 64240, 14);
  if (syn) {
    tcp[20] = 2;
    tcp[21] = 4;
    tcp.writeUInt16BE(MSS, 22);
  }
  payload.copy(tcp, 20 + optLen);
  const s = ipBytes(src);
  const d = ipBytes(dst);
  if (s.length === 4) {
    const pseudo = Buffer.alloc(12);
    s.copy(pseudo, 0);
    d.copy(pseudo, 4);
    pseudo[9] = 6;
    pseudo.writeUInt16BE(tcp.length, 10);
    tcp.writeUInt16BE(checksum([pseudo, tcp]), 16);
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + tcp.length, 2);
    ip.writeUInt16BE(0x4000, 6); // DF
    ip[8] = ttl;
    ip[9] = 6;
    s.copy(ip, 12);
    d.copy(ip, 16);
    ip.writeUInt16BE(checksum([ip]), 10);
    return Buffer.concat([ip, tcp]);
  }
  const pseudo = Buffer.alloc(40);
  s.copy(pseudo, 0);
  d.copy(pseudo, 16);
  pseudo.writeUInt32BE(tcp.length, 32);
  pseudo[39] = 6;
  tcp.writeUInt16BE(checksum([pseudo, tcp]), 16);
  const ip = Buffer.alloc(40);
  ip.writeUInt32BE(0x60000000, 0);
  ip.writeUInt16BE(tcp.length, 4);
  ip[6] = 6;
  ip[7] = ttl;
  s.copy(ip, 8);
  d.copy(ip, 24);
  return Buffer.concat([ip, tcp]);
}

/** The packets of one connection, reconstructed from its socket events. */
export function connectionPackets(c: WireConnection, isnSeed: number): { t: number; data: Buffer }[] {
  const out: { t: number; data: Buffer }[] = [];
  let cSeq = (0x1000_0000 + isnSeed * 0x0101_0101) >>> 0;
  let sSeq = (0x6000_0000 + isnSeed * 0x0303_0303) >>> 0;
  // The probe runs on this host (TTL 64 as sent); the server's TTL is unknown: 128 stands for it.
  const cTtl = 64;
  const sTtl = 128;
  const fromClient = (t: number, flags: number, payload: Buffer = Buffer.alloc(0)): void => {
    out.push({ t, data: tcpPacket(c.clientIp, c.serverIp, c.clientPort, c.serverPort, cSeq, sSeq, flags, payload, cTtl) });
  };
  const fromServer = (t: number, flags: number, payload: Buffer = Buffer.alloc(0)): void => {
    out.push({ t, data: tcpPacket(c.serverIp, c.clientIp, c.serverPort, c.clientPort, sSeq, cSeq, flags, payload, sTtl) });
  };
  for (const e of c.events) {
    switch (e.kind) {
      case 'syn':
        fromClient(e.t, SYN);
        cSeq = (cSeq + 1) >>> 0;
        break;
      case 'synack':
        fromServer(e.t, SYN | ACK);
        sSeq = (sSeq + 1) >>> 0;
        fromClient(e.t, ACK);
        break;
      case 'refused':
        // RFC 9293 3.10.7.1: a closed port answers the SYN with RST|ACK, seq 0, ack = SYN + 1.
        out.push({ t: e.t, data: tcpPacket(c.serverIp, c.clientIp, c.serverPort, c.clientPort, 0, cSeq, RST | ACK, Buffer.alloc(0), sTtl) });
        break;
      case 'data':
        for (let off = 0; off < e.bytes.length; off += MSS) {
          const seg = e.bytes.subarray(off, Math.min(off + MSS, e.bytes.length));
          if (e.from === 'client') {
            fromClient(e.t, PSH | ACK, seg);
            cSeq = (cSeq + seg.length) >>> 0;
          } else {
            fromServer(e.t, PSH | ACK, seg);
            sSeq = (sSeq + seg.length) >>> 0;
          }
        }
        if (e.from === 'client') fromServer(e.t, ACK);
        else fromClient(e.t, ACK);
        break;
      case 'fin':
        if (e.from === 'client') {
          fromClient(e.t, FIN | ACK);
          cSeq = (cSeq + 1) >>> 0;
          fromServer(e.t, ACK);
        } else {
          fromServer(e.t, FIN | ACK);
          sSeq = (sSeq + 1) >>> 0;
          fromClient(e.t, ACK);
        }
        break;
      case 'rst':
        if (e.from === 'client') fromClient(e.t, RST | ACK);
        else fromServer(e.t, RST | ACK);
        break;
    }
  }
  return out;
}

/**
 * The pcapng of a probe: every connection's reconstructed packets sorted by time (a stable sort, so
 * one connection's packets at the same microsecond keep their order), the probed name's DNS answer
 * as a Name Resolution Block, and the TLS key log as a DSB before the first packet (Wireshark reads
 * DSBs before the packets they decrypt).
 */
export function probeCapture(conns: WireConnection[], keyLog: string, names: { ip: string; names: string[] }[]): Buffer {
  const w = new PcapngWriter({ application: PROBE_APPLICATION });
  w.addInterface({ linkType: LINKTYPE_RAW, name: 'rdp-autopsy probe (reconstructed)' });
  if (names.length > 0) w.addNameResolution(names);
  if (keyLog.length > 0) w.addSecrets(SECRETS_TYPE_TLS_KEY_LOG, Buffer.from(keyLog, 'utf8'));
  const all: { t: number; data: Buffer; n: number }[] = [];
  conns.forEach((c, i) => {
    for (const p of connectionPackets(c, i + 1)) all.push({ ...p, n: all.length });
  });
  all.sort((a, b) => a.t - b.t || a.n - b.n);
  for (const p of all) {
    const rec: WriterRecord = { tsSec: Math.floor(p.t / 1e6), tsNsec: (p.t % 1e6) * 1000, data: p.data };
    w.add(rec);
  }
  return w.toBuffer();
}
