// `--format text` (the default on a terminal): a summary line per server, then each failed
// attempt with a short ladder of its timeline (the point of death marked), its top finding,
// the frames, the steps to take and how to confirm; completed attempts one line each.
// Every string of the report is shown with its control characters as \xNN, so a cookie or a
// certificate subject cannot send escape sequences to the terminal; colours are our own only.
import { serverSentence } from '../diagnose/index.js';
import { narrowingText } from '../net/narrow.js';
import { spanText, zonedCaptureSpan } from './time.js';
import type { Finding } from '../diagnose/types.js';
import type { TimelineEvent } from '../handshake/types.js';
import { probeFacts, probeTables, textTable } from './probe.js';
import { escapeControls } from './escape.js';
import { timeInRange } from '../capture/types.js';
import { EARLIEST_CAPTURE_TIME } from '../diagnose/facts.js';
import { CAPTURE_FINDINGS_TITLE, GATEWAYS_TITLE, PROBES_TITLE, checksumNote, gatewayFacts, deathText, eventLabel, fileSetLines, fileSetNote, findingLabel, ladderRows, logonModes, offsetText, outcomeText, partition, percent, rdpeudpText, timeSpan } from './ladder.js';
import type { Report, ReportedConnection } from './types.js';

export interface TextOptions {
  /** ANSI colours (the CLI decides: src/cli/terminal.ts colorWanted, and --no-color). */
  color: boolean;
  /** Timeline events shown per failed connection (default 40). */
  maxLadder?: number;
  /** The zone printed times are in (an IANA name from resolveTimeZone; default UTC), always labelled. */
  tz?: string;
  /**
   * 'summary' (the default): identical failures (same server, top cause, phase where they died)
   * are one block with their count, attempt ids and time span, a cause's steps are printed once,
   * and long lists of completed or partly captured attempts become counts per server. 'full':
   * every attempt on its own.
   */
  detail?: 'summary' | 'full';
}

/** In a summary, more completed (or partly captured) attempts than this are counted per server, not listed. */
export const LIST_AT_MOST = 10;
/** Attempt ids named in a block of identical failures before "and N more". */
const IDS_AT_MOST = 12;

/** Width of the arrow column of the ladder. */
const ARROW_WIDTH = 56;
const DEFAULT_LADDER = 40;

type Paint = (code: string, s: string) => string;

/** A deep copy of `v` with every string passed through `f` (object keys are ours, not untrusted). */
export function mapStrings<T>(v: T, f: (s: string) => string): T {
  if (typeof v === 'string') return f(v) as T;
  if (Array.isArray(v)) return v.map((x: unknown) => mapStrings(x, f)) as T;
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = mapStrings(x, f);
    return out as T;
  }
  return v;
}

export function renderText(report: Report, opts: TextOptions): string {
  const pieces: string[] = [];
  writeText(report, opts, (p) => pieces.push(p));
  return pieces.join('');
}

/**
 * Writes the text report piece by piece (the same text as renderText): one connection at a time,
 * each escaped on its own, so neither an escaped copy of the whole report nor the whole text is
 * ever held (on the 1 GB corpus the copy and the lines took ~45 MB above the report itself).
 */
