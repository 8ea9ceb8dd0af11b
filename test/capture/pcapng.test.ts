import { describe, expect, it } from 'vitest';
import { decodeIdb, decodeNrb, formatIpv6 } from '../../src/capture/pcapng.js';
import { block, dsb, epb, epoch, idb, isb, nrb, parseBytes, pb, pkt, shb, spb } from './build.js';

describe('pcapng: sections, interfaces, Enhanced Packet Blocks (pcapng 4.1-4.3)', () => {
  for (const o of ['le', 'be'] as const) {
    it(`reads a ${o} section with default microsecond units byte-exactly`, () => {
      const head = Buffer.concat([shb(o), idb(1, o, { snapLen: 262144, name: 'eth0' })]);
      const bytes = Buffer.concat([head, epb(0, 1700000000123456n, pkt(60, 3), o), epb(0, 1700000001000001n, pkt(5), o, 9000)]);
      const r = parseBytes(bytes, undefined, 'x.pcapng');
      expect(r.info.damage).toBeNull();
      expect(r.info).toMatchObject({ format: 'pcapng', littleEndian: o === 'le', frames: 2, bytes: bytes.length });
      expect(r.info.interfaces).toEqual([
        { fileIndex: 0, ifIndex: 0, linkType: 1, snapLen: 262144, name: 'eth0', tsUnitsPerSec: 1e6 },
      ]);
      expect(r.frames[0]).toEqual({
        frame: 1,
        tsSec: 1700000000,
        tsNsec: 123456000,
        capLen: 60,
        origLen: 60,
        ifIndex: 0,
        linkType: 1,
        fileOffset: head.length,
        fileIndex: 0,
        data: pkt(60, 3).toString('hex'),
      });
      expect(r.frames[1]).toMatchObject({ frame: 2, capLen: 5, origLen: 9000, tsNsec: 1000, data: '0001020304' });
      expect(r.frames[1]!.fileOffset).toBe(head.length + 32 + 60);
    });
  }

  it('if_tsresol 10^-3: milliseconds', () => {
    const r = parseBytes(Buffer.concat([shb(), idb(1, 'le', { tsresol: 3 }), epb(0, 1700000000123n, pkt(4))]));
    expect(epoch(r.frames[0]!)).toBe('1700000000.123000000');
    expect(r.info.interfaces[0]!.tsUnitsPerSec).toBe(1000);
  });

  it('if_tsresol 10^-9: nanoseconds beyond 2^53 split exactly', () => {
    const ts = 1700000000987654321n; // > 2^53
    const r = parseBytes(Buffer.concat([shb('be'), idb(1, 'be', { tsresol: 9 }), epb(0, ts, pkt(4), 'be')]));
    expect(epoch(r.frames[0]!)).toBe('1700000000.987654321');
  });

  it('if_tsresol 2^-20: binary fractions truncated to nanoseconds', () => {
    // 3/4 s + 1 unit: 0.75 + 1/2^20 = 0.750000953674... s
    const ts = (1700000000n << 20n) + (3n << 18n) + 1n;
    const r = parseBytes(Buffer.concat([shb(), idb(1, 'le', { tsresol: 0x80 | 20 }), epb(0, ts, pkt(4))]));
    expect(epoch(r.frames[0]!)).toBe('1700000000.750000953');
    expect(r.info.interfaces[0]!.tsUnitsPerSec).toBe(2 ** 20);
  });

  it('if_tsoffset adds whole seconds (negative too)', () => {
    const r = parseBytes(
      Buffer.concat([
        shb(),
        idb(1, 'le', { tsoffset: 1600000000n }),
        idb(1, 'le', { tsoffset: -100n, tsresol: 9 }),
        epb(0, 5_000_001n, pkt(4)),
        epb(1, 1700000000_000000007n, pkt(4)),
      ]),
    );
    expect(r.frames.map(epoch)).toEqual(['1600000005.000001000', '1699999900.000000007']);
  });

  it('several interfaces with their own link types', () => {
    const r = parseBytes(
      Buffer.concat([shb(), idb(1), idb(101, 'le', { name: 'tun0' }), idb(276), epb(2, 1n, pkt(4)), epb(0, 2n, pkt(4)), epb(1, 3n, pkt(4))]),
    );
    expect(r.frames.map((f) => [f.frame, f.ifIndex, f.linkType])).toEqual([
      [1, 2, 276],
      [2, 0, 1],
      [3, 1, 101],
    ]);
    expect(r.info.interfaces.map((i) => i.name)).toEqual([null, 'tun0', null]);
  });

  it('several sections with different byte orders restart interface numbering', () => {
    const bytes = Buffer.concat([
      shb('le'),
      idb(1, 'le', { tsresol: 9 }),
      idb(101, 'le'),
      epb(1, 1000001n, pkt(4, 1), 'le'),
      shb('be'),
      idb(228, 'be', { tsresol: 3 }),
      epb(0, 1700000000123n, pkt(6, 2), 'be'),
      shb('le'),
      idb(229, 'le'),
      epb(0, 7n, pkt(8, 3), 'le'),
    ]);
    for (const chunk of [undefined, 1, 7, 64]) {
      const r = parseBytes(bytes, chunk);
      expect(r.info.damage).toBeNull();
      expect(r.info.littleEndian).toBe(true);
      expect(r.frames.map((f) => [f.frame, f.ifIndex, f.linkType, epoch(f), f.capLen])).toEqual([
        [1, 1, 101, '1.000001000', 4],
        [2, 0, 228, '1700000000.123000000', 6],
        [3, 0, 229, '0.000007000', 8],
      ]);
      expect(r.info.interfaces.map((i) => [i.ifIndex, i.linkType])).toEqual([
        [0, 1],
        [1, 101],
        [0, 228],
        [0, 229],
      ]);
    }
  });

  it('an EPB whose interface link type is unknown is still a frame (warning, not damage)', () => {
    const r = parseBytes(Buffer.concat([shb(), idb(4242), epb(0, 1n, pkt(4))]));
    expect(r.info.damage).toBeNull();
    expect(r.frames[0]!.linkType).toBe(4242);
    expect(r.info.warnings.map((w) => w.message)).toEqual(['interface 0 has unknown link type 4242']);
  });
});

