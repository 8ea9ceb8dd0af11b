// Report formats, as a table: adding a format is one line here.
import type { Report } from '../report/types.js';
import { renderJson } from '../report/json.js';
import { renderText } from '../report/text.js';
import { renderMarkdown } from '../report/markdown.js';
import { renderHtml } from '../report/html.js';
import { renderNdjson } from '../report/ndjson.js';

export interface RenderOptions {
  color: boolean;
  /**
   * Text: identical failures as one block ('summary', the default) or every attempt ('full'). JSON:
   * connections without timeline and flow ('summary') or in full; absent, full up to JSON_FULL_LIMIT.
   */
  detail?: 'summary' | 'full';
  /** `--tz`: the zone printed times are in (an IANA name; default UTC). JSON and NDJSON times stay UTC. */
  tz?: string;
}

export type Renderer = (report: Report, opts: RenderOptions) => string;

/** null = announced, not yet available (usage error, exit 2). */
export const FORMATS: Readonly<Record<string, Renderer | null>> = {
  text: (r, o) => renderText(r, { color: o.color, detail: o.detail, tz: o.tz }),
  json: (r, o) => renderJson(r, { detail: o.detail }),
  md: (r, o) => renderMarkdown(r, { tz: o.tz }),
  html: (r, o) => renderHtml(r, { tz: o.tz }),
  /** Streamed by runAnalysis (a line per connection as it ends); this renders a finished report. */
  ndjson: (r) => renderNdjson(r),
};

export const FORMAT_NAMES = Object.keys(FORMATS);
