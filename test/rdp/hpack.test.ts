// HPACK (RFC 7541) and HTTP/2 framing (RFC 7540): the RFC's own examples byte for byte (Appendix
// C: integers, the four field representations, three requests and three responses with and
// without Huffman coding, sharing one dynamic table; C.5 / C.6 with a 256-byte table and its
// evictions), the Huffman code checked against Appendix B, and hostile input with fast-check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HpackDecoder, huffmanCode, huffmanDecode, HUFFMAN_EOS, readHpackInt, readHpackString, HPACK_STATIC_TABLE } from '../../src/rdp/hpack.js';
import { H2_CONTINUATION, H2_DATA, H2_FLAG_END_HEADERS, H2_FLAG_PADDED, H2_FLAG_PRIORITY, H2_HEADERS, H2_PREFACE, H2_RST_STREAM, H2_SETTINGS, readH2Frame, startsWithPreface } from '../../src/rdp/http2.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const runs = Number(process.env.PROP_RUNS ?? 300);

function block(d: HpackDecoder, h: string): [string, string][] {
  const b = hex(h);
  const r = d.decodeBlock(b, 0, b.length);
  if (!r.ok) throw new Error(`${r.kind}: ${'reason' in r ? r.reason : ''}`);
  expect(r.consumed).toBe(b.length);
  return r.value;
}

describe('HPACK integers and strings (RFC 7541 5.1, 5.2, C.1)', () => {
  it('C.1.1: 10 on a 5-bit prefix; C.1.2: 1337 on a 5-bit prefix; C.1.3: 42 on 8 bits', () => {
    expect(readHpackInt(hex('0a'), 0, 1, 5)).toEqual({ ok: true, value: 10, consumed: 1 });
    expect(readHpackInt(hex('ea'), 0, 1, 5)).toEqual({ ok: true, value: 10, consumed: 1 }); // the 3 high bits are not the integer's
    expect(readHpackInt(hex('1f9a0a'), 0, 3, 5)).toEqual({ ok: true, value: 1337, consumed: 3 });
    expect(readHpackInt(hex('1f9a0a'), 0, 2, 5)).toEqual({ ok: false, kind: 'incomplete', needed: 1 });
    expect(readHpackInt(hex('2a'), 0, 1, 8)).toEqual({ ok: true, value: 42, consumed: 1 });
    expect(readHpackInt(hex('1fffffffff7f'), 0, 6, 5)).toMatchObject({ ok: false, kind: 'malformed' });
  });

  it('a raw and a Huffman string literal (C.4.1: "www.example.com" in 12 bytes)', () => {
    expect(readHpackString(hex('0a 637573746f6d2d6b6579'), 0, 11)).toEqual({ ok: true, value: 'custom-key', consumed: 11 });
    expect(readHpackString(hex('8c f1e3c2e5f23a6ba0ab90f4ff'), 0, 13)).toEqual({ ok: true, value: 'www.example.com', consumed: 13 });
    expect(readHpackString(hex('8c f1e3c2e5f23a6ba0ab90f4ff'), 0, 12)).toEqual({ ok: false, kind: 'incomplete', needed: 1 });
  });
});

