// Damaged capture files end to end, through `analyze` and through the built command line:
// a record cut short (exit 3, the report still printed, the damage named with file, byte offset
// and frame), a garbage file (exit 2, one line), an unknown link type (counted, not fatal), a
// pcapng block whose length runs past the end of the file (exit 3).
import { beforeAll, describe, expect, it } from 'vitest';
import { PcapngWriter } from '../../src/capture/writer.js';
import { CaptureInputError } from '../../src/capture/types.js';
import type { Report } from '../../src/report/types.js';
import { analyzeBuffer, buildCli, cli, connection, expectNoStack, expectOneLineError, noise, only, pcapOf, writeTmp, x224, type Built } from './build.js';

/** A connection of 10 frames: SYN, SYN/ACK, ACK, CR, CC, 300 bytes from the client, ACK, FIN exchange. */
function base(): Built {
  return connection([...x224(), { from: 'client', data: Buffer.alloc(300, 0x16) }]);
}

describe('a capture truncated inside a record', () => {
  const b = base();
  // Frame 6 (the 300-byte segment): its 16-byte record header and 30 of its bytes are present.
  const frame = 6;
  const offset = b.recordOffsets[frame - 1]!;
  const cut = b.pcap.subarray(0, offset + 16 + 30);

  it('analyze: reports the damage with its byte offset and frame, and what came before', async () => {
    const r = await analyzeBuffer(cut, 'cut.pcap');
    expect(r.capture.frames).toBe(frame - 1);
    expect(r.capture.files[0]!.damage).toMatchObject({ offset, frame });
    expect(r.capture.damage).toHaveLength(1);
    expect(r.capture.damage[0]).toMatch(new RegExp(`^cut\\.pcap: .+ at byte offset ${offset} \\(frame ${frame}\\)$`));
    const c = only(r);
    expect(c.negotiation).toMatchObject({ requestFrame: 4, confirmFrame: 5, cookie: 'alice' });
  });

  describe('command line', () => {
    beforeAll(() => buildCli(), 180_000);

    it('exit 3, the report printed, one damage line naming file, byte offset and frame', () => {
      const file = writeTmp('cut.pcap', cut);
      const r = cli(['analyze', '--no-color', file]);
      expectNoStack(r);
      expect(r.code).toBe(3);
      expect(r.stderr).toBe('');
      const damage = r.stdout.split('\n').filter((l) => l.includes('at byte offset'));
      expect(damage.length).toBeGreaterThan(0);
      for (const l of damage) expect(l).toContain(`${file}: `);
      expect(damage[0]).toMatch(new RegExp(`at byte offset ${offset} \\(frame ${frame}\\)$`));
      // What was read before the damage is reported: the connection reached the X.224 phase.
      expect(r.stdout).toMatch(/192\.0\.2\.10:50000 -> 198\.51\.100\.20:3389.*reached x224/);
      const j = cli(['analyze', '--format', 'json', file]);
      expect(j.code).toBe(3);
      const report = JSON.parse(j.stdout) as Report;
      expect(report.capture.files[0]!.damage).toMatchObject({ offset, frame });
      expect(report.connections[0]!.negotiation?.confirmFrame).toBe(5);
    });

    it('from stdin too', () => {
      const r = cli(['analyze', '--no-color', '-'], cut);
      expectNoStack(r);
      expect(r.code).toBe(3);
      expect(r.stdout).toMatch(new RegExp(`at byte offset ${offset} \\(frame ${frame}\\)`));
    });
  });
});

describe('a garbage file', () => {
  const garbage = noise(5000);

  it('analyze throws CaptureInputError (not a capture at all)', async () => {
    await expect(analyzeBuffer(garbage, 'garbage.pcap')).rejects.toBeInstanceOf(CaptureInputError);
  });

  it('command line: exit 2, one line naming the file', () => {
    buildCli();
    const file = writeTmp('garbage.pcap', garbage);
    const r = cli(['analyze', file]);
    expectNoStack(r);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(expectOneLineError(r)).toContain(file);
  }, 180_000);

  it('command line: an empty file and a 3-byte file, exit 2, one line', () => {
    buildCli();
    for (const [name, data] of [['empty.pcap', Buffer.alloc(0)], ['three.pcap', Buffer.from([0xd4, 0xc3, 0xb2])]] as const) {
      const r = cli(['analyze', writeTmp(name, data)]);
      expectNoStack(r);
      expect(r.code, name).toBe(2);
      expectOneLineError(r);
    }
  }, 180_000);
});

