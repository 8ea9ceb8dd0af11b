// --export-evidence (src/report/evidence.ts): for each failed connection a pcap with just its
// frames plus the ICMP / DNS frames tied to it. tshark (an independent dissector) says which
// original frames belong to the connection and reads each evidence file; the evidence frames must
// be exactly those, in order, with the same bytes and timestamps.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { readCapture } from '../../src/capture/index.js';
import type { CaptureSource } from '../../src/capture/types.js';
import { analyze } from '../../src/pipeline.js';
import { DNS_WINDOW_SECONDS, exportEvidence, spoolStdin, splitEndpoint } from '../../src/report/evidence.js';
import type { ReportedConnection } from '../../src/report/types.js';
import { FIXTURES } from './helpers.js';

const TSHARK = '/usr/bin/tshark';
const hasTshark = existsSync(TSHARK);
if (!hasTshark) console.warn('[report evidence] tshark tests skipped: /usr/bin/tshark is absent');

const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-evidence-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Frame {
  frame: number;
  tsSec: number;
  tsNsec: number;
  linkType: number;
  data: Buffer;
}

async function frames(source: CaptureSource): Promise<Map<number, Frame>> {
  const out = new Map<number, Frame>();
  await readCapture(source, 0, {
    onFrame(v) {
      out.set(v.frame, { frame: v.frame, tsSec: v.tsSec, tsNsec: v.tsNsec, linkType: v.linkType, data: Buffer.from(v.buf.subarray(v.off, v.off + v.capLen)) });
    },
  });
  return out;
}

