// `--format html`: ONE self-contained file: inline CSS, inline SVG, no script, no font, no image,
// no network (a Content-Security-Policy of default-src 'none' says so to the browser too). The
// summary, a ladder diagram per failed handshake (src/report/svg.ts), its timeline, the findings
// and the remediation. Every untrusted string is entity-escaped (escapeHtml), in text and in
// attributes alike; nothing untrusted goes into <style>.
import { serverSentence } from '../diagnose/index.js';
import { narrowingText } from '../net/narrow.js';
import { zonedCaptureSpan } from './time.js';
import { escapeHtml as h } from './escape.js';
import { probeFacts, probeTables } from './probe.js';
import { CAPTURE_FINDINGS_TITLE, GATEWAYS_TITLE, PROBES_TITLE, deathText, gatewayFacts, eventLabel, checksumNote, fileSetLines, fileSetNote, findingLabel, findingTag, logonModes, offsetText, outcomeText, partition, percent, reachedClause, reachedText, timeOffset, timeSpan } from './ladder.js';
import { ladderSvg } from './svg.js';
import type { Finding } from '../diagnose/types.js';
import type { Report, ReportedConnection } from './types.js';

export interface HtmlOptions {
  /** Events drawn per ladder (default 60); the timeline table lists every event. */
  maxLadder?: number;
  /** The zone printed times are in (an IANA name from resolveTimeZone; default UTC), always labelled. */
  tz?: string;
}

const DEFAULT_LADDER = 60;
/** Timeline rows listed per connection (the JSON report has them all). */
const MAX_TIMELINE_ROWS = 2000;
/** A timeline this short is shown open under its ladder. */
const OPEN_TIMELINE_ROWS = 60;

const CSS = `
:root{color-scheme:light dark;--fg:#1d2731;--bg:#f5f7f9;--panel:#fff;--line:#d5dbe1;--head:#eef1f4;--muted:#5d6d7e;--bad:#c0392b;--ok:#1e8449;--warn:#b9770e;--link:#2471a3;--arrow:#34495e;--life:#95a5a6;--deathrow:#fdecea}
@media (prefers-color-scheme:dark){:root{--fg:#dde3e9;--bg:#14191e;--panel:#1c232a;--line:#36414c;--head:#26303a;--muted:#9aa7b4;--bad:#ff6b5e;--ok:#5dd39e;--warn:#f0b34a;--link:#6cb6ff;--arrow:#b8c4cf;--life:#5f6f7e;--deathrow:#3d2220}}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:var(--fg);background:var(--bg)}
a{color:var(--link)}
main{max-width:1100px;margin:0 auto;padding:24px}
@media (max-width:760px){main{padding:12px}section.conn{padding:6px 10px 10px}}
h1{font-size:22px;margin:0 0 8px;overflow-wrap:anywhere}h2{font-size:18px;margin:28px 0 8px;overflow-wrap:anywhere}h3{font-size:15px;margin:18px 0 6px}
.headline{font-size:16px;font-weight:600;padding:12px 16px;border-left:4px solid var(--bad);background:var(--panel)}
.headline.ok{border-color:var(--ok)}
table{border-collapse:collapse;background:var(--panel);margin:6px 0 12px;width:100%}
th,td{border:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
th{background:var(--head);font-weight:600}
section.conn{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:8px 18px 14px;margin:18px 0}
section.conn h2{margin-top:8px}
.failed{color:var(--bad);font-weight:600}.completed{color:var(--ok);font-weight:600}.incomplete{color:var(--warn);font-weight:600}
.died{color:var(--bad)}
code{font:12.5px/1.4 ui-monospace,SFMono-Regular,Consolas,monospace;background:var(--head);padding:1px 4px;border-radius:3px;overflow-wrap:anywhere}
ul.steps{list-style:none;padding-left:4px}ul.steps li::before{content:"\\2610\\00a0";}
.scroll{overflow-x:auto}
svg.ladder{background:var(--panel);display:block;width:100%;max-width:820px;height:auto}
svg.ladder text{font:12px ui-monospace,SFMono-Regular,Consolas,monospace;fill:var(--fg)}
svg.ladder .hdr{font-weight:700}svg.ladder .addr{fill:var(--muted)}
svg.ladder .life{stroke:var(--life);stroke-width:2}
svg.ladder g.ev:not(.death) line{stroke:var(--arrow)}svg.ladder marker.arrow path{fill:var(--arrow)}
svg.ladder .death-mark circle{fill:var(--panel)}
svg.ladder .frame{fill:var(--link)}svg.ladder .time{fill:var(--muted)}
svg.ladder .gap{fill:var(--muted);font-style:italic}
svg.ladder .dlabel{fill:var(--bad);font-weight:700}
svg.ladder g.death .label{fill:var(--bad);font-weight:700}
tr.death td{background:var(--deathrow)}
details.timeline>summary{cursor:pointer;font-weight:600;margin:8px 0}
td.detail{font-family:ui-monospace,SFMono-Regular,Consolas,monospace;font-size:12.5px}
.muted{color:var(--muted)}
.long{overflow-wrap:anywhere}
footer{margin-top:28px;color:var(--muted);font-size:12px}
`;

