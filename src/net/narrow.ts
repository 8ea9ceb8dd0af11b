// Narrowing a capture as tshark users do (issue 17): `--host IP` (either side), `--server
// IP[:PORT]` (the server side of a connection), `--from` / `--to` (an absolute ISO 8601 time, or
// `+10m` relative to the first frame of the file or file set being read) and `--filter BPF` (the
// subset of src/net/bpf.ts). A frame outside the narrowing is counted (its frame number stays
// Wireshark's) but not analysed. `--host` and `--server` also keep an ICMP error about a packet
// they match (a router's "unreachable" quoting the SYN), which `--filter 'host X'` does not, as in
// tcpdump.
import { addressBytes, addressMatches, bpfMatches, parseBpf, BpfError, type BpfNode } from './bpf.js';
import { decodeQuoted } from './decode.js';
import { DecodedPacket } from './packet.js';

/** What the command line asked for, as typed. */
export interface NarrowSpec {
  hosts?: string[];
  servers?: string[];
  from?: string;
  to?: string;
  filter?: string;
}

/** A bound of the time window: absolute (seconds since the epoch) or relative to the first frame. */
export type TimeBound = { kind: 'absolute'; time: number } | { kind: 'relative'; seconds: number };

/** The narrowing as the report states it (report.capture.narrowing). */
export interface NarrowingSummary {
  host?: string[];
  server?: string[];
  /** ISO 8601 UTC, or "+600 s" from the capture's first frame. */
  from?: string;
  to?: string;
  filter?: string;
  /** Frames analysed (within the narrowing), of capture.frames. */
  framesKept: number;
}

/** A narrowing the command line cannot mean: the message says which option and why. */
export class NarrowError extends Error {}

const UNIT: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, min: 60, h: 3600, d: 86400 };

/** "+10m", "+1h30m", "+90s", "+1.5h", "+45" (seconds): seconds after the first frame. */
export function parseRelative(s: string): number | null {
  const m = /^\+((?:\d+(?:\.\d+)?(?:ms|min|s|m|h|d)?)+)$/.exec(s.trim());
  if (!m) return null;
  let total = 0;
  const re = /(\d+(?:\.\d+)?)(ms|min|s|m|h|d)?/g;
  let x: RegExpExecArray | null;
  while ((x = re.exec(m[1]!)) !== null) total += Number(x[1]) * UNIT[x[2] ?? 's']!;
  return total;
}

/** `--from` / `--to`: "+10m" (relative) or an ISO 8601 time; without a zone it is UTC. */
export function parseTimeBound(option: string, s: string): TimeBound {
  const rel = parseRelative(s);
  if (rel !== null) return { kind: 'relative', seconds: rel };
  const iso = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/i.exec(s.trim());
  if (iso) {
    const text = s.trim().replace(' ', 'T');
    const t = Date.parse(iso[4] === undefined ? `${iso[1] === undefined ? `${text}T00:00:00` : text}Z` : text);
    if (Number.isFinite(t)) return { kind: 'absolute', time: t / 1000 };
  }
  throw new NarrowError(`${option} "${s}": expected an ISO 8601 time (2026-03-10T09:00:05Z; UTC when no zone is given) or a time after the capture's first frame (+10m, +90s, +1h30m)`);
}

function boundText(b: TimeBound): string {
  return b.kind === 'absolute' ? new Date(b.time * 1000).toISOString() : `+${b.seconds} s after the first frame`;
}

export class Narrowing {
  private readonly hosts: Uint8Array[];
  private readonly servers: { addr: Uint8Array; port: number }[];
  private readonly from: TimeBound | null;
  private readonly to: TimeBound | null;
  private readonly filter: BpfNode | null;
  private readonly inner = new DecodedPacket();
  readonly spec: NarrowSpec;

