// KerberosTcpJoiner: a KDC's reply over TCP (RFC 4120 7.2.2, a 4-byte record mark before the
// message) joined across segments, byte for byte: every split point of a KRB-ERROR record, the mark
// alone or itself split, three pieces, retransmissions, holes, sequence wrap, other messages, bounds;
// and hostile segment streams (fast-check) that never throw and never hold more than the bound.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { KerberosTcpJoiner, MAX_PENDING, MAX_RECORD } from '../../src/flow/kerberos-tcp.js';
import { decodeKrbErrorMessage } from '../../src/net/kerberos.js';

// The byte-exact KDC_ERR_PREAUTH_FAILED vector of test/net/kerberos.test.ts (132 bytes), as a TCP record.
const MESSAGE = Buffer.from(
  '7e8181307fa003020105a10302011ea411180f32303236303331303039303030315aa50402021388a603020118a70e1b0c434f52502e4558414d504c45' +
    'a8123010a003020101a10930071b05616c696365a90e1b0c434f52502e4558414d504c45aa21301fa003020102a11830161b066b72627467741b0c434f52502e4558414d504c45',
  'hex',
);
const RECORD = Buffer.concat([Buffer.from([0, 0, 0, 132]), MESSAGE]);
const KEY = '10.0.0.2:88>10.0.0.9:55001';
const ISN = 1000;

/** Feeds the record cut at `cuts` (sorted offsets) as consecutive segments; returns what each returned. */
function feed(j: KerberosTcpJoiner, rec: Uint8Array, cuts: number[], isn = ISN): (Uint8Array | null)[] {
  const out: (Uint8Array | null)[] = [];
  const points = [0, ...cuts, rec.length];
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i]!;
    const b = points[i + 1]!;
    // Each segment in a buffer of its own, at an offset (as in a capture chunk).
    const buf = Buffer.concat([Buffer.alloc(7, 0xee), Buffer.from(rec.subarray(a, b)), Buffer.alloc(3, 0xee)]);
    out.push(j.segment(KEY, (isn + a) >>> 0, buf, 7, b - a));
  }
  return out;
}

