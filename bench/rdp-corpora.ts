// The two corpora users actually capture (issue 16), seeded and written in one streaming pass like
// bench/corpus.ts, whose writer, frame builders and sources they reuse:
//
// - session: what `tcpdump -i eth0 'tcp port 3389'` on an RDP server records. One server, a few dozen
//   clients, sessions arriving at random and overlapping. A healthy session replays the fixture
//   completed_tls_nla (a real TLS 1.2 ECDHE handshake with a certificate valid over the capture's
//   dates, CredSSP, MCS, licensing, capabilities, finalization: fixtures/lib/scenarios.ts) up to its
//   close, re-addressed, then goes on with 1-50 MB of active-session traffic (log-uniform): server
//   graphics bursts of 1-6 TLS records of 1-16 KB back to back in 1460-byte segments, the client
//   ACKing every second segment, small client input records between bursts; then the client closes.
//   About 8 % of the attempts are failures of the usual kinds (the fixtures of those causes, replayed
//   against the same server).
// - storm: a server under a password-spraying or scanning campaign: tens of thousands of short
//   attempts from many clients (refused, negotiation failures, NLA failures after CredSSP, TLS alerts,
//   silent servers, a few successes), in bulk background traffic.
//
// Same seed, same options, same fixture captures -> byte-identical files.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import {
  BulkSlot,
  CorpusWriter,
  drainInto,
  ETH,
  Gen,
  Heap,
  MSS,
  ethHeader,
  mulberry32,
  pad,
  pathOf,
  scratch,
  tcpFrame,
  type CorpusFile,
  type CorpusFormat,
  type Source,
} from './corpus.js';
import { fold, loadTemplates, sum16, type Template } from './templates.js';

/** Bumped whenever these generators' output changes. */
export const RDP_CORPORA_VERSION = 1;

export type RdpCorpusKind = 'session' | 'storm';

export interface RdpCorpusOptions {
  kind: RdpCorpusKind;
  seed: number;
  /** Target size of the classic pcap file, bytes. */
  bytes: number;
  /** Output path without extension. */
  base: string;
  formats: CorpusFormat[];
  templates?: Template[];
}

export interface RdpCorpusInfo {
  generatorVersion: number;
  kind: RdpCorpusKind;
  seed: number;
  bytesTarget: number;
  files: CorpusFile[];
  frames: number;
  /** Frames to or from TCP port 3389. */
  rdpPortFrames: number;
  /** Connection attempts started, by template (the healthy session's template for sessions). */
  attempts: Record<string, number>;
  /** Healthy sessions and the active-session bytes the server sent in them. */
  sessions: number;
  activeBytes: number;
  clients: number;
  start: number;
  end: number;
}

/** The fixture a healthy session replays (handshake to finalization, then our active phase). */
export const SESSION_TEMPLATE = 'completed_tls_nla';
/** Failures in a server's capture, by the fixtures that show them (TCP between client and server only). */
export const SESSION_FAILURES = ['port_not_listening', 'nla_mismatch', 'cert_expired', 'nla_failed', 'tls_mismatch', 'server_unresponsive', 'security_layer_mismatch', 'client_abort'];
/** An attempt storm's kinds, with their weights. */
export const STORM_MIX: [string, number][] = [
  ['port_not_listening', 20],
  ['nla_failed', 30],
  ['nla_mismatch', 15],
  ['cert_untrusted_close', 10],
  ['tls_mismatch', 8],
  ['server_unresponsive', 7],
  ['security_layer_mismatch', 5],
  ['completed_tls_nla', 5],
];

const SERVER = (10 << 24) | (10 << 16) | 20; // 10.10.0.20
const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;

/** A template reduced to the IPv4 TCP frames between its first SYN's two ends. */
interface TcpTemplate {
  name: string;
  frames: { dt: number; ip: Buffer }[];
  client: number;
  server: number;
  clientPort: number;
  duration: number;
  start: number;
}

function tcpTemplate(t: Template): TcpTemplate | null {
  let client = -1;
  let server = -1;
  let cport = -1;
  const frames: TcpTemplate['frames'] = [];
  for (const f of t.frames) {
    const ip = f.ip;
    if (ip[0]! >> 4 !== 4 || ip[9] !== 6) continue;
    const hl = (ip[0]! & 15) * 4;
    const src = ip.readUInt32BE(12);
    const dst = ip.readUInt32BE(16);
    if (client < 0) {
      if (!(ip[hl + 13]! & SYN) || ip[hl + 13]! & ACK) continue;
      client = src;
      server = dst;
      cport = ip.readUInt16BE(hl);
    }
    const sport = ip.readUInt16BE(hl);
    const dport = ip.readUInt16BE(hl + 2);
    const fwd = src === client && dst === server && sport === cport;
    const back = src === server && dst === client && dport === cport;
    if (fwd || back) frames.push(f);
  }
  if (client < 0 || frames.length === 0) return null;
  const dt0 = frames[0]!.dt;
  return {
    name: t.name,
    frames: frames.map((f) => ({ dt: f.dt - dt0, ip: f.ip })),
    client: client >>> 0,
    server: server >>> 0,
    clientPort: cport,
    duration: frames[frames.length - 1]!.dt - dt0,
    start: t.start + dt0,
  };
}

