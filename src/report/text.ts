// `--format text`: a readable summary. Minimal; the report stage owns the full version.
import type { Report, ReportedConnection } from './types.js';

export interface TextOptions {
  color: boolean;
}

const ARROW: Record<'c2s' | 's2c' | 'net', string> = { c2s: '-->', s2c: '<--', net: ' ! ' };
/** Timeline lines shown per connection before "... N more". */
const MAX_LADDER = 40;

export function renderText(report: Report, opts: TextOptions): string {
  const paint = (code: string, s: string): string => (opts.color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const out: string[] = [];
  const cap = report.capture;
  const files = cap.files.map((f) => f.file).join(', ');
  const links = cap.linkTypes.map((l) => `${l.name} ${l.frames}`).join(', ');
  out.push(
    `Capture: ${files} (${cap.format}, ${cap.frames} frames${links ? `, ${links}` : ''}${cap.start ? `, ${cap.start} .. ${cap.end}` : ''})`,
  );
  for (const d of cap.damage) out.push(paint('33', `Damaged input: ${d}`));
  out.push(report.summary.headline);
  for (const c of report.connections) out.push('', ...connectionBlock(c, report.capture.files.length > 1, paint));
  if (report.warnings.length > 0) {
    out.push('', 'Warnings:');
    for (const w of report.warnings) out.push(`  ${w}`);
  }
  return out.join('\n') + '\n';
}

function connectionBlock(
  c: ReportedConnection,
  manyFiles: boolean,
  paint: (code: string, s: string) => string,
): string[] {
  const lines: string[] = [];
  const where = manyFiles ? ` [${c.file}]` : '';
  const outcome =
    c.outcome === 'completed'
      ? paint('32', 'completed')
      : c.outcome === 'failed'
        ? paint('31', 'FAILED')
        : paint('33', `incomplete capture (${c.incompleteReason ?? 'unknown'})`);
  lines.push(`${c.id} ${c.transport} ${c.client} -> ${c.server}${where}: ${outcome}, reached ${c.reached}`);
  const n = c.negotiation;
  if (n) {
    const parts: string[] = [];
    if (n.cookie !== null) parts.push(`cookie ${n.cookie}`);
    if (n.requestedProtocolNames.length > 0) parts.push(`requested ${n.requestedProtocolNames.join('|')}`);
    if (n.selectedProtocolName !== null) parts.push(`selected ${n.selectedProtocolName}`);
    if (n.failureCodeName !== null) parts.push(`failure ${n.failureCodeName}`);
    if (parts.length > 0) lines.push(`  negotiation: ${parts.join(', ')}`);
  }
  const t = c.tls;
  if (t && t.version !== null) {
    const cert = t.certificates[0];
    lines.push(
      `  tls: ${t.version}${t.cipherSuiteName ? ` ${t.cipherSuiteName}` : ''}${cert ? `, certificate ${cert.subject} valid ${cert.notBefore} .. ${cert.notAfter}` : t.certificateEncrypted ? ', certificate encrypted (TLS 1.3)' : ''}`,
    );
  }
  const shown = c.timeline.slice(0, MAX_LADDER);
  for (const e of shown) {
    const inferred = e.inferred ? ' (inferred)' : '';
    lines.push(
      `  ${String(e.frame).padStart(7)}  ${ARROW[e.direction]} ${e.event}${e.detail ? `: ${e.detail}` : ''}${inferred}`,
    );
  }
  if (c.timeline.length > shown.length) lines.push(`           ... ${c.timeline.length - shown.length} more events`);
  if (c.died) {
    const d = c.died;
    lines.push(
      `  ended: ${d.how} by ${d.by} in phase ${d.phase}${d.frame !== null ? ` (frame ${d.frame})` : ''}: ${d.detail}`,
    );
  }
  for (const f of c.findings) {
    lines.push(`  finding: ${f.cause} (${Math.round(f.confidence * 100)}%): ${f.explanation}`);
  }
  for (const w of c.warnings) lines.push(`  warning: ${w.message}${w.frame !== null ? ` (frame ${w.frame})` : ''}`);
  return lines;
}
