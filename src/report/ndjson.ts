// `--format ndjson`: one JSON object per line. A line per connection as each one ends
// ({"type":"connection", ...}), then a final summary line ({"type":"summary", ...}) with
// everything else of the Report. docs/report.schema.json describes both lines ($defs
// ndjsonConnection, ndjsonSummary). JSON.stringify escapes line breaks inside strings, so a
// value can never split a line.
import { isoTimesReplacer } from './time.js';
import type { Report, ReportedConnection } from './types.js';

export type NdjsonSummary = Omit<Report, 'connections'> & {
  type: 'summary';
  /** Evidence pcaps written by --export-evidence: connection id -> path. */
  evidence: { connection: string; file: string }[];
};

export function ndjsonConnectionLine(c: ReportedConnection): string {
  return JSON.stringify({ type: 'connection', ...c }, isoTimesReplacer) + '\n';
}

export function ndjsonSummaryLine(report: Report): string {
  const { connections, ...rest } = report;
  const evidence = connections.filter((c) => c.evidenceFile !== undefined).map((c) => ({ connection: c.id, file: c.evidenceFile! }));
  const line: NdjsonSummary = { type: 'summary', ...rest, evidence };
  return JSON.stringify(line, isoTimesReplacer) + '\n';
}

/** The whole report as NDJSON at once (connections in report order), for a report already made. */
export function renderNdjson(report: Report): string {
  return report.connections.map(ndjsonConnectionLine).join('') + ndjsonSummaryLine(report);
}

/**
 * Streaming: give `onConnection` to analyze() (AnalyzeOptions.onConnection) and call `finish`
 * with the report. Connections are written as they end, with the findings about them alone
 * (the final report may add findings that need the other connections).
 */
export function ndjsonStream(write: (line: string) => void): {
  onConnection(c: ReportedConnection): void;
  finish(report: Report): void;
} {
  // A TCP connection that carried no byte may be a probe (a health check, a scan: src/diagnose/probes.ts),
  // which the report sets apart from its connections once it has seen them all: such connections are
  // held back and written at the end unless the report made them probes.
  const held: ReportedConnection[] = [];
  return {
    onConnection(c: ReportedConnection): void {
      if (c.transport === 'tcp' && c.flow.payloadBytes[0] === 0 && c.flow.payloadBytes[1] === 0) held.push(c);
      else write(ndjsonConnectionLine(c));
    },
    finish(report: Report): void {
      if (held.length > 0) {
        const kept = report.probes.length === 0 ? null : new Set(report.connections.map(connectionKey));
        for (const c of held) if (kept === null || kept.has(connectionKey(c))) write(ndjsonConnectionLine(c));
      }
      write(ndjsonSummaryLine(report));
    },
  };
}

function connectionKey(c: ReportedConnection): string {
  return `${c.fileIndex}|${c.flow.firstFrame}|${c.client}|${c.server}`;
}