/** Re-addresses one IPv4 TCP packet in place (client address and port, server address) and fixes its checksums. */
function rewrite(ip: Buffer, tpl: TcpTemplate, client: number, cport: number): void {
  const hl = (ip[0]! & 15) * 4;
  const fromClient = ip.readUInt32BE(12) === tpl.client;
  ip.writeUInt32BE(fromClient ? client >>> 0 : SERVER >>> 0, 12);
  ip.writeUInt32BE(fromClient ? SERVER >>> 0 : client >>> 0, 16);
  ip.writeUInt16BE(cport, fromClient ? hl : hl + 2);
  ip[10] = 0;
  ip[11] = 0;
  const hck = fold(sum16(ip, 0, hl));
  ip[10] = hck >> 8;
  ip[11] = hck & 255;
  const total = Math.min(ip.readUInt16BE(2), ip.length);
  if (ip.readUInt16BE(2) > ip.length) return; // cut by the snaplen: the checksum covers bytes we do not have
  ip[hl + 16] = 0;
  ip[hl + 17] = 0;
  const c = fold(sum16(ip, 12, 20) + 6 + (total - hl) + sum16(ip, hl, total));
  ip[hl + 16] = c >> 8;
  ip[hl + 17] = c & 255;
}

/** Shared counters of one generation run. */
class Counts {
  attempts: Record<string, number> = {};
  sessions = 0;
  activeBytes = 0;
  readonly clients = new Set<number>();
}

/**
 * One connection: a template replayed (re-addressed, re-timed from `start`), optionally cut at the
 * client's first FIN and followed by an active session of `activeBytes` server bytes, then a close.
 */
class Connection implements Source {
  t: number;
  readonly order: number;
  private i = 0;
  private phase: 'replay' | 'active' | 'close' | 'done' = 'replay';
  /** Next sequence numbers and the last acknowledgment, per direction (client, server), after the replay. */
  private cSeq = 0;
  private sSeq = 0;
  private idC = 0;
  private idS = 0;
  private sent = 0;
  private burst: Buffer | null = null;
  private burstOff = 0;
  private unacked = 0;
  private closeStep = 0;
  private readonly frames: TcpTemplate['frames'];

  constructor(
    private readonly g: Gen,
    private readonly c: Counts,
    private readonly tpl: TcpTemplate,
    private readonly start: number,
    private readonly client: number,
    private readonly cport: number,
    private readonly activeBytes: number,
  ) {
    this.order = g.order++;
    this.t = start;
    c.attempts[tpl.name] = (c.attempts[tpl.name] ?? 0) + 1;
    c.clients.add(client);
    if (activeBytes > 0) {
      // Replay up to the first FIN (the recorded session's close); our active phase takes over there.
      const fin = tpl.frames.findIndex((f) => f.ip[(f.ip[0]! & 15) * 4 + 13]! & FIN);
      this.frames = fin >= 0 ? tpl.frames.slice(0, fin) : tpl.frames;
      c.sessions++;
    } else this.frames = tpl.frames;
  }

  step(w: CorpusWriter): boolean {
    if (this.phase === 'replay') return this.replay(w);
    if (this.g.full && this.phase !== 'done') return false; // the capture ends during the session
    if (this.phase === 'active') return this.active(w);
    if (this.phase === 'close') return this.close(w);
    return false;
  }

  private replay(w: CorpusWriter): boolean {
    const f = this.frames[this.i++]!;
    const ip = scratch.subarray(ETH, ETH + f.ip.length);
    f.ip.copy(ip);
    rewrite(ip, this.tpl, this.client, this.cport);
    ethHeader(scratch, 0x0800);
    const n = ETH + f.ip.length;
    w.frame(this.t, scratch, n < 60 ? pad(n) : n);
    // Sequence state for what follows the replay.
    const hl = (ip[0]! & 15) * 4;
    const len = Math.min(ip.readUInt16BE(2), ip.length) - hl - (ip[hl + 12]! >> 4) * 4;
    const flags = ip[hl + 13]!;
    const next = (ip.readUInt32BE(hl + 4) + Math.max(0, len) + (flags & (SYN | FIN) ? 1 : 0)) >>> 0;
    if (ip.readUInt32BE(12) === this.client >>> 0) {
      this.cSeq = next;
      this.idC = ip.readUInt16BE(4) + 1;
    } else {
      this.sSeq = next;
      this.idS = ip.readUInt16BE(4) + 1;
    }
    const nf = this.frames[this.i];
    if (nf) {
      this.t = this.start + nf.dt;
      return true;
    }
    if (this.activeBytes <= 0) return false;
    this.phase = 'active';
    this.t += this.g.int(20_000, 200_000);
    return true;
  }