describe('the Huffman code (RFC 7541 Appendix B)', () => {
  it('rebuilt from the lengths, it has the table\'s codes', () => {
    expect(huffmanCode(0)).toEqual({ code: 0x1ff8, bits: 13 });
    expect(huffmanCode(1)).toEqual({ code: 0x7fffd8, bits: 23 });
    expect(huffmanCode(10)).toEqual({ code: 0x3ffffffc, bits: 30 });
    expect(huffmanCode(32)).toEqual({ code: 0x14, bits: 6 });
    expect(huffmanCode(48)).toEqual({ code: 0x0, bits: 5 });
    expect(huffmanCode(92)).toEqual({ code: 0x7fff0, bits: 19 });
    expect(huffmanCode(0x74)).toEqual({ code: 0x9, bits: 5 });
    expect(huffmanCode(0x7a)).toEqual({ code: 0x7b, bits: 7 });
    expect(huffmanCode(200)).toEqual({ code: 0x3ffffe2, bits: 26 });
    expect(huffmanCode(255)).toEqual({ code: 0x3ffffee, bits: 26 });
    expect(huffmanCode(HUFFMAN_EOS)).toEqual({ code: 0x3fffffff, bits: 30 });
  });

  it('is a complete prefix code (Kraft sum exactly 1) and decodes what it encodes, every byte value', () => {
    let kraft = 0;
    for (let s = 0; s <= HUFFMAN_EOS; s++) kraft += 2 ** -huffmanCode(s).bits;
    expect(kraft).toBe(1);
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const enc = encode(all);
    expect(huffmanDecode(enc, 0, enc.length)).toEqual({ ok: true, text: all.toString('latin1') });
  });

  it('refuses more than 7 bits of padding, padding that is not ones, and the EOS symbol', () => {
    expect(huffmanDecode(hex('ff'), 0, 1)).toEqual({ ok: false, reason: 'more than 7 bits of Huffman padding' });
    // '0' is 00000: then 000 is no EOS prefix.
    expect(huffmanDecode(hex('00'), 0, 1)).toEqual({ ok: false, reason: 'Huffman padding that is not the EOS prefix' });
    expect(huffmanDecode(hex('ffffffff'), 0, 4)).toEqual({ ok: false, reason: 'the EOS symbol inside a Huffman string' });
  });

  it('decodes any encoded string back (fast-check)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const enc = encode(Buffer.from(bytes));
        expect(huffmanDecode(enc, 0, enc.length)).toEqual({ ok: true, text: Buffer.from(bytes).toString('latin1') });
      }),
      { numRuns: runs },
    );
  });
});

/** Huffman-encodes (test helper, from huffmanCode) with EOS-prefix padding. */
function encode(b: Buffer): Buffer {
  const bits: number[] = [];
  for (const c of b) {
    const { code, bits: n } = huffmanCode(c);
    for (let i = n - 1; i >= 0; i--) bits.push(Math.floor(code / 2 ** i) % 2);
  }
  while (bits.length % 8 !== 0) bits.push(1);
  const out = Buffer.alloc(bits.length / 8);
  for (let i = 0; i < bits.length; i++) if (bits[i]) out[i >> 3]! |= 0x80 >> (i & 7);
  return out;
}