describe('KerberosTcpJoiner', () => {
  it('a record in one segment is returned as is (a view, no copy)', () => {
    const j = new KerberosTcpJoiner();
    const buf = Buffer.concat([Buffer.alloc(5), RECORD]);
    const r = j.segment(KEY, ISN, buf, 5, RECORD.length);
    expect(Buffer.from(r!)).toEqual(RECORD);
    expect(r!.buffer).toBe(buf.buffer);
    expect(j.size).toBe(0);
  });

  it('split at every byte: nothing until the last segment, then the record byte for byte, decoded as KDC_ERR_PREAUTH_FAILED', () => {
    for (let cut = 1; cut < RECORD.length; cut++) {
      const j = new KerberosTcpJoiner();
      const out = feed(j, RECORD, [cut]);
      expect(out[0], `cut ${cut}`).toBeNull();
      expect(Buffer.from(out[1]!), `cut ${cut}`).toEqual(RECORD);
      expect(j.size).toBe(0);
      const d = decodeKrbErrorMessage(out[1]!, 0, out[1]!.length, true);
      expect(d.ok && d.value.errorCode).toBe(24);
    }
  });

  it('the mark alone, the mark itself split, and three pieces', () => {
    expect(Buffer.from(feed(new KerberosTcpJoiner(), RECORD, [4])[1]!)).toEqual(RECORD);
    expect(feed(new KerberosTcpJoiner(), RECORD, [2, 3]).map((x) => (x === null ? null : Buffer.from(x)))).toEqual([null, null, RECORD]);
    expect(feed(new KerberosTcpJoiner(), RECORD, [1, 60, 100]).map((x) => (x === null ? null : Buffer.from(x)))).toEqual([null, null, null, RECORD]);
  });

  it('sequence numbers that wrap past 2^32 inside the record', () => {
    const out = feed(new KerberosTcpJoiner(), RECORD, [50], 0xffffffff - 20);
    expect(Buffer.from(out[1]!)).toEqual(RECORD);
  });

  it('a retransmission of held bytes is ignored; one that carries more adds only the new bytes', () => {
    const j = new KerberosTcpJoiner();
    expect(j.segment(KEY, ISN, RECORD, 0, 40)).toBeNull();
    expect(j.segment(KEY, ISN, RECORD, 0, 40)).toBeNull(); // the same segment again
    expect(j.segment(KEY, ISN + 10, RECORD, 10, 20)).toBeNull(); // inside what is held
    expect(j.segment(KEY, ISN + 20, RECORD, 20, 60)).toBeNull(); // 20 old bytes, 40 new
    expect(Buffer.from(j.segment(KEY, ISN + 80, RECORD, 80, RECORD.length - 80)!)).toEqual(RECORD);
  });

  it('a hole gives the record up (no guess over missing bytes); what follows starts afresh', () => {
    const j = new KerberosTcpJoiner();
    expect(j.segment(KEY, ISN, RECORD, 0, 40)).toBeNull();
    expect(j.segment(KEY, ISN + 50, RECORD, 50, RECORD.length - 50)).toBeNull();
    expect(j.size).toBe(0);
    expect(Buffer.from(j.segment(KEY, ISN + 500, RECORD, 0, RECORD.length)!)).toEqual(RECORD);
  });

  it('holds nothing for a message that is not a KRB-ERROR, a reserved bit, a length past the bound or an empty record', () => {
    const j = new KerberosTcpJoiner();
    const asRep = Buffer.from(RECORD);
    asRep[4] = 0x6b; // [APPLICATION 11] AS-REP
    expect(j.segment(KEY, ISN, asRep, 0, 40)).toBeNull();
    expect(j.size).toBe(0);
    // The mark alone, then a message that is not a KRB-ERROR: let go.
    expect(j.segment(KEY, ISN, asRep, 0, 4)).toBeNull();
    expect(j.size).toBe(1);
    expect(j.segment(KEY, ISN + 4, asRep, 4, 40)).toBeNull();
    expect(j.size).toBe(0);
    expect(j.segment(KEY, ISN, Buffer.from([0x80, 0, 0, 132, 0x7e, 0x81]), 0, 6)).toBeNull();
    const big = MAX_RECORD; // with its mark one past the bound
    expect(j.segment(KEY, ISN, Buffer.from([big >>> 24, (big >>> 16) & 0xff, (big >>> 8) & 0xff, big & 0xff, 0x7e, 0x82]), 0, 6)).toBeNull();
    expect(j.segment(KEY, ISN, Buffer.from([0, 0, 0, 0, 0x7e, 0x00]), 0, 6)).toBeNull();
    expect(j.size).toBe(0);
  });

  it('connections are kept apart, and at most MAX_PENDING partial records are held (the oldest given up)', () => {
    const j = new KerberosTcpJoiner();
    for (let i = 0; i < MAX_PENDING + 10; i++) j.segment(`k${i}`, ISN, RECORD, 0, 30);
    expect(j.size).toBe(MAX_PENDING);
    expect(j.segment('k0', ISN + 30, RECORD, 30, RECORD.length - 30)).toBeNull(); // given up
    expect(Buffer.from(j.segment(`k${MAX_PENDING + 9}`, ISN + 30, RECORD, 30, RECORD.length - 30)!)).toEqual(RECORD);
  });

  it('property: any split of a record into segments gives back the record, once, at its last segment', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 1, max: RECORD.length - 1 }), { maxLength: 12 }), fc.nat(), (cuts, isn) => {
        const j = new KerberosTcpJoiner();
        const out = feed(j, RECORD, [...cuts].sort((a, b) => a - b), isn >>> 0);
        expect(out.slice(0, -1).every((x) => x === null)).toBe(true);
        expect(Buffer.from(out.at(-1)!)).toEqual(RECORD);
        expect(j.size).toBe(0);
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 500) },
    );
  });

  it('property: hostile segments (any bytes, sequence numbers, keys) never throw, stay bounded, and return only a whole record of a KRB-ERROR', () => {
    const seg = fc.record({ key: fc.integer({ min: 0, max: 80 }), seq: fc.nat(), bytes: fc.uint8Array({ maxLength: 80 }), off: fc.nat({ max: 4 }) });
    fc.assert(
      fc.property(fc.array(seg, { maxLength: 200 }), (segs) => {
        const j = new KerberosTcpJoiner();
        for (const s of segs) {
          const len = Math.max(0, s.bytes.length - s.off);
          const r = j.segment(`k${s.key}`, s.seq >>> 0, s.bytes, s.off, len);
          if (r !== null) {
            expect(r.length).toBeGreaterThan(4);
            expect(r.length).toBeLessThanOrEqual(MAX_RECORD);
            expect(r[4]).toBe(0x7e);
            expect(((r[0]! << 24) | (r[1]! << 16) | (r[2]! << 8) | r[3]!) + 4).toBe(r.length);
          }
          expect(j.size).toBeLessThanOrEqual(MAX_PENDING);
        }
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 300) },
    );
  });
});