/** The page's policy: nothing may be fetched or run; only the inline style applies. */
export const HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

export function renderHtml(report: Report, opts: HtmlOptions = {}): string {
  const pieces: string[] = [];
  writeHtml(report, (p) => pieces.push(p), opts);
  return pieces.join('');
}

/**
 * Writes the HTML report piece by piece (the same text as renderHtml): a connection's section at
 * a time, never the whole page at once (18 MB of HTML and its lines for the 1 GB corpus).
 */
export function writeHtml(report: Report, write: (piece: string) => void, opts: HtmlOptions = {}): void {
  const max = opts.maxLadder ?? DEFAULT_LADDER;
  const files = report.capture.files.map((f) => f.file).join(', ');
  // Every line ends with a newline: the same text as lines.join('\n') + '\n'.
  const out = {
    push(...lines: string[]): void {
      if (lines.length > 0) write(lines.join('\n') + '\n');
    },
  };
  out.push(
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${h(HTML_CSP)}">`,
    '<meta name="referrer" content="no-referrer">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${h(`RDP autopsy: ${files || 'no input'}`)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body><main>',
    `<h1>RDP autopsy: ${h(files || 'no input')}</h1>`,
  );
  const s = report.summary;
  out.push(`<p class="headline${s.failed === 0 ? ' ok' : ''}" id="headline">${longText(s.headline)}</p>`);
  out.push(
    `<p>${s.connections} connection attempt${s.connections === 1 ? '' : 's'}: <span class="completed">${s.completed} completed</span>, <span class="failed">${s.failed} failed</span>, <span class="incomplete">${s.incompleteCapture} only partly captured</span>${s.preAuthentication ? `, ${s.preAuthentication} NLA pre-authentication connection${s.preAuthentication === 1 ? '' : 's'} (not failures)` : ''}.</p>`,
  );
  if (report.capture.narrowing) out.push(`<p id="narrowing">Narrowed to ${h(narrowingText(report.capture.narrowing, report.capture.frames))}.</p>`);
  if (report.capture.damage.length > 0) {
    out.push('<p class="failed">Damaged input (what could be read was analysed):</p><ul>');
    for (const d of report.capture.damage) out.push(`<li>${h(d)}</li>`);
    out.push('</ul>');
  }
  if (report.servers.length > 0) {
    out.push('<h2>Servers</h2><table id="servers"><thead><tr><th>Server</th><th>Attempts</th><th>Completed</th><th>Failed</th><th>Partly captured</th><th>Summary</th></tr></thead><tbody>');
    for (const x of report.servers) {
      out.push(
        `<tr><td>${h(x.server)}</td><td>${x.attempts}</td><td>${x.completed}</td><td>${x.failed}</td><td>${x.incomplete}</td><td>${h(serverSentence(x))}</td></tr>`,
      );
    }
    out.push('</tbody></table>');
  }
  if (report.probe) {
    out.push('<section class="probe" id="probe"><h2>Probe</h2><ul>');
    for (const l of probeFacts(report.probe)) out.push(`<li>${h(l)}</li>`);
    out.push('</ul>');
    for (const t of probeTables(report.probe)) {
      out.push(`<table><caption>${h(t.title)}</caption><thead><tr>${t.head.map((x) => `<th>${h(x)}</th>`).join('')}</tr></thead><tbody>`);
      for (const r of t.rows) out.push(`<tr>${r.map((x) => `<td>${h(x)}</td>`).join('')}</tr>`);
      out.push('</tbody></table>');
    }
    out.push('</section>');
  }
  if (report.connections.length > 0) out.push(...attemptsTable(report));
  const retries = report.groups.filter((g) => g.connectionIds.length > 1);
  if (retries.length > 0) {
    out.push('<h2>Retries</h2><ul>');
    for (const g of retries) out.push(`<li>${h(g.client)} → ${h(g.server)} (${g.connectionIds.map(h).join(', ')}): ${h(g.summary)}</li>`);
    out.push('</ul>');
  }
  if (report.probes.length > 0) {
    out.push(`<h2>${h(PROBES_TITLE)}</h2><ul id="probes">`);
    for (const p of report.probes) out.push(`<li>${h(p.summary)} Frames ${h(p.frames.join(', '))}${p.connections > p.frames.length ? ', …' : ''}.</li>`);
    out.push('</ul>');
  }
  if ((report.gateways ?? []).length > 0) {
    out.push(`<section class="conn gateways" id="gateways"><h2>${h(GATEWAYS_TITLE)}</h2><ul>`);
    for (const g of report.gateways) out.push(`<li>${h(g.text)}</li>`);
    out.push('</ul></section>');
  }
  if (report.captureFindings.length > 0) {
    out.push(`<section class="conn capture-findings" id="capture-findings"><h2>${h(CAPTURE_FINDINGS_TITLE)}</h2>`);
    for (const f of report.captureFindings) out.push(...findingBody(f));
    out.push('</section>');
  }
  const { failed, incomplete, completed, preAuthentication } = partition(report);
  for (const c of failed) out.push(...failedSection(c, max, fileSetNote(report, c)));
  for (const c of incomplete) out.push(...incompleteSection(c));
  for (const c of preAuthentication) {
    out.push(`<section class="conn" id="${anchor(c)}">`, `<h2>${h(c.id)}: ${h(c.client)} → ${h(c.server)} <span class="completed">${h(outcomeText(c))}</span></h2>`, `<p>${h(c.attempt!.note)}</p>`, '</section>');
  }
  for (const c of completed) if (c.findings.length > 0) out.push(...warningSection(c));
  out.push(...captureSection(report, opts.tz ?? 'UTC'));
  out.push(`<footer>${h(`${report.tool.name} ${report.tool.version}, report schema ${report.schemaVersion}`)}</footer>`);
  out.push('</main></body>', '</html>');
}

