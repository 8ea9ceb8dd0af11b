// `--format md`: a report to paste into a ticket (GitHub-flavoured Markdown): the headline, a
// summary table per server and per attempt, one section per failed attempt (its ladder as a
// table, the finding, the steps as a checklist, how to confirm, the Wireshark filter), then the
// capture facts. Every value from the capture goes through escapeMarkdown (text, table cells)
// or markdownCode (code spans), which also show control characters as \xNN.
import { serverSentence } from '../diagnose/index.js';
import { narrowingText } from '../net/narrow.js';
import { zonedCaptureSpan } from './time.js';
import { probeFacts, probeTables } from './probe.js';
import { escapeMarkdown as md, markdownCode as code } from './escape.js';
import { CAPTURE_FINDINGS_TITLE, GATEWAYS_TITLE, PROBES_TITLE, deathText, checksumNote, gatewayFacts, fileSetLines, fileSetNote, findingLabel, findingTag, ladderRows, logonModes, offsetText, outcomeText, partition, percent, reachedClause, reachedText, timeSpan } from './ladder.js';
import type { Finding } from '../diagnose/types.js';
import type { Report, ReportedConnection } from './types.js';

export interface MarkdownOptions {
  /** Timeline events shown per failed connection (default 60). */
  maxLadder?: number;
  /** The zone printed times are in (an IANA name from resolveTimeZone; default UTC), always labelled. */
  tz?: string;
}

const DEFAULT_LADDER = 60;

const DIRECTION: Record<'c2s' | 's2c' | 'net', string> = {
  c2s: 'client → server',
  s2c: 'client ← server',
  net: 'network',
};

function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

function table(head: string[], rows: string[][]): string[] {
  return [row(head), row(head.map(() => '---')), ...rows.map(row)];
}

/** A heading anchor-friendly id: the connection ids are ours ("c12"), escaped anyway. */
function title(c: ReportedConnection): string {
  return `${md(c.id)}: ${md(c.client)} → ${md(c.server)}, ${md(outcomeText(c))}`;
}

export function renderMarkdown(report: Report, opts: MarkdownOptions = {}): string {
  const pieces: string[] = [];
  writeMarkdown(report, (p) => pieces.push(p), opts);
  return pieces.join('');
}

const SPACE = /\s/;

/**
 * Lines in, text out as `lines.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd() + '\n'` would make it,
 * piece by piece: the trailing white space of what came so far is held back (a run of line breaks
 * may go on in the next piece, and the end of the text drops it).
 */
export class MarkdownOut {
  private held = '';
  constructor(private readonly write: (piece: string) => void) {}

  push(...lines: string[]): void {
    if (lines.length === 0) return;
    const text = (this.held + lines.join('\n') + '\n').replace(/\n{3,}/g, '\n\n');
    let i = text.length;
    while (i > 0 && SPACE.test(text[i - 1]!)) i--;
    this.held = text.slice(i);
    if (i > 0) this.write(text.slice(0, i));
  }

  end(): void {
    this.write('\n');
  }
}

