// DNS messages (RFC 1035 4.1): header, questions, answers. Decoded only for DNS packets
// (port 53), so this one builds plain objects. Names follow compression pointers
// (RFC 1035 4.1.4) with a jump limit, so a pointer loop ends in null, never a hang.
// Record data: A (RFC 1035 3.4.1), AAAA (RFC 3596 2.2), CNAME / NS / PTR names; other types keep data "".
import { ipText } from './addr.js';

export interface DnsMessage {
  id: number;
  /** QR bit. */
  response: boolean;
  /** RCODE (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, 5 REFUSED, ...). */
  rcode: number;
  questions: { name: string; qtype: number }[];
  answers: { name: string; type: number; ttl: number; data: string }[];
}

export const DnsType = { A: 1, NS: 2, CNAME: 5, PTR: 12, AAAA: 28 } as const;

/** RFC 1035 2.3.4: a name is at most 255 octets on the wire. */
const MAX_NAME = 255;
/** More jumps than a 255-octet name could need means a loop. */
const MAX_JUMPS = 127;

/** Result of readName: the name and the offset just past it where it started (or -1 when malformed). */
interface NameAt {
  name: string;
  next: number;
}

function labelText(buf: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    // Printable ASCII as is (dots and backslashes escaped), the rest as \DDD (RFC 4343 2.1).
    if (c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c) s += String.fromCharCode(c);
    else s += '\\' + c.toString().padStart(3, '0');
  }
  return s;
}

/** Reads the (possibly compressed) name at pos of the message [start, end). next is -1 when malformed. */
function readName(buf: Uint8Array, pos: number, start: number, end: number): NameAt {
  let name = '';
  let wireLen = 0;
  let jumps = 0;
  let next = -1;
  let p = pos;
  for (;;) {
    if (p >= end) return { name, next: -1 };
    const len = buf[p]!;
    if (len === 0) {
      if (next < 0) next = p + 1;
      return { name: name === '' ? '.' : name, next };
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (p + 1 >= end) return { name, next: -1 };
      const target = start + (((len & 0x3f) << 8) | buf[p + 1]!);
      if (next < 0) next = p + 2;
      if (++jumps > MAX_JUMPS || target >= end) return { name, next: -1 };
      p = target;
      continue;
    }
    if (kind !== 0) return { name, next: -1 }; // 0x40 / 0x80: extended label types (RFC 6891 obsoleted them)
    wireLen += len + 1;
    if (wireLen + 1 > MAX_NAME || p + 1 + len > end) return { name, next: -1 };
    name += (name === '' ? '' : '.') + labelText(buf, p + 1, p + 1 + len);
    p += 1 + len;
  }
}

/** Decodes the DNS message buf[off, off + len); null when it is malformed or cut. */
export function decodeDns(buf: Uint8Array, off: number, len: number): DnsMessage | null {
  if (off < 0 || len < 12) return null;
  const end = Math.min(off + len, buf.length);
  if (end - off < 12) return null;
  const flags = (buf[off + 2]! << 8) | buf[off + 3]!;
  const qdcount = (buf[off + 4]! << 8) | buf[off + 5]!;
  const ancount = (buf[off + 6]! << 8) | buf[off + 7]!;
  const msg: DnsMessage = {
    id: (buf[off]! << 8) | buf[off + 1]!,
    response: (flags & 0x8000) !== 0,
    rcode: flags & 0x000f,
    questions: [],
    answers: [],
  };
  let p = off + 12;
  // Counts come from the wire: nothing is allocated from them; each entry must be read from bytes that are there.
  for (let i = 0; i < qdcount; i++) {
    const n = readName(buf, p, off, end);
    if (n.next < 0 || end - n.next < 4) return null;
    p = n.next;
    msg.questions.push({ name: n.name, qtype: (buf[p]! << 8) | buf[p + 1]! });
    p += 4;
  }
  for (let i = 0; i < ancount; i++) {
    const n = readName(buf, p, off, end);
    if (n.next < 0 || end - n.next < 10) return null;
    p = n.next;
    const type = (buf[p]! << 8) | buf[p + 1]!;
    const ttl = ((buf[p + 4]! << 24) | (buf[p + 5]! << 16) | (buf[p + 6]! << 8) | buf[p + 7]!) >>> 0;
    const rdlen = (buf[p + 8]! << 8) | buf[p + 9]!;
    p += 10;
    if (end - p < rdlen) return null;
    let data = '';
    if (type === DnsType.A) {
      if (rdlen !== 4) return null;
      data = ipText(buf, p, 4);
    } else if (type === DnsType.AAAA) {
      if (rdlen !== 16) return null;
      data = ipText(buf, p, 6);
    } else if (type === DnsType.CNAME || type === DnsType.NS || type === DnsType.PTR) {
      const t = readName(buf, p, off, end);
      if (t.next < 0 || t.next > p + rdlen) return null;
      data = t.name;
    }
    msg.answers.push({ name: n.name, type, ttl, data });
    p += rdlen;
  }
  return msg;
}
