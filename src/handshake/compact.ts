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

/** Compacts a finished record in place (same values, same key order, same JSON). */
export function compactRecord(rec: ConnectionRecord): void {
  compactFields(rec as unknown as Record<string, unknown>, 'sideChannels');
}
