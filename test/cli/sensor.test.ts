// `live --sensor` (src/cli/sensor.ts) without libpcap: a fake cap replays fixture captures. Each
// failure is reported as it ends (its line on stdout, its ECS event, its evidence pcap already on
// disk), the ring of pcap files rotates as configured and reads back as one capture, SIGUSR1 prints
// the running summary, the summary at the end counts everything, every ECS event fits the index
// template's mappings, and memory stays flat over many thousand attempts.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runLive, type LiveOptions } from '../../src/cli/live.js';
import { Sensor, SensorSummary, durationText } from '../../src/cli/sensor.js';
import { analyze, createAnalyzer } from '../../src/pipeline.js';
import { ecsEvent, eventLine } from '../../src/report/ecs.js';
import { exportEvidence } from '../../src/report/evidence.js';
import { DropWatch } from '../../src/capture/drops.js';
import { parseRingSpec, ringFileName } from '../../src/capture/rotate.js';
import type { FrameView } from '../../src/capture/types.js';
import type { ReportedConnection } from '../../src/report/types.js';
import type { PacketSocketStats } from '../../src/capture/packet-stats.js';
import { Capture, MS, SEC, TcpSession } from '../../fixtures/lib/session.js';
import * as R from '../../fixtures/lib/rdp-bytes.js';
import { Collect, fakeCap, framesOf } from './fake-cap.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SAMPLE = path.join(repoRoot, 'fixtures/sample.pcapng');
const TEMPLATE = JSON.parse(readFileSync(path.join(repoRoot, 'docs/siem/index-template.json'), 'utf8')) as {
  template: { mappings: { dynamic: string; properties: Record<string, Mapping> } };
};
const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-sensor-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Mapping {
  type?: string;
  properties?: Record<string, Mapping>;
}

/** Every leaf of an event must be a mapped field of the right type (the template is strict). */
function checkAgainstTemplate(ev: unknown, props: Record<string, Mapping> = TEMPLATE.template.mappings.properties, at = ''): string[] {
  const problems: string[] = [];
  if (ev === null || typeof ev !== 'object' || Array.isArray(ev)) return [`${at}: not an object`];
  for (const [k, v] of Object.entries(ev as Record<string, unknown>)) {
    const name = at ? `${at}.${k}` : k;
    const m = props[k];
    if (!m) {
      problems.push(`${name}: not in the template`);
      continue;
    }
    const values = Array.isArray(v) ? v : [v];
    for (const x of values) {
      if (m.properties) {
        problems.push(...checkAgainstTemplate(x, m.properties, name));
        continue;
      }
      if (x === null || x === undefined) {
        problems.push(`${name}: null`);
        continue;
      }
      const ok =
        m.type === 'keyword' || m.type === 'text' || m.type === 'match_only_text'
          ? typeof x === 'string'
          : m.type === 'long'
            ? Number.isInteger(x)
            : m.type === 'scaled_float' || m.type === 'float'
              ? typeof x === 'number' && Number.isFinite(x)
              : m.type === 'boolean'
                ? typeof x === 'boolean'
                : m.type === 'date'
                  ? typeof x === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(x)
                  : m.type === 'ip'
                    ? typeof x === 'string' && /^([\d.]+|[\da-f:]+)$/i.test(x)
                    : false;
      if (!ok) problems.push(`${name}: ${JSON.stringify(x)} is not a ${m.type}`);
    }
  }
  return problems;
}

function opts(o: Partial<LiveOptions>): LiveOptions {
  return { format: 'text', ports: [], iface: 'lo', sensor: true, ...o };
}

/** stdout that notes, for each event line, whether that connection's evidence file was already written. */
class Lines extends Writable {
  text = '';
  readonly evidenceAtLine: boolean[] = [];
  constructor(private readonly evidenceDir: string | null) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    const s = chunk.toString('utf8');
    this.text += s;
    for (const line of s.split('\n')) {
      const m = / FAILED (c\d+) /.exec(line);
      if (m && this.evidenceDir) this.evidenceAtLine.push(existsSync(path.join(this.evidenceDir, `${m[1]}.pcapng`)));
    }
    cb();
  }
}

