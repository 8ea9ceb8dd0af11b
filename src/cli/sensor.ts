// `rdp-autopsy live --sensor`: a capture that runs for days and reports each attempt as it ends.
//
// - stdout: one line per failed attempt as it ends (time, client -> server, phase, cause, confidence:
//   src/report/ecs.ts eventLine), or with `--ndjson -` one ECS event per connection instead;
//   `--ndjson FILE` appends the ECS events to FILE.
// - `--export-evidence DIR`: each failure's evidence pcap is written when it ends, cut from the
//   recent frames kept in memory (src/capture/frame-ring.ts, `--ring-memory MB`).
// - `--write PATH --ring SIZE_MB:FILES`: the raw packets as a ring of pcap files (src/capture/rotate.ts).
// - A running summary on SIGUSR1 (stderr) and at the end (stdout, or -o FILE), built from counters:
//   finished connections are reported and dropped, so memory stays flat however long it runs.
// - A connection to an RD Gateway (TCP 443, UDP 3391: gateway-watch.ts) that the report would name a
//   gateway's (shown or likely, never HTTPS that only could be one) is an ECS event of its own as it
//   ends (src/report/ecs.ts ecsGatewayEvent), with its gateway_* findings; a refusal is a line on stdout.
// - The drop counters are read every few seconds, the interface's (/sys/class/net) and libpcap's
//   kernel counter of the capture's socket (src/capture/packet-stats.ts, when its addon is built):
//   an increase is said on stderr, and an attempt during which packets were dropped says so and
//   gets a lower confidence.
import { appendFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { FrameView } from '../capture/types.js';
import { FrameRing } from '../capture/frame-ring.js';
import { DropWatch } from '../capture/drops.js';
import { kernelCountersText, type KernelCounters } from '../capture/packet-stats.js';
import type { ReportedConnection, Report } from '../report/types.js';
import { ECS_VERSION, ecsEvent, ecsGatewayEvent, eventLine, gatewayEventLine, type EcsObserver } from '../report/ecs.js';
import type { GatewaySighting } from '../handshake/gateway-watch.js';
import { gatewayFindings, gatewayNotes } from '../diagnose/gateway.js';
import { gatewayCertFindings } from '../diagnose/gateway-cert.js';
import type { DiagnosisInput } from '../diagnose/types.js';
import { DNS_WINDOW_SECONDS, exportEvidenceFromFrames } from '../report/evidence.js';
import type { DnsTransaction } from '../flow/types.js';
import { CATALOGUE } from '../diagnose/catalogue.js';
import type { KeyLog } from '../rdp/keylog.js';
import type { CauseId } from '../diagnose/types.js';

/** Seconds between two readings of the drop counters. */
export const DROP_POLL_SECONDS = 5;
/** Confidence kept by a finding whose attempt lost packets to drops (times this factor). */
export const DROP_CONFIDENCE_FACTOR = 0.8;
/** Recent gateway connections a new one is judged with (its client's other connections to the gateway, its UDP 3391 flows). */
const GATEWAY_CONTEXT = 64;
const GATEWAY_CONTEXT_SECONDS = 600;
/** Servers and causes counted by name in the summary (the rest in one "other" bucket). */
const MAX_SUMMARY_KEYS = 1000;

/** Running counts of a sensor: what the summaries say, in constant memory. */
export class SensorSummary {
  attempts = 0;
  completed = 0;
  failed = 0;
  incomplete = 0;
  readonly causes = new Map<string, number>();
  readonly servers = new Map<string, { attempts: number; failed: number }>();
  evidenceFiles = 0;
  constructor(readonly since: number) {}

  add(c: ReportedConnection): void {
    this.attempts++;
    if (c.outcome === 'completed') this.completed++;
    else if (c.outcome === 'failed') this.failed++;
    else this.incomplete++;
    const key = this.servers.has(c.server) || this.servers.size < MAX_SUMMARY_KEYS ? c.server : '(other servers)';
    const s = this.servers.get(key) ?? { attempts: 0, failed: 0 };
    s.attempts++;
    if (c.outcome === 'failed') s.failed++;
    this.servers.set(key, s);
    const cause = c.outcome === 'failed' ? (c.findings[0]?.cause ?? 'no clear cause') : null;
    if (cause !== null) this.causes.set(cause, (this.causes.get(cause) ?? 0) + 1);
  }

  /** Plain lines: totals, causes by count, servers with failures by count. */
  lines(now: number, extra: string[] = []): string[] {
    const span = Math.max(0, now - this.since);
    const out = [
      `Since ${new Date(this.since * 1000).toISOString()} (${durationText(span)}): ${this.attempts} attempt${this.attempts === 1 ? '' : 's'}, ${this.completed} completed, ${this.failed} failed, ${this.incomplete} only partly captured.`,
    ];
    const causes = [...this.causes].sort((a, b) => b[1] - a[1]);
    if (causes.length > 0) {
      out.push(`Failures by cause: ${causes.map(([c, n]) => `${n} ${c in CATALOGUE ? `${c} (${CATALOGUE[c as CauseId].title})` : c}`).join('; ')}.`);
    }
    const servers = [...this.servers].filter(([, s]) => s.failed > 0).sort((a, b) => b[1].failed - a[1].failed);
    if (servers.length > 0) out.push(`Servers with failures: ${servers.slice(0, 20).map(([srv, s]) => `${srv} ${s.failed} of ${s.attempts}`).join(', ')}${servers.length > 20 ? ', ...' : ''}.`);
    return [...out, ...extra];
  }

  /** The summary as one ECS event (event.kind "metric"; rdp.summary.*); null counters are left out. */
  ecs(now: number, o: EcsObserver, interfaceDrops: number | null, kernel: KernelCounters | null = null): Record<string, unknown> {
    return {
      '@timestamp': new Date(now * 1000).toISOString(),
      ecs: { version: ECS_VERSION },
      message: this.lines(now).join(' '),
      event: { kind: 'metric', category: ['network'], type: ['info'], action: 'rdp-sensor-summary', dataset: 'rdp_autopsy.summary', module: 'rdp_autopsy' },
      observer: { type: 'sensor', product: 'rdp-autopsy', version: o.version, hostname: o.hostname, ...(o.iface ? { ingress: { interface: { name: o.iface } } } : {}) },
      rdp: {
        summary: {
          since: new Date(this.since * 1000).toISOString(),
          attempts: this.attempts,
          completed: this.completed,
          failed: this.failed,
          incomplete: this.incomplete,
          causes: [...this.causes].map(([cause, count]) => ({ cause, count })),
          ...(interfaceDrops !== null ? { interface_drops: interfaceDrops } : {}),
          ...(kernel !== null ? { kernel_drops: kernel.drops, kernel_packets: kernel.packets } : {}),
        },
      },
    };
  }
}

/** "42 s", "3 min 5 s", "2 h 4 min", "3 days 2 h". */
export function durationText(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  const h = Math.floor(s / 3600);
  if (h < 48) return `${h} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`;
  return `${Math.floor(h / 24)} days${h % 24 ? ` ${h % 24} h` : ''}`;
}

export interface SensorOptions {
  iface: string;
  /** ECS events: a file to append to, "-" for stdout (replacing the text lines), or undefined. */
  ndjson?: string;
  /** Evidence directory: a pcap per failure as it ends. */
  evidenceDir?: string;
  /** Bytes of recent frames kept for evidence. */
  ringMemory: number;
  version: string;
  now?: () => number;
  /** Reads the drop counters (a seam for tests); default: /sys/class/net. */
  drops?: (iface: string) => number | null;
}

/**
 * The per-connection side of a sensor: what happens to each connection as it ends, and to each
 * frame as it arrives. runLive wires it to the capture.
 */
export class Sensor {
  readonly summary: SensorSummary;
  readonly ring: FrameRing | null;
  readonly drops: DropWatch;
  /** libpcap's kernel counter of the capture's socket (drops), once runLive attaches the capture. */
  readonly kernelDrops: DropWatch;
  private kernelSource: (() => KernelCounters | null) | null = null;
  private kernelLast: KernelCounters | null = null;
  private kernelUnavailable: string = 'the capture has not started';
  private readonly observer: EcsObserver;
  private readonly now: () => number;
  /** Write errors of the event file or the evidence (reported once each). */
  readonly problems: string[] = [];
  private eventFileFailed = false;
  /** The analyzer's TLS secrets (set by runLive once the analyzer exists): a decrypted failure's evidence carries its keys. */
  keys: KeyLog | null = null;

  constructor(
    private readonly o: SensorOptions,
    private readonly stdout: NodeJS.WritableStream,
    private readonly stderr: NodeJS.WritableStream,
  ) {
    this.now = o.now ?? ((): number => Date.now() / 1000);
    this.summary = new SensorSummary(this.now());
    this.ring = o.evidenceDir !== undefined ? new FrameRing(o.ringMemory) : null;
    this.drops = new DropWatch(o.iface, this.now(), o.drops);
    this.kernelDrops = new DropWatch(
      o.iface,
      this.now(),
      () => {
        const k = this.kernelSource?.() ?? null;
        if (k !== null) this.kernelLast = k;
        return k?.drops ?? null;
      },
      256,
      true,
    );
    this.observer = { hostname: hostname(), version: o.version, iface: o.iface };
    if (o.ndjson !== undefined && o.ndjson !== '-') {
      try {
        writeFileSync(o.ndjson, '', { flag: 'a' });
      } catch (e) {
        throw new Error(`cannot write ${o.ndjson}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
  }

  /** Every frame (before the analyzer): kept for evidence. */
  onFrame(v: FrameView): void {
    this.ring?.push(v);
  }

  /**
   * The capture started: its kernel counters (LiveCapture.kernel; totals since its socket opened),
   * or why there are none.
   */
  attachKernelCounters(source: () => KernelCounters | null, unavailable: string | null): void {
    this.kernelSource = unavailable === null ? source : null;
    this.kernelUnavailable = unavailable ?? '';
    this.kernelDrops.poll(this.now());
  }

  /** Reads the drop counters; says so on stderr when packets were dropped since the last reading. */
  pollDrops(): void {
    const now = this.now();
    const d = this.drops.poll(now);
    if (d > 0) this.stderr.write(`rdp-autopsy: ${this.o.iface} dropped ${d} packets in the last ${DROP_POLL_SECONDS} s (interface counters; ${this.drops.total} since the start)\n`);
    const k = this.kernelDrops.poll(now);
    if (k > 0) this.stderr.write(`rdp-autopsy: the kernel dropped ${k} packets of this capture in the last ${DROP_POLL_SECONDS} s (libpcap's counter: the capture's buffer was full; ${this.kernelDrops.total} since the start)\n`);
  }

  /** A connection ended: drops taken into account, evidence written, event lines out, counted. */
  onConnection(c: ReportedConnection, dns: readonly DnsTransaction[] = []): void {
    this.pollDrops();
    const lost = this.drops.dropsDuring(c.start, c.end);
    const lostKernel = this.kernelDrops.dropsDuring(c.start, c.end);
    const notes: string[] = [];
    if (lost > 0) notes.push(`the interface dropped ${lost} packets while this attempt ran (${this.o.iface} counters): frames of it may be missing`);
    if (lostKernel > 0) notes.push(`the kernel dropped ${lostKernel} packets of this capture while this attempt ran (libpcap's counter: the capture's buffer was full): frames of it may be missing`);
    const lostBoth = lost > 0 || lostKernel > 0 ? { ...(lost > 0 ? { interface: lost } : {}), ...(lostKernel > 0 ? { kernel: lostKernel } : {}) } : null;
    if (notes.length > 0) {
      const note = notes.join('; ');
      c.warnings = [...c.warnings, ...notes.map((message) => ({ message, frame: null, offset: null }))];
      const top = c.findings[0];
      if (top) {
        c.findings = [
          {
            ...top,
            confidence: Math.round(top.confidence * DROP_CONFIDENCE_FACTOR * 100) / 100,
            confidenceReason: top.confidenceReason ? `${top.confidenceReason} Also, ${note}.` : `${note[0]!.toUpperCase()}${note.slice(1)}.`,
          },
          ...c.findings.slice(1),
        ];
      }
    }
    if (c.outcome === 'failed' && this.ring !== null && this.o.evidenceDir !== undefined) {
      const ring = this.ring;
      try {
        // The client's lookups shortly before the attempt go with it (as exportEvidence ties them).
        const clientIp = c.flow.client.ip;
        const lookups = dns.filter((d) => d.client === clientIp && d.time >= c.start - DNS_WINDOW_SECONDS && d.time <= c.end);
        const from = Math.min(c.flow.firstFrame, ...lookups.map((d) => d.queryFrame));
        const ev = exportEvidenceFromFrames(oneConnectionReport(c, lookups), (f) => ring.visit(from, Number.MAX_SAFE_INTEGER, f), this.o.evidenceDir, this.keys);
        if (ev.files.length > 0) this.summary.evidenceFiles++;
        if (ring.oldestFrame > c.flow.firstFrame && ev.files.length > 0) {
          this.stderr.write(`rdp-autopsy: evidence ${ev.files[0]!.file}: frames before ${ring.oldestFrame} were no longer in memory (--ring-memory)\n`);
        }
      } catch (e) {
        this.problem(`evidence for ${c.id}: ${(e as Error).message}`);
      }
    }
    this.summary.add(c);
    const nd = this.o.ndjson;
    if (nd !== undefined) {
      const ev = ecsEvent(c, this.observer);
      // rdp.drops: packets lost while the attempt ran (why its confidence is lower).
      if (lostBoth !== null) ev.rdp = { ...(ev.rdp as Record<string, unknown>), drops: lostBoth };
      this.writeEvent(`${JSON.stringify(ev)}\n`);
    }
    if (nd !== '-' && c.outcome === 'failed') this.stdout.write(`${eventLine(c)}\n`);
  }

  /** Recent gateway connections (the context of the next one). */
  private readonly gateways: GatewaySighting[] = [];
  /** Gateway connections reported as events, and those the gateway refused. */
  gatewayEvents = 0;
  gatewayRefusals = 0;

  /**
   * A connection to an RD Gateway's port ended: judged with the recent ones (gateway.ts notes and
   * findings, gateway-cert.ts), and reported when it is named a gateway's.
   */
  onGatewaySighting(s: GatewaySighting): void {
    const ctx = this.gateways;
    while (ctx.length > 0 && (ctx.length >= GATEWAY_CONTEXT || ctx[0]!.end < s.end - GATEWAY_CONTEXT_SECONDS)) ctx.shift();
    ctx.push(s);
    const input: DiagnosisInput = { connections: [], dns: [], captureEnd: [], names: new Map(), gateways: [...ctx] };
    const notes = gatewayNotes(input);
    const note = notes.find((n) => n.connections.includes(s.id) || n.udpConnections.includes(s.id));
    // HTTPS that only could be a gateway's is everywhere on a network: no event for it.
    if (note === undefined || note.evidence === 'possible') return;
    const named = new Set(notes.filter((n) => n.evidence !== 'possible').flatMap((n) => n.connections));
    const mine = (f: { connection?: string }): boolean => f.connection === s.id;
    const findings = [...gatewayFindings(input), ...gatewayCertFindings(input, named)].filter(mine);
    const ev = ecsGatewayEvent(s, note, findings, this.observer);
    this.gatewayEvents++;
    const failed = (ev.event as { outcome: string }).outcome === 'failure';
    if (failed) this.gatewayRefusals++;
    const nd = this.o.ndjson;
    if (nd !== undefined) this.writeEvent(`${JSON.stringify(ev)}\n`);
    if (nd !== '-' && failed) this.stdout.write(`${gatewayEventLine(s, note, findings.find((f) => CATALOGUE[f.cause].severity !== 'warning') ?? null)}\n`);
  }

  private writeEvent(line: string): void {
    const nd = this.o.ndjson;
    if (nd === undefined) return;
    if (nd === '-') this.stdout.write(line);
    else if (!this.eventFileFailed) {
      try {
        appendFileSync(nd, line);
      } catch (e) {
        this.eventFileFailed = true;
        this.problem(`cannot write ${nd}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
  }

  private problem(p: string): void {
    this.problems.push(p);
    this.stderr.write(`rdp-autopsy: ${p}\n`);
  }

  /** The running summary (SIGUSR1): lines on stderr. */
  summaryNow(): string[] {
    return this.summary.lines(this.now(), this.dropLines());
  }

  private dropLines(): string[] {
    const iface = this.drops.available
      ? `Drops: ${this.drops.total} packets dropped by ${this.o.iface} since the start (interface counters rx_dropped, rx_missed_errors, rx_fifo_errors).`
      : `Drops: ${this.o.iface} exposes no interface drop counters.`;
    const k = this.kernelLast;
    const kernel =
      this.kernelSource !== null && k !== null
        ? `Kernel drops: ${kernelCountersText(k)} since the start.`
        : `Kernel drops: not counted (${this.kernelSource !== null ? 'no packet socket of this capture was found' : this.kernelUnavailable}).`;
    return [iface, kernel];
  }

  /** The final output: the summary as text, or as one ECS event (ndjson on stdout). */
  final(report: Report, format: string): string {
    this.pollDrops();
    if (this.o.ndjson === '-' || format === 'ndjson') {
      return `${JSON.stringify(this.summary.ecs(this.now(), this.observer, this.drops.available ? this.drops.total : null, this.kernelSource !== null ? this.kernelLast : null))}\n`;
    }
    const extra = [...this.dropLines()];
    if (this.gatewayEvents > 0) extra.push(`RD Gateway: ${this.gatewayEvents} connection${this.gatewayEvents === 1 ? '' : 's'} to a gateway reported, ${this.gatewayRefusals} refused.`);
    if (this.summary.evidenceFiles > 0) extra.push(`Evidence: ${this.summary.evidenceFiles} pcap files written to ${this.o.evidenceDir}.`);
    // Every connection is counted, none recorded (maxRecords 0): the run's overflow note says nothing here.
    for (const w of report.warnings) if (!/connections beyond the first \d+ were counted/.test(w)) extra.push(`Warning: ${w}`);
    for (const p of this.problems) extra.push(`Problem: ${p}`);
    return `${this.summary.lines(this.now(), extra).join('\n')}\n`;
  }
}

/** A report holding one connection, for the evidence writer (it reads connections and DNS only). */
function oneConnectionReport(c: ReportedConnection, dns: DnsTransaction[]): Report {
  return {
    schemaVersion: '',
    tool: { name: 'rdp-autopsy', version: '' },
    capture: { files: [], format: 'pcap', linkTypes: [], frames: 0, bytes: 0, start: null, end: null, damage: [], stats: { tcpPackets: 0, udpPackets: 0, nonIp: 0, ipFragments: 0, badChecksums: 0, flowsEvicted: 0, halfOpenEvicted: 0, cutBytes: 0, unknownLinkTypeFrames: 0, captureDuplicates: 0 } },
    connections: [c],
    captureFindings: [],
    probes: [],
    gateways: [],
    groups: [],
    servers: [],
    dns: dns.map((d) => ({ ...d, fileIndex: c.fileIndex })),
    summary: { connections: 1, completed: 0, failed: 1, incompleteCapture: 0, preAuthentication: 0, headline: '' },
    warnings: [],
  };
}
