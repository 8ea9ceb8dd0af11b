// The live source (src/capture/live.ts) and `runLive` without libpcap: a fake `cap` module replays
// the frames of the project's fixture captures the way cap delivers them (one reused buffer,
// 'packet' events with the byte count), so the live path is checked against `analyze` on the same
// bytes, as any user, without root.
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  CAP_UNAVAILABLE,
  LiveCaptureError,
  capLinkType,
  classifyOpenError,
  listDevices,
  loadCap,
  startLiveCapture,
  type CapModule,
} from '../../src/capture/live.js';
import { LinkType, type FrameView } from '../../src/capture/types.js';
import { Collect, DEVICES, fakeCap, framesOf } from './fake-cap.js';
import { UsageError } from '../../src/cli/errors.js';
import { bpfFilter, checkLiveOptions, formatDeviceList, runLive, type LiveOptions } from '../../src/cli/live.js';
import { analyze } from '../../src/pipeline.js';
import { renderJson } from '../../src/report/json.js';
import type { Report } from '../../src/report/types.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIX = path.join(repoRoot, 'fixtures/captures');
const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-live-src-'));

const CAP_NAME: Record<number, string> = {
  [LinkType.ETHERNET]: 'ETHERNET',
  [LinkType.RAW]: 'RAW',
  [LinkType.NULL]: 'NULL',
  [LinkType.LINUX_SLL]: 'LINKTYPE_LINUX_SLL',
};

function liveOpts(o: Partial<LiveOptions>): LiveOptions {
  return { format: 'json', ports: [], ...o };
}

describe('capLinkType: cap link type names to LINKTYPE_*', () => {
  it.each([
    ['NULL', 0],
    ['ETHERNET', 1],
    ['RAW', 101],
    ['LINKTYPE_LINUX_SLL', 113],
    ['IEEE802_11_RADIO', 127],
    ['Unknown linktype 276', 276],
    ['Unknown linktype 228', 228],
    ['Unknown linktype 9', 9],
    ['Unknown linktype 50', 50],
    ['Unknown linktype 12', 101],
    ['Unknown linktype 14', 101],
  ])('%s -> %i', (name, lt) => {
    expect(capLinkType(name)).toBe(lt);
  });

  it.each(['Unknown linktype 11', 'Unknown linktype 99', 'Unknown linktype 99999', 'Unknown linktype -1', 'ethernet', ''])('%j -> null', (name) => {
    expect(capLinkType(name)).toBeNull();
  });
});

describe('classifyOpenError: libpcap messages to one line for the user', () => {
  it('permission: says root or CAP_NET_RAW', () => {
    const e = classifyOpenError('lo', 'f', 'socket: Operation not permitted');
    expect(e.kind).toBe('permission');
    expect(e.message).toMatch(/^cannot capture on lo: permission denied \(socket: Operation not permitted\); run as root or give CAP_NET_RAW/);
    expect(classifyOpenError('eth0', 'f', "eth0: You don't have permission to capture on that device").kind).toBe('permission');
  });

  it('no such device', () => {
    const e = classifyOpenError('nosuch0', 'f', 'No such device exists');
    expect(e.kind).toBe('no_such_interface');
    expect(e.message).toBe('no such interface "nosuch0" (rdp-autopsy live --list shows them)');
  });

  it('filter syntax', () => {
    const e = classifyOpenError('lo', 'tcp port', "can't parse filter expression: syntax error");
    expect(e.kind).toBe('filter');
    expect(e.message).toBe('invalid capture filter "tcp port": can\'t parse filter expression: syntax error');
  });

  it('anything else names the interface and libpcap text', () => {
    const e = classifyOpenError('eth0', 'f', 'eth0: That device is not up');
    expect(e.kind).toBe('failed');
    expect(e.message).toBe('cannot capture on eth0: eth0: That device is not up');
  });

  it('every message is one line', () => {
    for (const m of ['a\nb', 'Operation not permitted', 'syntax error', 'No such device exists']) {
      expect(classifyOpenError('lo', 'x', m.split('\n')[0]!).message).not.toContain('\n');
    }
  });
});

describe('loadCap', () => {
  it('a module that cannot be loaded: "unavailable" with the install hint', () => {
    let err: unknown;
    try {
      loadCap(path.join(tmp, 'no-such-cap-module'));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LiveCaptureError);
    expect((err as LiveCaptureError).kind).toBe('unavailable');
    expect((err as Error).message.startsWith(CAP_UNAVAILABLE)).toBe(true);
    expect((err as Error).message).not.toContain('\n');
  });

  it('a module without a Cap class: "unavailable"', () => {
    expect(() => loadCap('node:path')).toThrow(LiveCaptureError);
  });
});

