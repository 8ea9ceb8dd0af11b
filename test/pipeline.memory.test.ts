// Memory hygiene of the pipeline (docs/architecture.md "Performance", memory items): a finished
// connection's record keeps no view into the reader's chunk, compaction changes no value, a
// reported connection has the record's keys in the record's order.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readCapture } from '../src/capture/index.js';
import type { FrameView } from '../src/capture/types.js';
import { analyze, createAnalyzer, reported } from '../src/pipeline.js';
import { filePart } from '../src/pipeline/read.js';
import { mergeParts } from '../src/pipeline/merge.js';
import { fullCollection } from '../src/cli/heap.js';
import { RecordPacker, StringInterner, compactAndPack, compactRecord, flatString, flattenStrings, flowWithId, isPackedField, packRecord } from '../src/handshake/compact.js';
import fc from 'fast-check';
import type { CertificateInfo, ConnectionRecord } from '../src/handshake/types.js';
import { ConnectionMachine } from '../src/handshake/machine.js';
import { emptyTls } from '../src/handshake/tls-track.js';
import { emptyNegotiation } from '../src/handshake/x224-track.js';
import { emptyMcs } from '../src/handshake/slow-path-track.js';
import { FlowTable } from '../src/flow/table.js';
import { DecodedPacket, decodePacket } from '../src/net/index.js';
import { frameTime } from '../src/capture/types.js';
import { UdpMachine } from '../src/handshake/udp.js';
import { newFlowFacts } from '../src/flow/facts.js';
import { rdpudpSyn } from '../fixtures/lib/rdp-bytes.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CAPTURES = path.join(repoRoot, 'fixtures/captures');
const json = (x: unknown): string => JSON.stringify(x);

async function fixtureRecords(): Promise<ConnectionRecord[]> {
  const out: ConnectionRecord[] = [];
  for (const file of readdirSync(CAPTURES).filter((n) => /\.pcap(ng)?$/.test(n))) {
    const pkt = new DecodedPacket();
    let n = 0;
    const keep = (rec: ConnectionRecord): void => void out.push(rec);
    const table = new FlowTable({ rdpPorts: [3389] }, (facts) =>
      facts.transport === 'tcp'
        ? new ConnectionMachine(facts, { id: `c${++n}`, file, fileIndex: 0, onRecord: keep })
        : new UdpMachine(facts, { id: `c${++n}`, file, fileIndex: 0, onRecord: keep }),
    );
    let end = 0;
    await readCapture({ kind: 'file', path: path.join(CAPTURES, file) }, 0, {
      onFrame(v: FrameView): void {
        decodePacket(v.buf, v.off, v.capLen, v.linkType, pkt);
        end = Math.max(end, frameTime(v));
        table.handle(pkt, v.frame, frameTime(v), 0);
      },
    });
    table.finish(end, 0);
  }
  return out;
}