describe('pcapng: other blocks', () => {
  it('Simple Packet Block: interface 0, no timestamp (tshark 4.0 prints none): time 0', () => {
    const r = parseBytes(Buffer.concat([shb(), idb(1), epb(0, 5n, pkt(4)), spb(pkt(7, 9)), epb(0, 6n, pkt(4))]));
    expect(r.frames[1]).toMatchObject({ frame: 2, ifIndex: 0, linkType: 1, tsSec: 0, tsNsec: 0, capLen: 7, origLen: 7, data: pkt(7, 9).toString('hex') });
    // An SPB does not move info.start / info.end.
    expect(r.info.start).toBeCloseTo(5e-6, 9);
    expect(r.info.end).toBeCloseTo(6e-6, 9);
  });

  it('Simple Packet Block: captured length is min(original length, snaplen)', () => {
    const r = parseBytes(Buffer.concat([shb(), idb(1, 'le', { snapLen: 30 }), spb(pkt(30), 'le', 1500)]));
    expect(r.frames[0]).toMatchObject({ capLen: 30, origLen: 1500 });
  });

  it('obsolete Packet Block (type 2) is a frame with its timestamp', () => {
    const r = parseBytes(Buffer.concat([shb('be'), idb(1, 'be'), idb(101, 'be'), pb(1, 1700000003123456n, pkt(9), 'be')]));
    expect(r.frames[0]).toMatchObject({ frame: 1, ifIndex: 1, linkType: 101, tsSec: 1700000003, tsNsec: 123456000, capLen: 9 });
  });

  it('Name Resolution Block: IPv4 and IPv6 records kept in info.names', () => {
    const v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    const r = parseBytes(
      Buffer.concat([shb(), idb(1), nrb([{ v4: [10, 0, 0, 1], names: ['host1', 'host1.example'] }, { v6, names: ['six'] }]), epb(0, 1n, pkt(4))]),
    );
    expect(r.info.names).toEqual([
      { ip: '10.0.0.1', names: ['host1', 'host1.example'] },
      { ip: '2001:db8::1', names: ['six'] },
    ]);
    expect(r.frames[0]!.frame).toBe(1);
  });

  it('Decryption Secrets Block: type and a copy of the data in info.secrets, not a frame', () => {
    const keylog = Buffer.from('CLIENT_RANDOM 00 11\n');
    const bytes = Buffer.concat([shb(), idb(1), dsb(0x544c534b, keylog), epb(0, 1n, pkt(4))]);
    const r = parseBytes(bytes);
    expect(r.info.secrets).toEqual([{ type: 0x544c534b, data: keylog }]);
    bytes.fill(0);
    expect(r.info.secrets[0]!.data.toString()).toBe('CLIENT_RANDOM 00 11\n');
    expect(r.frames[0]!.frame).toBe(1);
  });

  it('ISB and unknown blocks are skipped by their length and not counted', () => {
    const r = parseBytes(
      Buffer.concat([shb(), idb(1), epb(0, 1n, pkt(4)), isb(), block(0x12345678, pkt(13 + 3)), epb(0, 2n, pkt(4))]),
    );
    expect(r.info.damage).toBeNull();
    expect(r.frames.map((f) => f.frame)).toEqual([1, 2]);
  });

  it('custom and systemd journal blocks are counted as frames like tshark 4.0 does, but not emitted', () => {
    const r = parseBytes(
      Buffer.concat([
        shb(),
        idb(1),
        epb(0, 1n, pkt(4)),
        block(0x00000bad, Buffer.from([0xd9, 0x7e, 0, 0, 1, 2, 3, 4])),
        block(0x40000bad, Buffer.from([0xd9, 0x7e, 0, 0, 1, 2, 3, 4])),
        block(0x00000009, Buffer.from('MESSAGE=hi\n\0', 'latin1')),
        epb(0, 2n, pkt(4)),
      ]),
    );
    expect(r.info.frames).toBe(5);
    expect(r.frames.map((f) => f.frame)).toEqual([1, 5]);
    expect(r.info.warnings).toHaveLength(1);
    expect(r.info.warnings[0]!.message).toContain('counted as frame 2');
  });

  it('a file with only an SHB and an IDB is valid and empty', () => {
    const r = parseBytes(Buffer.concat([shb(), idb(1)]));
    expect(r.info).toMatchObject({ frames: 0, damage: null, start: null });
    expect(r.parser.headerSeen).toBe(true);
  });
});