/** Anchor of a connection's section. */
function anchor(c: ReportedConnection): string {
  return `conn-${c.id.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

function outcomeClass(c: ReportedConnection): string {
  if (c.attempt?.role === 'pre_authentication') return 'completed';
  return c.outcome === 'completed' ? 'completed' : c.outcome === 'failed' ? 'failed' : 'incomplete';
}

/** A completed connection with a weakness worth a warning (e.g. Standard RDP Security). */
function warningSection(c: ReportedConnection): string[] {
  const out: string[] = [`<section class="conn" id="${anchor(c)}">`, `<h2>${h(c.id)}: ${h(c.client)} → ${h(c.server)} <span class="completed">${h(outcomeText(c))}</span></h2>`];
  if (c.attempt) out.push(`<p>${h(c.attempt.note)}</p>`);
  out.push(...factsTable(c));
  for (const f of c.findings) out.push(`<h3>${h(findingLabel(f))}</h3>`, ...findingBody(f));
  out.push('</section>');
  return out;
}

/** href for an evidence file: relative paths kept relative ("./"), percent-encoded, then escaped. */
/**
 * Text content that may be long (a 30 KB certificate name, a sentence quoting one): past LONG_TEXT
 * characters its middle is left out, the full value in the tooltip (title) and in the JSON report,
 * so one value cannot stretch the page (issue 19).
 */
export function longText(s: string, max = LONG_TEXT): string {
  if (s.length <= max) return h(s);
  const head = Math.floor(max * 0.7);
  const tail = max - head;
  return `<span class="long" title="${h(s)}">${h(s.slice(0, head))} … ${h(s.slice(s.length - tail))}</span>`;
}

/** Characters of one value shown in the page (see longText()). */
export const LONG_TEXT = 300;

function href(p: string): string {
  const path = p.replace(/\\/g, '/');
  const rel = /^[A-Za-z][A-Za-z0-9+.-]*:/.test(path) || path.startsWith('/') || path.startsWith('.') ? path : `./${path}`;
  return h(encodeURI(rel).replace(/[#?]/g, (c) => encodeURIComponent(c)));
}

function attemptsTable(report: Report): string[] {
  const many = report.capture.files.length > 1;
  const out = [
    `<h2>Attempts</h2><table id="attempts"><thead><tr><th>Id</th><th>Client</th><th>Server</th><th>Outcome</th><th>Reached</th><th>Cause</th><th>Confidence</th>${many ? '<th>File</th>' : ''}<th>Evidence</th></tr></thead><tbody>`,
  ];
  for (const c of report.connections) {
    const f = c.findings[0];
    const id = c.outcome === 'completed' && c.findings.length === 0 ? h(c.id) : `<a href="#${anchor(c)}">${h(c.id)}</a>`;
    out.push(
      `<tr><td>${id}</td><td>${h(c.client)}</td><td>${h(c.server)}</td><td class="${outcomeClass(c)}">${h(outcomeText(c))}</td><td>${h(reachedText(c))}</td>` +
        `<td>${f ? h(findingTag(f)) : ''}</td><td>${f ? percent(f.confidence) : ''}</td>${many ? `<td>${h(c.file)}</td>` : ''}` +
        `<td>${c.evidenceFile ? `<a href="${href(c.evidenceFile)}">${h(c.evidenceFile)}</a>` : ''}</td></tr>`,
    );
  }
  out.push('</tbody></table>');
  return out;
}

function failedSection(c: ReportedConnection, max: number, setNote: string | null = null): string[] {
  const out: string[] = [];
  out.push(`<section class="conn failed-conn" id="${anchor(c)}">`);
  out.push(`<h2>${h(c.id)}: ${h(c.client)} → ${h(c.server)} <span class="failed">${h(outcomeText(c))}</span></h2>`);
  if (setNote !== null) out.push(`<p class="muted"><strong>Files:</strong> ${h(setNote)}</p>`);
  if (c.died) out.push(`<p class="died"><strong>Died:</strong> ${h(deathText(c))}: ${longText(c.died.detail)}</p>`);
  if (c.attempt) out.push(`<p>${h(c.attempt.note)}</p>`);
  out.push(...factsTable(c));
  out.push('<h3>Ladder</h3>', `<div class="scroll">${ladderSvg(c, max)}</div>`);
  out.push(...findingBlock(c));
  if (c.evidenceFile) out.push(`<p><strong>Evidence:</strong> <a href="${href(c.evidenceFile)}">${h(c.evidenceFile)}</a></p>`);
  for (const w of c.warnings) out.push(`<p class="muted">Warning: ${h(w.message)}${w.frame !== null ? ` (frame ${w.frame})` : ''}</p>`);
  out.push(...timelineTable(c));
  out.push('</section>');
  return out;
}

function incompleteSection(c: ReportedConnection): string[] {
  const f = c.findings[0];
  return [
    `<section class="conn" id="${anchor(c)}">`,
    `<h2>${h(c.id)}: ${h(c.client)} → ${h(c.server)} <span class="incomplete">${h(outcomeText(c))}</span></h2>`,
    `<p>The capture ${c.incompleteReason === 'started_late' ? 'started after this attempt began' : 'ended before this attempt finished'}; ${h(reachedClause(c))}. How it ended cannot be told from this capture.</p>`,
    ...(f ? [`<p><strong>Possible cause:</strong> ${h(f.cause)} (${percent(f.confidence)}): ${longText(f.explanation)}</p>`] : []),
    ...c.warnings.map((w) => `<p class="muted">Warning: ${h(w.message)}${w.frame !== null ? ` (frame ${w.frame})` : ''}</p>`),
    ...timelineTable(c),
    '</section>',
  ];
}

function factsTable(c: ReportedConnection): string[] {
  const rows: [string, string][] = [];
  const n = c.negotiation;
  if (n) {
    if (n.cookie !== null) rows.push(['Cookie (user hint)', n.cookie]);
    if (n.routingToken !== null) rows.push(['Routing token', n.routingToken]);
    if (n.requestedProtocolNames.length > 0) rows.push(['Requested protocols', n.requestedProtocolNames.join(' | ')]);
    if (n.selectedProtocolName !== null) rows.push(['Selected protocol', n.selectedProtocolName]);
    if (n.failureCodeName !== null) rows.push(['RDP_NEG_FAILURE', n.failureCodeName]);
    for (const m of logonModes(c)) rows.push(['RDP_NEG_REQ flag', m]);
  }
  const t = c.tls;
  if (t) {
    if (t.version !== null) rows.push(['TLS', `${t.version}${t.cipherSuiteName ? ` ${t.cipherSuiteName}` : ''}`]);
    if (t.sni !== null) rows.push(['SNI', t.sni]);
    t.certificates.forEach((cert, i) => {
      const label = i === 0 ? 'Certificate' : `Certificate ${i + 1}`;
      rows.push([label, `${cert.subject}${cert.selfSigned ? ' (self-signed)' : `, issued by ${cert.issuer}`}`]);
      if (cert.san.length > 0) rows.push([`${label} SAN`, cert.san.join(', ')]);
      rows.push([`${label} validity`, `${cert.notBefore} .. ${cert.notAfter}`]);
      rows.push([`${label} SHA-256`, cert.sha256]);
    });
    if (t.certificateEncrypted) rows.push(['Certificate', 'encrypted (TLS 1.3)']);
    if (t.decryption) rows.push(['TLS decryption', `${t.decryption.status === 'decrypted' || t.decryption.status === 'partial' ? '' : 'not decrypted: '}${t.decryption.reason}`]);
    for (const a of t.alerts) rows.push([`TLS alert (frame ${a.frame})`, `${a.by}: ${a.level ?? ''} ${a.description}`.replace(/ +/g, ' ')]);
  }
  const client = c.mcs?.client;
  if (client?.clientName) rows.push(['Client name', client.clientName]);
  for (const e of c.errorInfo) rows.push([`Error info (frame ${e.frame})`, `${e.name}: ${e.description}`]);
  rows.push(...gatewayFacts(c));
  if (rows.length === 0) return [];
  return ['<table class="facts"><tbody>', ...rows.map(([k, v]) => `<tr><th>${h(k)}</th><td>${longText(v)}</td></tr>`), '</tbody></table>'];
}

function findingBlock(c: ReportedConnection): string[] {
  const f = c.findings[0];
  if (!f) return ['<h3>Finding</h3>', '<p>The capture does not show why this attempt failed.</p>'];
  const out: string[] = [`<h3>${f.consequenceOf !== undefined ? h(findingLabel(f)) : 'Finding'}</h3>`, ...findingBody(f)];
  const others = c.findings.slice(1);
  if (others.length > 0) out.push(`<p><strong>Also possible:</strong> ${others.map((o) => `${h(o.cause)} (${percent(o.confidence)}): ${longText(o.explanation)}`).join('; ')}</p>`);
  return out;
}

/**
 * Text with `inline code` (the catalogue's commands) as <code> elements: escaped first, so the
 * spans only ever hold escaped text; an unpaired backtick stays a backtick.
 */
export function withCode(s: string): string {
  return s
    .split(/(`[^`\n]+`)/)
    .map((part) => (part.length > 2 && part.startsWith('`') && part.endsWith('`') ? `<code>${h(part.slice(1, -1))}</code>` : h(part)))
    .join('');
}

