// A subset of the pcap filter language (pcap-filter(7)) evaluated on a decoded packet, for
// `analyze --filter` on files: libpcap's compiler (the optional `cap` module) is not needed, and
// the frames keep their own numbers (tcpdump -r -w would renumber them). Supported primitives:
//   [src|dst] host ADDR, [src|dst] ADDR, [src|dst] net ADDR/LEN | ADDR mask MASK,
//   [tcp|udp] [src|dst] port N, [src|dst] portrange N-M, ip, ip6, tcp, udp, icmp, icmp6,
//   and (&&), or (||), not (!), parentheses.
// Their meaning is tcpdump's: `host` and `net` match IPv4 and IPv6 packets by their outer header
// (an ICMP error's quoted packet is not looked into), `port` TCP and UDP packets (not the
// non-first fragments, whose ports are unknown), `icmp` ICMPv4 only. Anything else is refused with
// a message naming the word (the user can run `tcpdump -r IN -w OUT 'FILTER'` first).
import { isIPv4, isIPv6 } from 'node:net';
import type { DecodedPacket } from './packet.js';

type Dir = 'src' | 'dst' | 'either';

export type BpfNode =
  | { op: 'and' | 'or'; a: BpfNode; b: BpfNode }
  | { op: 'not'; a: BpfNode }
  | { op: 'proto'; proto: 'ip' | 'ip6' | 'tcp' | 'udp' | 'icmp' | 'icmp6' }
  | { op: 'net'; dir: Dir; addr: Uint8Array; bits: number }
  | { op: 'port'; dir: Dir; proto: 'tcp' | 'udp' | null; lo: number; hi: number };

/** A filter that cannot be evaluated here: the message names the word and where it is. */
export class BpfError extends Error {}

/** IPv4 "a.b.c.d" or IPv6 text to its 4 or 16 bytes, or null. */
export function addressBytes(s: string): Uint8Array | null {
  if (isIPv4(s)) return Uint8Array.from(s.split('.').map(Number));
  if (!isIPv6(s)) return null;
  let text = s;
  const out = new Uint8Array(16);
  // An embedded IPv4 tail (::ffff:10.0.0.1): two groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    text = `${text.slice(0, v4.index)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, null];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === null ? h : [...h, ...new Array<string>(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) return null;
  for (let i = 0; i < 8; i++) {
    const g = parseInt(groups[i]!, 16);
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  }
  return out;
}

/** Whether the packet's source (dst false) or destination address has `addr`'s first `bits` bits. */
export function addressMatches(p: DecodedPacket, dst: boolean, addr: Uint8Array, bits: number): boolean {
  const v = p.ipVersion;
  if ((v === 4 && addr.length !== 4) || (v === 6 && addr.length !== 16) || (v !== 4 && v !== 6)) return false;
  const buf = p.buf;
  const off = dst ? p.dstOff : p.srcOff;
  if (off < 0 || off + addr.length > buf.length) return false;
  let i = 0;
  for (; (i + 1) * 8 <= bits; i++) if (buf[off + i] !== addr[i]) return false;
  const rest = bits - i * 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (buf[off + i]! & mask) === (addr[i]! & mask);
}

const PROTOS = new Set(['ip', 'ip6', 'tcp', 'udp', 'icmp', 'icmp6']);

/** Splits a filter into words and the punctuation ( ) ! && ||. */
function tokens(text: string): { t: string; at: number }[] {
  const out: { t: string; at: number }[] = [];
  const re = /\s*(\(|\)|&&|\|\||!|[^\s()!&|]+)/gy;
  let m: RegExpExecArray | null;
  let last = 0;
  while ((m = re.exec(text)) !== null) {
    out.push({ t: m[1]!, at: m.index + m[0].length - m[1]!.length });
    last = re.lastIndex;
  }
  if (text.slice(last).trim() !== '') throw new BpfError(`filter: cannot read "${text.slice(last).trim()}" at character ${last + 1}`);
  return out;
}