describe('no record keeps a view into the read chunk', () => {
  // Every frame is copied into one scratch buffer, analysed, and the scratch is overwritten before
  // the next frame: a record holding a Buffer view of packet bytes (a cookie, a routing token, a
  // certificate's DER, TLS record bytes) would read the overwritten bytes and the report would differ.
  const files = [
    path.join(repoRoot, 'fixtures/sample.pcapng'),
    ...readdirSync(CAPTURES)
      .filter((n) => /\.pcap(ng)?(\.gz)?$/.test(n))
      .map((n) => path.join(CAPTURES, n)),
  ];
  it.each(files.map((f) => [path.basename(f), f]))('%s', async (_name, file) => {
    // The TLS secrets a pcapng carries (Decryption Secrets Blocks) reach analyze() through its reader;
    // the push-based analyzer gets them as a key log, as `live --keylog` gives them.
    const keyLogs: { name: string; text: string }[] = [];
    await readCapture({ kind: 'file', path: file }, 0, { onFrame: () => undefined, onSecrets: (s) => void keyLogs.push({ name: `Decryption Secrets Block in ${file}`, text: Buffer.from(s.data).toString('latin1') }) });
    const a = createAnalyzer({ name: file, keyLogs });
    const scratch = Buffer.alloc(1 << 18);
    const view: FrameView = { ...({} as FrameView) };
    const info = await readCapture({ kind: 'file', path: file }, 0, {
      onFrame(v: FrameView): void {
        v.buf.copy(scratch, 0, v.off, v.off + v.capLen);
        Object.assign(view, v);
        view.buf = scratch;
        view.off = 0;
        a.push(view);
        scratch.fill(0xa5, 0, v.capLen);
      },
    });
    const overwritten = a.finish(info);
    const plain = await analyze([{ kind: 'file', path: file }], { jobs: 1 });
    expect(json(overwritten)).toBe(json(plain));
  });

  it('the set has cookies and certificates to lose', async () => {
    const r = await analyze(files.map((f) => ({ kind: 'file' as const, path: f })), { jobs: 1 });
    expect(r.connections.some((c) => (c.negotiation?.cookie ?? '').length > 0)).toBe(true);
    expect(r.connections.some((c) => (c.tls?.certificates.length ?? 0) > 0)).toBe(true);
  });
});

describe('a finished connection does not keep its machine', () => {
  // In a child process with --expose-gc: every ConnectionMachine that ended is watched through a
  // WeakRef while the run is still open (frames pushed, finish() not yet called); after a full GC
  // none may be alive (the run used to keep the latest machine of every client/server pair, with its
  // trackers and buffers, for RDPEUDP side channels).
  it('no ended machine survives a full GC while the run goes on', () => {
    const names = ['security_layer_mismatch_retry.pcap', 'server_unresponsive_many.pcap', 'completed_tls_nla.pcap', 'udp_side_channel.pcap', 'cert_expired.pcapng'];
    const src = (f: string): string => JSON.stringify(path.join(repoRoot, 'src', f));
    const code = `
      import { ConnectionMachine } from ${src('handshake/machine.ts')};
      import { createAnalyzer } from ${src('pipeline.ts')};
      import { readCapture } from ${src('capture/index.ts')};
      const refs = [];
      const onEnd = ConnectionMachine.prototype.onEnd;
      ConnectionMachine.prototype.onEnd = function (...a) { refs.push(new WeakRef(this)); return onEnd.apply(this, a); };
      const out = [];
      for (const file of ${JSON.stringify(names.map((n) => path.join(CAPTURES, n)))}) {
        refs.length = 0;
        const a = createAnalyzer({ name: file });
        const info = await readCapture({ kind: 'file', path: file }, 0, { onFrame: (v) => a.push(v) });
        await new Promise((r) => setTimeout(r, 0));
        gc();
        out.push({ ended: refs.length, alive: refs.filter((r) => r.deref() !== undefined).length });
        a.finish(info);
      }
      console.log(JSON.stringify(out));
    `;
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', code], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout.trim()) as { ended: number; alive: number }[];
    expect(res.reduce((n, x) => n + x.ended, 0)).toBeGreaterThanOrEqual(8);
    expect(res.map((x) => x.alive)).toEqual(names.map(() => 0));
  });
});

