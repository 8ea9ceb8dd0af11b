// The parts of a run merged into one Report: ids renumbered as one run would number them, the
// diagnosis run once over every record (the cross-connection rules need all of them), summaries.
import { threadId } from 'node:worker_threads';
import { linkTypeName } from '../net/index.js';
import { Narrowing } from '../net/narrow.js';
import { FlowTable } from '../flow/table.js';
import type { OtherPortFailure, OtherPortFailureReport } from '../flow/other-ports.js';
import { endpointText, type DnsTransaction, type KerberosErrorRef } from '../flow/types.js';
import type { ConnectionRecord } from '../handshake/types.js';
import { type GatewaySighting } from '../handshake/gateway-watch.js';
import { RecordPacker, StringInterner, addPackedTimeline, recordHead, compactAndPack, flatString, flattenStrings, flowWithId } from '../handshake/compact.js';
import type { DiagnosisInput, Finding } from '../diagnose/types.js';
import { attemptLinks, diagnose, diagnoseCapture, groupAttempts, headline, summarizeServers, type AttemptLink } from '../diagnose/index.js';
import { findProbes, type CountedHalfOpen } from '../diagnose/probes.js';
import { gatewayClause, gatewayNotes } from '../diagnose/gateway.js';
import { plural } from '../diagnose/facts.js';
import { REPORT_SCHEMA_VERSION, type CaptureFileSummary, type CaptureSummary, type FileSetSummary, type Report, type ReportedConnection, type ServerSummary } from '../report/types.js';
import { type AnalyzeOptions, type FilePart, MAX_BARE_RECORDS, MAX_DNS, MAX_GATEWAY_SIGHTINGS, MAX_RECORDS, type OverflowCounts, TOOL_VERSION, type TableStats, countOverflow, shiftId } from './run.js';
import { attributeMiddleboxResets, iso, mergeOverflow } from './run.js';


/**
 * The parts of a run (in file order) -> the Report: ids renumbered as one run over the files in
 * order numbers them, the record cap applied over all files, the diagnosis run once over everything.
 */