/** Parses a filter (the subset above). Throws BpfError with the unsupported or wrong word. */
export function parseBpf(text: string): BpfNode {
  const toks = tokens(text);
  let i = 0;
  const peek = (): string | undefined => toks[i]?.t.toLowerCase();
  const fail = (why: string): never => {
    const at = toks[i]?.at ?? text.length;
    throw new BpfError(`filter: ${why} at character ${at + 1}`);
  };
  const orExpr = (): BpfNode => {
    let a = andExpr();
    while (peek() === 'or' || peek() === '||') {
      i++;
      a = { op: 'or', a, b: andExpr() };
    }
    return a;
  };
  const andExpr = (): BpfNode => {
    let a = unary();
    for (;;) {
      const p = peek();
      if (p === 'and' || p === '&&') {
        i++;
        a = { op: 'and', a, b: unary() };
      } else return a;
    }
  };
  const unary = (): BpfNode => {
    const p = peek();
    if (p === 'not' || p === '!') {
      i++;
      return { op: 'not', a: unary() };
    }
    if (p === '(') {
      i++;
      const e = orExpr();
      if (peek() !== ')') fail('")" expected');
      i++;
      return e;
    }
    return primitive();
  };
  const number = (s: string | undefined, what: string): number => {
    const n = s !== undefined && /^\d+$/.test(s) ? Number(s) : NaN;
    if (!Number.isInteger(n) || n > 65535) fail(`${what} expected`);
    return n;
  };
  const primitive = (): BpfNode => {
    let p = peek();
    if (p === undefined) return fail('a primitive expected (host, net, port, tcp, udp, ...)');
    let proto: 'tcp' | 'udp' | null = null;
    if (PROTOS.has(p)) {
      const next = toks[i + 1]?.t.toLowerCase();
      if ((p === 'tcp' || p === 'udp') && (next === 'port' || next === 'portrange' || next === 'src' || next === 'dst')) {
        proto = p;
        i++;
        p = peek();
      } else {
        i++;
        return { op: 'proto', proto: p as 'ip' | 'ip6' | 'tcp' | 'udp' | 'icmp' | 'icmp6' };
      }
    }
    let dir: Dir = 'either';
    if (p === 'src' || p === 'dst') {
      dir = p;
      i++;
      p = peek();
      if (p === 'or' || p === 'and') fail(`"src ${p} dst" is not supported here`);
    }
    if (p === 'port' || p === 'portrange') {
      i++;
      const word = toks[i]?.t;
      if (p === 'port') {
        const n = number(word, 'a port number');
        i++;
        return { op: 'port', dir, proto, lo: n, hi: n };
      }
      const m = word !== undefined ? /^(\d+)-(\d+)$/.exec(word) : null;
      if (!m) return fail('a port range N-M expected');
      const lo = number(m[1], 'a port number');
      const hi = number(m[2], 'a port number');
      i++;
      return { op: 'port', dir, proto, lo: Math.min(lo, hi), hi: Math.max(lo, hi) };
    }
    if (proto !== null) fail('"port" expected');
    if (p === 'host' || p === 'net') {
      i++;
    }
    const word = toks[i]?.t;
    if (word === undefined) return fail('an address expected');
    let addrText = word;
    let bits = -1;
    const slash = word.indexOf('/');
    if (slash >= 0) {
      if (p !== 'net') fail('an address with /LEN needs "net"');
      addrText = word.slice(0, slash);
      bits = Number(word.slice(slash + 1));
    }
    const addr = addressBytes(addrText);
    if (addr === null) {
      // A word the subset does not know (a keyword like `vlan` or `tcp[13]`, a host name).
      return fail(`"${word}" is not supported for files (supported: host, net, port, portrange, src, dst, ip, ip6, tcp, udp, icmp, icmp6, and, or, not; run tcpdump -r IN -w OUT with the filter first)`);
    }
    i++;
    if (p === 'net' && peek() === 'mask') {
      i++;
      const mask = addressBytes(toks[i]?.t ?? '');
      if (mask === null || mask.length !== addr.length) fail('a mask expected');
      let b = 0;
      for (const x of mask!) for (let k = 7; k >= 0; k--) if ((x >> k) & 1) b++;
      bits = b;
      i++;
    }
    const max = addr.length * 8;
    if (bits === -1) bits = max;
    if (!Number.isInteger(bits) || bits < 0 || bits > max) fail(`a prefix length 0..${max} expected`);
    return { op: 'net', dir, addr, bits };
  };
  if (toks.length === 0) throw new BpfError('filter: empty');
  const e = orExpr();
  if (i < toks.length) fail(`"${toks[i]!.t}" unexpected`);
  return e;
}

/** Whether a decoded packet passes the filter (pcap-filter(7) semantics for the subset). */
export function bpfMatches(n: BpfNode, p: DecodedPacket): boolean {
  switch (n.op) {
    case 'and':
      return bpfMatches(n.a, p) && bpfMatches(n.b, p);
    case 'or':
      return bpfMatches(n.a, p) || bpfMatches(n.b, p);
    case 'not':
      return !bpfMatches(n.a, p);
    case 'proto':
      switch (n.proto) {
        case 'ip':
          return p.ipVersion === 4;
        case 'ip6':
          return p.ipVersion === 6;
        case 'tcp':
          return (p.ipVersion === 4 || p.ipVersion === 6) && p.ipProto === 6;
        case 'udp':
          return (p.ipVersion === 4 || p.ipVersion === 6) && p.ipProto === 17;
        case 'icmp':
          return p.ipVersion === 4 && p.ipProto === 1;
        case 'icmp6':
          return p.ipVersion === 6 && p.ipProto === 58;
      }
      return false;
    case 'net':
      if (n.dir === 'src') return addressMatches(p, false, n.addr, n.bits);
      if (n.dir === 'dst') return addressMatches(p, true, n.addr, n.bits);
      return addressMatches(p, false, n.addr, n.bits) || addressMatches(p, true, n.addr, n.bits);
    case 'port': {
      if (p.ipVersion !== 4 && p.ipVersion !== 6) return false;
      const proto = p.ipProto;
      if (proto !== 6 && proto !== 17) return false;
      if (n.proto === 'tcp' && proto !== 6) return false;
      if (n.proto === 'udp' && proto !== 17) return false;
      // A non-first fragment carries no ports (pcap-filter: port tests only the first fragment).
      if (p.fragOffset !== 0 || p.l4Off < 0) return false;
      const s = p.srcPort >= n.lo && p.srcPort <= n.hi;
      const d = p.dstPort >= n.lo && p.dstPort <= n.hi;
      return n.dir === 'src' ? s : n.dir === 'dst' ? d : s || d;
    }
  }
}