/** Writes the Markdown report piece by piece (the same text as renderMarkdown), a connection's section at a time. */
export function writeMarkdown(report: Report, write: (piece: string) => void, opts: MarkdownOptions = {}): void {
  const max = opts.maxLadder ?? DEFAULT_LADDER;
  const out = new MarkdownOut(write);
  const files = report.capture.files.map((f) => md(f.file)).join(', ');
  out.push(`# RDP autopsy: ${files || 'no input'}`, '');
  out.push(`**${md(report.summary.headline)}**`, '');
  const s = report.summary;
  out.push(
    `${s.connections} connection attempt${s.connections === 1 ? '' : 's'}: ${s.completed} completed, ${s.failed} failed, ${s.incompleteCapture} only partly captured${s.preAuthentication ? `, ${s.preAuthentication} NLA pre-authentication connection${s.preAuthentication === 1 ? '' : 's'} (not failures)` : ''}.`,
    '',
  );
  if (report.capture.narrowing) out.push(`Narrowed to ${md(narrowingText(report.capture.narrowing, report.capture.frames))}.`, '');
  if (report.capture.damage.length > 0) {
    out.push('> **Damaged input:** what could be read was analysed.');
    for (const d of report.capture.damage) out.push(`> ${md(d)}`);
    out.push('');
  }

  if (report.probe) {
    out.push('## Probe', '');
    for (const l of probeFacts(report.probe)) out.push(`- ${md(l)}`);
    out.push('');
    for (const t of probeTables(report.probe)) out.push(`**${md(t.title)}**`, '', ...table(t.head, t.rows.map((r) => r.map(md))), '');
  }

  if (report.servers.length > 0) {
    out.push('## Servers', '');
    out.push(
      ...table(
        ['Server', 'Attempts', 'Completed', 'Failed', 'Partly captured', 'Summary'],
        report.servers.map((x) => [md(x.server), String(x.attempts), String(x.completed), String(x.failed), String(x.incomplete), md(serverSentence(x))]),
      ),
      '',
    );
  }

  if (report.connections.length > 0) {
    out.push('## Attempts', '');
    const many = report.capture.files.length > 1;
    const head = ['Id', 'Client', 'Server', 'Outcome', 'Reached', 'Cause', 'Confidence', ...(many ? ['File'] : [])];
    out.push(
      ...table(
        head,
        report.connections.map((c) => {
          const f = c.findings[0];
          return [
            md(c.id),
            md(c.client),
            md(c.server),
            md(outcomeText(c)),
            md(reachedText(c)),
            f ? code(findingTag(f)) : '',
            f ? percent(f.confidence) : '',
            ...(many ? [md(c.file)] : []),
          ];
        }),
      ),
      '',
    );
  }

  const retries = report.groups.filter((g) => g.connectionIds.length > 1);
  if (retries.length > 0) {
    out.push('## Retries', '');
    for (const g of retries) out.push(`- ${md(g.client)} → ${md(g.server)} (${g.connectionIds.map(md).join(', ')}): ${md(g.summary)}`);
    out.push('');
  }

  if (report.probes.length > 0) {
    out.push(`## ${PROBES_TITLE}`, '');
    for (const p of report.probes) out.push(`- ${md(p.summary)} Frames ${p.frames.map((f) => md(String(f))).join(', ')}${p.connections > p.frames.length ? ', …' : ''}.`);
    out.push('');
  }

  if ((report.gateways ?? []).length > 0) {
    out.push(`## ${GATEWAYS_TITLE}`, '');
    for (const g of report.gateways) out.push(`- ${md(g.text)}`);
    out.push('');
  }
  if (report.captureFindings.length > 0) {
    out.push(`## ${CAPTURE_FINDINGS_TITLE}`, '');
    for (const f of report.captureFindings) out.push(...findingBody(f, '###'));
  }

  const { failed, incomplete, completed, preAuthentication } = partition(report);
  for (const c of failed) out.push(...failedSection(c, max, fileSetNote(report, c)));
  for (const c of incomplete) out.push(...incompleteSection(c));
  for (const c of preAuthentication) out.push(`## ${title(c)}`, '', md(c.attempt!.note), '');
  for (const c of completed) if (c.findings.length > 0) out.push(...warningSection(c));

  out.push(...captureSection(report, opts.tz ?? 'UTC'));
  out.end();
}

function failedSection(c: ReportedConnection, max: number, setNote: string | null = null): string[] {
  const out: string[] = [`## ${title(c)}`, ''];
  if (setNote !== null) out.push(`**Files:** ${md(setNote)}`, '');
  if (c.died) out.push(`**Died:** ${md(deathText(c))}: ${md(c.died.detail)}`, '');
  if (c.attempt) out.push(md(c.attempt.note), '');
  out.push(...facts(c));
  out.push('### Ladder', '');
  const rows: string[][] = [];
  for (const r of ladderRows(c, max)) {
    if (r.kind === 'gap') rows.push(['…', '', '', md(`${r.hidden} more event${r.hidden === 1 ? '' : 's'}`), '']);
    else if (r.kind === 'death') rows.push([r.frame !== null ? String(r.frame) : '', '', '', '**✖ died here**', md(deathText(c))]);
    else {
      const e = r.event;
      const label = `${md(e.event)}${e.inferred ? ' (inferred)' : ''}${e.decrypted ? ' (decrypted)' : ''}`;
      rows.push([
        String(e.frame),
        offsetText(r.offset),
        DIRECTION[e.direction],
        r.death ? `**✖ ${label}** (died here)` : label,
        e.detail ? md(e.detail) : '',
      ]);
    }
  }
  out.push(...table(['Frame', 'Time', 'Direction', 'Event', 'Detail'], rows), '');
  out.push(...findingSection(c));
  if (c.evidenceFile) out.push(`**Evidence:** [${md(c.evidenceFile)}](${linkTarget(c.evidenceFile)})`, '');
  for (const w of c.warnings) out.push(`> Warning: ${md(w.message)}${w.frame !== null ? ` (frame ${w.frame})` : ''}`, '');
  return out;
}