describe('HPACK header blocks (RFC 7541 Appendix C)', () => {
  it('C.2.1-C.2.4: the four representations, one each', () => {
    const a = new HpackDecoder();
    expect(block(a, '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572')).toEqual([['custom-key', 'custom-header']]);
    expect(a.dynamic).toEqual([['custom-key', 'custom-header']]);
    expect(a.tableSize).toBe(55);
    const b = new HpackDecoder();
    expect(block(b, '040c 2f73 616d 706c 652f 7061 7468')).toEqual([[':path', '/sample/path']]);
    expect(b.dynamic).toEqual([]);
    const c = new HpackDecoder();
    expect(block(c, '1008 7061 7373 776f 7264 0673 6563 7265 74')).toEqual([['password', 'secret']]);
    expect(c.dynamic).toEqual([]);
    expect(block(new HpackDecoder(), '82')).toEqual([[':method', 'GET']]);
  });

  const requests = [
    [':method', 'GET'],
    [':scheme', 'http'],
    [':path', '/'],
    [':authority', 'www.example.com'],
  ];
  const third = [
    [':method', 'GET'],
    [':scheme', 'https'],
    [':path', '/index.html'],
    [':authority', 'www.example.com'],
    ['custom-key', 'custom-value'],
  ];

  it('C.3: three requests without Huffman coding on one connection', () => {
    const d = new HpackDecoder();
    expect(block(d, '8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d')).toEqual(requests);
    expect(d.tableSize).toBe(57);
    expect(block(d, '8286 84be 5808 6e6f 2d63 6163 6865')).toEqual([...requests, ['cache-control', 'no-cache']]);
    expect(d.tableSize).toBe(110);
    expect(block(d, '8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65')).toEqual(third);
    expect(d.dynamic).toEqual([
      ['custom-key', 'custom-value'],
      ['cache-control', 'no-cache'],
      [':authority', 'www.example.com'],
    ]);
    expect(d.tableSize).toBe(164);
  });

  it('C.4: the same requests with Huffman coding', () => {
    const d = new HpackDecoder();
    expect(block(d, '8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff')).toEqual(requests);
    expect(block(d, '8286 84be 5886 a8eb 1064 9cbf')).toEqual([...requests, ['cache-control', 'no-cache']]);
    expect(block(d, '8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf')).toEqual(third);
    expect(d.tableSize).toBe(164);
  });

  const r1 = [
    [':status', '302'],
    ['cache-control', 'private'],
    ['date', 'Mon, 21 Oct 2013 20:13:21 GMT'],
    ['location', 'https://www.example.com'],
  ];
  const r2 = [[':status', '307'], ...r1.slice(1)];
  const r3 = [
    [':status', '200'],
    ['cache-control', 'private'],
    ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
    ['location', 'https://www.example.com'],
    ['content-encoding', 'gzip'],
    ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
  ];
  const after3 = [
    ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1'],
    ['content-encoding', 'gzip'],
    ['date', 'Mon, 21 Oct 2013 20:13:22 GMT'],
  ];

  it('C.5: three responses, a 256-byte table, the evictions', () => {
    const d = new HpackDecoder(256);
    expect(
      block(d, '4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'),
    ).toEqual(r1);
    expect(d.tableSize).toBe(222);
    expect(block(d, '4803 3330 37c1 c0bf')).toEqual(r2);
    expect(d.tableSize).toBe(222);
    expect(
      block(
        d,
        '88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31',
      ),
    ).toEqual(r3);
    expect(d.dynamic).toEqual(after3);
    expect(d.tableSize).toBe(215);
  });

  it('C.6: the same responses with Huffman coding', () => {
    const d = new HpackDecoder(256);
    expect(block(d, '4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3')).toEqual(r1);
    expect(block(d, '4883 640e ffc1 c0bf')).toEqual(r2);
    expect(
      block(d, '88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07'),
    ).toEqual(r3);
    expect(d.dynamic).toEqual(after3);
    expect(d.tableSize).toBe(215);
  });

  it('refuses an index past the tables, index 0, a size update above the limit or after a field, a truncated field', () => {
    const bad = (h: string, limit = 4096) => {
      const b = hex(h);
      return new HpackDecoder(limit).decodeBlock(b, 0, b.length);
    };
    expect(bad('be')).toMatchObject({ ok: false, kind: 'malformed', reason: 'HPACK index 62 is not in the tables' });
    expect(bad('80')).toMatchObject({ ok: false, kind: 'malformed' });
    expect(bad('3fe11f', 4096)).toEqual({ ok: true, value: [], consumed: 3 }); // 4096 itself is allowed
    expect(bad('3fe11f', 256)).toMatchObject({ ok: false, kind: 'malformed', reason: 'a dynamic table size of 4096 above the 256 allowed' });
    expect(bad('82 20')).toMatchObject({ ok: false, kind: 'malformed', reason: 'a dynamic table size update after a header field' });
    expect(bad('400a 6375 7374')).toMatchObject({ ok: false, kind: 'malformed', reason: 'a truncated header name' });
    // A size update to 0 empties the table (4.3); then index 62 is gone.
    const d = new HpackDecoder();
    block(d, '400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572');
    expect(block(d, '20')).toEqual([]);
    expect(d.tableSize).toBe(0);
  });

  it('the static table has 61 entries (Appendix A), :status 200 at 8 and www-authenticate last', () => {
    expect(HPACK_STATIC_TABLE).toHaveLength(61);
    expect(HPACK_STATIC_TABLE[7]).toEqual([':status', '200']);
    expect(HPACK_STATIC_TABLE[60]).toEqual(['www-authenticate', '']);
  });

  it('never throws on hostile blocks, and keeps its table within its limit', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 120 }), { maxLength: 6 }), fc.constantFrom(0, 64, 256, 4096), (blocks, limit) => {
        const d = new HpackDecoder(limit);
        for (const b of blocks) {
          const r = d.decodeBlock(b, 0, b.length);
          if (r.ok) expect(r.consumed).toBe(b.length);
          expect(d.tableSize).toBeLessThanOrEqual(limit);
        }
      }),
      { numRuns: runs },
    );
  });
});