describe('an unknown link type', () => {
  const b = base();

  it('a pcap of link type 147 (USER0): every frame counted and skipped, not fatal', async () => {
    const r = await analyzeBuffer(pcapOf(b.records, 147).pcap, 'user0.pcap');
    expect(r.capture.damage).toEqual([]);
    expect(r.capture.frames).toBe(b.records.length);
    expect(r.capture.stats.unknownLinkTypeFrames).toBe(b.records.length);
    expect(r.capture.linkTypes).toEqual([{ linkType: 147, name: expect.any(String), frames: b.records.length }]);
    expect(r.warnings.some((w) => w.includes(`${b.records.length} frames`))).toBe(true);
    expect(r.connections).toEqual([]);
  });

  it('a pcapng mixing Ethernet and an unknown interface: the Ethernet connection analysed, the other frames counted', async () => {
    const w = new PcapngWriter();
    w.addInterface({ linkType: 1 });
    w.addInterface({ linkType: 147 });
    b.records.forEach((r, i) => {
      w.add({ ...r, ifIndex: 0 });
      if (i === 2) w.add({ ...r, ifIndex: 1 });
    });
    const r = await analyzeBuffer(w.toBuffer(), 'mixed.pcapng');
    expect(r.capture.damage).toEqual([]);
    expect(r.capture.stats.unknownLinkTypeFrames).toBe(1);
    // The unknown frame is frame 4: the X.224 request moves to frame 5 and keeps Wireshark's numbering.
    expect(only(r).negotiation).toMatchObject({ requestFrame: 5, confirmFrame: 6 });
    expect(r.capture.linkTypes).toEqual([
      { linkType: 1, name: expect.any(String), frames: b.records.length },
      { linkType: 147, name: expect.any(String), frames: 1 },
    ]);
  });

  it('interfaces interleaved frame by frame: frames counted per link type, in order of first appearance', async () => {
    const w = new PcapngWriter();
    w.addInterface({ linkType: 147 });
    w.addInterface({ linkType: 1 });
    b.records.forEach((r, i) => {
      if (i % 2 === 0) w.add({ ...r, ifIndex: 0 });
      w.add({ ...r, ifIndex: 1 });
    });
    const r = await analyzeBuffer(w.toBuffer(), 'interleaved.pcapng');
    const unknown = Math.ceil(b.records.length / 2);
    expect(r.capture.frames).toBe(b.records.length + unknown);
    expect(r.capture.stats.unknownLinkTypeFrames).toBe(unknown);
    expect(r.capture.linkTypes).toEqual([
      { linkType: 147, name: expect.any(String), frames: unknown },
      { linkType: 1, name: expect.any(String), frames: b.records.length },
    ]);
    expect(r.connections).toHaveLength(1);
  });

  it('command line: exit 0, a warning', () => {
    buildCli();
    const r = cli(['analyze', '--no-color', writeTmp('user0.pcap', pcapOf(b.records, 147).pcap)]);
    expectNoStack(r);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/unsupported link type|unknown link type/);
  }, 180_000);
});

describe('a pcapng block whose total length runs past the end of the file', () => {
  const b = base();
  const w = new PcapngWriter();
  w.addInterface({ linkType: 1 });
  for (const r of b.records) w.add(r);
  const ng = Buffer.from(w.toBuffer());
  // The last block is the EPB of frame 10 (draft-ietf-opsawg-pcapng 3.1: length at +4, repeated at the end).
  const lastLen = ng.readUInt32LE(ng.length - 4);
  const lastOff = ng.length - lastLen;
  ng.writeUInt32LE(0x00100000, lastOff + 4);

  it('analyze: damage at the block offset and frame 10, the first nine frames analysed', async () => {
    expect(ng.readUInt32LE(lastOff)).toBe(6);
    const r = await analyzeBuffer(ng, 'past.pcapng');
    expect(r.capture.files[0]!.damage).toMatchObject({ offset: lastOff, frame: 10 });
    expect(r.capture.frames).toBe(9);
    expect(only(r).negotiation).toMatchObject({ requestFrame: 4, confirmFrame: 5 });
  });

  it('command line: exit 3, the damage named', () => {
    buildCli();
    const file = writeTmp('past.pcapng', ng);
    const r = cli(['analyze', '--no-color', file]);
    expectNoStack(r);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain(`${file}: `);
    expect(r.stdout).toMatch(new RegExp(`at byte offset ${lastOff} \\(frame 10\\)`));
  }, 180_000);
});
