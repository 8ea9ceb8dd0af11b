// Smoke test of the benchmark corpus generator (never a timed test): same seed -> same bytes, and
// the files it writes are captures our reader reads to the end without damage.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCorpus, generateSynFlood, mulberry32, type CorpusInfo } from '../../bench/corpus.js';
import { loadTemplates, readdress, sum16, fold, type Template } from '../../bench/templates.js';
import { readCapture } from '../../src/capture/index.js';
import { DecodedPacket, decodePacket, checkIpChecksum, checkTransportChecksum } from '../../src/net/index.js';

const sha = (p: string): string => createHash('sha256').update(readFileSync(p)).digest('hex');

let dir = '';
let templates: Template[] = [];
let a: CorpusInfo;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'bench-corpus-'));
  templates = await loadTemplates();
  a = await generateCorpus({ seed: 7, bytes: 1_500_000, base: path.join(dir, 'a'), formats: ['pcap', 'pcapng', 'pcapng.gz'], templates });
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('mulberry32', () => {
  it('is a pure function of its seed', () => {
    const x = mulberry32(42);
    const y = mulberry32(42);
    const z = mulberry32(43);
    const xs = [x(), x(), x()];
    expect([y(), y(), y()]).toEqual(xs);
    expect(z()).not.toBe(xs[0]);
    for (const v of xs) expect(v >= 0 && v < 1).toBe(true);
  });
});

describe('generateCorpus', () => {
  it('writes byte-identical files for the same seed, different ones for another seed', async () => {
    const b = await generateCorpus({ seed: 7, bytes: 1_500_000, base: path.join(dir, 'b'), formats: ['pcap', 'pcapng'], templates });
    const c = await generateCorpus({ seed: 8, bytes: 1_500_000, base: path.join(dir, 'c'), formats: ['pcap'], templates });
    expect(sha(path.join(dir, 'b.pcap'))).toBe(sha(path.join(dir, 'a.pcap')));
    expect(sha(path.join(dir, 'b.pcapng'))).toBe(sha(path.join(dir, 'a.pcapng')));
    expect(b.frames).toBe(a.frames);
    expect(sha(path.join(dir, 'c.pcap'))).not.toBe(sha(path.join(dir, 'a.pcap')));
  });

  it('reaches the size target and replays every template once per round', () => {
    const pcap = a.files.find((f) => f.format === 'pcap')!;
    expect(pcap.bytes).toBeGreaterThanOrEqual(1_500_000);
    expect(pcap.bytes).toBeLessThan(1_500_000 + 4 * 1024 * 1024);
    expect(a.rdpRounds).toBe(1);
    expect(a.rdpAttempts).toBe(templates.length);
    expect(a.templates).toContain('cert_expired');
    expect(a.templates).toContain('port_blocked_icmp');
    expect(a.bulkFlows).toBeGreaterThan(0);
    expect(a.dnsQueries).toBeGreaterThan(0);
  });

  it.each(['pcap', 'pcapng', 'pcapng.gz'] as const)('writes a %s our reader reads to the end, with valid checksums', async (format) => {
    const file = a.files.find((f) => f.format === format)!;
    const pkt = new DecodedPacket();
    let frames = 0;
    let badIp = 0;
    let badL4 = 0;
    let port3389 = 0;
    const info = await readCapture({ kind: 'file', path: file.path }, 0, {
      onFrame(v): void {
        frames++;
        decodePacket(v.buf, v.off, v.capLen, v.linkType, pkt);
        if (pkt.ipProto === 6 && (pkt.srcPort === 3389 || pkt.dstPort === 3389)) port3389++;
        if (pkt.ipVersion === 4 && checkIpChecksum(pkt) === false) badIp++;
        if (pkt.l4Off >= 0 && checkTransportChecksum(pkt) === false) badL4++;
      },
    });
    expect(info.damage).toBeNull();
    expect(info.format).toBe(format === 'pcap' ? 'pcap' : 'pcapng');
    expect(info.gzip).toBe(format === 'pcapng.gz');
    expect(frames).toBe(a.frames);
    expect(info.bytes).toBe(file.captureBytes);
    expect(port3389).toBe(a.rdpPortFrames);
    expect(badIp).toBe(0);
    expect(badL4).toBe(0);
  });
});

describe('generateSynFlood', () => {
  it('is deterministic and pairs every SYN with a SYN/ACK on the same 4-tuple', async () => {
    const p1 = generateSynFlood({ seed: 3, flows: 500, path: path.join(dir, 'f1.pcap') });
    generateSynFlood({ seed: 3, flows: 500, path: path.join(dir, 'f2.pcap') });
    expect(sha(p1.path)).toBe(sha(path.join(dir, 'f2.pcap')));
    expect(p1.frames).toBe(1000);
    const pkt = new DecodedPacket();
    const open = new Map<string, number>();
    let synAcks = 0;
    await readCapture({ kind: 'file', path: p1.path }, 0, {
      onFrame(v): void {
        decodePacket(v.buf, v.off, v.capLen, v.linkType, pkt);
        if (pkt.tcpFlags === 0x02) open.set(`${pkt.src4}:${pkt.srcPort}`, pkt.seq);
        else if (pkt.tcpFlags === 0x12) {
          const isn = open.get(`${pkt.dst4}:${pkt.dstPort}`);
          expect(isn).toBeDefined();
          expect(pkt.ack).toBe(((isn ?? 0) + 1) >>> 0);
          synAcks++;
        }
      },
    });
    expect(open.size).toBe(500);
    expect(synAcks).toBe(500);
  });
});

describe('readdress', () => {
  it('moves every address of a template packet and keeps its checksums valid', () => {
    const tpl = templates.find((t) => t.name === 'port_blocked_icmp')!;
    const index = new Map(tpl.addresses.map((x, j) => [x, j]));
    const pkt = new DecodedPacket();
    for (const f of tpl.frames) {
      const ip = Buffer.from(f.ip);
      readdress(ip, index, 0x010203);
      decodePacket(ip, 0, ip.length, 101, pkt); // LINKTYPE_RAW
      expect(ip[pkt.srcOff]! >= 100 && ip[pkt.srcOff]! < 110).toBe(true);
      expect([...ip.subarray(pkt.srcOff + 1, pkt.srcOff + 4)]).toEqual([1, 2, 3]);
      expect(checkIpChecksum(pkt)).not.toBe(false);
      expect(checkTransportChecksum(pkt)).not.toBe(false);
      if (pkt.quotedOff >= 0) expect(ip[pkt.quotedOff + 12]! >= 100).toBe(true);
    }
  });

  it('sum16 / fold is the RFC 1071 checksum (RFC 1071 3 example)', () => {
    const b = Buffer.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
    expect(fold(sum16(b, 0, b.length))).toBe(~0xddf2 & 0xffff);
  });
});