/** A link destination in <...> form (CommonMark 6.3): spaces allowed, < > and line breaks not. */
function linkTarget(p: string): string {
  return `<${encodeURI(p.replace(/\\/g, '/')).replace(/[<>]/g, (ch) => encodeURIComponent(ch))}>`;
}

function incompleteSection(c: ReportedConnection): string[] {
  const out: string[] = [`## ${title(c)}`, ''];
  out.push(
    `The capture ${c.incompleteReason === 'started_late' ? 'started after this attempt began' : 'ended before this attempt finished'}; ${md(reachedClause(c))}. How it ended cannot be told from this capture.`,
    '',
  );
  const f = c.findings[0];
  if (f) out.push(`**Possible cause:** ${code(f.cause)} (${percent(f.confidence)}): ${md(f.explanation)}`, '');
  for (const w of c.warnings) out.push(`> Warning: ${md(w.message)}${w.frame !== null ? ` (frame ${w.frame})` : ''}`, '');
  return out;
}

function facts(c: ReportedConnection): string[] {
  const rows: string[][] = [];
  const n = c.negotiation;
  if (n) {
    if (n.cookie !== null) rows.push(['Cookie (user hint)', md(n.cookie)]);
    if (n.routingToken !== null) rows.push(['Routing token', md(n.routingToken)]);
    if (n.requestedProtocolNames.length > 0) rows.push(['Requested protocols', md(n.requestedProtocolNames.join(' | '))]);
    if (n.selectedProtocolName !== null) rows.push(['Selected protocol', md(n.selectedProtocolName)]);
    if (n.failureCodeName !== null) rows.push(['RDP_NEG_FAILURE', md(n.failureCodeName)]);
    for (const m of logonModes(c)) rows.push(['RDP_NEG_REQ flag', md(m)]);
  }
  const t = c.tls;
  if (t) {
    if (t.version !== null) rows.push(['TLS', md(`${t.version}${t.cipherSuiteName ? ` ${t.cipherSuiteName}` : ''}`)]);
    if (t.sni !== null) rows.push(['SNI', md(t.sni)]);
    t.certificates.forEach((cert, i) => {
      const label = i === 0 ? 'Certificate' : `Certificate ${i + 1}`;
      rows.push([label, md(`${cert.subject}${cert.selfSigned ? ' (self-signed)' : `, issued by ${cert.issuer}`}`)]);
      if (cert.san.length > 0) rows.push([`${label} SAN`, md(cert.san.join(', '))]);
      rows.push([`${label} validity`, md(`${cert.notBefore} .. ${cert.notAfter}`)]);
      rows.push([`${label} SHA-256`, md(cert.sha256)]);
    });
    if (t.certificateEncrypted) rows.push(['Certificate', 'encrypted (TLS 1.3)']);
    if (t.decryption) rows.push(['TLS decryption', md(`${t.decryption.status === 'decrypted' || t.decryption.status === 'partial' ? '' : 'not decrypted: '}${t.decryption.reason}`)]);
    for (const a of t.alerts) rows.push([`TLS alert (frame ${a.frame})`, md(`${a.by}: ${a.level ?? ''} ${a.description}`.replace(/ +/g, ' '))]);
  }
  const client = c.mcs?.client;
  if (client?.clientName) rows.push(['Client name', md(client.clientName)]);
  for (const e of c.errorInfo) rows.push([`Error info (frame ${e.frame})`, md(`${e.name}: ${e.description}`)]);
  for (const [k, v] of gatewayFacts(c)) rows.push([k, md(v)]);
  if (rows.length === 0) return [];
  return [...table(['Fact', 'Value'], rows.map(([k, v]) => [md(k!), v!])), ''];
}