export function mergeParts(parts: FilePart[], opts: AnalyzeOptions): Report {
  const maxRecords = opts.maxRecords ?? MAX_RECORDS;
  const kept: ConnectionRecord[] = [];
  const overflow = new Map<string, OverflowCounts>();
  let overflowCount = 0;
  /** Half-open connections counted for a scanner ("fileIndex|client"): FilePart.scanCounted. */
  const scanCounted = new Map<string, CountedHalfOpen>();
  let idOffset = 0;
  let flowOffset = 0;
  let dns: DnsTransaction[] = [];
  let kerberos: KerberosErrorRef[] = [];
  let gateways: Omit<GatewaySighting, 'id'>[] = [];
  const otherPorts = new Map<number, OtherPortFailure>();
  let framesKept = 0;
  const captureEnds: number[] = [];
  const fileNames: string[] = [];
  /** Each file's summary at its index as given (a file set's pieces are read in another order). */
  const summaries: CaptureFileSummary[] = [];
  const fileSets: FileSetSummary[] = [];
  const names = new Map<string, string[]>();
  let unknownLinkFrames = 0;
  const stats: TableStats = { ...(parts[0]?.stats ?? new FlowTable({ rdpPorts: [] }, () => null).stats) };
  for (const k of Object.keys(stats) as (keyof TableStats)[]) stats[k] = 0;
  // Records posted by a worker arrive as structured-clone copies: their interned strings and shared
  // lists are copies again, compacted here once more (~2 us per record) into one interner for them all.
  // Their timelines arrive decoded (a structured clone reads the accessor): packed again here.
  let cloned: StringInterner | null = null;
  let packer: RecordPacker | null = null;
  for (const p of parts) {
    const fromWorker = p.threadId !== threadId;
    if (fromWorker) {
      cloned ??= new StringInterner();
      packer ??= new RecordPacker();
    }
    for (let i = 0; i < p.records.length; i++) {
      let rec = p.records[i]!;
      if (fromWorker) {
        // The part's list holds the packed copy (the clone is dropped).
        p.records[i] = rec = compactAndPack(rec, cloned!, packer!);
      }
      rec.id = shiftId(rec.id, idOffset);
      if (flowOffset !== 0) rec.flow = flowWithId(rec.flow, rec.flow.id + flowOffset);
      if (kept.length < maxRecords) kept.push(rec);
      else {
        overflowCount++;
        countOverflow(overflow, rec);
      }
    }
    for (const [server, c] of p.overflow) {
      const o = overflow.get(server);
      if (o) {
        o.completed += c.completed;
        o.failed += c.failed;
        o.incomplete += c.incomplete;
        o.halfOpenFailed += c.halfOpenFailed;
        o.halfOpenIncomplete += c.halfOpenIncomplete;
      } else overflow.set(server, { ...c });
    }
    overflowCount += p.overflowCount;
    for (const [client, c] of p.scanCounted ?? []) {
      const k = `${p.fileIndex}|${client}`;
      const o = scanCounted.get(k);
      if (o) {
        o.failed += c.failed;
        o.incomplete += c.incomplete;
      } else scanCounted.set(k, { ...c });
    }
    idOffset += p.idsUsed;
    flowOffset += p.stats.flowsTracked;
    for (const d of p.dns) d.fileIndex = p.fileIndex;
    dns = dns.concat(p.dns);
    for (const k of p.kerberos ?? []) k.fileIndex = p.fileIndex;
    kerberos = kerberos.concat(p.kerberos ?? []);
    gateways = gateways.concat(p.gateways ?? []);
    framesKept += p.framesKept ?? 0;
    for (const f of p.otherPorts ?? []) {
      const o = otherPorts.get(f.port);
      if (o) {
        o.syns += f.syns;
        o.resets += f.resets;
      } else otherPorts.set(f.port, { ...f, fileIndex: p.fileIndex });
    }
    // A file set's pieces share one numbering: every piece's index leads to the set's end and name.
    for (const f of p.files) {
      captureEnds[f.fileIndex] = p.captureEnd;
      fileNames[f.fileIndex] = f.summary.file;
      summaries[f.fileIndex] = f.summary;
    }
    if (p.set !== null) fileSets.push(p.set);
    // The part's list is not read again: emptied (in place: the run that made it may hold the same
    // list) so that records set apart below as probes die before the diagnosis (issue 16).
    p.records.length = 0;
    for (const n of p.names) names.set(n.ip, [...(names.get(n.ip) ?? []), ...n.names]);
    unknownLinkFrames += p.unknownLinkFrames;
    for (const k of Object.keys(stats) as (keyof TableStats)[]) stats[k] += p.stats[k];
  }
  if (dns.length > MAX_DNS) dns = dns.slice(dns.length - MAX_DNS);

  const sorted = kept.sort((a, b) => a.fileIndex - b.fileIndex || a.flow.firstFrame - b.flow.firstFrame);
  // Health checks and scans are not RDP clients' attempts: set apart before the diagnosis (issue 18).
  // A SYN flood's attempts past the records kept were counted from the half-open slots: its group takes them.
  const countedHalfOpen = new Map<string, CountedHalfOpen>();
  for (const [server, c] of overflow) if (c.halfOpenFailed + c.halfOpenIncomplete > 0) countedHalfOpen.set(server, { failed: c.halfOpenFailed, incomplete: c.halfOpenIncomplete });
  const { probes, ids: probeIds, countedServers, countedSources } = findProbes(sorted, countedHalfOpen, scanCounted);
  // Counted half-open attempts a flood or scan group took are probes, not attempts (as its recorded ones).
  let probeCounted = 0;
  for (const server of countedServers) probeCounted += countedHalfOpen.get(server)!.failed + countedHalfOpen.get(server)!.incomplete;
  for (const [k, c] of scanCounted) if (countedSources.has(k)) probeCounted += c.failed + c.incomplete;
  const conns = probeIds.size > 0 ? sorted.filter((c) => !probeIds.has(c.id)) : sorted;
  // The probes' records are not read again (their groups hold counts and frames): let them go before
  // the diagnosis and the report are made (issue 16: a SYN flood's 5,000 bare records, ~7 MB of a
  // 100 MB storm's peak heap). `kept` is `sorted`; its length is still named by the warning below.
  const keptCount = kept.length;
  if (conns !== sorted) sorted.length = 0;
  const gatewaySightings: GatewaySighting[] = gateways
    .slice(0, MAX_GATEWAY_SIGHTINGS)
    .sort((a, b) => a.fileIndex - b.fileIndex || a.firstFrame - b.firstFrame)
    .map((g, i) => ({ id: `g${i + 1}`, ...g }));
  // A tunnelled connection (ConnectionRecord.gateway) names the sighting of its outer TCP connection.
  for (const c of conns) {
    if (c.gateway === undefined) continue;
    const g = gatewaySightings.find((x) => x.fileIndex === c.fileIndex && x.firstFrame === c.flow.firstFrame && x.transport === 'tcp');
    // The legacy HTTP transport's tunnel: each of its two channels' sightings (the IN channel's is its flow's).
    const channels = c.gateway.channels?.map((ch) => ({ ...ch, sighting: gatewaySightings.find((x) => x.fileIndex === c.fileIndex && x.firstFrame === ch.firstFrame && x.transport === 'tcp' && endpointText(x.client) === ch.client)?.id ?? null }));
    c.gateway = { ...c.gateway, sighting: g?.id ?? null, ...(channels !== undefined ? { channels } : {}) };
  }
  const input: DiagnosisInput = { connections: conns, dns, captureEnd: captureEnds, names, files: fileNames, kerberos, gateways: gatewaySightings };
  opts.beforeDiagnosis?.();
  const findings = diagnose(input);
  const captureFindings = diagnoseCapture(input, findings);
  const gatewaysSeen = gatewayNotes(input);
  attributeMiddleboxResets(conns, findings, input);
  const strings = new StringInterner();
  const links = attemptLinks(conns);
  const connections: ReportedConnection[] = conns.map((c) => {
    const f = findings.get(c.id) ?? [];
    // Findings about retried or similar connections repeat their sentences: one copy each (flat).
    // The other strings are the catalogue's, but for `confirm` with a rule's extra sentence.
    for (const x of f) {
      if (Object.isFrozen(x)) {
        flattenStrings(x);
        continue;
      }
      x.explanation = strings.intern(x.explanation);
      x.filter = strings.intern(x.filter);
      if (x.confidenceReason !== null) x.confidenceReason = strings.intern(x.confidenceReason);
      if (x.summary !== undefined) x.summary = strings.intern(x.summary);
      flatString(x.confirm);
      for (let i = 0; i < x.remediation.length; i++) flatString(x.remediation[i]!);
      flatString(x.errorCode);
    }
    return reported(c, f, links.get(c.id) ?? null);
  });
  const warnings: string[] = [];
  if (overflowCount > 0) {
    // Records stop at maxRecords, and those of attempts that never carried data at MAX_BARE_RECORDS.
    const why = keptCount < maxRecords ? ` (attempts that carried no data beyond the first ${MAX_BARE_RECORDS})` : '';
    const where = probeCounted === 0 ? 'see servers' : probeCounted === overflowCount ? 'all of them in the SYN flood under probes' : `${probeCounted} of them in the SYN flood under probes, the others under servers`;
    warnings.push(`${overflowCount} connections beyond the first ${Math.min(maxRecords, keptCount)} were counted per server, not recorded${why} (${where})`);
  }
  if (unknownLinkFrames > 0) warnings.push(`${unknownLinkFrames} frames of an unsupported link type were skipped`);
  warnings.push(...keyLogWarnings(parts, conns, gatewaySightings));
  for (const p of parts) {
    if (p.clockOutlierCount === 0) continue;
    const o = p.clockOutliers;
    const named = o.map((x) => `frame ${x.frame} (${iso(x.time)}, ${span(x.time - x.plausible)} ${x.time > x.plausible ? 'after' : 'before'} the frame before it)`).join(', ');
    const more = p.clockOutlierCount > o.length ? `, and ${p.clockOutlierCount - o.length} more` : '';
    warnings.push(
      `${parts.length > 1 ? `${p.name}: ` : ''}${p.clockOutlierCount === 1 ? 'a frame has a timestamp' : `${p.clockOutlierCount} frames have timestamps`} far outside the frames around ${p.clockOutlierCount === 1 ? 'it' : 'them'} (a bogus clock or a corrupted record): ${named}${more}; durations and the capture's span use the time of the frame before each instead`,
    );
  }
  for (const p of parts) {
    // Steps back of less than a second (two interfaces' frames interleaved a little out of order) change no verdict.
    if (p.timeBackSteps === 0 || p.largestBackStep === null || p.largestBackStep.seconds < 1) continue;
    const b = p.largestBackStep;
    warnings.push(
      `${parts.length > 1 ? `${p.name}: ` : ''}the frames are not in time order: ${p.timeBackSteps === 1 ? 'a frame is' : `${p.timeBackSteps} frames are`} earlier than the frame before ${p.timeBackSteps === 1 ? 'it' : 'them'} (the largest step back: ${span(b.seconds)} at frame ${b.frame}; captures merged end to end, several interfaces, or a clock set back): the capture's span runs from its earliest frame to its latest, and a silence measured up to the capture's end may include time that other parts of it cover`,
    );
  }
  const dup = duplicatesWarning(conns, stats.captureDuplicates);
  if (dup !== null) warnings.push(dup);
  const completed = connections.filter((c) => c.outcome === 'completed').length;
  // mstsc's pre-authentication connections are part of the attempt after them: not failures.
  const preAuthentication = connections.filter((c) => c.attempt?.role === 'pre_authentication').length;
  const failed = connections.filter((c) => c.outcome === 'failed').length - preAuthentication;
  const incomplete = connections.length - completed - failed - preAuthentication;
  let servers: ServerSummary[] = summarizeServers(conns, findings);
  // The counted attempts a flood group took are not the server's attempts (as its recorded ones are not).
  for (const server of countedServers) {
    const c = overflow.get(server)!;
    const left = { ...c, failed: c.failed - c.halfOpenFailed, incomplete: c.incomplete - c.halfOpenIncomplete, halfOpenFailed: 0, halfOpenIncomplete: 0 };
    if (left.completed + left.failed + left.incomplete === 0) overflow.delete(server);
    else overflow.set(server, left);
  }
  if (overflow.size > 0) servers = mergeOverflow(servers, overflow);
  const o = [...overflow.values()].reduce(
    (a, c) => ({ completed: a.completed + c.completed, failed: a.failed + c.failed, incomplete: a.incomplete + c.incomplete }),
    { completed: 0, failed: 0, incomplete: 0 },
  );
  // A scanner's counted connections no scan group took stay attempts (counted, in no server's line).
  for (const [k, c] of scanCounted) {
    if (countedSources.has(k)) continue;
    o.failed += c.failed;
    o.incomplete += c.incomplete;
  }
  const capture = captureSummary(
    summaries.filter((x) => x !== undefined),
    stats,
    unknownLinkFrames,
  );
  if (fileSets.length > 0) {
    capture.fileSets = fileSets;
    warnings.push(...fileSets.flatMap((s) => fileSetWarnings(s, fileNames)));
  }
  // No RDP attempt: the failed TCP attempts to other ports are named (RDP on a port we were not told about).
  const otherFailures = connections.length + overflowCount - probeCounted === 0 ? otherPortFailures(otherPorts, fileNames) : [];
  if (otherFailures.length > 0) capture.otherPortFailures = otherFailures;
  const narrowing = opts.narrow !== undefined ? new Narrowing(opts.narrow) : null;
  if (narrowing !== null && narrowing.active) capture.narrowing = narrowing.summary(framesKept);
  const summary = {
    connections: connections.length + overflowCount - probeCounted,
    completed: completed + o.completed,
    failed: failed + o.failed,
    incompleteCapture: incomplete + o.incomplete,
    preAuthentication,
    headline: headline(conns, findings, {
      findings: captureFindings,
      frames: capture.frames,
      probes,
      gateways: gatewayClause(gatewaysSeen, conns.length === 0),
      otherPortFailures: otherFailures,
      rdpPorts: [3389, ...(opts.rdpPorts ?? []).filter((p) => p !== 3389)],
    }),
  };
  if (overflowCount - probeCounted > 0) summary.headline += ` (${overflowCount - probeCounted} more connections counted per server, not recorded.)`;
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'rdp-autopsy', version: TOOL_VERSION },
    capture,
    connections,
    captureFindings,
    probes,
    gateways: gatewaysSeen,
    groups: groupAttempts(conns, findings),
    servers,
    dns,
    summary,
    warnings,
  };
}