/** A finding's cause, explanation, frames, steps, confirm, filter. */
function findingBody(f: Finding): string[] {
  const out: string[] = [];
  out.push(`<p class="finding"><strong>${h(f.cause)}</strong> (confidence ${percent(f.confidence)}): ${longText(f.explanation)}</p>`);
  if (f.confidenceReason) out.push(`<p class="muted"><em>Why not certain:</em> ${longText(f.confidenceReason)}</p>`);
  if (f.frames.length > 0) out.push(`<p><strong>Frames:</strong> ${f.frames.join(', ')}</p>`);
  if (f.remediation.length > 0) {
    out.push('<h3>Steps</h3><ul class="steps">');
    for (const s of f.remediation) out.push(`<li>${withCode(s)}</li>`);
    out.push('</ul>');
  }
  if (f.confirm) out.push(`<p><strong>Confirm:</strong> ${withCode(f.confirm)}</p>`);
  if (f.filter) out.push(`<p><strong>Wireshark filter:</strong> <code>${h(f.filter)}</code></p>`);
  if (f.errorCode) out.push(`<p><strong>mstsc error code:</strong> ${h(f.errorCode)}</p>`);
  return out;
}

function timelineTable(c: ReportedConnection): string[] {
  // Read once: a kept record's timeline is decoded each time it is read (handshake/compact.ts).
  const timeline = c.timeline;
  if (timeline.length === 0) return [];
  const t0 = timeline[0]!.time;
  const deathFrame = c.died?.frame ?? null;
  const shown = timeline.slice(0, MAX_TIMELINE_ROWS);
  const out = [
    // The ladder's details without hovering: open for a short timeline, one click away otherwise.
    `<details class="timeline"${timeline.length <= OPEN_TIMELINE_ROWS ? ' open' : ''}><summary>Frame by frame (${timeline.length} event${timeline.length === 1 ? '' : 's'})</summary>`,
    '<table class="timeline"><thead><tr><th>Frame</th><th>Time</th><th>Direction</th><th>Phase</th><th>Event</th><th>Detail</th></tr></thead><tbody>',
  ];
  for (const e of shown) {
    const dir = e.direction === 'c2s' ? 'client → server' : e.direction === 's2c' ? 'client ← server' : 'network';
    out.push(
      `<tr${e.frame === deathFrame ? ' class="death"' : ''}><td>${e.frame}</td><td>${offsetText(timeOffset(e.time, t0))}</td><td>${dir}</td><td>${h(e.phase)}</td><td>${h(eventLabel(e))}</td><td class="detail">${longText(e.detail ?? '')}</td></tr>`,
    );
  }
  if (timeline.length > shown.length) out.push(`<tr><td colspan="6">… ${timeline.length - shown.length} more events (see the JSON report)</td></tr>`);
  out.push('</tbody></table></details>');
  return out;
}

