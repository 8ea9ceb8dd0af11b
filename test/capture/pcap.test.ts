import { describe, expect, it } from 'vitest';
import { CaptureParser } from '../../src/capture/parser.js';
import { decodePcapHeader, u32be, u32le } from '../../src/capture/pcap.js';
import { epoch, parseBytes, pcapHeader, pcapRecord, pkt } from './build.js';

describe('classic pcap: file header (draft-ietf-opsawg-pcap 4)', () => {
  it('decodes a little-endian microsecond header byte-exactly', () => {
    const h = Buffer.from('d4c3b2a1020004000000000000000000ffff000001000000', 'hex');
    expect(decodePcapHeader(h, 0)).toEqual({
      littleEndian: true,
      nanosecond: false,
      versionMajor: 2,
      versionMinor: 4,
      snapLen: 65535,
      linkType: 1,
      fcsLen: null,
    });
  });

  it('decodes a big-endian nanosecond header byte-exactly', () => {
    const h = Buffer.from('a1b23c4d00020004000000000000000000040000000000e4', 'hex');
    expect(decodePcapHeader(h, 0)).toMatchObject({ littleEndian: false, nanosecond: true, snapLen: 262144, linkType: 228 });
  });

  it('masks the FCS bits off the LinkType field', () => {
    const h = pcapHeader({ linkField: 0x40000000 | 0x04000000 | 1 });
    expect(decodePcapHeader(h, 0)).toMatchObject({ linkType: 1, fcsLen: 4 });
    const r = parseBytes(Buffer.concat([h, pcapRecord(1, 2, pkt(10))]));
    expect(r.info.interfaces[0]!.linkType).toBe(1);
    expect(r.frames[0]!.linkType).toBe(1);
  });

  it('rejects a header shorter than 24 bytes or with another magic', () => {
    expect(decodePcapHeader(pcapHeader().subarray(0, 23), 0)).toBeNull();
    expect(decodePcapHeader(Buffer.alloc(24), 0)).toBeNull();
  });

  it('reads u32 in both orders without sign errors', () => {
    const b = Buffer.from([0xff, 0xfe, 0xfd, 0xfc]);
    expect(u32le(b, 0)).toBe(0xfcfdfeff);
    expect(u32be(b, 0)).toBe(0xfffefdfc);
  });
});

describe('classic pcap: records (draft-ietf-opsawg-pcap 5)', () => {
  for (const order of ['le', 'be'] as const) {
    it(`reads records of a ${order} microsecond file: times, lengths, offsets, bytes`, () => {
      const bytes = Buffer.concat([
        pcapHeader({ order }),
        pcapRecord(1700000000, 123456, pkt(60, 1), 60, order),
        pcapRecord(1700000001, 999999, pkt(14, 2), 1514, order),
      ]);
      const r = parseBytes(bytes);
      expect(r.info.damage).toBeNull();
      expect(r.info).toMatchObject({ format: 'pcap', littleEndian: order === 'le', nanosecond: false, frames: 2, bytes: bytes.length });
      expect(r.frames).toEqual([
        {
          frame: 1,
          tsSec: 1700000000,
          tsNsec: 123456000,
          capLen: 60,
          origLen: 60,
          ifIndex: 0,
          linkType: 1,
          fileOffset: 24,
          fileIndex: 0,
          data: pkt(60, 1).toString('hex'),
        },
        {
          frame: 2,
          tsSec: 1700000001,
          tsNsec: 999999000,
          capLen: 14,
          origLen: 1514,
          ifIndex: 0,
          linkType: 1,
          fileOffset: 24 + 16 + 60,
          fileIndex: 0,
          data: pkt(14, 2).toString('hex'),
        },
      ]);
      expect(r.info.start).toBeCloseTo(1700000000.123456, 6);
      expect(r.info.end).toBeCloseTo(1700000001.999999, 6);
    });

    it(`reads nanosecond timestamps (${order}, magic a1b23c4d) exactly`, () => {
      const bytes = Buffer.concat([pcapHeader({ order, nano: true }), pcapRecord(1700000000, 987654321, pkt(20), 20, order)]);
      const r = parseBytes(bytes);
      expect(r.info.nanosecond).toBe(true);
      expect(epoch(r.frames[0]!)).toBe('1700000000.987654321');
      expect(r.info.interfaces[0]!.tsUnitsPerSec).toBe(1e9);
    });
  }

  it('keeps snaplen-cut records (capLen < origLen)', () => {
    const r = parseBytes(Buffer.concat([pcapHeader({ snapLen: 68 }), pcapRecord(5, 6, pkt(68), 1500)]));
    expect(r.frames[0]).toMatchObject({ capLen: 68, origLen: 1500 });
    expect(r.info.warnings).toEqual([]);
  });

  it('accepts capLen above the snaplen (as tshark does) with one warning for the file', () => {
    const r = parseBytes(
      Buffer.concat([pcapHeader({ snapLen: 40 }), pcapRecord(1, 0, pkt(100)), pcapRecord(2, 0, pkt(100)), pcapRecord(3, 0, pkt(100))]),
    );
    expect(r.info.frames).toBe(3);
    expect(r.info.warnings).toHaveLength(1);
    expect(r.info.warnings[0]).toMatchObject({ frame: 1, offset: 24 });
    expect(r.info.warnings[0]!.message).toContain('snaplen 40');
  });

  it('carries a microsecond field >= 1e6 into the seconds (tsNsec stays below 1e9)', () => {
    const r = parseBytes(Buffer.concat([pcapHeader(), pcapRecord(10, 1500000, pkt(4))]));
    expect(epoch(r.frames[0]!)).toBe('11.500000000');
  });

  it('emits a zero-length record', () => {
    const r = parseBytes(Buffer.concat([pcapHeader(), pcapRecord(1, 0, Buffer.alloc(0), 0), pcapRecord(2, 0, pkt(3))]));
    expect(r.frames.map((f) => [f.frame, f.capLen])).toEqual([
      [1, 0],
      [2, 3],
    ]);
  });

  it('reports an unknown link type as a warning and still emits the frames', () => {
    const r = parseBytes(Buffer.concat([pcapHeader({ linkField: 9999 }), pcapRecord(1, 2, pkt(10))]));
    expect(r.info.damage).toBeNull();
    expect(r.frames).toHaveLength(1);
    expect(r.frames[0]!.linkType).toBe(9999);
    expect(r.info.warnings.map((w) => w.message)).toEqual(['unknown link type 9999']);
  });

  it('a file with only a header is valid and has no frames', () => {
    const r = parseBytes(pcapHeader());
    expect(r.info).toMatchObject({ frames: 0, start: null, end: null, damage: null });
    expect(r.parser.headerSeen).toBe(true);
  });

  it('hands out views into the pushed chunk (no copy) when a record does not straddle', () => {
    const bytes = Buffer.concat([pcapHeader(), pcapRecord(1, 2, pkt(10))]);
    let seen: Buffer | null = null;
    let off = -1;
    const p = new CaptureParser('x', 0, {
      onFrame: (v) => {
        seen = v.buf;
        off = v.off;
      },
    });
    p.push(bytes);
    expect(seen).toBe(bytes);
    expect(off).toBe(40);
  });
});