/** Ports the report names at most (the most SYNs first; a port scan touches thousands). */
export const MAX_OTHER_PORTS_REPORTED = 20;

/** The merged failed attempts to other ports, as the report names them (with the file of their first SYN when there are several files). */
export function otherPortFailures(ports: Map<number, OtherPortFailure>, files: string[]): OtherPortFailureReport[] {
  const several = files.filter((f) => f !== undefined).length > 1;
  return [...ports.values()]
    .sort((a, b) => b.syns - a.syns || a.port - b.port)
    .slice(0, MAX_OTHER_PORTS_REPORTED)
    .map((f) => ({ port: f.port, server: f.server, syns: f.syns, resets: f.resets, firstFrame: f.firstFrame, ...(several ? { file: files[f.fileIndex] ?? '' } : {}) }));
}

/** "3 years", "5 days", "2 hours": the size of a clock jump, for people. */
export function span(seconds: number): string {
  const s = Math.abs(seconds);
  const units: [number, string][] = [[365.25 * 86400, 'year'], [86400, 'day'], [3600, 'hour'], [60, 'minute']];
  for (const [u, name] of units) if (s >= u) return plural(Math.round(s / u), name);
  return plural(Math.round(s), 'second');
}

/**
 * Said once per report: frames of RDP flows that were exact copies of earlier ones (src/flow/duplicates.ts),
 * with the first copy and its original, or null when there were none.
 */
