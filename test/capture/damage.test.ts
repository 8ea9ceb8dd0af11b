import { describe, expect, it } from 'vitest';
import { block, epb, idb, parseBytes, pcapHeader, pcapRecord, pkt, shb } from './build.js';

const CHUNKS = [undefined, 1, 7, 64];

describe('damage in classic pcap: reading stops, what came before stands', () => {
  const good = Buffer.concat([pcapHeader(), pcapRecord(1, 0, pkt(40)), pcapRecord(2, 0, pkt(40))]);
  const thirdAt = good.length;

  for (const chunk of CHUNKS) {
    it(`truncated last record, header cut (chunk ${chunk ?? 'whole'})`, () => {
      const r = parseBytes(Buffer.concat([good, pcapRecord(3, 0, pkt(40)).subarray(0, 9)]), chunk);
      expect(r.frames.map((f) => f.frame)).toEqual([1, 2]);
      expect(r.info.damage).toEqual({
        file: 'test.pcap',
        offset: thirdAt,
        frame: 3,
        message: 'truncated record: header cut after 9 of 16 bytes',
      });
      expect(r.info.bytes).toBe(thirdAt + 9);
    });

    it(`truncated last record, data cut (chunk ${chunk ?? 'whole'})`, () => {
      const r = parseBytes(Buffer.concat([good, pcapRecord(3, 0, pkt(40)).subarray(0, 30)]), chunk);
      expect(r.info.frames).toBe(2);
      expect(r.info.damage).toMatchObject({ offset: thirdAt, frame: 3, message: 'truncated record: 30 of 56 bytes present (capLen 40)' });
    });
  }

  it('absurd capLen is damage at once, before its bytes arrive', () => {
    const bad = Buffer.concat([good, pcapRecord(3, 0, Buffer.alloc(0), 100, 'le', 0x7fffffff), pkt(100)]);
    const r = parseBytes(bad, 7);
    expect(r.info.damage).toMatchObject({ offset: thirdAt, frame: 3, message: 'record capLen 2147483647 is larger than the maximum 262144' });
    expect(r.parser.stopped).toBe(true);
    expect(r.parser.pending).toBe(0);
  });

  it('capLen exactly 262144 is accepted, 262145 is damage (as tshark 4.0)', () => {
    const ok = parseBytes(Buffer.concat([pcapHeader({ snapLen: 262144 }), pcapRecord(1, 0, Buffer.alloc(262144))]));
    expect(ok.info.damage).toBeNull();
    const bad = parseBytes(Buffer.concat([pcapHeader(), pcapRecord(1, 0, Buffer.alloc(262145))]));
    expect(bad.info.damage?.message).toBe('record capLen 262145 is larger than the maximum 262144');
  });

  it('push after damage is ignored; finish keeps the first damage', () => {
    const r = parseBytes(Buffer.concat([good, pcapRecord(3, 0, Buffer.alloc(0), 1, 'le', 300000)]));
    const before = r.info.damage;
    r.parser.push(pcapRecord(9, 9, pkt(9)));
    expect(r.parser.finish().damage).toBe(before);
    expect(r.info.frames).toBe(2);
  });

  it('garbage from byte 0 is damage at offset 0 with no header seen', () => {
    const r = parseBytes(Buffer.from('<!DOCTYPE html><html></html>'));
    expect(r.parser.headerSeen).toBe(false);
    expect(r.info.damage).toMatchObject({ offset: 0, frame: 1, message: 'not a pcap or pcapng file (starts with 3c 21 44 4f)' });
  });

  it('gzip bytes handed straight to the parser are named', () => {
    const r = parseBytes(Buffer.from([0x1f, 0x8b, 8, 0, 0, 0]));
    expect(r.info.damage?.message).toContain('gzip data');
  });

  it('a header cut short is damage with no header seen', () => {
    const r = parseBytes(pcapHeader().subarray(0, 10), 3);
    expect(r.parser.headerSeen).toBe(false);
    expect(r.info.damage?.message).toBe('file too short for a capture header (10 bytes)');
  });

  it('empty input: no damage, no header, no bytes', () => {
    const r = parseBytes(Buffer.alloc(0));
    expect(r.info).toMatchObject({ damage: null, bytes: 0, frames: 0 });
    expect(r.parser.headerSeen).toBe(false);
  });
});