  constructor(spec: NarrowSpec) {
    this.spec = spec;
    this.hosts = (spec.hosts ?? []).map((h) => {
      const a = addressBytes(h.replace(/^\[(.*)\]$/, '$1'));
      if (a === null) throw new NarrowError(`--host "${h}": expected an IPv4 or IPv6 address`);
      return a;
    });
    this.servers = (spec.servers ?? []).map((s) => {
      // 10.0.0.5, 10.0.0.5:3390, fd00::5, [fd00::5]:3390
      const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(s) ?? (s.split(':').length === 2 ? /^([^:]+):(\d+)$/.exec(s) : /^(.+)()$/.exec(s));
      const addr = m ? addressBytes(m[1]!) : null;
      const port = m && m[2] ? Number(m[2]) : -1;
      if (addr === null || port === 0 || port > 65535) throw new NarrowError(`--server "${s}": expected IP or IP:PORT (IPv6 as [addr]:port)`);
      return { addr, port };
    });
    this.from = spec.from !== undefined ? parseTimeBound('--from', spec.from) : null;
    this.to = spec.to !== undefined ? parseTimeBound('--to', spec.to) : null;
    try {
      this.filter = spec.filter !== undefined ? parseBpf(spec.filter) : null;
    } catch (e) {
      if (e instanceof BpfError) throw new NarrowError(`--${e.message}`);
      throw e;
    }
  }

  /** Whether anything narrows (no option: every frame is analysed). */
  get active(): boolean {
    return this.hosts.length > 0 || this.servers.length > 0 || this.from !== null || this.to !== null || this.filter !== null;
  }

  /** Whether a decoded frame at `time` is analysed; `start` is the first frame's time of the file (or set). */
  matches(p: DecodedPacket, time: number, start: number): boolean {
    const from = this.from;
    if (from !== null && time < (from.kind === 'absolute' ? from.time : start + from.seconds)) return false;
    const to = this.to;
    if (to !== null && time > (to.kind === 'absolute' ? to.time : start + to.seconds)) return false;
    if (this.filter !== null && !bpfMatches(this.filter, p)) return false;
    if (this.hosts.length === 0 && this.servers.length === 0) return true;
    if (this.endpoints(p)) return true;
    // An ICMP error about a packet of theirs (RFC 792, RFC 4443 2.4: the quoted packet).
    return p.quotedOff >= 0 && decodeQuoted(p, this.inner) && this.endpoints(this.inner);
  }

  private endpoints(p: DecodedPacket): boolean {
    let host = this.hosts.length === 0;
    for (const a of this.hosts) {
      if (addressMatches(p, false, a, a.length * 8) || addressMatches(p, true, a, a.length * 8)) {
        host = true;
        break;
      }
    }
    if (!host) return false;
    if (this.servers.length === 0) return true;
    for (const s of this.servers) {
      const bits = s.addr.length * 8;
      const ports = p.l4Off >= 0 && (p.ipProto === 6 || p.ipProto === 17);
      if (addressMatches(p, false, s.addr, bits) && (s.port < 0 || (ports && p.srcPort === s.port))) return true;
      if (addressMatches(p, true, s.addr, bits) && (s.port < 0 || (ports && p.dstPort === s.port))) return true;
    }
    return false;
  }

  /** The narrowing as the report states it. */
  summary(framesKept: number): NarrowingSummary {
    const s = this.spec;
    return {
      ...(s.hosts?.length ? { host: s.hosts } : {}),
      ...(s.servers?.length ? { server: s.servers } : {}),
      ...(this.from !== null ? { from: boundText(this.from) } : {}),
      ...(this.to !== null ? { to: boundText(this.to) } : {}),
      ...(s.filter !== undefined ? { filter: s.filter } : {}),
      framesKept,
    };
  }
}

/** "host 10.0.0.5, server 10.0.0.5:3390, from 2026-03-10T09:00:05.000Z, filter "tcp port 3390": 120 of 5,000 frames analysed" */
export function narrowingText(n: NarrowingSummary, frames: number): string {
  const parts: string[] = [];
  if (n.host) parts.push(`host ${n.host.join(' or ')}`);
  if (n.server) parts.push(`server ${n.server.join(' or ')}`);
  if (n.from) parts.push(`from ${n.from}`);
  if (n.to) parts.push(`to ${n.to}`);
  if (n.filter !== undefined) parts.push(`filter "${n.filter}"`);
  return `${parts.join(', ')}: ${n.framesKept} of ${frames} frames analysed (the findings rest on these alone)`;
}
