// Times as the reports print them (issue 17): in UTC by default, or in the zone of `--tz`
// (`local`, or an IANA zone such as Europe/Berlin), always labelled with the zone and its offset
// from UTC at that moment; and the ISO 8601 strings of the JSON and NDJSON reports.
import { timeInRange } from '../capture/types.js';
import { EARLIEST_CAPTURE_TIME } from '../diagnose/facts.js';

/** `--tz` values: "UTC" (the default), "local" (this machine's zone), or an IANA zone name. */
export type TimeZoneOption = string;

/** The IANA name of `--tz` ("local": this machine's zone). Throws RangeError for a zone Intl does not know. */
export function resolveTimeZone(tz: TimeZoneOption | undefined): string {
  if (tz === undefined || tz.toUpperCase() === 'UTC') return 'UTC';
  const name = tz === 'local' ? Intl.DateTimeFormat().resolvedOptions().timeZone : tz;
  // Throws RangeError ("Invalid time zone specified") for an unknown zone.
  return new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
}

const formats = new Map<string, Intl.DateTimeFormat>();
function formatOf(zone: string): Intl.DateTimeFormat {
  let f = formats.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formats.set(zone, f);
  }
  return f;
}

/** "2026-03-10 10:00:00" in `zone` (seconds since the epoch; whole seconds). */
export function wallClock(seconds: number, zone: string): string {
  if (zone === 'UTC') return new Date(Math.floor(seconds) * 1000).toISOString().replace('T', ' ').slice(0, 19);
  const p: Record<string, string> = {};
  for (const x of formatOf(zone).formatToParts(new Date(Math.floor(seconds) * 1000))) p[x.type] = x.value;
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}

/** "UTC", or "Europe/Berlin, UTC+01:00" (the offset at that moment). */
export function zoneLabel(seconds: number, zone: string): string {
  if (zone === 'UTC') return 'UTC';
  const local = Date.parse(`${wallClock(seconds, zone).replace(' ', 'T')}Z`) / 1000;
  const off = Math.round((local - Math.floor(seconds)) / 60);
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  return `${zone}, UTC${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/** "2026-03-10 09:00:00 .. 09:14:07 UTC" (the date again when it changes; one time when both are the same second). */
export function spanText(a: number, b: number, zone: string): string {
  if (!timeInRange(a) || !timeInRange(b) || a < EARLIEST_CAPTURE_TIME) return 'times out of range';
  const from = wallClock(a, zone);
  const to = wallClock(b, zone);
  const label = zoneLabel(a, zone);
  const labelTo = zoneLabel(b, zone);
  if (from === to) return `${from} ${label}`;
  // A change of offset inside the span (daylight saving) names both.
  const end = to.slice(0, 10) === from.slice(0, 10) ? to.slice(11) : to;
  return label === labelTo ? `${from} .. ${end} ${label}` : `${from} ${label} .. ${to} ${labelTo}`;
}

/**
 * ISO 8601 UTC with microseconds ("2026-03-10T09:00:00.015400Z"), or null for a time out of range:
 * beyond the dates JavaScript can hold, or before 1999 (a clock never set, or a timestamp resolution
 * too fine to be a date: EARLIEST_CAPTURE_TIME, as the text report says "times out of range").
 */
export function isoTime(seconds: number): string | null {
  if (!Number.isFinite(seconds) || !timeInRange(seconds) || seconds < EARLIEST_CAPTURE_TIME) return null;
  let whole = Math.floor(seconds);
  let us = Math.round((seconds - whole) * 1e6);
  if (us >= 1e6) {
    whole++;
    us -= 1e6;
  }
  return `${new Date(whole * 1000).toISOString().slice(0, 19)}.${String(us).padStart(6, '0')}Z`;
}

/** The members of report objects that hold seconds since the epoch; the JSON reports add `<name>Iso` after each. */
const TIME_MEMBERS = ['start', 'end', 'time', 'responseTime'] as const;

/**
 * A JSON.stringify replacer: every object with a numeric `start`, `end`, `time` or `responseTime`
 * (seconds since the epoch) gets `startIso`, `endIso`, `timeIso`, `responseTimeIso` right after it
 * (isoTime: ISO 8601 UTC with microseconds, null out of range). The epoch seconds stay.
 */
export function isoTimesReplacer(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const o = value as Record<string, unknown>;
  let any = false;
  for (const k of TIME_MEMBERS) {
    if (typeof o[k] === 'number') {
      any = true;
      break;
    }
  }
  if (!any) return value;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    const v = o[k];
    out[k] = v;
    if (typeof v === 'number' && (TIME_MEMBERS as readonly string[]).includes(k)) out[`${k}Iso`] = isoTime(v);
  }
  return out;
}

/** The capture's first and last frame times in `zone`, labelled ("" when it has no frame). */
export function zonedCaptureSpan(report: { capture: { files: { start: number | null; end: number | null }[] } }, zone: string): string {
  let a = Infinity;
  let b = -Infinity;
  for (const f of report.capture.files) {
    if (f.start !== null && f.start < a) a = f.start;
    if (f.end !== null && f.end > b) b = f.end;
  }
  return a <= b ? spanText(a, b, zone) : '';
}