describe('damage in pcapng (pcapng 3.1 block structure)', () => {
  const head = Buffer.concat([shb(), idb(1)]);
  const one = epb(0, 1n, pkt(20));
  const at = head.length + one.length;

  function withSecond(second: Buffer): Buffer {
    return Buffer.concat([head, one, second, epb(0, 3n, pkt(4))]);
  }

  for (const chunk of CHUNKS) {
    it(`block length past the end of the file (chunk ${chunk ?? 'whole'})`, () => {
      const r = parseBytes(Buffer.concat([head, one, epb(0, 2n, pkt(40)).subarray(0, 50)]), chunk);
      expect(r.info.frames).toBe(1);
      expect(r.info.damage).toEqual({
        file: 'test.pcap',
        offset: at,
        frame: 2,
        message: 'truncated block: block type 0x00000006 has total length 72 but only 50 bytes remain',
      });
    });

    it(`block header cut (chunk ${chunk ?? 'whole'})`, () => {
      const r = parseBytes(Buffer.concat([head, one, epb(0, 2n, pkt(40)).subarray(0, 5)]), chunk);
      expect(r.info.damage).toMatchObject({ offset: at, frame: 2, message: 'truncated block: header cut after 5 of 12 bytes' });
    });
  }

  it('block total length not a multiple of 4', () => {
    const b = Buffer.from(epb(0, 2n, pkt(8)));
    b.writeUInt32LE(b.length + 1, 4);
    b.writeUInt32LE(b.length + 1, b.length - 4);
    const r = parseBytes(withSecond(Buffer.concat([b, Buffer.alloc(1)])));
    expect(r.info.damage).toMatchObject({ offset: at, frame: 2, message: 'block type 0x00000006 has total length 41, not a multiple of 4' });
  });

  it('block total length below 12', () => {
    const r = parseBytes(withSecond(Buffer.from('0500000008000000', 'hex')));
    expect(r.info.damage?.message).toBe('block type 0x00000005 has total length 8, less than 12');
  });

  it('mismatched trailing length (EPB fast path and generic block)', () => {
    const b = Buffer.from(epb(0, 2n, pkt(8)));
    b.writeUInt32LE(b.length + 4, b.length - 4);
    const r = parseBytes(withSecond(b));
    expect(r.info.damage).toMatchObject({ offset: at, frame: 2, message: 'block total length 40 does not match the trailing copy 44' });
    const u = Buffer.from(block(0x77, pkt(8)));
    u.writeUInt32LE(0, u.length - 4);
    expect(parseBytes(withSecond(u)).info.damage?.message).toBe('block total length 20 does not match the trailing copy 0');
  });

  it('EPB interface id beyond the section interfaces', () => {
    const r = parseBytes(withSecond(epb(5, 2n, pkt(8))));
    expect(r.info.damage?.message).toBe('EPB interface id 5 but the section has 1 interface(s)');
  });

  it('EPB capLen larger than its block', () => {
    const b = Buffer.from(epb(0, 2n, pkt(8)));
    b.writeUInt32LE(100, 20);
    expect(parseBytes(withSecond(b)).info.damage?.message).toBe('EPB total length 40 is too small for 100 bytes of packet data');
  });

  it('block length beyond the accepted maximum is damage before any buffering', () => {
    const r = parseBytes(withSecond(Buffer.from('77000000f0ffff7f', 'hex')), 7);
    expect(r.info.damage?.message).toContain('more than the 67108864 accepted');
    expect(r.parser.pending).toBe(0);
  });

  it('an SHB with a bad byte-order magic in the middle of a file', () => {
    const s = Buffer.from(shb());
    s.writeUInt32LE(0x11223344, 8);
    const r = parseBytes(withSecond(s));
    expect(r.info.frames).toBe(1);
    expect(r.info.damage?.message).toBe('Section Header Block with a bad byte-order magic 0x44332211');
  });

  it('an unsupported pcapng major version', () => {
    const r = parseBytes(Buffer.concat([shb('le', 2, 0), idb(1)]));
    expect(r.parser.headerSeen).toBe(false);
    expect(r.info.damage?.message).toBe('unsupported pcapng version 2.0');
  });

  it('a Simple Packet Block in a section without interfaces', () => {
    const r = parseBytes(Buffer.concat([shb(), block(3, Buffer.from('0400000001020304', 'hex'))]));
    expect(r.info.damage?.message).toBe('Simple Packet Block in a section without an interface');
  });
});