/** A completed connection with a weakness worth a warning (e.g. Standard RDP Security). */
function warningSection(c: ReportedConnection): string[] {
  const out: string[] = [`## ${title(c)}`, ''];
  if (c.attempt) out.push(md(c.attempt.note), '');
  out.push(...facts(c));
  for (const f of c.findings) out.push(`### ${findingLabel(f)}`, '', ...findingBody(f, '####'));
  return out;
}

function findingSection(c: ReportedConnection): string[] {
  const f = c.findings[0];
  if (!f) return ['### Finding', '', 'The capture does not show why this attempt failed.', ''];
  const out: string[] = [`### ${f.consequenceOf !== undefined ? findingLabel(f) : 'Finding'}`, '', ...findingBody(f, '###')];
  const others = c.findings.slice(1);
  if (others.length > 0) out.push(`**Also possible:** ${others.map((o) => `${code(o.cause)} (${percent(o.confidence)})`).join(', ')}`, '');
  return out;
}

/** A finding's cause, explanation, frames, steps (a checklist under a `level` heading), confirm, filter. */
function findingBody(f: Finding, level: string): string[] {
  const out: string[] = [];
  out.push(`**${code(f.cause)}** (confidence ${percent(f.confidence)}): ${md(f.explanation)}`, '');
  if (f.confidenceReason) out.push(`*Why not certain:* ${md(f.confidenceReason)}`, '');
  if (f.frames.length > 0) out.push(`**Frames:** ${f.frames.join(', ')}`, '');
  if (f.remediation.length > 0) {
    out.push(`${level} Steps`, '');
    for (const s of f.remediation) out.push(`- [ ] ${md(s)}`);
    out.push('');
  }
  if (f.confirm) out.push(`**Confirm:** ${md(f.confirm)}`, '');
  if (f.filter) out.push(`**Wireshark filter:** ${code(f.filter)}`, '');
  if (f.errorCode) out.push(`**mstsc error code:** ${md(f.errorCode)}`, '');
  return out;
}

function captureSection(report: Report, zone: string): string[] {
  const cap = report.capture;
  const out: string[] = ['## Capture', ''];
  const rows: string[][] = cap.files.map((f) => [
    md(f.file),
    md(`${f.format}${f.gzip ? ' (gzip)' : ''}`),
    String(f.frames),
    String(f.bytes),
    md(f.linkTypes.map((l) => `${l.name} ${l.frames}`).join(', ')),
    f.damage ? md(`${f.damage.message} at byte offset ${f.damage.offset} (frame ${f.damage.frame})`) : '',
  ]);
  out.push(...table(['File', 'Format', 'Frames', 'Bytes', 'Link types', 'Damage'], rows), '');
  for (const l of fileSetLines(cap)) out.push(md(l), '');
  const span = timeSpan(report);
  if (span) out.push(zone === 'UTC' ? `Time: ${md(span)} (UTC)` : `Time: ${md(zonedCaptureSpan(report, zone))}`, '');
  const st = cap.stats;
  out.push(
    `Packets: ${st.tcpPackets} TCP, ${st.udpPackets} UDP, ${st.nonIp} not IP; ${st.ipFragments} IP fragments, ${st.badChecksums} bad checksums, ${st.flowsEvicted} flows evicted (${st.halfOpenEvicted} half-open).`,
    '',
  );
  const cs = checksumNote(cap);
  if (cs !== null) out.push(md(cs + '.'), '');
  const warnings = [...report.warnings, ...cap.files.flatMap((f) => f.warnings.map((w) => `${f.file}: ${w.message} at byte offset ${w.offset} (frame ${w.frame})`))];
  if (warnings.length > 0) {
    out.push('### Warnings', '');
    for (const w of warnings) out.push(`- ${md(w)}`);
    out.push('');
  }
  out.push(`*${md(`${report.tool.name} ${report.tool.version}, report schema ${report.schemaVersion}`)}*`);
  return out;
}