describe('compactRecord', () => {
  function grown<T>(...xs: T[]): T[] {
    const a: T[] = [];
    for (const x of xs) a.push(x);
    return a;
  }
  const built = (...parts: string[]): string => parts.reduce((a, b) => a + b, '');
  /** A record of the real shape, every list that compaction copies grown by push(). */
  function record(): ConnectionRecord {
    const cert = Object.freeze({ subject: 'CN=' + 'x'.repeat(20), san: Object.freeze(['a']) }) as unknown as CertificateInfo;
    const sideChannels = [{ transport: 'udp' as const, client: 'c', server: 's', synFrame: 1, synAckFrame: null, synexVersion: null, answered: false, datagrams: { client: 1, server: 0 } }];
    const detail = built('Cookie: ', 'mstshash=', 'someone', ', RDP_NEG_REQ');
    const flow = newFlowFacts(7, 'tcp', 0, 4, { ip: built('192.168.', '100.200'), port: 50000 }, { ip: built('10.0.', '0.2'), port: 3389 }, 'syn', 1, 1.5);
    const tcp = flow.tcp!;
    tcp.synFrames = grown(1, 3);
    tcp.synAckFrames = grown(2);
    tcp.retransmissionFrames = [grown(5), []];
    tcp.retransmissions = [1, 0];
    tcp.fins = grown({ dir: 0 as const, frame: 9, time: 2 });
    tcp.rsts = grown({ dir: 1 as const, frame: 10, time: 2.1, ttl: 64, answersSyn: false });
    tcp.ttl = [128, 64];
    tcp.ttlsSeen = [grown(128), grown(64, 63)];
    tcp.lostSegments = grown({ dir: 0 as const, frame: 4, retransmitFrames: grown(5, 6), length: 1460, acked: false });
    tcp.rtt = [{ count: 1, min: 0.01, median: 0.01, max: 0.01 }, null];
    flow.icmp = grown({ frame: 11, time: 2.2, ipVersion: 4 as const, from: built('172.16.', '200.254'), type: 3, code: 13, mtu: null, quotedDir: 0 as const });
    const tls = emptyTls();
    tls.clientVersions = grown('TLS1.2', 'TLS1.3');
    tls.clientCipherSuites = grown(0x1301, 0xc02f);
    tls.sni = built('rdp-srv01.', 'corp.example');
    tls.certificates = grown(cert);
    tls.alerts = grown({ frame: 8, by: 'server' as const, level: 'fatal', description: 'certificate_expired', code: 45, encrypted: false });
    const negotiation = emptyNegotiation();
    negotiation.cookie = built('someone', '@corp.example');
    negotiation.requestedProtocolNames = grown('SSL', 'HYBRID');
    const mcs = emptyMcs();
    mcs.channelJoins = grown({ channelId: 1003, requestFrame: 20, confirmFrame: 21, result: 0 });
    return {
      id: 'c1',
      transport: 'tcp',
      file: 'f',
      fileIndex: 0,
      client: built('192.168.100.200', ':50000'),
      server: built('10.0.0.2', ':3389'),
      start: 1.5,
      end: 2.5,
      outcome: 'failed',
      incompleteReason: null,
      reached: 'x224',
      phases: grown({ phase: 'tcp' as const, frame: 1, time: 1.5, inferred: false, confidence: 1 }, { phase: 'x224' as const, frame: 4, time: 1.6, inferred: false, confidence: 1 }),
      died: { phase: 'x224', how: 'rst', by: 'server', frame: 9, detail },
      security: null,
      negotiation,
      tls,
      credssp: { visible: false, version: null, tokens: grown('1'), errorCode: null, errorName: null, earlyUserAuthResult: null, frames: grown(6) },
      mcs,
      licensing: grown({ frame: 30, by: 'server' as const, msgType: 0xff, msgName: 'ERROR_ALERT', errorCode: 7, errorName: 'STATUS_VALID_CLIENT', stateTransition: 2 }),
      errorInfo: [],
      sideChannels,
      timeline: grown({ frame: 1, time: 1.5, direction: 'c2s' as const, event: 'SYN', phase: 'tcp' as const, detail }),
      flow,
      warnings: grown({ frame: null, offset: null, message: detail + detail }),
    };
  }

  it('keeps every value and key order (same JSON)', () => {
    const r = record();
    const before = json(r);
    compactRecord(r);
    expect(json(r)).toBe(before);
  });

  it('copies grown arrays, leaves frozen shared values, empty lists and sideChannels as they are', () => {
    const r = record();
    const tcp = r.flow.tcp!;
    const grownLists = (x: ConnectionRecord): unknown[] => [
      x.phases, x.timeline, x.warnings, x.licensing, x.negotiation!.requestedProtocolNames,
      x.tls!.clientVersions, x.tls!.clientCipherSuites, x.tls!.certificates, x.tls!.alerts,
      x.credssp!.tokens, x.credssp!.frames, x.mcs!.channelJoins, x.flow.icmp,
      x.flow.tcp!.synFrames, x.flow.tcp!.synAckFrames, x.flow.tcp!.retransmissionFrames[0], x.flow.tcp!.fins,
      x.flow.tcp!.rsts, x.flow.tcp!.ttlsSeen[0], x.flow.tcp!.ttlsSeen[1], x.flow.tcp!.lostSegments,
      x.flow.tcp!.lostSegments[0]!.retransmitFrames,
    ];
    const before = grownLists(r);
    const { sideChannels, errorInfo } = r;
    const cert = r.tls!.certificates[0];
    const pair = tcp.retransmissions;
    compactRecord(r);
    const after = grownLists(r);
    after.forEach((a, i) => expect(a, `list ${i}`).not.toBe(before[i]));
    expect(after).toEqual(before);
    expect(r.errorInfo).toBe(errorInfo);
    expect(tcp.retransmissions).toBe(pair);
    // An RDPEUDP flow that starts after the TCP connection ended still adds itself to this list.
    expect(r.sideChannels).toBe(sideChannels);
    expect(r.tls!.certificates[0]).toBe(cert);
    expect(Object.isFrozen(r.tls!.certificates[0])).toBe(true);
  });

  it('counter pairs back at [0, 0] or [null, null] become literals of the same value', () => {
    const r = record();
    const tcp = r.flow.tcp!;
    tcp.dupAcks[0] = 0;
    tcp.rtt = [null, null];
    compactRecord(r);
    expect(tcp.dupAcks).toEqual([0, 0]);
    expect(tcp.rtt).toEqual([null, null]);
    // Still arrays that can be written to (copy-on-write elements are V8's business).
    tcp.dupAcks[1]++;
    expect(r.flow.tcp!.dupAcks).toEqual([0, 1]);
    expect(r.flow.tcp!.keepAlives).toEqual([0, 0]);
  });

  it('with an interner (one copy of repeated strings, not observable from JS): the same values', () => {
    const strings = new StringInterner();
    const a = record();
    const b = record();
    const before = [json(a), json(b)];
    compactRecord(a, strings);
    compactRecord(b, strings);
    expect([json(a), json(b)]).toEqual(before);
    expect(b.timeline[0]!.detail).toBe(a.timeline[0]!.detail);
    expect(b.warnings[0]!.message).toBe(a.warnings[0]!.message);
    expect(b.server).toBe(a.server);
    expect(b.flow.server.ip).toBe(a.flow.server.ip);
    // The client's lists: one frozen copy (as the certificate cache's infos are).
    expect(b.tls!.clientCipherSuites).toBe(a.tls!.clientCipherSuites);
    expect(b.tls!.clientVersions).toBe(a.tls!.clientVersions);
    expect(b.negotiation!.requestedProtocolNames).toBe(a.negotiation!.requestedProtocolNames);
    expect(Object.isFrozen(a.tls!.clientCipherSuites)).toBe(true);
  });

  it('StringInterner.internList: one frozen copy per distinct list, by element and type, bounded', () => {
    const strings = new StringInterner();
    const a = strings.internList(grown(0xc02f, 0x1301));
    expect(strings.internList([0xc02f, 0x1301])).toBe(a);
    expect(a).toEqual([0xc02f, 0x1301]);
    expect(Object.isFrozen(a)).toBe(true);
    expect(strings.internList(['49199', '4865'])).not.toBe(a);
    expect(strings.internList(['a,b'])).not.toBe(strings.internList(['a', 'b']));
    const empty: number[] = [];
    expect(strings.internList(empty)).toBe(empty);
    const long = Array.from({ length: StringInterner.MAX_LIST_LENGTH + 1 }, (_, i) => i);
    const l = strings.internList(long);
    expect(l).toEqual(long);
    expect(Object.isFrozen(l)).toBe(false);
    for (let i = 0; i < StringInterner.MAX_LISTS + 10; i++) expect(strings.internList([i, i])).toEqual([i, i]);
    expect(strings.listCount).toBe(StringInterner.MAX_LISTS);
    expect(Object.isFrozen(strings.internList([-1, -1]))).toBe(false);
  });

  it('every record of the fixture captures: the same JSON before and after', async () => {
    // The machines' own records, straight from the flow table (FileRun compacts them unseen).
    const strings = new StringInterner();
    let records = 0;
    for (const rec of await fixtureRecords()) {
      const before = json(rec);
      compactRecord(rec, strings);
      expect(json(rec), `${rec.file} ${rec.id}`).toBe(before);
      records++;
    }
    expect(records).toBeGreaterThan(40);
  });

  it('StringInterner: same value, one copy, bounded in count and length', () => {
    const strings = new StringInterner();
    const s = ['client', ' closes'].join('');
    expect(strings.intern(s)).toBe('client closes');
    expect(strings.intern(['client ', 'closes'].join(''))).toBe(s);
    const long = 'x'.repeat(StringInterner.MAX_LENGTH + 1);
    expect(strings.intern(long)).toBe(long);
    for (let i = 0; i < StringInterner.MAX_STRINGS + 100; i++) expect(strings.intern(`s${i}`)).toBe(`s${i}`);
    expect(strings.size).toBe(StringInterner.MAX_STRINGS);
  });

  it('flatString and flattenStrings change no value', () => {
    const s = ['a'.repeat(10), 'b'.repeat(10), String(12345)].reduce((a, b) => a + b, '');
    expect(flatString(s)).toBe('a'.repeat(10) + 'b'.repeat(10) + '12345');
    const shared = ['step one', 'step two'];
    const findings = [{ explanation: s, remediation: shared, frames: [1, 2] }];
    const before = json(findings);
    flattenStrings(findings);
    expect(json(findings)).toBe(before);
    expect(findings[0]!.remediation).toBe(shared);
  });
});