function tsharkFrames(file: string, filter?: string): number[] {
  const args = ['-r', file, '-T', 'fields', '-e', 'frame.number'];
  if (filter) args.push('-Y', filter);
  const out = execFileSync(TSHARK, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  return out.split('\n').filter((l) => l !== '').map(Number);
}

/** The packet comments of a capture, one per frame, as tshark reads them. */
function tsharkComments(file: string): string[] {
  // frame.comment (Wireshark 4.x; pkt_comment before it).
  const out = execFileSync(TSHARK, ['-r', file, '-T', 'fields', '-e', 'frame.comment'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  return out.split('\n').filter((l) => l !== '');
}

/** tshark's view of the frames that belong to a connection (ICMP errors match through their quoted headers). */
function oracleFilter(c: ReportedConnection): string {
  const [ci, cp] = splitEndpoint(c.client);
  const [si, sp] = splitEndpoint(c.server);
  const ip = ci.includes(':') ? 'ipv6.addr' : 'ip.addr';
  const t = c.transport;
  const tuple = `${ip}==${ci} && ${ip}==${si} && ${t}.port==${cp} && ${t}.port==${sp}`;
  // A client port may be reused by later attempts in the same capture: the flow's frame range bounds it.
  const parts = [`(${tuple} && frame.number >= ${c.flow.firstFrame} && frame.number <= ${c.flow.lastFrame})`];
  if (c.flow.icmp.length > 0) parts.push(`((icmp || icmpv6) && ${tuple} && frame.number in {${c.flow.icmp.map((i) => i.frame).join(',')}})`);
  for (const s of c.sideChannels) {
    const [uci, ucp] = splitEndpoint(s.client);
    const [usi, usp] = splitEndpoint(s.server);
    parts.push(`(${ip}==${uci} && ${ip}==${usi} && udp.port==${ucp} && udp.port==${usp})`);
  }
  parts.push(`(dns && ${ip}==${ci} && frame.time_epoch >= ${(c.start - DNS_WINDOW_SECONDS).toFixed(6)} && frame.time_epoch <= ${c.end.toFixed(6)})`);
  return parts.join(' || ');
}

const CASES = [
  'captures/port_blocked_icmp.pcap', // ICMP errors tied to the flow
  'captures/dns_failure_elsewhere.pcap', // DNS frames before the attempt
  'captures/cert_untrusted.pcap', // IPv6
  'captures/cert_expired.pcapng', // pcapng in
  'captures/port_blocked_silent.pcap.gz', // gzip in
  'captures/server_unresponsive_many.pcap', // several failed connections, two clients
  'captures/mtu_blackhole.pcap', // ICMP fragmentation needed, retransmissions
  'captures/network_unstable.pcap', // many frames
  'sample.pcapng', // several servers, noise around the connections
  'captures/port_not_listening.pcap', // the same client port reused by each retry
  'captures/cert_untrusted.pcap', // IPv6: endpoints written [addr]:port
];

describe.skipIf(!hasTshark)('evidence pcaps checked with tshark', () => {
  for (const file of CASES) {
    it(file, async () => {
      const src: CaptureSource = { kind: 'file', path: path.join(FIXTURES, file) };
      const report = await analyze([src]);
      // A folder per case: a file listed twice must not find the first run's files (never overwritten).
      const dir = mkdtempSync(path.join(tmp, `${path.basename(file)}-`));
      const res = await exportEvidence(report, [src], dir);
      const failed = report.connections.filter((c) => c.outcome === 'failed');
      expect(failed.length).toBeGreaterThan(0);
      expect(res.files.map((f) => f.connection)).toEqual(failed.map((c) => c.id));
      expect(readdirSync(dir).sort()).toEqual(failed.map((c) => `${c.id}.pcapng`).sort());
      // tshark reads the original through gzip itself.
      const original = await frames(src);
      for (const c of failed) {
        expect(c.evidenceFile).toBe(path.join(dir, `${c.id}.pcapng`));
        const want = tsharkFrames(src.path, oracleFilter(c));
        const got = tsharkFrames(c.evidenceFile!);
        expect(got.length, `${c.id} frame count`).toBe(want.length);
        const ev = await frames({ kind: 'file', path: c.evidenceFile! });
        const evFrames = [...ev.values()];
        want.forEach((n, i) => {
          const o = original.get(n)!;
          const e = evFrames[i]!;
          expect(e.data.equals(o.data), `${c.id}: evidence frame ${i + 1} = original frame ${n}`).toBe(true);
          expect([e.tsSec, e.tsNsec, e.linkType]).toEqual([o.tsSec, o.tsNsec, o.linkType]);
        });
        // The death frame and the finding's frames of this flow are in it.
        if (c.died?.frame != null) expect(want).toContain(c.died.frame);
        // Each packet's comment names its original frame and file, as tshark reads it back.
        expect(tsharkComments(c.evidenceFile!)).toEqual(want.map((n) => `rdp-autopsy: frame ${n} of ${report.capture.files[0]!.file}`));
        if (c.died?.frame != null) expect(tsharkFrames(c.evidenceFile!, `frame.comment contains "frame ${c.died.frame} of"`)).toHaveLength(1);
      }
      // Completed or partly captured connections get no file.
      for (const c of report.connections.filter((x) => x.outcome !== 'failed')) expect(c.evidenceFile).toBeUndefined();
    });
  }

  it('several input files: each connection is cut from its own file', async () => {
    const a: CaptureSource = { kind: 'file', path: path.join(FIXTURES, 'captures/port_not_listening.pcap') };
    const b: CaptureSource = { kind: 'file', path: path.join(FIXTURES, 'captures/port_blocked_icmp.pcap') };
    const report = await analyze([a, b]);
    const dir = path.join(tmp, 'multi');
    await exportEvidence(report, [a, b], dir);
    for (const c of report.connections.filter((x) => x.outcome === 'failed')) {
      const src = [a, b][c.fileIndex] as { path: string };
      expect(tsharkFrames(c.evidenceFile!).length).toBe(tsharkFrames(src.path, oracleFilter(c)).length);
      // The comments name the file each packet came from.
      for (const comment of tsharkComments(c.evidenceFile!)) expect(comment).toMatch(new RegExp(`^rdp-autopsy: frame \\d+ of ${report.capture.files[c.fileIndex]!.file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`));
    }
  });
});

describe('evidence without tshark', () => {
  it('writes nothing and creates no directory when nothing failed', async () => {
    const src: CaptureSource = { kind: 'file', path: path.join(FIXTURES, 'captures/completed_tls13.pcapng') };
    const report = await analyze([src]);
    expect(report.summary.failed).toBe(0);
    const dir = path.join(tmp, 'none');
    const res = await exportEvidence(report, [src], dir);
    expect(res.files).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });

  it('sanitises file names taken from connection ids', async () => {
    const src: CaptureSource = { kind: 'file', path: path.join(FIXTURES, 'captures/port_not_listening.pcap') };
    const report = await analyze([src]);
    report.connections[0]!.id = '../../evil id';
    const dir = path.join(tmp, 'names');
    const res = await exportEvidence(report, [src], dir);
    expect(res.files[0]!.file).toBe(path.join(dir, '__.._evil_id.pcapng'));
    expect(readdirSync(dir).sort()).toEqual(['__.._evil_id.pcapng', ...report.connections.slice(1).map((c) => `${c.id}.pcapng`)].sort());
  });

  it('refuses to read stdin twice, and names an unwritable directory', async () => {
    const src: CaptureSource = { kind: 'file', path: path.join(FIXTURES, 'captures/port_not_listening.pcap') };
    const report = await analyze([src]);
    await expect(exportEvidence(report, [{ kind: 'stdin' }], path.join(tmp, 'x'))).rejects.toThrow(/stdin cannot be read twice/);
    await expect(exportEvidence(report, [src], '/proc/rdp-autopsy-no')).rejects.toThrow(/^cannot create \/proc\/rdp-autopsy-no: ENOENT$/);
    const file = path.join(tmp, 'a-file');
    writeFileSync(file, '');
    await expect(exportEvidence(report, [src], path.join(file, 'sub'))).rejects.toThrow(/is not a directory/);
  });

  it('spoolStdin copies the stream to a file, and restore() puts "-" back in the report', async () => {
    const data = readFileSync(path.join(FIXTURES, 'captures/port_blocked_icmp.pcap'));
    const spool = await spoolStdin([{ kind: 'stdin' }], Readable.from([data.subarray(0, 100), data.subarray(100)]));
    try {
      const s = spool.sources[0]!;
      expect(s.kind).toBe('file');
      const spooledPath = (s as { path: string }).path;
      expect(readFileSync(spooledPath).equals(data)).toBe(true);
      const report = await analyze(spool.sources);
      const res = await exportEvidence(report, spool.sources, path.join(tmp, 'stdin'));
      expect(res.files.length).toBe(1);
      spool.restore(report);
      expect(report.capture.files[0]!.file).toBe('-');
      expect(report.connections.every((c) => c.file === '-')).toBe(true);
      expect(JSON.stringify(report)).not.toContain(spooledPath);
    } finally {
      spool.cleanup();
    }
    expect(existsSync((spool.sources[0] as { path: string }).path)).toBe(false);
  });

  it('spoolStdin leaves file sources alone', async () => {
    const srcs: CaptureSource[] = [{ kind: 'file', path: 'x.pcap' }];
    const spool = await spoolStdin(srcs, Readable.from([]));
    expect(spool.sources).toBe(srcs);
  });
});