export function writeText(report: Report, opts: TextOptions, write: (piece: string) => void): void {
  const { connections: _all, ...rest } = report;
  const r = mapStrings(rest, escapeControls);
  const paint: Paint = (code, s) => (opts.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const max = opts.maxLadder ?? DEFAULT_LADDER;
  const out = (...lines: string[]): void => {
    if (lines.length > 0) write(lines.join('\n') + '\n');
  };
  const cap = r.capture;
  const facts = [cap.format, `${cap.frames} frames`];
  for (const l of cap.linkTypes) facts.push(`${l.name} ${l.frames}`);
  const zone = opts.tz ?? 'UTC';
  const span = zone === 'UTC' ? timeSpan(report) : zonedCaptureSpan(report, zone);
  if (span) facts.push(span);
  out(`Capture: ${cap.files.map((f) => f.file).join(', ')} (${facts.join(', ')})`);
  for (const l of fileSetLines(cap)) out(l);
  if (cap.narrowing) out(`Narrowed to ${narrowingText(cap.narrowing, cap.frames)}`);
  for (const d of cap.damage) out(paint('33', `Damaged input: ${d}`));
  const checksums = checksumNote(cap);
  if (checksums !== null) out(checksums);
  out('', paint('1', r.summary.headline));
  if (r.probe) {
    out('', ...probeFacts(r.probe));
    for (const t of probeTables(r.probe)) out('', ...textTable(t));
  }
  if (r.servers.length > 0) {
    out('');
    for (const s of r.servers) out(serverSentence(s));
  }
  if ((r.gateways ?? []).length > 0) {
    out('', paint('1', GATEWAYS_TITLE + ':'));
    for (const g of r.gateways) out(`  ${g.text}`);
  }
  if (r.captureFindings.length > 0) {
    out('', paint('1', CAPTURE_FINDINGS_TITLE + ':'));
    for (const f of r.captureFindings) out(...findingDetail(f, 'Finding:', '  ', paint, true));
  }
  const many = cap.files.length > 1;
  const esc = (c: ReportedConnection): ReportedConnection => mapStrings(c, escapeControls);
  const { failed, incomplete, completed, preAuthentication } = partition(report);
  if (opts.detail === 'full') {
    for (const c of failed) out('', ...failedBlock(esc(c), many, max, paint, null, fileSetNote(report, c)));
  } else {
    const groups = sameFailures(failed);
    if (groups.some((g) => g.length > 1)) {
      out('', `Identical failures (same server, cause and phase) are shown once, with their count; --detail full shows every attempt.`);
    }
    const stepsShown = new Map<string, string>();
    for (const g of groups) {
      const first = esc(g[0]!);
      out('', ...(g.length === 1 ? failedBlock(first, many, max, paint, stepsShown, fileSetNote(report, g[0]!)) : repeatedBlock(g, first, many, max, paint, stepsShown, fileSetNote(report, g[0]!), zone)));
    }
  }
  if (incomplete.length > 0) {
    out('', paint('1', 'Only partly captured:'));
    if (opts.detail !== 'full' && incomplete.length > LIST_AT_MOST) {
      for (const line of countedByServer(incomplete)) out(`  ${escapeControls(line)}`);
    } else {
      for (const c of incomplete) {
        const e = esc(c);
        out(`  ${oneLine(e, many, paint)}`, ...findingLines(e, '    ', paint, false, null));
        for (const w of e.warnings) out(paint('33', `    warning: ${w.message}${w.frame !== null ? ` (frame ${w.frame})` : ''}`));
      }
    }
  }
  if (completed.length > 0) {
    out('', paint('1', 'Completed:'));
    if (opts.detail !== 'full' && completed.length > LIST_AT_MOST) {
      for (const line of countedByServer(completed)) out(`  ${escapeControls(line)}`);
    } else {
      for (const c of completed) {
        const e = esc(c);
        out(`  ${oneLine(e, many, paint)}`);
        if (e.attempt) out(`    ${e.attempt.note}`);
        for (const f of e.findings) out(...findingDetail(f, `${findingLabel(f)}:`, '    ', paint, true));
      }
    }
  }
  if (preAuthentication.length > 0) {
    out('', paint('1', 'NLA pre-authentication (part of the attempt after it, not a failure):'));
    for (const c of preAuthentication) {
      const e = esc(c);
      out(`  ${oneLine(e, many, paint)}`, `    ${e.attempt!.note}`);
    }
  }
  if (r.probes.length > 0) {
    out('', paint('1', PROBES_TITLE + ':'));
    for (const p of r.probes) out(`  ${p.summary} Frames ${p.frames.join(', ')}${p.connections > p.frames.length ? ', …' : ''}.`);
  }
  const groups = r.groups.filter((g) => g.connectionIds.length > 1);
  if (groups.length > 0) {
    out('', paint('1', 'Retries:'));
    if (opts.detail !== 'full' && groups.length > LIST_AT_MOST) {
      // Many clients retrying the same way (a storm): one line per server and story, with the count of clients.
      for (const line of sameRetries(groups)) out(`  ${line}`);
    } else for (const g of groups) out(`  ${g.client} -> ${g.server}: ${g.summary}`);
  }
  const warnings = [...r.warnings, ...cap.files.flatMap((f) => f.warnings.map((w) => `${f.file}: ${w.message} at byte offset ${w.offset} (frame ${w.frame})`))];
  if (warnings.length > 0) {
    out('', paint('33', 'Warnings:'));
    for (const w of warnings) out(`  ${w}`);
  }
}

/**
 * Retry groups told the same way to the same server, one line each: "659 clients -> 10.10.0.20:3389:
 * Failed 3 times: ... (c3, c7, ... and 647 more)". The summary's closing "(cN)." (the root attempt) is
 * what differs between them; the line lists those root attempts.
 */
function sameRetries(groups: readonly { client: string; server: string; summary: string; rootCauseConnectionId: string | null; connectionIds: string[] }[]): string[] {
  const stories = new Map<string, { server: string; story: string; clients: Set<string>; roots: string[] }>();
  for (const g of groups) {
    const story = g.summary.replace(/ \(c\d+\)\.$/, '.');
    const k = `${g.server}|${story}`;
    let s = stories.get(k);
    if (s === undefined) stories.set(k, (s = { server: g.server, story, clients: new Set(), roots: [] }));
    s.clients.add(g.client);
    s.roots.push(g.rootCauseConnectionId ?? g.connectionIds[0]!);
  }
  return [...stories.values()].map((s) => {
    const ids = s.roots.length > IDS_AT_MOST ? `${s.roots.slice(0, IDS_AT_MOST).join(', ')} and ${s.roots.length - IDS_AT_MOST} more` : s.roots.join(', ');
    const who = s.clients.size === 1 ? [...s.clients][0]! : `${s.clients.size} clients`;
    return `${who} -> ${s.server}: ${s.story.replace(/\.$/, '')} (${ids}).`;
  });
}

/** Failed attempts grouped by server, top cause and the phase they died in, in order of first failure. */
export function sameFailures(failed: readonly ReportedConnection[]): ReportedConnection[][] {
  const groups = new Map<string, ReportedConnection[]>();
  for (const c of failed) {
    const k = `${c.file}|${c.server}|${c.findings[0]?.cause ?? ''}|${c.died?.phase ?? c.reached}`;
    const g = groups.get(k);
    if (g) g.push(c);
    else groups.set(k, [c]);
  }
  return [...groups.values()];
}

/** "c1, c2, c3" or "c1, c2, ... and 988 more". */
function idList(g: readonly ReportedConnection[]): string {
  const ids = g.slice(0, IDS_AT_MOST).map((c) => c.id);
  return g.length > IDS_AT_MOST ? `${ids.join(', ')} and ${g.length - IDS_AT_MOST} more` : ids.join(', ');
}

/** "between 2026-03-10 09:00:00 .. 09:14:07 UTC" (the date again when it changes; in `zone`, labelled), or "at ..." for one second. */
function span(g: readonly ReportedConnection[], zone: string): string {
  let a = Infinity;
  let b = -Infinity;
  for (const c of g) {
    if (c.start < a) a = c.start;
    if (c.start > b) b = c.start;
  }
  // Times out of the date range (an extreme pcapng if_tsoffset / if_tsresol) are said to be (issue 19).
  // Times before 1999 are a clock that was never set, or a timestamp resolution too fine to be a date.
  if (!timeInRange(a) || !timeInRange(b) || a < EARLIEST_CAPTURE_TIME) return 'at times out of range';
  return `${Math.floor(a) === Math.floor(b) ? 'at' : 'between'} ${spanText(a, b, zone)}`;
}

/** One block for attempts that failed the same way: count, ids, time span, then the first one in full as the example. */
function repeatedBlock(g: readonly ReportedConnection[], first: ReportedConnection, many: boolean, max: number, paint: Paint, stepsShown: Map<string, string>, setNote: string | null, zone: string): string[] {
  const server = escapeControls(first.server);
  const clients = new Set(g.map((c) => c.client.replace(/:\d+$/, '')));
  const lines: string[] = [];
  lines.push(
    `${paint('1;31', 'FAILED')} ${paint('1', `${g.length} attempts to ${server}`)} from ${clients.size === 1 ? escapeControls([...clients][0]!) : `${clients.size} clients`}${many ? ` [${escapeControls(first.file)}]` : ''}, the same way: ${deathText(first).replace(/ \(frame \d+\)$/, '') || `reached ${first.reached}`}`,
  );
  lines.push(`  attempts: ${escapeControls(idList(g))}`);
  const evidence = g.filter((c) => c.evidenceFile);
  if (evidence.length > 0) {
    const shown = evidence.slice(0, IDS_AT_MOST).map((c) => `${c.id} ${c.evidenceFile}`);
    lines.push(`  evidence: ${escapeControls(shown.join(', '))}${evidence.length > IDS_AT_MOST ? ` and ${evidence.length - IDS_AT_MOST} more in the same folder` : ''}`);
  }
  lines.push(`  ${span(g, zone)}`);
  const example = failedBlock(first, many, max, paint, stepsShown, setNote);
  example[0] = `${paint('1', 'the first of them:')} ${where(first, many)}: ${deathText(first) || `reached ${first.reached}`}`;
  lines.push(...example.map((l) => `  ${l}`));
  return lines;
}

/** "1200 to 10.0.0.5:3389 (c3, c4, ... and 1188 more)", one line per server. */
function countedByServer(conns: readonly ReportedConnection[]): string[] {
  const by = new Map<string, ReportedConnection[]>();
  for (const c of conns) {
    const g = by.get(c.server);
    if (g) g.push(c);
    else by.set(c.server, [c]);
  }
  return [...by.entries()].map(([server, g]) => `${g.length} to ${server} (${idList(g)})`);
}

function where(c: ReportedConnection, many: boolean): string {
  return `${c.id} ${c.transport} ${c.client} -> ${c.server}${many ? ` [${c.file}]` : ''}`;
}

function oneLine(c: ReportedConnection, many: boolean, paint: Paint): string {
  const parts: string[] = [c.transport === 'udp' ? rdpeudpText(c) : `reached ${c.reached}`];
  const sec = securityText(c);
  if (sec) parts.push(sec);
  // The RDPEUDP side channel attached to this TCP connection: unanswered, the session stays on TCP.
  const side = c.transport === 'tcp' ? c.sideChannels.find((x) => x.transport === 'udp') : undefined;
  if (side) {
    parts.push(
      side.answered
        ? `UDP transport answered${side.synAckFrame !== null ? ` (RDPEUDP SYN+ACK in frame ${side.synAckFrame})` : ''}`
        : `UDP transport not answered (${side.datagrams.client} datagram${side.datagrams.client === 1 ? '' : 's'}${side.synFrame !== null ? ` from frame ${side.synFrame}` : ''}): the session stayed on TCP`,
    );
  }
  const d = c.tls?.decryption;
  if (d) parts.push(d.status === 'decrypted' ? 'TLS decrypted' : `TLS not decrypted (${d.status.replace('_', ' ')})`);
  const rd = c.mcs?.redirection;
  if (rd) parts.push(`Server Redirection in frame ${rd.frame} (session id ${rd.sessionId}${rd.loadBalanceInfo !== null ? `, load-balance info "${rd.loadBalanceInfo}"` : ''}${rd.noRedirect ? ', LB_NOREDIRECT' : ''})`);
  const ended = c.errorInfo.filter((e) => e.code !== 0).at(-1);
  if (ended && c.outcome === 'completed') parts.push(`ended by the server with ${ended.name}`);
  // Whether a user logged on is readable only where the share data was (decrypted TLS).
  // When the server's side was not read to its end, a missing Save Session Info proves nothing.
  if (d && d.records.server > 0 && c.reached === 'active') {
    const stop = d.decodeStopped?.find((x) => x.by === 'server');
    parts.push(
      c.mcs?.logon
        ? `user logged on (Save Session Info, frame ${c.mcs.logon.frame})`
        : stop
          ? `whether a user logged on is not known (the server's data was read only until ${stop.frame !== null ? `frame ${stop.frame}` : 'the reassembly limit'})`
          : 'no user logon seen (no Save Session Info)',
    );
  }
  const outcome = c.outcome === 'completed' ? paint('32', outcomeText(c)) : paint('33', outcomeText(c));
  return `${where(c, many)}: ${outcome} (${parts.join(', ')})`;
}

function securityText(c: ReportedConnection): string {
  const parts: string[] = [];
  if (c.negotiation?.selectedProtocolName) parts.push(c.negotiation.selectedProtocolName);
  if (c.tls?.version) parts.push(c.tls.version);
  return parts.join(' over ');
}

function failedBlock(c: ReportedConnection, many: boolean, max: number, paint: Paint, stepsShown: Map<string, string> | null, setNote: string | null = null): string[] {
  const lines: string[] = [];
  lines.push(`${paint('1;31', 'FAILED')} ${paint('1', where(c, many))}: ${deathText(c) || `reached ${c.reached}`}`);
  if (setNote !== null) lines.push(`  ${escapeControls(setNote)}`);
  if (c.died?.detail) lines.push(`  ${c.died.detail}`);
  if (c.attempt) lines.push(`  ${c.attempt.note}`);
  const facts = factLines(c);
  for (const f of facts) lines.push(`  ${f}`);
  lines.push(...ladder(c, max, paint));
  lines.push(...findingLines(c, '  ', paint, true, stepsShown));
  if (c.evidenceFile) lines.push(`  evidence: ${c.evidenceFile}`);
  for (const w of c.warnings) lines.push(paint('33', `  warning: ${w.message}${w.frame !== null ? ` (frame ${w.frame})` : ''}`));
  return lines;
}

/** Negotiation and TLS facts a user would cross-check. */
function factLines(c: ReportedConnection): string[] {
  const out: string[] = [];
  const n = c.negotiation;
  if (n) {
    const p: string[] = [];
    if (n.cookie !== null) p.push(`cookie "${n.cookie}"`);
    if (n.routingToken !== null) p.push(`routing token "${n.routingToken}"`);
    if (n.requestedProtocolNames.length > 0) p.push(`requested ${n.requestedProtocolNames.join('|')}`);
    if (n.selectedProtocolName !== null) p.push(`selected ${n.selectedProtocolName}`);
    if (n.failureCodeName !== null) p.push(`failure ${n.failureCodeName}`);
    for (const m of logonModes(c)) p.push(`flags ${m}`);
    if (p.length > 0) out.push(`negotiation: ${p.join(', ')}`);
  }
  const t = c.tls;
  if (t && (t.version !== null || t.clientHelloFrame !== null)) {
    const p: string[] = [];
    p.push(t.version ?? `client offered ${t.clientVersions.join('|') || '?'}`);
    if (t.cipherSuiteName) p.push(t.cipherSuiteName);
    if (t.sni !== null) p.push(`SNI "${t.sni}"`);
    out.push(`tls: ${p.join(', ')}`);
    if (t.decryption) out.push(`decryption: ${t.decryption.status === 'decrypted' || t.decryption.status === 'partial' ? '' : 'not decrypted: '}${t.decryption.reason}`);
    const cert = t.certificates[0];
    if (cert) {
      const san = cert.san.length > 0 ? `, SAN ${cert.san.join(', ')}` : '';
      out.push(
        `certificate: ${cert.subject}${san}, issuer ${cert.selfSigned ? '(self-signed)' : cert.issuer}, valid ${cert.notBefore} .. ${cert.notAfter}${cert.keyBits !== null ? `, ${cert.keyType ?? ''} ${cert.keyBits} bits` : ''}`,
      );
    } else if (t.certificateEncrypted) {
      out.push('certificate: encrypted (TLS 1.3)');
    }
  }
  const client = c.mcs?.client;
  if (client?.clientName) out.push(`client name: ${client.clientName}`);
  for (const [k, v] of gatewayFacts(c)) out.push(`${k === 'RD Gateway' ? 'gateway' : k.toLowerCase()}: ${v}`);
  return out;
}

function arrow(e: TimelineEvent): string {
  const room = ARROW_WIDTH - 8;
  let label = eventLabel(e);
  if (label.length > room) label = `${label.slice(0, room - 1)}~`;
  if (e.direction === 'net') {
    const pad = Math.max(0, Math.floor((ARROW_WIDTH - label.length - 4) / 2));
    return `${' '.repeat(pad)}!! ${label}`.padEnd(ARROW_WIDTH);
  }
  const fill = '-'.repeat(Math.max(1, ARROW_WIDTH - label.length - 6));
  return e.direction === 'c2s' ? `--- ${label} ${fill}>` : `<${fill} ${label} ---`;
}

function ladder(c: ReportedConnection, max: number, paint: Paint): string[] {
  const out: string[] = [];
  out.push(`    ${'frame'.padStart(7)}  ${'time'.padEnd(9)} client${'server'.padStart(ARROW_WIDTH - 6)}`);
  for (const row of ladderRows(c, max)) {
    if (row.kind === 'gap') {
      out.push(paint('2', `    ${''.padStart(7)}  ${''.padEnd(9)} ... ${row.hidden} more event${row.hidden === 1 ? '' : 's'} ...`));
    } else if (row.kind === 'death') {
      out.push(paint('1;31', `    ${(row.frame !== null ? String(row.frame) : '').padStart(7)}  ${''.padEnd(9)} XX died here: ${deathText(c)}`));
    } else {
      const e = row.event;
      const detail = e.detail ? `  ${e.detail}` : '';
      const line = `    ${String(e.frame).padStart(7)}  ${offsetText(row.offset).padEnd(9)} ${arrow(e)}`;
      out.push(row.death ? `${paint('1;31', `${line}  <== died here`)}${detail}` : `${line}${detail}`);
    }
  }
  return out;
}

function findingLines(c: ReportedConnection, ind: string, paint: Paint, full: boolean, stepsShown: Map<string, string> | null): string[] {
  const f = c.findings[0];
  if (!f) return c.outcome === 'failed' ? [`${ind}${paint('1', 'Cause:')} the capture does not show why.`] : [];
  // Steps once per cause (summary): a later attempt with the same cause and steps points back.
  const stepsKey = `${f.cause}\n${f.remediation.join('\n')}`;
  const earlier = stepsShown?.get(stepsKey);
  if (stepsShown && earlier === undefined) stepsShown.set(stepsKey, c.id);
  const out = findingDetail(f, `${findingLabel(f)}:`, ind, paint, full, earlier);
  if (!full) return out;
  const others = c.findings.slice(1);
  if (others.length > 0) out.push(`${ind}  also possible: ${others.map((o) => `${o.cause} (${percent(o.confidence)})`).join(', ')}`);
  return out;
}

/** A finding: its cause and explanation, frames, and (full) the steps, how to confirm, the filter. */
function findingDetail(f: Finding, label: string, ind: string, paint: Paint, full: boolean, stepsAbove?: string): string[] {
  const out: string[] = [];
  out.push(`${ind}${paint('1', label)} ${paint('1', f.cause)} (${percent(f.confidence)}): ${f.explanation}`);
  if (f.confidenceReason) out.push(`${ind}  why not certain: ${f.confidenceReason}`);
  if (f.frames.length > 0) out.push(`${ind}  frames: ${f.frames.join(', ')}`);
  if (!full) return out;
  if (stepsAbove !== undefined) {
    out.push(`${ind}  steps: the same as for ${stepsAbove} above`);
  } else if (f.remediation.length > 0) {
    out.push(`${ind}  steps:`);
    f.remediation.forEach((s, i) => out.push(`${ind}    ${i + 1}. ${s}`));
  }
  if (f.confirm) out.push(`${ind}  confirm: ${f.confirm}`);
  if (f.filter) out.push(`${ind}  wireshark: ${f.filter}`);
  if (f.errorCode) out.push(`${ind}  mstsc: ${f.errorCode}`);
  return out;
}
