// `--format json`: the Report as is, 2-space indent. The shape is documented and versioned by
// docs/report.schema.json (JSON Schema 2020-12; `schemaVersion` names its version).
import type { Report } from './types.js';

/** The schema's file name under docs/ and the URI it declares as its $id. */
export const REPORT_SCHEMA_FILE = 'docs/report.schema.json';
export const REPORT_SCHEMA_ID = 'https://rdp-autopsy.invalid/schema/report.schema.json';

export function renderJson(report: Report): string {
  return JSON.stringify(report, null, 2) + '\n';
}
