import { describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PcapngWriter, PcapWriter, writeStreaming, type WriterRecord } from '../../src/capture/writer.js';

const TSHARK = '/usr/bin/tshark';
const hasTshark = existsSync(TSHARK);

/** A minimal Ethernet + IPv4 + UDP frame (checksums irrelevant to framing). */
function frame(len: number, seed: number): Uint8Array {
  const b = Buffer.alloc(len);
  b.set([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00], 0);
  b.set([0x45, 0, ((len - 14) >> 8) & 0xff, (len - 14) & 0xff, 0, seed & 0xff, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], 14);
  b.set([0x30, 0x39, 0x30, 0x3a, ((len - 34) >> 8) & 0xff, (len - 34) & 0xff, 0, 0], 34);
  for (let i = 42; i < len; i++) b[i] = (i + seed) & 0xff;
  return b;
}

const RECS: WriterRecord[] = [
  { tsSec: 1773133200, tsNsec: 0, data: frame(60, 1) },
  { tsSec: 1773133200, tsNsec: 123456789, data: frame(100, 2) },
  { tsSec: 1773133201, tsNsec: 999999999, data: frame(1514, 3) },
  { tsSec: 1773133265, tsNsec: 1000, data: frame(80, 4), origLen: 200 },
];

function tshark(file: string, fields: string[], extra: string[] = []): string[][] {
  const out = execFileSync(TSHARK, ['-r', file, ...extra, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return out
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

function withTmp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(path.join(tmpdir(), 'writer-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('PcapWriter byte layout', () => {
  it('writes the little-endian microsecond header (pcap-savefile(5))', () => {
    const w = new PcapWriter({ linkType: 1 });
    expect(w.toBuffer().toString('hex')).toBe('d4c3b2a1020004000000000000000000000004000100000' + '0');
  });
  it('writes the big-endian nanosecond header', () => {
    const w = new PcapWriter({ linkType: 113, nanosecond: true, littleEndian: false, snapLen: 65535 });
    expect(w.toBuffer().toString('hex')).toBe('a1b23c4d00020004000000000000000000' + '00ffff00000071');
  });
  it('writes a record header with ts, capLen, origLen and cuts to the snaplen', () => {
    const w = new PcapWriter({ linkType: 1, snapLen: 4 });
    w.add({ tsSec: 0x01020304, tsNsec: 5_000, data: Uint8Array.of(9, 8, 7, 6, 5, 4), origLen: 70 });
    const b = w.toBuffer().subarray(24);
    expect(b.toString('hex')).toBe('04030201' + '05000000' + '04000000' + '46000000' + '09080706');
    expect(w.frames).toBe(1);
  });
  it('rejects out-of-range timestamps', () => {
    const w = new PcapWriter({ linkType: 1 });
    expect(() => w.add({ tsSec: 1, tsNsec: 1_000_000_000, data: new Uint8Array(1) })).toThrow(RangeError);
    expect(() => w.add({ tsSec: -1, tsNsec: 0, data: new Uint8Array(1) })).toThrow(RangeError);
    expect(() => w.add({ tsSec: 1.5, tsNsec: 0, data: new Uint8Array(1) })).toThrow(RangeError);
  });
});

describe('PcapngWriter byte layout', () => {
  it('writes an SHB with matching leading / trailing lengths and the byte-order magic', () => {
    const b = new PcapngWriter().toBuffer();
    expect(b.readUInt32LE(0)).toBe(0x0a0d0d0a);
    expect(b.readUInt32LE(4)).toBe(28);
    expect(b.readUInt32LE(8)).toBe(0x1a2b3c4d);
    expect(b.readUInt32LE(24)).toBe(28);
    expect(b.length).toBe(28);
  });
  it('pads EPB data to 32 bits and writes 64-bit timestamps in the interface resolution', () => {
    const w = new PcapngWriter({ littleEndian: false });
    w.addInterface({ linkType: 1, tsResolExp: 9 });
    w.add({ tsSec: 5, tsNsec: 7, data: Uint8Array.of(1, 2, 3) });
    const b = w.toBuffer();
    const shb = b.readUInt32BE(4);
    const idb = b.readUInt32BE(shb + 4);
    const epb = b.subarray(shb + idb);
    expect(epb.readUInt32BE(0)).toBe(6);
    expect(epb.readUInt32BE(4)).toBe(32 + 4);
    const ts = (BigInt(epb.readUInt32BE(12)) << 32n) | BigInt(epb.readUInt32BE(16));
    expect(ts).toBe(5_000_000_007n);
    expect(epb.readUInt32BE(20)).toBe(3);
    expect([...epb.subarray(28, 32)]).toEqual([1, 2, 3, 0]);
    expect(epb.readUInt32BE(epb.length - 4)).toBe(36);
  });
  it('refuses a record for an unknown interface and a bad tsResolExp', () => {
    const w = new PcapngWriter();
    expect(() => w.add({ tsSec: 0, tsNsec: 0, data: new Uint8Array(1) })).toThrow(/no interface 0/);
    expect(() => w.addInterface({ linkType: 1, tsResolExp: 3 })).toThrow(RangeError);
  });
  it('encodes NRB records for IPv4 and IPv6 (with ::)', () => {
    const w = new PcapngWriter();
    w.addNameResolution([
      { ip: '10.1.2.3', names: ['a'] },
      { ip: 'fd00::1', names: ['b'] },
    ]);
    const b = w.toBuffer().subarray(28);
    expect(b.readUInt32LE(0)).toBe(4);
    const body = b.subarray(8);
    expect(body.readUInt16LE(0)).toBe(1);
    expect(body.readUInt16LE(2)).toBe(6);
    expect(body.subarray(4, 10).toString('hex')).toBe('0a010203' + '6100');
    const v6 = body.subarray(12);
    expect(v6.readUInt16LE(0)).toBe(2);
    expect(v6.readUInt16LE(2)).toBe(18);
    expect(v6.subarray(4, 20).toString('hex')).toBe('fd000000000000000000000000000001');
  });
});

describe.skipIf(!hasTshark)('tshark reads what the writers write', () => {
  const expectFrames = (file: string, nsec: boolean): void => {
    const rows = tshark(file, ['frame.number', 'frame.time_epoch', 'frame.len', 'frame.cap_len']);
    expect(rows.length).toBe(RECS.length);
    rows.forEach((r, i) => {
      const rec = RECS[i]!;
      const ns = nsec ? rec.tsNsec : Math.floor(rec.tsNsec / 1000) * 1000;
      expect(r[0]).toBe(String(i + 1));
      expect(r[1]).toBe(`${rec.tsSec}.${String(ns).padStart(9, '0')}`);
      expect(r[2]).toBe(String(rec.origLen ?? rec.data.length));
      expect(r[3]).toBe(String(rec.data.length));
    });
  };

  for (const nanosecond of [false, true]) {
    for (const littleEndian of [true, false]) {
      it(`pcap ${nanosecond ? 'ns' : 'us'} ${littleEndian ? 'LE' : 'BE'}`, () =>
        withTmp((dir) => {
          const w = new PcapWriter({ linkType: 1, nanosecond, littleEndian });
          RECS.forEach((r) => w.add(r));
          const f = path.join(dir, 'a.pcap');
          writeFileSync(f, w.toBuffer());
          expectFrames(f, nanosecond);
          const ci = execFileSync('/usr/bin/capinfos', ['-c', '-M', f], { encoding: 'utf8' });
          expect(ci).toMatch(/Number of packets:\s+4/);
        }));
    }
  }

  for (const tsResolExp of [6, 9]) {
    for (const littleEndian of [true, false]) {
      it(`pcapng tsresol 10^-${tsResolExp} ${littleEndian ? 'LE' : 'BE'}, two interfaces, NRB and DSB`, () =>
        withTmp((dir) => {
          const w = new PcapngWriter({ littleEndian, application: 'rdp-autopsy test' });
          w.addInterface({ linkType: 1, tsResolExp, name: 'eth0' });
          const second = w.addInterface({ linkType: 1, tsResolExp, name: 'eth1', snapLen: 65535 });
          expect(second).toBe(1);
          w.addNameResolution([{ ip: '10.0.0.2', names: ['rdp-host.example'] }]);
          w.addSecrets(0x544c534b, Buffer.from('CLIENT_RANDOM 00 11\n'));
          RECS.forEach((r, i) => w.add({ ...r, ifIndex: i % 2 }));
          const f = path.join(dir, 'a.pcapng');
          writeFileSync(f, w.toBuffer());
          expectFrames(f, tsResolExp === 9);
          const ifs = tshark(f, ['frame.interface_id']).map((r) => r[0]);
          expect(ifs).toEqual(['0', '1', '0', '1']);
          const ci = execFileSync('/usr/bin/capinfos', ['-c', '-M', f], { encoding: 'utf8' });
          expect(ci).toMatch(/Number of packets:\s+4/);
          // tshark's own view of the NRB (resolved name of the destination)
          const hosts = tshark(f, ['ip.dst_host'], ['-N', 'n']).map((r) => r[0]);
          expect(hosts[0]).toBe('rdp-host.example');
        }));
    }
  }

  it('writeStreaming writes a file tshark reads', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'writer-'));
    try {
      const f = path.join(dir, 's.pcap');
      const s = writeStreaming(f, { linkType: 1, nanosecond: true });
      RECS.forEach((r) => s.add(r));
      await s.close();
      expectFrames(f, true);
      expect(readFileSync(f).readUInt32LE(0)).toBe(0xa1b23c4d);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