describe('packed records (RecordPacker, packRecord)', () => {
  /** Every record of the fixture captures, as the machines hand them over. */

  it('every record of the fixture captures: same keys in the same order, same JSON, timeline and TCP facts read back equal', async () => {
    const records = await fixtureRecords();
    expect(records.length).toBeGreaterThan(40);
    const strings = new StringInterner();
    const packer = new RecordPacker();
    let tcp = 0;
    const strings2 = new StringInterner();
    const packer2 = new RecordPacker();
    for (const rec of records) {
      // What FileRun does (compaction and packing at once) to a copy: the same JSON.
      const twin = structuredClone(rec);
      compactRecord(rec, strings);
      const before = json(rec);
      const both = compactAndPack(twin, strings2, packer2);
      expect(json(both), `${rec.file} ${rec.id}`).toBe(before);
      expect(isPackedField(both, 'timeline')).toBe(true);
      expect(isPackedField(both.flow, 'tcp')).toBe(rec.flow.tcp !== null);
      const keys = Object.keys(rec);
      const flowKeys = Object.keys(rec.flow);
      const p = packRecord(rec, packer);
      expect(p, rec.id).not.toBe(rec);
      expect(isPackedField(p, 'timeline')).toBe(true);
      expect(json(p), `${rec.file} ${rec.id}`).toBe(before);
      expect(Object.keys(p)).toEqual(keys);
      expect(Object.keys(p.flow)).toEqual(flowKeys);
      expect(p.timeline).toEqual(rec.timeline);
      expect(p.flow.tcp).toEqual(rec.flow.tcp);
      if (rec.flow.tcp !== null) {
        tcp++;
        expect(isPackedField(p.flow, 'tcp')).toBe(true);
      }
      // The report's connection shares the packed timeline: the same keys and JSON as from the record.
      expect(json(reported(p, [], null))).toBe(json(reported(rec, [], null)));
      expect(Object.keys(reported(p, [], null))).toEqual(Object.keys(reported(rec, [], null)));
      expect(isPackedField(reported(p, [], null), 'timeline')).toBe(true);
      // A worker posts its records by structured clone: the accessors are read, plain values arrive.
      expect(json(structuredClone(p))).toBe(before);
      // Renumbered flows (the merge of a second file) keep their TCP facts packed.
      const moved = flowWithId(p.flow, p.flow.id + 100);
      expect(moved.id).toBe(p.flow.id + 100);
      expect(json({ ...moved, id: p.flow.id })).toBe(json(rec.flow));
      expect(isPackedField(moved, 'tcp')).toBe(rec.flow.tcp !== null);
    }
    expect(tcp).toBeGreaterThan(30);
    // Everything read back from one arena after all were packed (offsets stay valid as it grows).
    expect(packer.stats.bytes).toBeGreaterThan(1 << 14);
  });

  it('assigning a packed field makes it a plain value again, at the same place among the keys', async () => {
    const [rec] = (await fixtureRecords()).filter((r) => r.flow.tcp !== null && r.timeline.length > 1);
    const p = packRecord(rec!, new RecordPacker());
    const keys = Object.keys(p);
    const shorter = p.timeline.slice(1);
    p.timeline = shorter;
    expect(p.timeline).toBe(shorter);
    expect(isPackedField(p, 'timeline')).toBe(false);
    expect(Object.keys(p)).toEqual(keys);
    const tcp = { ...p.flow.tcp! };
    p.flow.tcp = tcp;
    expect(p.flow.tcp).toBe(tcp);
    expect(isPackedField(p.flow, 'tcp')).toBe(false);
  });

  it('a copy by spread holds the decoded fields and no reference into the arena (equal to the unpacked record)', async () => {
    const [rec] = (await fixtureRecords()).filter((r) => r.flow.tcp !== null && r.timeline.length > 1);
    const plain = structuredClone(rec!);
    const p = packRecord(rec!, new RecordPacker());
    expect(isPackedField(p, 'timeline')).toBe(true);
    const copy = { ...p, flow: { ...p.flow } };
    expect(Object.getOwnPropertySymbols(copy)).toEqual([]);
    expect(Object.getOwnPropertySymbols(copy.flow)).toEqual([]);
    expect(copy).toStrictEqual({ ...plain, flow: { ...plain.flow } });
  });

  it('a value that is not plain data is not packed (the record stays as it is)', () => {
    const packer = new RecordPacker();
    for (const v of [new Date(0), Buffer.from('ab'), Object.freeze({ a: 1 }), [Object.freeze([1])], { f: () => 1 }, { s: Symbol('x') }, { big: 1n }, new (class X {})(), JSON.parse('{"__proto__": 1}')]) {
      expect(packer.pack(v), String(v)).toBeNull();
    }
    // What a refused value wrote is taken back: the next value decodes right.
    const q = packer.pack({ a: [1, 2.5, 'x'] })!;
    expect(packer.decode(q)).toEqual({ a: [1, 2.5, 'x'] });
  });

  it('round trip: any JSON-like value decodes to the same value with keys in the same order (property)', () => {
    const runs = Number(process.env.PROP_RUNS ?? 300);
    const packer = new RecordPacker();
    const num = fc.oneof(fc.integer(), fc.double(), fc.constantFrom(-0, 2 ** 29 - 1, 2 ** 29, 2 ** 32, -1, Number.MAX_SAFE_INTEGER, NaN, Infinity));
    const leaf = fc.oneof(num, fc.string(), fc.boolean(), fc.constant(null), fc.constant(undefined));
    const value = fc.letrec((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 6 }), fc.dictionary(fc.string({ maxLength: 8 }).filter((k) => k !== '__proto__'), tie('v'), { maxKeys: 6, noNullPrototype: true })),
    })).v;
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 4 }), (vs) => {
        const packed = vs.map((v) => packer.pack(v));
        vs.forEach((v, i) => {
          const back = packer.decode(packed[i]!);
          expect(back).toStrictEqual(v);
          expect(JSON.stringify(back)).toBe(JSON.stringify(v));
          if (typeof v === 'number') expect(Object.is(back, v)).toBe(true);
        });
      }),
      { numRuns: runs },
    );
  });
});