describe('live --sensor (fake cap replaying the sample)', () => {
  it('a line per failure and its evidence as it ends, ECS events that fit the template, the ring, the summary', async () => {
    const { packets } = await framesOf(SAMPLE);
    const ev = path.join(tmp, 'evidence');
    const events = path.join(tmp, 'events.ndjson');
    const ringDir = mkdtempSync(path.join(tmp, 'ring-'));
    const { cap } = fakeCap(packets, { batch: 5 });
    const out = new Lines(ev);
    const err = new Collect();
    const code = await runLive(
      opts({ count: packets.length, ndjson: events, exportEvidence: ev, write: path.join(ringDir, 'rdp.pcap'), ring: '0.002:1000' }),
      out,
      { cap: () => cap, stderr: err },
    );
    // The ring: dumpcap names, read back as one capture. Live timestamps are arrival times (the replay
    // takes milliseconds), so the reference is what `analyze` says of the ring, not of the sample.
    const ring = readdirSync(ringDir).sort();
    expect(ring.length).toBeGreaterThan(3);
    for (const n of ring) expect(n).toMatch(/^rdp_\d{5}_\d{14}\.pcap$/);
    const back = await analyze(ring.map((n) => ({ kind: 'file', path: path.join(ringDir, n) })));
    expect(back.capture.fileSets?.[0]?.files).toHaveLength(ring.length);
    expect(back.capture.frames).toBe(packets.length);
    const failed = back.connections.filter((c) => c.outcome === 'failed');
    expect(failed.length).toBeGreaterThanOrEqual(3);
    expect(code).toBe(1);
    // One line per failure, as it ended: its evidence file existed when the line was written.
    const lines = out.text.split('\n').filter((l) => l.includes(' FAILED '));
    expect(lines).toHaveLength(failed.length);
    expect(out.evidenceAtLine).toEqual(failed.map(() => true));
    for (const f of failed) {
      const line = lines.find((l) => l.includes(` ${f.id} ${f.client} -> ${f.server} `));
      expect(line, f.id).toBeDefined();
      expect(line).toContain(`in ${f.died!.phase} (`);
      expect(line).toContain(`${f.findings[0]!.cause} ${Math.round(f.findings[0]!.confidence * 100)}%`);
    }
    // The summary at the end counts every attempt.
    const n = back.connections.length;
    expect(out.text).toContain(`${n} attempts, ${back.summary.completed} completed, ${failed.length} failed, ${back.summary.incompleteCapture} only partly captured.`);
    expect(out.text).toMatch(/Failures by cause: 2 port_not_listening/);
    expect(out.text).not.toContain('beyond the first');
    // ECS events: one per connection, each fitting the template's mappings.
    const evs = readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(evs).toHaveLength(n);
    for (const e of evs) expect(checkAgainstTemplate(e)).toEqual([]);
    const e0 = evs.find((e) => (e.rdp as { cause?: string }).cause === 'cert_expired')!;
    expect(e0).toMatchObject({
      event: { outcome: 'failure', kind: 'event' },
      destination: { ip: '10.20.0.15', port: 3389 },
      network: { transport: 'tcp', protocol: 'rdp', type: 'ipv4' },
      tls: { version: '1.2', version_protocol: 'tls', server: { x509: { not_after: '2025-03-01T08:00:00Z' } } },
      rule: { id: 'cert_expired' },
    });
    // Evidence written as failures ended holds the packets that evidence cut from the ring afterwards holds.
    const after = path.join(tmp, 'evidence-after');
    const ev2 = await exportEvidence(back, ring.map((r) => ({ kind: 'file', path: path.join(ringDir, r) })), after);
    expect(ev2.files.length).toBe(failed.length);
    // (The same packets; each packet's comment names the file its report names, the interface here, the ring files there.)
    for (const f of ev2.files) expect(await framesOf(path.join(ev, path.basename(f.file)))).toEqual(await framesOf(f.file));
  });

  it('--ring keeps only the last FILES files', async () => {
    const { packets } = await framesOf(SAMPLE);
    const dir = mkdtempSync(path.join(tmp, 'ring3-'));
    const { cap } = fakeCap(packets, { batch: 5 });
    await runLive(opts({ count: packets.length, write: path.join(dir, 'rdp.pcap'), ring: '0.002:3' }), new Collect(), { cap: () => cap, stderr: new Collect() });
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(3);
    // The newest numbers are the ones kept.
    const seqs = files.map((n) => Number(/_(\d{5})_/.exec(n)![1]));
    expect(seqs[2]! - seqs[0]!).toBe(2);
    expect(seqs[0]).toBeGreaterThan(1);
  });

  it('SIGUSR1 prints the running summary on stderr; --ndjson - puts ECS events on stdout, and the end a summary event', async () => {
    const { packets } = await framesOf(SAMPLE);
    const { cap } = fakeCap(packets, { batch: 1 });
    const out = new Collect();
    const err = new Collect();
    // No --count: the capture runs on after the replay until --duration.
    const run = runLive(opts({ ndjson: '-', duration: 1 }), out, { cap: () => cap, stderr: err });
    await new Promise((r) => setTimeout(r, 300));
    process.emit('SIGUSR1', 'SIGUSR1');
    expect(await run).toBe(1);
    expect(err.text).toMatch(/rdp-autopsy: Since \d{4}-.*: \d+ attempts?, /);
    const lines = out.text.trim().split('\n').map((l) => JSON.parse(l) as { event: { kind: string }; rdp: { summary?: { attempts: number; failed: number } } });
    expect(lines.filter((l) => l.event.kind === 'event')).toHaveLength(5);
    const last = lines.at(-1)!;
    expect(last.event.kind).toBe('metric');
    expect(last.rdp.summary).toMatchObject({ attempts: 5 });
    expect(last.rdp.summary!.failed).toBeGreaterThanOrEqual(3);
    for (const l of lines) expect(checkAgainstTemplate(l)).toEqual([]);
  });

  it('usage: --ring needs --write, --ndjson and --ring-memory go with --sensor', async () => {
    const { cap } = fakeCap([]);
    await expect(runLive(opts({ ring: '10:5' }), new Collect(), { cap: () => cap })).rejects.toThrow(/--ring needs --write/);
    await expect(runLive(opts({ sensor: false, ndjson: 'x' }), new Collect(), { cap: () => cap })).rejects.toThrow(/--ndjson goes with --sensor/);
    expect(() => parseRingSpec('10')).toThrow(/SIZE_MB:FILES/);
    expect(() => parseRingSpec('10:1')).toThrow(/at least 2 files/);
    expect(parseRingSpec('0.5:20')).toEqual({ fileBytes: 500_000, files: 20 });
    expect(ringFileName('/var/cap/rdp.pcap', 7, Date.UTC(2026, 11, 7, 3, 4, 5) / 1000)).toBe('/var/cap/rdp_00007_20261207030405.pcap');
  });
});