export function duplicatesWarning(conns: ConnectionRecord[], count: number): string | null {
  if (count === 0) return null;
  let first: ConnectionRecord | null = null;
  for (const c of conns) {
    const d = c.flow.captureDuplicateFrames[0];
    if (d !== undefined && (first === null || d[0] < first.flow.captureDuplicateFrames[0]![0])) first = c;
  }
  const example = first !== null ? `; the first, frame ${first.flow.captureDuplicateFrames[0]![0]}${conns.some((c) => c.fileIndex !== 0) ? ` of ${first.file}` : ''}, repeats frame ${first.flow.captureDuplicateFrames[0]![1]}` : '';
  return `${count} frame${count === 1 ? ' is an exact copy' : 's are exact copies'} of an earlier frame (same IP identification, sequence numbers and payload: a capture on a mirror port or on several interfaces at once); each was counted once, as editcap -d would, and left out of the retransmission figures${example}`;
}

/**
 * The record plus its findings, as one object literal: `{ ...c, findings }` gave every connection
 * of the report a hidden class of its own (about 2 KB of heap each, measured on the 1 GB corpus).
 * Same keys in the same order as the record (the JSON report is byte-identical).
 */
export function reported(c: ConnectionRecord, findings: Finding[], attempt: AttemptLink | null = null): ReportedConnection {
  // Built as a literal and then key by key, so that a packed timeline (handshake/compact.ts) is
  // shared with the report's connection at its place among the keys, not decoded.
  const out = recordHead(c) as ReportedConnection;
  if (!addPackedTimeline(out, c)) out.timeline = c.timeline;
  out.flow = c.flow;
  out.warnings = c.warnings;
  if (c.gateway !== undefined) out.gateway = c.gateway;
  out.attempt = attempt;
  out.findings = findings;
  return out;
}