describe('HTTP/2 frames (RFC 7540 4.1, 6)', () => {
  it('the preface, whole or cut', () => {
    expect(H2_PREFACE.toString('latin1')).toBe('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    expect(startsWithPreface(H2_PREFACE, 0, 24)).toBe('yes');
    expect(startsWithPreface(H2_PREFACE, 0, 10)).toBe('prefix');
    expect(startsWithPreface(Buffer.from('POST /KdcProxy HTTP/1.1\r\n'), 0, 25)).toBe('no');
  });

  it('an empty SETTINGS, a SETTINGS ACK, a HEADERS frame with padding and priority, a DATA frame, an RST_STREAM', () => {
    expect(readH2Frame(hex('000000 04 00 00000000'), 0, 9)).toEqual({ ok: true, value: { length: 0, type: H2_SETTINGS, flags: 0, streamId: 0, payloadOff: 9, fragmentOff: 9, fragmentEnd: 9, errorCode: null }, consumed: 9 });
    const h = hex(`00000a 01 ${(H2_FLAG_END_HEADERS | H2_FLAG_PADDED | H2_FLAG_PRIORITY).toString(16)} 00000001 02 80000000 0f 8286 0000`);
    expect(readH2Frame(h, 0, h.length)).toMatchObject({ ok: true, value: { type: H2_HEADERS, streamId: 1, fragmentOff: 9 + 1 + 5, fragmentEnd: 9 + 10 - 2 }, consumed: 19 });
    expect(readH2Frame(h, 0, h.length - 1)).toEqual({ ok: false, kind: 'incomplete', needed: 1 });
    const d = hex('000003 00 01 00000003 616263');
    expect(readH2Frame(d, 0, d.length)).toMatchObject({ ok: true, value: { type: H2_DATA, flags: 1, streamId: 3, fragmentOff: 9, fragmentEnd: 12 } });
    const r = hex('000004 03 00 00000001 00000007');
    expect(readH2Frame(r, 0, r.length)).toMatchObject({ ok: true, value: { type: H2_RST_STREAM, errorCode: 7 } });
  });

  it('refuses a frame above the size allowed, HEADERS on stream 0, SETTINGS on a stream, padding longer than the frame', () => {
    expect(readH2Frame(hex('004001 00 00 00000001'), 0, 9, 16384)).toMatchObject({ ok: false, kind: 'malformed' });
    expect(readH2Frame(hex('000000 01 04 00000000'), 0, 9)).toMatchObject({ ok: false, kind: 'malformed', at: 5 });
    expect(readH2Frame(hex('000000 04 00 00000001'), 0, 9)).toMatchObject({ ok: false, kind: 'malformed', at: 5 });
    const p = hex('000002 01 0c 00000001 05 82');
    expect(readH2Frame(p, 0, p.length)).toMatchObject({ ok: false, kind: 'malformed', reason: 'padding or priority fields longer than the frame' });
    expect(readH2Frame(hex(`000000 ${H2_CONTINUATION.toString(16).padStart(2, '0')} 04 00000000`), 0, 9)).toMatchObject({ ok: false, kind: 'malformed' });
  });

  it('never throws on hostile bytes; what it reads lies within them', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (b) => {
        const r = readH2Frame(b, 0, b.length, 64);
        if (r.ok) {
          expect(r.consumed).toBeLessThanOrEqual(b.length);
          expect(r.value.fragmentOff).toBeLessThanOrEqual(r.value.fragmentEnd);
          expect(r.value.fragmentEnd).toBeLessThanOrEqual(r.consumed);
        }
      }),
      { numRuns: runs },
    );
  });
});