describe('listDevices / formatDeviceList', () => {
  it('names, addresses, loopback flag, description', () => {
    const { cap } = fakeCap([]);
    expect(listDevices(cap)).toEqual([
      { name: 'eth0', description: null, addresses: ['192.0.2.2', 'fe80::1'], loopback: false },
      { name: 'lo', description: null, addresses: ['127.0.0.1', '::1'], loopback: true },
      { name: 'any', description: 'Pseudo-device that captures on all interfaces', addresses: [], loopback: false },
    ]);
    expect(formatDeviceList(cap)).toBe(
      'eth0  192.0.2.2, fe80::1\nlo  127.0.0.1, ::1  (loopback)\nany  (Pseudo-device that captures on all interfaces)\n',
    );
  });

  it('a deviceList that throws: LiveCaptureError, one line', () => {
    const cap = {
      Cap: Object.assign(function () {}, {
        deviceList: () => {
          throw new Error('pcap_findalldevs failed\nmore');
        },
      }),
    } as unknown as CapModule;
    expect(() => listDevices(cap)).toThrow('cannot list interfaces: pcap_findalldevs failed');
  });
});

describe('bpfFilter and option checks', () => {
  it('extra ports once each, 3389 first', () => {
    expect(bpfFilter([3390, 3390, 3389, 13389])).toBe(
      'tcp port 3389 or udp port 3389 or tcp port 3390 or udp port 3390 or tcp port 13389 or udp port 13389 or tcp port 443 or udp port 3391 or icmp or icmp6 or udp port 53',
    );
  });

  it.each<[Partial<LiveOptions>, RegExp]>([
    [{}, /^live needs an interface: -i <iface>/],
    [{ iface: '' }, /^live needs an interface/],
    [{ iface: 'lo', count: 2.5 }, /^invalid count "2.5"/],
    [{ iface: 'lo', count: 0 }, /^invalid count "0"/],
    [{ iface: 'lo', duration: 0 }, /^invalid duration "0"/],
    [{ iface: 'lo', duration: 1e9 }, /^invalid duration/],
    [{ iface: 'lo', filter: '  ' }, /^--filter is empty/],
    [{ iface: 'lo', format: 'xml' }, /^unknown format "xml"/],
  ])('%j is a usage error', (o, re) => {
    expect(() => checkLiveOptions(liveOpts(o))).toThrow(UsageError);
    expect(() => checkLiveOptions(liveOpts(o))).toThrow(re);
  });

  it('--list needs no interface', () => {
    expect(() => checkLiveOptions(liveOpts({ list: true }))).not.toThrow();
  });
});