function captureSection(report: Report, zone: string): string[] {
  const cap = report.capture;
  const out = [
    '<h2>Capture</h2>',
    '<table id="capture"><thead><tr><th>File</th><th>Format</th><th>Frames</th><th>Bytes</th><th>Link types</th><th>Damage</th></tr></thead><tbody>',
  ];
  for (const f of cap.files) {
    out.push(
      `<tr><td>${h(f.file)}</td><td>${h(`${f.format}${f.gzip ? ' (gzip)' : ''}`)}</td><td>${f.frames}</td><td>${f.bytes}</td><td>${h(f.linkTypes.map((l) => `${l.name} ${l.frames}`).join(', '))}</td>` +
        `<td>${f.damage ? h(`${f.damage.message} at byte offset ${f.damage.offset} (frame ${f.damage.frame})`) : ''}</td></tr>`,
    );
  }
  out.push('</tbody></table>');
  for (const l of fileSetLines(cap)) out.push(`<p>${h(l)}</p>`);
  const span = timeSpan(report);
  if (span) out.push(zone === 'UTC' ? `<p>Time: ${h(span)} (UTC)</p>` : `<p>Time: ${h(zonedCaptureSpan(report, zone))}</p>`);
  const st = cap.stats;
  out.push(
    `<p class="muted">Packets: ${st.tcpPackets} TCP, ${st.udpPackets} UDP, ${st.nonIp} not IP; ${st.ipFragments} IP fragments, ${st.badChecksums} bad checksums, ${st.flowsEvicted} flows evicted (${st.halfOpenEvicted} half-open).</p>`,
  );
  const cs = checksumNote(cap);
  if (cs !== null) out.push(`<p class="muted">${h(cs)}.</p>`);
  const warnings = [...report.warnings, ...cap.files.flatMap((f) => f.warnings.map((w) => `${f.file}: ${w.message} at byte offset ${w.offset} (frame ${w.frame})`))];
  if (warnings.length > 0) {
    out.push('<h3>Warnings</h3><ul>');
    for (const w of warnings) out.push(`<li>${h(w)}</li>`);
    out.push('</ul>');
  }
  return out;
}