describe('drops and summaries', () => {
  it('an attempt during which the interface dropped packets says so, with a lower confidence', async () => {
    const { packets } = await framesOf(SAMPLE);
    const whole = await analyze([{ kind: 'file', path: SAMPLE }]);
    let counter = 0;
    const out = new Collect();
    const sensor = new Sensor({ iface: 'eth9', ringMemory: 1 << 20, version: 'test', now: () => 2_000_000_000, drops: () => counter }, out, new Collect());
    const c = structuredClone(whole.connections.find((x) => x.findings[0]?.cause === 'cert_expired')!) as ReportedConnection;
    // Counters went up while the attempt ran (the watch's interval covers the attempt's time).
    counter = 12;
    const w = sensor.drops;
    (w as unknown as { lastTime: number }).lastTime = c.start - 1;
    const before = c.findings[0]!.confidence;
    sensor.onConnection(c);
    expect(c.findings[0]!.confidence).toBeCloseTo(Math.round(before * 0.8 * 100) / 100, 5);
    expect(c.findings[0]!.confidenceReason).toContain('dropped 12 packets');
    expect(c.warnings.at(-1)!.message).toContain('dropped 12 packets');
    expect(sensor.summaryNow().join('\n')).toContain('12 packets dropped by eth9');
    void packets;
  });

  it('DropWatch: only increases count, a counter reset starts again, overlap by time', () => {
    let n = 100;
    const w = new DropWatch('x', 0, () => n);
    expect(w.poll(5)).toBe(0);
    n = 130;
    expect(w.poll(10)).toBe(30);
    n = 5; // interface reset
    expect(w.poll(15)).toBe(0);
    n = 7;
    expect(w.poll(20)).toBe(2);
    expect(w.dropsDuring(6, 9)).toBe(30);
    expect(w.dropsDuring(0, 4)).toBe(0);
    expect(w.dropsDuring(0, 100)).toBe(32);
    expect(new DropWatch('x', 0, () => null).available).toBe(false);
  });

  it('durations read as people say them', () => {
    expect(durationText(42)).toBe('42 s');
    expect(durationText(185)).toBe('3 min 5 s');
    expect(durationText(7440)).toBe('2 h 4 min');
    expect(durationText(3 * 86400 + 7200)).toBe('3 days 2 h');
  });

  it('the event line escapes control characters and keeps to one line', async () => {
    const whole = await analyze([{ kind: 'file', path: SAMPLE }]);
    const c = structuredClone(whole.connections.find((x) => x.outcome === 'failed')!) as ReportedConnection;
    c.findings[0] = { ...c.findings[0]!, summary: 'evil\nINJECTED 1970-01-01T00:00:00Z FAILED' };
    const line = eventLine(c);
    expect(line.split('\n')).toHaveLength(1);
    expect(line).toContain('evil\\u000aINJECTED');
    expect(checkAgainstTemplate(ecsEvent(c, { hostname: 'h', version: 'v', iface: null }))).toEqual([]);
  });

  it('rdp.logon_mode names the Restricted Admin / Remote Credential Guard flags, within the template', async () => {
    const r = await analyze([{ kind: 'file', path: path.join(repoRoot, 'fixtures/captures/restricted_admin_ended.pcap') }]);
    const e = ecsEvent(r.connections[0]!, { hostname: 'h', version: 'v', iface: null }) as { rdp: { logon_mode?: string[] } };
    expect(e.rdp.logon_mode).toEqual(['RESTRICTED_ADMIN_MODE_REQUIRED']);
    expect(checkAgainstTemplate(e)).toEqual([]);
    const plain = await analyze([{ kind: 'file', path: path.join(repoRoot, 'fixtures/captures/completed_idle_logon.pcap') }]);
    expect((ecsEvent(plain.connections[0]!, { hostname: 'h', version: 'v', iface: null }) as { rdp: { logon_mode?: string[] } }).rdp.logon_mode).toBeUndefined();
  });
});

