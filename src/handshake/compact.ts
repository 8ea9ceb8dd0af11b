// Compaction of a finished connection record. A record is kept until the report is made (the
// diagnosis looks at all of them), so what it costs in heap is what memory grows by per connection.
// Arrays grown by push() carry spare capacity (a one-element list has room for 17), and strings
// built from template literals are trees of concatenated pieces; a finished record no longer
// changes, so its arrays are copied at their exact length and its strings flattened (V8 then
// drops the pieces). Shared frozen values (the certificate and cipher-suite caches) are left
// alone, and so is `sideChannels`, whose identity matters: an RDPEUDP flow that starts later still
// adds itself to it (src/pipeline.ts).
import type { ConnectionRecord } from './types.js';

/** Strings shorter than this are flat already (V8 builds a concatenation of fewer characters flat). */
const CONS_MIN_LENGTH = 13;

/**
 * Returns s, flattened: reading a character of a concatenated string makes V8 flatten it in place,
 * and the garbage collector then replaces references to it by the flat string.
 */
export function flatString(s: string): string {
  if (s.length >= CONS_MIN_LENGTH) s.charCodeAt(0);
  return s;
}

function compactValue(v: unknown): unknown {
  if (typeof v === 'string') return flatString(v);
  if (v === null || typeof v !== 'object' || Object.isFrozen(v)) return v;
  if (Array.isArray(v)) {
    // Empty arrays share V8's empty backing store, and a pair of numbers (the PerDir counters,
    // built as literals) is already at its size: copying those would only cost.
    if (v.length === 0 || (v.length === 2 && typeof v[0] !== 'object' && typeof v[1] !== 'object')) return v;
    const out = v.slice();
    for (let i = 0; i < out.length; i++) {
      const x: unknown = out[i];
      if (typeof x === 'object' || typeof x === 'string') out[i] = compactValue(x);
    }
    return out;
  }
  compactFields(v as Record<string, unknown>);
  return v;
}

function compactFields(o: Record<string, unknown>, skip?: string): void {
  for (const k in o) {
    if (k === skip) continue;
    const x = o[k];
    if (typeof x === 'string') flatString(x);
    else if (typeof x === 'object' && x !== null) {
      const c = compactValue(x);
      if (c !== x) o[k] = c;
    }
  }
}

/**
 * Flattens the strings of plain objects and arrays in place, copying nothing (for findings, whose
 * remediation lists may be shared by many of them).
 */
export function flattenStrings(v: unknown): void {
  if (v === null || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    for (const x of v) {
      if (typeof x === 'string') flatString(x);
      else flattenStrings(x);
    }
    return;
  }
  for (const k in v) {
    const x = (v as Record<string, unknown>)[k];
    if (typeof x === 'string') flatString(x);
    else flattenStrings(x);
  }
}

/**
 * One copy of each string that records repeat (timeline event names and details, warnings): a
 * retried connection, or every connection to the same server, writes the same details again
 * ("client closes", "Cookie: mstshash=alice, RDP_NEG_REQ ...": 23,206 details on the 1 GB corpus, 153
 * distinct). Bounded: strings up to MAX_LENGTH characters, MAX_STRINGS of them per run.
 */
export class StringInterner {
  static readonly MAX_STRINGS = 8192;
  static readonly MAX_LENGTH = 256;
  private readonly strings = new Map<string, string>();

  intern(s: string): string {
    if (s.length > StringInterner.MAX_LENGTH) return flatString(s);
    const hit = this.strings.get(s);
    if (hit !== undefined) return hit;
    if (this.strings.size < StringInterner.MAX_STRINGS) this.strings.set(flatString(s), s);
    return s;
  }

  get size(): number {
    return this.strings.size;
  }
}

/**
 * Compacts a finished record in place (same values, same key order, same JSON); with an interner,
 * timeline event names and details and warning messages are shared with earlier records.
 */
export function compactRecord(rec: ConnectionRecord, strings?: StringInterner): void {
  compactFields(rec as unknown as Record<string, unknown>, 'sideChannels');
  if (strings === undefined) return;
  for (const e of rec.timeline) {
    e.event = strings.intern(e.event);
    if (e.detail !== undefined) e.detail = strings.intern(e.detail);
  }
  for (const w of rec.warnings) w.message = strings.intern(w.message);
}
