// `--format json`: the Report as is, 2-space indent. The shape is documented and versioned by
// docs/report.schema.json (JSON Schema 2020-12; `schemaVersion` names its version).
import type { Report } from './types.js';

/** The schema's file name under docs/ and the URI it declares as its $id. */
export const REPORT_SCHEMA_FILE = 'docs/report.schema.json';
export const REPORT_SCHEMA_ID = 'https://rdp-autopsy.invalid/schema/report.schema.json';

export function renderJson(report: Report): string {
  return JSON.stringify(report, null, 2) + '\n';
}

/** `text` (JSON.stringify output at depth 0) placed at `indent`: every line after the first indented. */
function indented(text: string, indent: string): string {
  // A JSON string never holds a raw line break (JSON.stringify escapes it), so every "\n" is layout.
  return text.includes('\n') ? text.replace(/\n/g, '\n' + indent) : text;
}

/**
 * Writes the same bytes as renderJson, piece by piece: the report's members one at a time and
 * `connections` one connection at a time, so the whole text never exists at once (at 2,200
 * connections it is ~26 MB, and JSON.stringify and the write each held a copy of it).
 */
export function writeJson(report: Report, write: (piece: string) => void): void {
  const obj = report as unknown as Record<string, unknown>;
  let first = true;
  write('{');
  for (const key of Object.keys(obj)) {
    const v = obj[key];
    let text: string | undefined;
    if (key === 'connections' && Array.isArray(v) && v.length > 0) {
      write(`${first ? '\n' : ',\n'}  ${JSON.stringify(key)}: [`);
      first = false;
      for (let i = 0; i < v.length; i++) {
        write(`${i === 0 ? '\n' : ',\n'}    ${indented(JSON.stringify(v[i] ?? null, null, 2) ?? 'null', '    ')}`);
      }
      write('\n  ]');
      continue;
    }
    text = JSON.stringify(v, null, 2);
    if (text === undefined) continue; // undefined and functions are left out, as JSON.stringify does
    write(`${first ? '\n' : ',\n'}  ${JSON.stringify(key)}: ${indented(text, '  ')}`);
    first = false;
  }
  write(first ? '}\n' : '\n}\n');
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