describe('startLiveCapture (fake cap)', () => {
  const pkts = [Buffer.alloc(60, 1), Buffer.alloc(1514, 2), Buffer.alloc(42, 3), Buffer.alloc(100, 4)];

  it('FrameViews: frames from 1, offsets of a classic pcap, one reused view and buffer, valid timestamps', async () => {
    const { cap, log } = fakeCap(pkts, { batch: 2 });
    const seen: { frame: number; off: number; capLen: number; fileOffset: number; first: number; tsSec: number; tsNsec: number; view: FrameView }[] = [];
    const before = Date.now() / 1000;
    const live = startLiveCapture(cap, { iface: 'lo', filter: 'tcp', fileIndex: 2 }, {
      onFrame(v) {
        expect(v.fileIndex).toBe(2);
        expect(v.linkType).toBe(LinkType.ETHERNET);
        expect(v.origLen).toBe(v.capLen);
        seen.push({ frame: v.frame, off: v.off, capLen: v.capLen, fileOffset: v.fileOffset, first: v.buf[v.off]!, tsSec: v.tsSec, tsNsec: v.tsNsec, view: v });
      },
    });
    expect(log.opened).toEqual([{ device: 'lo', filter: 'tcp', bufSize: 16 * 1024 * 1024 }]);
    expect(live.linkType).toBe(LinkType.ETHERNET);
    await new Promise((r) => setTimeout(r, 20));
    const info = live.stop();
    const after = Date.now() / 1000;
    expect(seen.map((s) => [s.frame, s.off, s.capLen, s.first])).toEqual([
      [1, 0, 60, 1],
      [2, 0, 1514, 2],
      [3, 0, 42, 3],
      [4, 0, 100, 4],
    ]);
    expect(seen.map((s) => s.fileOffset)).toEqual([24, 24 + 16 + 60, 24 + 32 + 60 + 1514, 24 + 48 + 60 + 1514 + 42]);
    expect(new Set(seen.map((s) => s.view)).size).toBe(1);
    for (const s of seen) {
      expect(Number.isInteger(s.tsNsec) && s.tsNsec >= 0 && s.tsNsec <= 999_999_999).toBe(true);
      const t = s.tsSec + s.tsNsec / 1e9;
      expect(t).toBeGreaterThanOrEqual(before - 0.01);
      expect(t).toBeLessThanOrEqual(after + 0.01);
    }
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]!.tsSec + seen[i]!.tsNsec / 1e9).toBeGreaterThanOrEqual(seen[i - 1]!.tsSec + seen[i - 1]!.tsNsec / 1e9);
    }
    expect(info).toMatchObject({ iface: 'lo', linkType: 1, frames: 4, bytes: 24 + 4 * 16 + 60 + 1514 + 42 + 100, truncated: 0 });
    expect(info.start).not.toBeNull();
    expect(info.end! >= info.start!).toBe(true);
  });

  it('stop() inside onFrame: no frame after it, even from the same batch; close once; idempotent', async () => {
    const { cap, log } = fakeCap(pkts, { batch: 10 });
    const frames: number[] = [];
    let live: ReturnType<typeof startLiveCapture> | null = null;
    live = startLiveCapture(cap, { iface: 'lo', filter: '' }, {
      onFrame(v) {
        frames.push(v.frame);
        if (v.frame === 2) live!.stop();
      },
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(frames).toEqual([1, 2]);
    expect(live.stopped).toBe(true);
    expect(live.stop().frames).toBe(2);
    expect(log.closed).toBe(1);
  });

  it('a packet longer than the buffer is counted as truncated', async () => {
    const { cap } = fakeCap([Buffer.alloc(70000, 9)]);
    const lens: number[] = [];
    const live = startLiveCapture(cap, { iface: 'lo', filter: '' }, { onFrame: (v) => lens.push(v.capLen) });
    await new Promise((r) => setTimeout(r, 20));
    expect(lens).toEqual([65535]);
    expect(live.stop().truncated).toBe(1);
  });

  it('an interface not in the device list: no_such_interface, open() never called', () => {
    const { cap, log } = fakeCap([]);
    expect(() => startLiveCapture(cap, { iface: 'nosuch0', filter: '' }, { onFrame() {} })).toThrow(
      'no such interface "nosuch0" (rdp-autopsy live --list shows them)',
    );
    expect(log.opened).toHaveLength(0);
  });

  it('open() failing: classified, and close() is NOT called on the half-open handle (cap aborts on it)', () => {
    const { cap, log } = fakeCap([], { openError: 'socket: Operation not permitted' });
    let err: unknown;
    try {
      startLiveCapture(cap, { iface: 'lo', filter: '' }, { onFrame() {} });
    } catch (e) {
      err = e;
    }
    expect((err as LiveCaptureError).kind).toBe('permission');
    expect(log.closed).toBe(0);
  });

  it('an unknown link type: link_type error, the handle closed', () => {
    const { cap, log } = fakeCap([], { linkName: 'Unknown linktype 11' });
    expect(() => startLiveCapture(cap, { iface: 'lo', filter: '' }, { onFrame() {} })).toThrow(
      'cannot capture on lo: link type not supported (Unknown linktype 11)',
    );
    expect(log.closed).toBe(1);
  });
});

/** What must not depend on whether frames came from a file or from libpcap. */
function verdicts(r: Report): unknown[] {
  return r.connections.map((c) => ({
    client: c.client,
    server: c.server,
    outcome: c.outcome,
    reached: c.reached,
    died: c.died ? { phase: c.died.phase, how: c.died.how, by: c.died.by, frame: c.died.frame } : null,
    negotiation: c.negotiation,
    frames: c.timeline.map((t) => [t.frame, t.direction, t.event]),
    causes: c.findings.map((f) => [f.cause, f.frames]),
  }));
}

