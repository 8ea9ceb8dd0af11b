// Shared helpers of the src/rdp slow-path decoder tests: hex vectors, small builders, and the
// two hostile-input checks every decoder gets (cut at every byte; random bytes).
import fc from 'fast-check';
import { expect } from 'vitest';
import type { Decoded } from '../../src/rdp/result.js';

export type Decoder = (buf: Uint8Array, off: number, end: number) => Decoded<unknown>;

/** "03 00 00 2c ..." (spaces, newlines and '|' ignored) -> bytes. */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/[\s|]/g, '');
  if (clean.length % 2 !== 0) throw new Error('odd hex length');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function cat(...parts: (Uint8Array | number[])[]): Uint8Array {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function ascii(s: string): Uint8Array {
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

export function utf16le(s: string, size?: number): Uint8Array {
  const out = new Uint8Array(size ?? s.length * 2);
  for (let i = 0; i < s.length && i * 2 + 1 < out.length; i++) {
    out[i * 2] = s.charCodeAt(i) & 0xff;
    out[i * 2 + 1] = s.charCodeAt(i) >> 8;
  }
  return out;
}

export function le16(v: number): number[] {
  return [v & 0xff, (v >> 8) & 0xff];
}
export function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}
export function be16(v: number): number[] {
  return [(v >> 8) & 0xff, v & 0xff];
}

/** TPKT header around a payload. */
export function tpkt(payload: Uint8Array): Uint8Array {
  return cat([3, 0, ...be16(payload.length + 4)], payload);
}

/** TPKT + X.224 Data TPDU header around an MCS PDU. */
export function dataTpdu(mcs: Uint8Array): Uint8Array {
  return tpkt(cat([0x02, 0xf0, 0x80], mcs));
}

/** A BER TLV with a definite length (short or long form). */
export function ber(id: number[], content: Uint8Array): Uint8Array {
  const n = content.length;
  const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  return cat(id, len, content);
}

/** A user data block (MS-RDPBCGR 2.2.1.3.1 header + body). */
export function block(type: number, body: Uint8Array | number[]): Uint8Array {
  return cat([...le16(type), ...le16(body.length + 4)], body);
}

/** Every proper prefix of `bytes` must decode as incomplete with needed > 0 (never malformed, never a throw). */
export function expectIncompleteAtEveryCut(decode: Decoder, bytes: Uint8Array, pad = 0): void {
  const buf = new Uint8Array(bytes.length + pad * 2);
  buf.set(bytes, pad);
  for (let cut = 0; cut < bytes.length; cut++) {
    const r = decode(buf, pad, pad + cut);
    if (r.ok || r.kind !== 'incomplete') {
      throw new Error(`cut at ${cut}/${bytes.length}: expected incomplete, got ${JSON.stringify(r.ok ? 'ok' : r)}`);
    }
    expect(r.needed).toBeGreaterThan(0);
  }
  const full = decode(buf, pad, pad + bytes.length);
  expect(full.ok).toBe(true);
}

/** Random bytes at a random offset: the decoder never throws, reports `at` within [off, end], consumes within bounds. */
export function expectSurvivesRandomBytes(decode: Decoder, prefixes: Uint8Array[] = [], runs = 400): void {
  const arb = fc.record({
    prefix: fc.constantFrom(new Uint8Array(0), ...prefixes),
    body: fc.uint8Array({ maxLength: 300 }),
    lead: fc.nat(8),
    trail: fc.nat(8),
  });
  fc.assert(
    fc.property(arb, ({ prefix, body, lead, trail }) => {
      const data = cat(prefix, body);
      const buf = new Uint8Array(lead + data.length + trail).fill(0xaa);
      buf.set(data, lead);
      const off = lead;
      const end = lead + data.length;
      const r = decode(buf, off, end);
      if (r.ok) {
        expect(r.consumed).toBeGreaterThanOrEqual(0);
        expect(r.consumed).toBeLessThanOrEqual(end - off);
      } else if (r.kind === 'malformed') {
        expect(r.at).toBeGreaterThanOrEqual(off);
        expect(r.at).toBeLessThanOrEqual(end);
        expect(typeof r.reason).toBe('string');
      } else {
        expect(r.needed).toBeGreaterThan(0);
      }
    }),
    { numRuns: runs },
  );
}

/** Narrows a Decoded to its value or fails the test with the failure. */
export function ok<T>(r: Decoded<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r.value;
}

// MS-RDPBCGR 4.1.3 (the whole 416-byte PDU: the dump's rows plus the CS_NET block that ends it).
export const CONNECT_INITIAL_4_1_3 = hex(`
03 00 01 a0 02 f0 80 7f 65 82 01 94 04 01 01 04
01 01 01 01 ff 30 19 02 01 22 02 01 02 02 01 00
02 01 01 02 01 00 02 01 01 02 02 ff ff 02 01 02
30 19 02 01 01 02 01 01 02 01 01 02 01 01 02 01
00 02 01 01 02 02 04 20 02 01 02 30 1c 02 02 ff
ff 02 02 fc 17 02 02 ff ff 02 01 01 02 01 00 02
01 01 02 02 ff ff 02 01 02 04 82 01 33 00 05 00
14 7c 00 01 81 2a 00 08 00 10 00 01 c0 00 44 75
63 61 81 1c 01 c0 d8 00 04 00 08 00 00 05 00 04
01 ca 03 aa 09 04 00 00 ce 0e 00 00 45 00 4c 00
54 00 4f 00 4e 00 53 00 2d 00 44 00 45 00 56 00
32 00 00 00 00 00 00 00 00 00 00 00 04 00 00 00
00 00 00 00 0c 00 00 00 00 00 00 00 00 00 00 00
00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
00 00 00 00 00 00 00 00 01 ca 01 00 00 00 00 00
18 00 07 00 01 00 36 00 39 00 37 00 31 00 32 00
2d 00 37 00 38 00 33 00 2d 00 30 00 33 00 35 00
37 00 39 00 37 00 34 00 2d 00 34 00 32 00 37 00
31 00 34 00 00 00 00 00 00 00 00 00 00 00 00 00
00 00 00 00 00 00 00 00 00 00 00 00 04 c0 0c 00
0d 00 00 00 00 00 00 00 02 c0 0c 00 1b 00 00 00
00 00 00 00 03 c0 2c 00 03 00 00 00 72 64 70 64
72 00 00 00 00 00 80 80 63 6c 69 70 72 64 72 00
00 00 a0 c0 72 64 70 73 6e 64 00 00 00 00 00 c0`);

export const params = (v: number[]): Uint8Array => ber([0x30], cat(...v.map((n) => ber([0x02], n < 256 ? Uint8Array.of(n) : Uint8Array.of(0, n >> 8, n & 0xff)))));
export function connectResponse(userData: Uint8Array, result = 0): Uint8Array {
  return ber([0x7f, 0x66], cat(ber([0x0a], Uint8Array.of(result)), ber([0x02], Uint8Array.of(0)), params([34, 3, 0, 1, 0, 1, 0xfff8, 2]), ber([0x04], userData)));
}