/**
 * The key sources in one line per file, the lines that could not be used, and which TLS
 * connections were not decrypted and why (design.md: the report says what was decoded and what inferred).
 */
export function keyLogWarnings(parts: FilePart[], conns: ConnectionRecord[], gateways: readonly GatewaySighting[] = []): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const p of parts) {
    const k = p.keyLog;
    if (k === null) continue;
    const line = `TLS secrets for ${k.sessions} session${k.sessions === 1 ? '' : 's'} from ${k.sources.join(', ')}`;
    if (!seen.has(line)) out.push(line);
    seen.add(line);
    for (const pr of k.problems) {
      if (!seen.has(pr)) out.push(`key log: ${pr}`);
      seen.add(pr);
    }
  }
  if (out.length === 0) return out;
  const by = { decrypted: 0, partial: 0, failed: 0, no_key: 0, unsupported: 0 };
  for (const c of conns) {
    const d = c.tls?.decryption;
    if (d !== undefined) by[d.status]++;
  }
  out.push(`TLS decryption: ${by.decrypted} connection${by.decrypted === 1 ? '' : 's'} decrypted, ${by.partial} partly, ${by.failed} whose records did not authenticate with the given secrets (a key log of other sessions), ${by.no_key} without a secret, ${by.unsupported} with a version or cipher suite not decrypted`);
  // HTTPS to an RD Gateway's port (gateway-watch.ts) is decrypted apart from the RDP connections.
  const gw = { decrypted: 0, failed: 0, no_key: 0, unsupported: 0 };
  for (const g of gateways) {
    const d = g.tls?.decryption ?? null;
    if (d !== null) gw[d]++;
  }
  if (gw.decrypted + gw.failed + gw.no_key + gw.unsupported > 0) {
    out.push(`TLS decryption of HTTPS to port 443 (RD Gateway): ${gw.decrypted} connection${gw.decrypted === 1 ? '' : 's'} decrypted, ${gw.failed} whose records did not authenticate, ${gw.no_key} without a secret, ${gw.unsupported} with a version or cipher suite not decrypted (TLS 1.2 and 1.3 are)`);
  }
  return out;
}