describe('reported()', () => {
  it('has the keys of { ...record, findings } in the same order, for TCP and UDP records', async () => {
    const r = await analyze(
      ['udp_side_channel.pcap', 'cert_expired.pcapng', 'port_blocked_icmp.pcap'].map((n) => ({ kind: 'file' as const, path: path.join(CAPTURES, n) })),
      { jobs: 1 },
    );
    // A UDP side channel whose TCP connection is not in the capture is a record of its own.
    const f = newFlowFacts(2, 'udp', 0, 4, { ip: '10.0.0.1', port: 50001 }, { ip: '10.0.0.2', port: 3389 }, 'port', 3, 100);
    let udp: ConnectionRecord | null = null;
    const u = new UdpMachine(f, { id: 'c9', file: 't', fileIndex: 0, onRecord: (x) => (udp = x) });
    u.onData(0, rdpudpSyn({ initialSequenceNumber: 7 }), 3, 100);
    u.onEnd(f, 'capture_end', 101);
    const records: ConnectionRecord[] = [...r.connections.map(({ findings: _f, ...rec }) => rec as ConnectionRecord), udp!];
    expect(new Set(records.map((c) => c.transport))).toEqual(new Set(['tcp', 'udp']));
    for (const rec of records) {
      const findings = r.connections.find((c) => c.id === rec.id)?.findings ?? [];
      // The record's attempt link (issue 12 pattern 7) comes from the report; a fresh record has none.
      const attempt = (rec as { attempt?: Parameters<typeof reported>[2] }).attempt ?? null;
      const spread = { ...rec, attempt, findings };
      const made = reported(rec, findings, attempt);
      expect(Object.keys(made)).toEqual(Object.keys(spread));
      expect(json(made)).toBe(json(spread));
    }
  });
});