describe('pcapng: pure decoders', () => {
  it('decodeIdb reads name, tsresol and a negative tsoffset in big-endian', () => {
    const b = idb(113, 'be', { snapLen: 96, name: 'any', tsresol: 6, tsoffset: -5n });
    expect(decodeIdb(b, 0, b.length, false)).toEqual({ linkType: 113, snapLen: 96, name: 'any', tsresol: 6, tsoffset: -5, optionError: null });
  });

  it('decodeIdb reports an option running past the block and keeps the fixed fields', () => {
    const b = Buffer.from(idb(1, 'le', { name: 'eth0' }));
    b.writeUInt16LE(200, 18); // option length of if_name
    const d = decodeIdb(b, 0, b.length, true);
    expect(d).toMatchObject({ linkType: 1, name: null });
    expect(d.optionError).toContain('runs past the block');
  });

  it('decodeNrb stops at a record running past the block', () => {
    const b = Buffer.from(nrb([{ v4: [1, 2, 3, 4], names: ['a'] }, { v4: [5, 6, 7, 8], names: ['b'] }]));
    b.writeUInt16LE(500, 8 + 4 + 8 + 2); // second record's length
    expect(decodeNrb(b, 0, b.length, true)).toEqual([{ ip: '1.2.3.4', names: ['a'] }]);
  });

  it('formatIpv6 follows RFC 5952', () => {
    const f = (h: string): string => formatIpv6(Buffer.from(h, 'hex'), 0);
    expect(f('00000000000000000000000000000001')).toBe('::1');
    expect(f('00000000000000000000000000000000')).toBe('::');
    expect(f('20010db8000000010000000000000001')).toBe('2001:db8:0:1::1');
    expect(f('20010db8000100000001000000000001')).toBe('2001:db8:1:0:1::1');
    expect(f('fe800000000000000000000000000000')).toBe('fe80::');
    expect(f('20010db8aaaabbbbccccddddeeee0001')).toBe('2001:db8:aaaa:bbbb:cccc:dddd:eeee:1');
  });
});