  /** The next server burst: 1-6 TLS application-data records of 1-16 KB, back to back. */
  private newBurst(): Buffer {
    const g = this.g;
    const n = g.int(1, 6);
    const parts: Buffer[] = [];
    for (let r = 0; r < n; r++) {
      const body = g.int(1024, 16 * 1024);
      const h = Buffer.from([0x17, 3, 3, body >> 8, body & 255]);
      const off = g.int(0, g.pool.length - body - 1);
      parts.push(h, g.pool.subarray(off, off + body));
    }
    return Buffer.concat(parts);
  }

  private active(w: CorpusWriter): boolean {
    const g = this.g;
    if (this.burst === null) {
      if (this.sent >= this.activeBytes) {
        this.phase = 'close';
        return true;
      }
      this.burst = this.newBurst();
      this.burstOff = 0;
    }
    if (this.unacked >= 2) {
      // The client ACKs every second segment.
      this.cFrame(w, ACK, null);
      this.unacked = 0;
      this.t += g.int(5, 60);
      return true;
    }
    const b = this.burst;
    const len = Math.min(MSS, b.length - this.burstOff);
    const from = this.burstOff;
    this.sFrame(w, ACK | (from + len === b.length ? PSH : 0), b.subarray(from, from + len));
    this.burstOff += len;
    this.sent += len;
    this.c.activeBytes += len;
    this.unacked++;
    if (this.burstOff < b.length) {
      this.t += g.int(20, 120);
      return true;
    }
    // Burst done: the client's ACK, then an input record (fast-path input in a TLS record) a little later.
    this.burst = null;
    this.t += g.int(200, 2_000);
    if (this.unacked > 0) {
      this.cFrame(w, ACK, null);
      this.unacked = 0;
    }
    if (g.rnd() < 0.6) {
      this.t += g.int(1_000, 30_000);
      const body = g.int(25, 95);
      const off = g.int(0, g.pool.length - body - 1);
      this.cFrame(w, ACK | PSH, Buffer.concat([Buffer.from([0x17, 3, 3, 0, body]), g.pool.subarray(off, off + body)]));
    }
    this.t += g.int(5_000, 100_000);
    return true;
  }

  private close(w: CorpusWriter): boolean {
    switch (this.closeStep++) {
      case 0:
        this.cFrame(w, FIN | ACK, null);
        this.t += this.g.int(500, 5_000);
        return true;
      case 1:
        this.sFrame(w, FIN | ACK, null);
        this.t += this.g.int(500, 5_000);
        return true;
      default:
        this.cFrame(w, ACK, null);
        this.phase = 'done';
        return false;
    }
  }

  private cFrame(w: CorpusWriter, flags: number, payload: Buffer | null): void {
    const len = payload?.length ?? 0;
    const n = tcpFrame(this.client, SERVER, this.cport, 3389, this.cSeq, this.sSeq, flags, len, payload ? (b, o) => payload.copy(b, o) : null, this.idC++, 128);
    w.frame(this.t, scratch, n);
    this.cSeq = (this.cSeq + len + (flags & FIN ? 1 : 0)) >>> 0;
  }

  private sFrame(w: CorpusWriter, flags: number, payload: Buffer | null): void {
    const len = payload?.length ?? 0;
    const n = tcpFrame(SERVER, this.client, 3389, this.cport, this.sSeq, this.cSeq, flags, len, payload ? (b, o) => payload.copy(b, o) : null, this.idS++, 126);
    w.frame(this.t, scratch, n);
    this.sSeq = (this.sSeq + len + (flags & FIN ? 1 : 0)) >>> 0;
  }
}

/** Starts connections at random times (exponential gaps) until the capture is full. */
class Arrivals implements Source {
  t: number;
  readonly order: number;
  private n = 0;

  constructor(
    private readonly g: Gen,
    start: number,
    private readonly meanGap: number,
    private readonly spawn: (n: number, t: number) => Source,
    private readonly heap: Heap,
  ) {
    this.t = start;
    this.order = g.order++;
  }

  step(): boolean {
    if (this.g.full) return false;
    this.heap.push(this.spawn(this.n++, this.t));
    this.t += Math.max(1, Math.round(-Math.log(1 - this.g.rnd()) * this.meanGap));
    return true;
  }
}