describe('memory over a long run', () => {
  it('many thousand attempts through the sensor path: the heap stays flat', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const sensor = new Sensor({ iface: 'lo', ringMemory: 1 << 20, version: 'test', evidenceDir: undefined, drops: () => null }, new Writable({ write: (_c, _e, cb) => cb() }), new Collect());
    const analyzer = createAnalyzer({ name: 'replay', onConnection: (c) => sensor.onConnection(c), maxRecords: 0, streamContext: 64 });
    const view: FrameView = { buf: Buffer.alloc(0), off: 0, capLen: 0, origLen: 0, frame: 0, fileIndex: 0, ifIndex: 0, linkType: 1, tsSec: 0, tsNsec: 0, fileOffset: 0 };
    let frame = 0;
    const t0 = 1_780_000_000 * SEC;
    /** A batch of attempts of the kinds a sensor sees all day: refused, negotiation failures, silent servers. */
    const batch = (k: number, n: number): void => {
      const cap = new Capture();
      for (let i = 0; i < n; i++) {
        const id = k * n + i;
        const client = `10.${(id >> 16) & 255}.${(id >> 8) & 255}.${(id & 255) | 1}`;
        const s = new TcpSession(cap, {
          client: { ip: client, port: 40000 + (id % 20000) },
          server: { ip: `10.200.0.${1 + (id % 4)}`, port: 3389, ttl: 126 },
          start: t0 + id * 50 * MS,
          rtt: 2 * MS,
          clientIsn: id * 7919,
          serverIsn: id * 104729,
        });
        if (id % 3 === 0) s.synRst();
        else if (id % 3 === 1) {
          s.handshake();
          s.send('client', R.x224ConnectionRequest({ cookie: `user${id % 50}`, neg: { requestedProtocols: 0 } }));
          s.send('server', R.x224ConnectionConfirm({ type: 'failure', failureCode: 1 }), { delay: 1 * MS });
          s.fin('server', { peerFin: true });
        } else {
          s.handshake();
          s.send('client', R.x224ConnectionRequest({ cookie: 'svc', neg: { requestedProtocols: 3 } }));
          s.fin('client', { delay: 2 * SEC, peerFin: true });
        }
        s.done();
      }
      for (const r of cap.finish().records) {
        view.buf = Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength);
        view.capLen = r.data.length;
        view.origLen = r.origLen ?? r.data.length;
        view.frame = ++frame;
        view.tsSec = r.tsSec;
        view.tsNsec = r.tsNsec;
        analyzer.push(view);
      }
    };
    const heapAfter = (): number => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    for (let k = 0; k < 4; k++) batch(k, 500);
    const early = heapAfter();
    for (let k = 4; k < 16; k++) batch(k, 500);
    const late = heapAfter();
    analyzer.finish({ file: 'replay', fileIndex: 0, format: 'pcap', gzip: false, littleEndian: true, nanosecond: false, interfaces: [], frames: frame, bytes: 0, start: null, end: null, names: [], secrets: [], damage: null, warnings: [] });
    expect(sensor.summary.attempts).toBe(8000);
    expect(sensor.summary.failed).toBeGreaterThan(5000);
    // 6,000 more attempts leave the heap where 2,000 left it (within 6 MB: no per-attempt record kept;
    // a record is ~5 KB, so keeping them would add ~30 MB).
    expect(late - early).toBeLessThan(6 * 1024 * 1024);
  }, 600_000);

  it('SensorSummary keeps a bounded number of servers', () => {
    const s = new SensorSummary(0);
    for (let i = 0; i < 3000; i++) s.add({ server: `10.0.${i >> 8}.${i & 255}:3389`, outcome: 'failed', findings: [] } as unknown as ReportedConnection);
    expect(s.servers.size).toBeLessThanOrEqual(1001);
    expect(s.failed).toBe(3000);
  });
});

