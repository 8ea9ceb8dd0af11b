// Report formats, as a table: adding a format is one line here.
import type { Report } from '../report/types.js';
import { renderJson } from '../report/json.js';
import { renderText } from '../report/text.js';

export interface RenderOptions {
  color: boolean;
}

export type Renderer = (report: Report, opts: RenderOptions) => string;

/** null = announced, not yet available (usage error, exit 2). */
export const FORMATS: Readonly<Record<string, Renderer | null>> = {
  text: (r, o) => renderText(r, { color: o.color }),
  json: (r) => renderJson(r),
  md: null,
  html: null,
  ndjson: null,
};

export const FORMAT_NAMES = Object.keys(FORMATS);
