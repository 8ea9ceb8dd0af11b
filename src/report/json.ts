// `--format json`: the Report as is, 2-space indent, and last the `detail` it is written at. The
// shape is documented and versioned by docs/report.schema.json (JSON Schema 2020-12; `schemaVersion`
// names its version).
import type { Report } from './types.js';
import { isoTimesReplacer } from './time.js';

/**
 * `--detail` for JSON (issue 16): up to this many connections the report is written in full; over
 * it (an attempt storm: ~19 KB of timeline and flow counters per connection) each connection is
 * written without its `timeline` and `flow` unless `--detail full` is asked for. docs/report.schema.json
 * and README.md name this threshold.
 */
export const JSON_FULL_LIMIT = 500;

/** What a connection leaves out at detail "summary". */
export const SUMMARY_OMITS = ['timeline', 'flow'] as const;

export interface JsonOptions {
  /** 'full' or 'summary' as asked for (--detail); absent: full up to JSON_FULL_LIMIT connections. */
  detail?: 'summary' | 'full';
}

/** The report's `detail` member: the level it is written at, why, and what that leaves out. */
export interface JsonDetail {
  level: 'summary' | 'full';
  /** 'option': asked for with --detail; 'threshold': chosen by the number of connections. */
  by: 'option' | 'threshold';
  fullLimit: number;
  omitted: string[];
  note: string;
}

export function jsonDetail(report: Report, opts: JsonOptions = {}): JsonDetail {
  const n = Array.isArray(report.connections) ? report.connections.length : 0;
  const by = opts.detail !== undefined ? 'option' : 'threshold';
  const level = opts.detail ?? (n > JSON_FULL_LIMIT ? 'summary' : 'full');
  const omitted = level === 'summary' ? [...SUMMARY_OMITS] : [];
  const note =
    level === 'full'
      ? by === 'option'
        ? 'every connection in full (--detail full)'
        : `every connection in full (${n} connection${n === 1 ? '' : 's'}, at most ${JSON_FULL_LIMIT} are written in full unless --detail says otherwise)`
      : by === 'option'
        ? 'connections without their timeline and flow counters (--detail summary; --detail full writes them)'
        : `connections without their timeline and flow counters: ${n} connections, over the ${JSON_FULL_LIMIT} written in full (--detail full writes them)`;
  return { level, by, fullLimit: JSON_FULL_LIMIT, omitted, note };
}

/** A connection as written at detail "summary": the same members but those SUMMARY_OMITS names. */
function summaryOf(c: unknown): unknown {
  if (c === null || typeof c !== 'object' || Array.isArray(c)) return c;
  const { timeline: _timeline, flow: _flow, ...rest } = c as Record<string, unknown>;
  return rest;
}

/** The schema's file name under docs/ and the URI it declares as its $id. */
export const REPORT_SCHEMA_FILE = 'docs/report.schema.json';
export const REPORT_SCHEMA_ID = 'https://rdp-autopsy.invalid/schema/report.schema.json';

export function renderJson(report: Report, opts: JsonOptions = {}): string {
  const detail = jsonDetail(report, opts);
  const conns = report.connections;
  const out: Record<string, unknown> = { ...report };
  if (detail.level === 'summary' && Array.isArray(conns)) out.connections = conns.map(summaryOf);
  delete out.detail; // written last
  out.detail = detail;
  return JSON.stringify(out, isoTimesReplacer, 2) + '\n';
}

/** `text` (JSON.stringify output at depth 0) placed at `indent`: every line after the first indented. */
function indented(text: string, indent: string): string {
  // A JSON string never holds a raw line break (JSON.stringify escapes it), so every "\n" is layout.
  return text.includes('\n') ? text.replace(/\n/g, '\n' + indent) : text;
}

/** "[\n  [\n    " and "\n  ]\n]": what JSON.stringify([[x]], null, 2) puts around x. */
const DEPTH2_HEAD = 10;
const DEPTH2_TAIL = 6;

/**
 * `x` as JSON.stringify(x, null, 2) writes it, every line after the first indented by four spaces
 * (a member of `connections`): stringified inside two arrays, V8 indents it there itself, and the
 * brackets are sliced off (a slice of a flat string is not copied). Without this, each connection's
 * text was written once by JSON.stringify and copied again by a replace of every line break (issue
 * 16: an attempt storm's report is ~60 MB of connections). A value JSON leaves out is null, as an
 * array element is.
 */
function atDepth2(x: unknown): string {
  const t = JSON.stringify([[x]], isoTimesReplacer, 2);
  return t.slice(DEPTH2_HEAD, t.length - DEPTH2_TAIL);
}

/**
 * Writes the same bytes as renderJson, piece by piece: the report's members one at a time and
 * `connections` one connection at a time, so the whole text never exists at once (at 2,200
 * connections it is ~26 MB, and JSON.stringify and the write each held a copy of it).
 */
export function writeJson(report: Report, write: (piece: string) => void, opts: JsonOptions = {}): void {
  const detail = jsonDetail(report, opts);
  const summary = detail.level === 'summary';
  const obj = report as unknown as Record<string, unknown>;
  let first = true;
  write('{');
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    let text: string | undefined;
    // Every non-empty list member one element at a time, not only `connections`: a storm's `groups`
    // is ~1.6 MB of text per 7,000 connections, written whole it was one large string and its indented
    // copy at once, at the end of the write when the heap is at its largest (issue 16).
    if (key !== 'detail' && Array.isArray(v) && v.length > 0) {
      write(`${first ? '\n' : ',\n'}  ${JSON.stringify(key)}: [`);
      first = false;
      const connections = summary && key === 'connections';
      for (let i = 0; i < v.length; i++) {
        const c = connections ? summaryOf(v[i]) : v[i];
        write(i === 0 ? '\n    ' : ',\n    ');
        write(atDepth2(c));
      }
      write('\n  ]');
      continue;
    }
    if (key === 'detail') continue; // written last, as renderJson does
    text = JSON.stringify(v, isoTimesReplacer, 2);
    if (text === undefined) continue; // undefined and functions are left out, as JSON.stringify does
    write(`${first ? '\n' : ',\n'}  ${JSON.stringify(key)}: ${indented(text, '  ')}`);
    first = false;
  }
  write(`${first ? '\n' : ',\n'}  "detail": ${indented(JSON.stringify(detail, null, 2), '  ')}\n}\n`);
}

/**
 * Gathers small pieces into writes of about `size` characters (one write per connection would be
 * thousands of tiny writes). Call flush() at the end.
 */
export function batchedWriter(out: (chunk: string) => void, size = 1 << 16): { write(piece: string): void; flush(): void } {
  let parts: string[] = [];
  let length = 0;
  return {
    write(piece: string): void {
      parts.push(piece);
      length += piece.length;
      if (length >= size) {
        out(parts.join(''));
        parts = [];
        length = 0;
      }
    },
    flush(): void {
      if (parts.length > 0) out(parts.join(''));
      parts = [];
      length = 0;
    },
  };
}