function pick(g: Gen, mix: [string, number][]): string {
  const total = mix.reduce((a, [, w]) => a + w, 0);
  let x = g.rnd() * total;
  for (const [name, w] of mix) if ((x -= w) < 0) return name;
  return mix[mix.length - 1]![0];
}

/** Writes the corpus (streaming) and <base>.json describing it. */
export async function generateRdpCorpus(o: RdpCorpusOptions): Promise<RdpCorpusInfo> {
  const all = o.templates ?? (await loadTemplates());
  const byName = new Map<string, TcpTemplate>();
  for (const t of all) {
    const x = tcpTemplate(t);
    if (x) byName.set(t.name, x);
  }
  const need = o.kind === 'session' ? [SESSION_TEMPLATE, ...SESSION_FAILURES] : STORM_MIX.map(([n]) => n);
  for (const n of need) if (!byName.has(n)) throw new Error(`fixture ${n} is missing from fixtures/captures`);
  const rnd = mulberry32(o.seed);
  // Bulk background traffic for the storm only (a server's `tcp port 3389` capture has none).
  const g = new Gen(rnd, 2_000_000, o.kind === 'storm' ? 8 : 1);
  const counts = new Counts();
  const wantPcap = o.formats.includes('pcap');
  const wantNg = o.formats.includes('pcapng') || o.formats.includes('pcapng.gz');
  const w = new CorpusWriter(wantPcap ? pathOf(o.base, 'pcap') : null, wantNg ? pathOf(o.base, 'pcapng') : null);
  // Capture time: the fixtures' own (certificate dates are judged against it).
  const t0 = Math.min(...need.map((n) => byName.get(n)!.start));
  const heap = new Heap();
  if (o.kind === 'session') {
    const session = byName.get(SESSION_TEMPLATE)!;
    const clients = 40;
    heap.push(
      new Arrivals(g, t0, 2_000_000, (n, t) => {
        const client = (10 << 24) | (10 << 16) | (1 << 8) | (1 + Math.floor(g.rnd() * clients));
        const cport = 49152 + ((n * 7919) % 16000);
        // Every twelfth attempt fails (~8 %), kinds in rotation.
        if (n % 12 === 11) return new Connection(g, counts, byName.get(SESSION_FAILURES[Math.floor(n / 12) % SESSION_FAILURES.length]!)!, t, client, cport, 0);
        const mb = Math.exp(Math.log(1) + g.rnd() * (Math.log(50) - Math.log(1)));
        return new Connection(g, counts, session, t, client, cport, Math.floor(mb * 1_000_000));
      }, heap),
    );
  } else {
    for (let s = 0; s < g.concurrency; s++) heap.push(new BulkSlot(g, t0 + g.int(0, 300_000), s));
    heap.push(
      new Arrivals(g, t0, 3_000, (n, t) => {
        const client = (11 << 24) | ((1 + Math.floor(g.rnd() * 200)) << 16) | (Math.floor(g.rnd() * 256) << 8) | (1 + Math.floor(g.rnd() * 250));
        return new Connection(g, counts, byName.get(pick(g, STORM_MIX))!, t, client, 1024 + ((n * 104729) % 64000), 0);
      }, heap),
    );
  }
  const files = await drainInto(heap, g, w, o.bytes, o.base, o.formats);
  const info: RdpCorpusInfo = {
    generatorVersion: RDP_CORPORA_VERSION,
    kind: o.kind,
    seed: o.seed,
    bytesTarget: o.bytes,
    files,
    frames: w.frames,
    rdpPortFrames: w.rdpPortFrames,
    attempts: counts.attempts,
    sessions: counts.sessions,
    activeBytes: counts.activeBytes,
    clients: counts.clients.size,
    start: w.first / 1e6,
    end: w.last / 1e6,
  };
  writeFileSync(`${o.base}.json`, JSON.stringify(info, null, 2) + '\n');
  return info;
}

/** The corpus for these options: cached when intact, generated otherwise. */
export async function ensureRdpCorpus(o: RdpCorpusOptions): Promise<RdpCorpusInfo> {
  const meta = `${o.base}.json`;
  if (existsSync(meta)) {
    try {
      const info = JSON.parse(readFileSync(meta, 'utf8')) as RdpCorpusInfo;
      const ok =
        info.generatorVersion === RDP_CORPORA_VERSION &&
        info.kind === o.kind &&
        info.seed === o.seed &&
        info.bytesTarget === o.bytes &&
        o.formats.every((f) => {
          const rec = info.files.find((x) => x.format === f);
          return rec !== undefined && existsSync(rec.path) && statSync(rec.path).size === rec.bytes;
        });
      if (ok) return info;
    } catch {
      // generated again below
    }
  }
  return generateRdpCorpus(o);
}