export function captureSummary(files: CaptureFileSummary[], s: TableStats, unknownLinkFrames: number): CaptureSummary {
  const formats = new Set(files.map((f) => f.format));
  const lt = new Map<number, number>();
  for (const f of files) for (const l of f.linkTypes) lt.set(l.linkType, (lt.get(l.linkType) ?? 0) + l.frames);
  const starts = files.map((f) => f.start).filter((x): x is number => x !== null);
  const ends = files.map((f) => f.end).filter((x): x is number => x !== null);
  return {
    files,
    format: formats.size === 1 ? [...formats][0]! : formats.size === 0 ? 'none' : 'mixed',
    linkTypes: [...lt].map(([linkType, frames]) => ({ linkType, name: linkTypeName(linkType), frames })),
    frames: files.reduce((a, f) => a + f.frames, 0),
    bytes: files.reduce((a, f) => a + f.bytes, 0),
    start: starts.length > 0 ? iso(Math.min(...starts)) : null,
    end: ends.length > 0 ? iso(Math.max(...ends)) : null,
    damage: files.filter((f) => f.damage !== null).map((f) => `${f.file}: ${f.damage!.message} at byte offset ${f.damage!.offset} (frame ${f.damage!.frame})`),
    stats: {
      tcpPackets: s.tcpPackets,
      udpPackets: s.udpPackets,
      nonIp: s.nonIp,
      ipFragments: s.ipFragments,
      badChecksums: s.badChecksums,
      flowsEvicted: s.flowsEvicted,
      halfOpenEvicted: s.halfOpenEvicted,
      cutBytes: s.cutBytes,
      unknownLinkTypeFrames: unknownLinkFrames,
      captureDuplicates: s.captureDuplicates,
      checksumsNotVerified: s.checksumsNotVerified,
    },
  };
}

/** A gap between pieces at least this long (seconds) is stated in the report's warnings. */
export const SET_GAP_NOTE = 60;

export function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** The report's warnings about a set read as one capture: long gaps between its pieces (missing pieces are stated while reading). */
export function fileSetWarnings(set: FileSetSummary, fileNames: string[]): string[] {
  const out: string[] = [];
  for (const g of set.gaps) {
    if (g.seconds >= SET_GAP_NOTE && g.missing.length === 0) {
      out.push(`file set: no packets for ${durationText(g.seconds)} between ${fileNames[g.after]} and ${fileNames[g.before]} (a quiet link, or packets not captured there)`);
    }
  }
  return out;
}

/** "42 s", "3 min 5 s", "2 h 4 min". */
export function durationText(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${seconds < 10 ? round3(seconds) : s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
  const h = Math.floor(s / 3600);
  if (h < 48) return `${h} h${Math.floor((s % 3600) / 60) ? ` ${Math.floor((s % 3600) / 60)} min` : ''}`;
  return `${Math.floor(h / 24)} days`;
}