// Fixtures whose verdicts do not depend on the time between packets (the replay has live timestamps).
const REPLAYED = ['port_not_listening.pcap', 'nla_mismatch.pcap', 'security_layer_mismatch.pcap', 'cert_expired_alert.pcap', 'completed_standard_rdp.pcap'];

describe('runLive over a replayed capture (fake cap) = analyze over the file', () => {
  it.each(REPLAYED)('%s', async (name) => {
    const file = path.join(FIX, name);
    if (!existsSync(file)) throw new Error(`fixture missing: ${file}`);
    const { packets, linkType } = await framesOf(file);
    const { cap, log } = fakeCap(packets, { linkName: CAP_NAME[linkType] });
    const out = new Collect();
    const err = new Collect();
    const written = path.join(tmp, `${name}.live.pcap`);
    const code = await runLive(
      liveOpts({ iface: 'lo', count: packets.length, duration: 30, ports: [3390], write: written }),
      out,
      { cap: () => cap, stderr: err },
    );
    const live = JSON.parse(out.text) as Report;
    const fromFile = await analyze([{ kind: 'file', path: file }], { rdpPorts: [3390] });
    expect(verdicts(live)).toEqual(verdicts(fromFile));
    expect(live.connections.length).toBeGreaterThan(0);
    expect(live.capture.frames).toBe(packets.length);
    expect(code).toBe(fromFile.summary.failed > 0 ? 1 : 0);
    expect(log.opened[0]!.filter).toBe(bpfFilter([3390]));
    expect(log.closed).toBe(1);
    expect(err.text).toMatch(new RegExp(`^rdp-autopsy: capturing on lo \\(${linkType === 1 ? 'ETHERNET' : '\\w+'}, filter: tcp port 3389 `));
    expect(err.text).toContain(`rdp-autopsy: captured ${packets.length} packets on lo in `);
    expect(err.text).toContain(`saved to ${written}`);
    // --write: the same bytes, frame for frame.
    const back = await framesOf(written);
    expect(back.linkType).toBe(linkType);
    expect(back.packets).toEqual(packets);
  });

  it('--count stops at exactly N frames; -o writes the report; no file written; the report names the interface', async () => {
    const { packets, linkType } = await framesOf(path.join(FIX, 'nla_mismatch.pcap'));
    const { cap } = fakeCap(packets, { linkName: CAP_NAME[linkType], batch: 50 });
    const report = path.join(tmp, 'count.json');
    const err = new Collect();
    const code = await runLive(liveOpts({ iface: 'lo', count: 3, output: report }), new Collect(), { cap: () => cap, stderr: err });
    const r = JSON.parse(readFileSync(report, 'utf8')) as Report;
    expect(r.capture.frames).toBe(3);
    expect(err.text).toContain('captured 3 packets on lo');
    expect(r.capture.files.map((f) => f.file)).toEqual(['live:lo']);
    expect(r.capture.files[0]!.format).toBe('pcap');
    expect(r.capture.files[0]!.bytes).toBe(24 + packets.slice(0, 3).reduce((a, p) => a + 16 + p.length, 0));
    expect(code === 0 || code === 1).toBe(true);
  });

  it('--write: the report equals analyze over the written file (same name, frames, times, findings)', async () => {
    const { packets, linkType } = await framesOf(path.join(FIX, 'cert_expired_alert.pcap'));
    const { cap } = fakeCap(packets, { linkName: CAP_NAME[linkType] });
    const out = new Collect();
    const written = path.join(tmp, 'same.pcap');
    await runLive(liveOpts({ iface: 'lo', count: packets.length, write: written }), out, { cap: () => cap, stderr: new Collect() });
    // The JSON writer states the detail level it wrote (a member of the written report, not of analyze's value).
    const { detail, ...live } = JSON.parse(out.text) as Report & { detail: { level: string } };
    expect(detail.level).toBe('full');
    // Compared with the JSON of analyze over the file (with the ISO twins of its times), without its own detail member.
    const { detail: _fileDetail, ...fromFile } = JSON.parse(renderJson(await analyze([{ kind: 'file', path: written }]))) as Report & { detail: unknown };
    expect(live.capture.files[0]!.file).toBe(written);
    expect(live).toEqual(fromFile);
  });

  it('--format ndjson streams a connection while the capture is still running', async () => {
    // A connection that carried data (a refused one without a byte is held to the end of the run, in
    // case it is a health check or a scan: issue 18's probes).
    const { packets, linkType } = await framesOf(path.join(FIX, 'nla_mismatch.pcap'));
    // Frames in batches: the negotiation failure ends the connection well before SIGINT ends the capture.
    const { cap } = fakeCap(packets, { linkName: CAP_NAME[linkType], batch: 1 });
    const out = new Collect();
    const run = runLive(liveOpts({ iface: 'lo', format: 'ndjson' }), out, { cap: () => cap, stderr: new Collect() });
    let waited = 0;
    while (!out.text.includes('"type":"connection"') && waited < 5000) {
      await new Promise((r) => setTimeout(r, 20));
      waited += 20;
    }
    const duringCapture = out.text;
    process.emit('SIGINT', 'SIGINT');
    expect(await run).toBe(1);
    const first = JSON.parse(duringCapture.split('\n')[0]!) as { type: string; file: string; outcome: string; id: string };
    expect(first).toMatchObject({ type: 'connection', file: 'live:lo', outcome: 'failed', id: 'c1' });
    expect(duringCapture).not.toContain('"type":"summary"');
    const lines = out.text.trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(lines.at(-1)!.type).toBe('summary');
  });

  it('--duration with no packet: an empty report, exit 0', async () => {
    const { cap } = fakeCap([]);
    const out = new Collect();
    const code = await runLive(liveOpts({ iface: 'any', duration: 0.2, format: 'json' }), out, { cap: () => cap, stderr: new Collect() });
    const r = JSON.parse(out.text) as Report;
    expect(code).toBe(0);
    expect(r.connections).toEqual([]);
    expect(r.capture.frames).toBe(0);
  });

  it('SIGINT stops the capture and the report follows', async () => {
    const { packets, linkType } = await framesOf(path.join(FIX, 'port_not_listening.pcap'));
    const { cap } = fakeCap(packets, { linkName: CAP_NAME[linkType] });
    const out = new Collect();
    const err = new Collect();
    const run = runLive(liveOpts({ iface: 'lo', format: 'json' }), out, { cap: () => cap, stderr: err });
    await new Promise((r) => setTimeout(r, 100));
    expect(err.text).toContain('stops after Ctrl-C');
    process.emit('SIGINT', 'SIGINT');
    const code = await run;
    expect(code).toBe(1);
    const r = JSON.parse(out.text) as Report;
    expect(r.capture.frames).toBe(packets.length);
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('--list prints the interfaces, exit 0, nothing opened', async () => {
    const { cap, log } = fakeCap([]);
    const out = new Collect();
    expect(await runLive(liveOpts({ list: true }), out, { cap: () => cap })).toBe(0);
    expect(out.text).toContain('lo  127.0.0.1, ::1  (loopback)\n');
    expect(log.opened).toHaveLength(0);
  });

  it.each<[string, Parameters<typeof fakeCap>[1], Partial<LiveOptions>, string]>([
    ['open fails (permission)', { openError: 'socket: Operation not permitted' }, {}, 'cannot capture on lo: permission denied'],
    ['bad filter', { openError: "can't parse filter expression: syntax error" }, { filter: 'tcp port' }, 'invalid capture filter "tcp port"'],
    ['unsupported link type', { linkName: 'Unknown linktype 147' }, {}, 'cannot analyse lo: link type'],
    ['unknown interface', {}, { iface: 'nosuch0' }, 'no such interface "nosuch0"'],
    ['--write into a missing folder', {}, { write: path.join(tmp, 'missing', 'x.pcap') }, `cannot write ${path.join(tmp, 'missing', 'x.pcap')}: ENOENT`],
  ])('%s: UsageError (exit 2), capture not left open', async (_name, fo, o, msg) => {
    const { cap, log } = fakeCap([Buffer.alloc(60)], fo);
    const p = runLive(liveOpts({ iface: 'lo', duration: 5, ...o }), new Collect(), { cap: () => cap, stderr: new Collect() });
    await expect(p).rejects.toThrow(UsageError);
    await expect(p).rejects.toThrow(msg);
    if (log.opened.length > 0 && fo?.openError === undefined) expect(log.closed).toBe(1);
    expect(process.listenerCount('SIGINT')).toBe(0);
  });

  it('cap cannot be loaded: the install hint', async () => {
    const p = runLive(liveOpts({ iface: 'lo' }), new Collect(), {
      cap: () => loadCap(path.join(tmp, 'no-such-cap-module')),
    });
    await expect(p).rejects.toThrow(UsageError);
    await expect(p).rejects.toThrow(CAP_UNAVAILABLE);
  });
});