describe('the probes\' records are let go before the diagnosis (issue 16)', () => {
  it('when beforeDiagnosis is called, the part\'s list is empty and only the connections\' records are alive', async () => {
    const part = await filePart({ kind: 'file', path: path.join(CAPTURES, 'field_probes.pcapng') }, 0, {}, null);
    const refs = part.records.map((r) => [r.id, new WeakRef(r)] as const);
    // A WeakRef's target stays alive to the end of the job that made it.
    await new Promise((r) => setTimeout(r, 0));
    const gc = fullCollection();
    expect(gc).not.toBeNull();
    let listed = -1;
    let alive: string[] = [];
    let calls = 0;
    const report = mergeParts([part], {
      beforeDiagnosis: () => {
        calls++;
        listed = part.records.length;
        gc!();
        alive = refs.filter(([, w]) => w.deref() !== undefined).map(([id]) => id);
      },
    });
    expect(calls).toBe(1);
    expect(report.probes.length).toBeGreaterThan(0);
    expect(refs.length).toBeGreaterThan(report.connections.length);
    expect(listed).toBe(0);
    const reportedIds = new Set(report.connections.map((c) => c.id));
    // Every connection's record is alive (the diagnosis reads it); of the probes' 40 records at most
    // one (the merge loop's last record may stay in a register of its frame).
    expect(alive.filter((id) => reportedIds.has(id)).sort()).toEqual([...reportedIds].sort());
    const probeRecords = refs.length - reportedIds.size;
    expect(probeRecords).toBe(40);
    expect(alive.length - reportedIds.size).toBeLessThanOrEqual(1);
  });
});
