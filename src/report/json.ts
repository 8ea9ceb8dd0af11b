// `--format json`: the Report as is (docs/report.schema.json), 2-space indent.
import type { Report } from './types.js';

export function renderJson(report: Report): string {
  return JSON.stringify(report, null, 2) + '\n';
}