describe("libpcap's kernel drop counter (fake counters)", () => {
  async function certExpired(): Promise<ReportedConnection> {
    const whole = await analyze([{ kind: 'file', path: SAMPLE }]);
    return structuredClone(whole.connections.find((x) => x.findings[0]?.cause === 'cert_expired')!) as ReportedConnection;
  }

  it('kernel drops while an attempt ran lower its confidence and say so; the summaries and the ECS summary carry them', async () => {
    const c = await certExpired();
    let t = c.start - 1;
    let k = { packets: 0, drops: 0, freezeQueue: null as number | null };
    const err = new Collect();
    const out = new Collect();
    const sensor = new Sensor({ iface: 'lo', ringMemory: 1 << 20, version: 'test', now: () => t, drops: () => 0, ndjson: '-' }, out, err);
    sensor.attachKernelCounters(() => k, null);
    // The socket's buffer overflowed while the attempt ran.
    k = { packets: 500, drops: 9, freezeQueue: null };
    t = c.end + 1;
    const before = c.findings[0]!.confidence;
    sensor.onConnection(c);
    expect(c.findings[0]!.confidence).toBeCloseTo(Math.round(before * 0.8 * 100) / 100, 5);
    expect(c.findings[0]!.confidenceReason).toContain("the kernel dropped 9 packets of this capture while this attempt ran (libpcap's counter");
    expect(c.warnings.at(-1)!.message).toMatch(/^the kernel dropped 9 packets of this capture while this attempt ran .*frames of it may be missing$/);
    expect(err.text).toContain("rdp-autopsy: the kernel dropped 9 packets of this capture in the last 5 s (libpcap's counter: the capture's buffer was full; 9 since the start)");
    expect(sensor.summaryNow()).toContain("Kernel drops: 9 packets dropped by kernel, 500 received by filter (libpcap's counter) since the start.");
    // Its ECS event says how many were lost while it ran, within the template.
    const event = JSON.parse(out.text.trim()) as { rdp: { drops?: unknown; confidence: number } };
    expect(event.rdp.drops).toEqual({ kernel: 9 });
    expect(event.rdp.confidence).toBe(c.findings[0]!.confidence);
    expect(checkAgainstTemplate(event)).toEqual([]);
    const ev = JSON.parse(sensor.final({ warnings: [] } as unknown as Parameters<Sensor['final']>[0], 'ndjson')) as { rdp: { summary: Record<string, unknown> } };
    expect(ev.rdp.summary).toMatchObject({ interface_drops: 0, kernel_drops: 9, kernel_packets: 500 });
    expect(checkAgainstTemplate(ev)).toEqual([]);
  });

  it('drops before the attempt started are not its; interface and kernel drops together lower it once', async () => {
    const c = await certExpired();
    let t = c.start - 10;
    let k = { packets: 0, drops: 0, freezeQueue: null as number | null };
    let iface = 100;
    const sensor = new Sensor({ iface: 'lo', ringMemory: 1 << 20, version: 'test', now: () => t, drops: () => iface }, new Collect(), new Collect());
    sensor.attachKernelCounters(() => k, null);
    k = { packets: 50, drops: 4, freezeQueue: null };
    t = c.start - 5;
    sensor.pollDrops();
    t = c.end + 1;
    const before = c.findings[0]!.confidence;
    const d = structuredClone(c);
    sensor.onConnection(d);
    expect(d.findings[0]!.confidence).toBe(before);
    expect(d.warnings.some((w) => /dropped/.test(w.message))).toBe(false);
    // Both counters went up during the next one: two warnings, one lowering.
    t = c.start - 1;
    sensor.pollDrops();
    k = { packets: 80, drops: 6, freezeQueue: null };
    iface = 103;
    t = c.end + 1;
    const e = structuredClone(c);
    sensor.onConnection(e);
    expect(e.findings[0]!.confidence).toBeCloseTo(Math.round(before * 0.8 * 100) / 100, 5);
    const notes = e.warnings.filter((w) => /dropped/.test(w.message)).map((w) => w.message);
    expect(notes).toHaveLength(2);
    expect(notes[0]).toMatch(/^the interface dropped 3 packets while this attempt ran \(lo counters\)/);
    expect(notes[1]).toMatch(/^the kernel dropped 2 packets of this capture while this attempt ran/);
  });

  it('without the addon: "not counted" and why, and no kernel fields in the ECS summary', () => {
    const sensor = new Sensor({ iface: 'lo', ringMemory: 1 << 20, version: 'test', drops: () => null }, new Collect(), new Collect());
    sensor.attachKernelCounters(() => ({ packets: 1, drops: 1, freezeQueue: null }), 'the packet-stats addon is not built');
    expect(sensor.summaryNow()).toContain('Kernel drops: not counted (the packet-stats addon is not built).');
    expect(sensor.summaryNow()).toContain('Drops: lo exposes no interface drop counters.');
    const ev = JSON.parse(sensor.final({ warnings: [] } as unknown as Parameters<Sensor['final']>[0], 'ndjson')) as { rdp: { summary: Record<string, unknown> } };
    expect(ev.rdp.summary).not.toHaveProperty('kernel_drops');
    expect(checkAgainstTemplate(ev)).toEqual([]);
  });

  it('runLive: the sensor reads the socket the capture opened, to the end; plain live states the drops as tcpdump does and warns', async () => {
    const { packets } = await framesOf(SAMPLE);
    // --sensor
    {
      const { cap, log } = fakeCap(packets, { batch: 4 });
      const reader = (): PacketSocketStats[] => (log.opened.length > 0 ? [{ fd: 30, inode: 77, ifindex: 1, iface: 'lo', packets: 40 + log.closed, drops: 3 + log.closed, freezeQueue: null }] : []);
      const out = new Collect();
      const code = await runLive(opts({ count: packets.length }), out, { cap: () => cap, stderr: new Collect(), packetStats: { reader, unavailable: null } });
      expect(code).toBe(1);
      // Read before the socket closed (a reading after close would have said 4 of 41).
      expect(out.text).toContain("Kernel drops: 3 packets dropped by kernel, 40 received by filter (libpcap's counter) since the start.");
    }
    // plain live
    {
      const { cap, log } = fakeCap(packets, { batch: 4 });
      const reader = (): PacketSocketStats[] => (log.opened.length > 0 ? [{ fd: 30, inode: 78, ifindex: 1, iface: 'lo', packets: 40, drops: 3, freezeQueue: null }] : []);
      const out = new Collect();
      const err = new Collect();
      await runLive(opts({ sensor: false, count: packets.length, format: 'json' }), out, { cap: () => cap, stderr: err, packetStats: { reader, unavailable: null } });
      expect(err.text).toContain("rdp-autopsy: 3 packets dropped by kernel, 40 received by filter (libpcap's counter)\n");
      const report = JSON.parse(out.text) as { warnings: string[] };
      expect(report.warnings).toContainEqual(expect.stringMatching(/^the kernel dropped 3 of the 40 packets the capture filter passed \(libpcap's counter/));
    }
    // plain live, no addon
    {
      const { cap } = fakeCap(packets, { batch: 4 });
      const out = new Collect();
      const err = new Collect();
      await runLive(opts({ sensor: false, count: packets.length, format: 'json' }), out, { cap: () => cap, stderr: err, packetStats: { reader: null, unavailable: 'the packet-stats addon is not built' } });
      expect(err.text).toContain('rdp-autopsy: kernel drops not counted (the packet-stats addon is not built)\n');
      expect((JSON.parse(out.text) as { warnings: string[] }).warnings.some((w) => /kernel dropped/.test(w))).toBe(false);
    }
  });
});

describe('docs/sensor.md', () => {
  it('its field table lists every field of the index template, with its type, and nothing else', () => {
    const leaves = (props: Record<string, Mapping>, prefix = ''): string[] =>
      Object.entries(props).flatMap(([k, v]) => (v.properties ? leaves(v.properties, `${prefix}${k}.`) : [`${prefix}${k} ${v.type}`]));
    const doc = readFileSync(path.join(repoRoot, 'docs/sensor.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| `([^`]+)` \| ([a-z_]+) \|/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(rows.sort()).toEqual(leaves(TEMPLATE.template.mappings.properties).sort());
    expect(TEMPLATE.template.mappings.dynamic).toBe('strict');
  });
});

describe('live --sensor with --keylog (issue 13)', () => {
  it("decrypts as it captures, and a failure's evidence pcapng carries that connection's keys in a DSB", async () => {
    const name = 'keylog_nla_logon_failure';
    const keylogPath = path.join(repoRoot, 'fixtures/captures', `${name}.keylog`);
    const text = readFileSync(keylogPath, 'latin1');
    const { packets } = await framesOf(path.join(repoRoot, 'fixtures/captures', `${name}.pcapng`));
    const ev = mkdtempSync(path.join(tmp, 'evidence-keys-'));
    const { cap } = fakeCap(packets, { batch: 7 });
    const out = new Lines(ev);
    const code = await runLive(opts({ count: packets.length, exportEvidence: ev, keyLogs: [{ name: keylogPath, text }] }), out, { cap: () => cap, stderr: new Collect() });
    expect(code).toBe(1);
    expect(out.text).toContain('STATUS_LOGON_FAILURE');
    const files = readdirSync(ev).filter((f) => f.endsWith('.pcapng'));
    expect(files).toHaveLength(1);
    const again = await analyze([{ kind: 'file', path: path.join(ev, files[0]!) }], { jobs: 1 });
    const c = again.connections[0]!;
    expect(c.tls!.decryption!.status).toBe('decrypted');
    expect(c.credssp!.errorName).toBe('STATUS_LOGON_FAILURE');
    expect(again.warnings.some((w) => w.startsWith('TLS secrets for 1 session from Decryption Secrets Block'))).toBe(true);
  });
});
