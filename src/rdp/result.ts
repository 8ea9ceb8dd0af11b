// The result of every pure decoder in src/rdp (after Suricata's Incomplete / Error split):
// - ok: the value and how many bytes it used;
// - incomplete: the bytes so far are a valid prefix, `needed` more are required (at least);
// - malformed: these bytes are wrong; `at` is the offset (relative to the start given to the decoder) where.
export type Decoded<T> =
  | { ok: true; value: T; consumed: number }
  | { ok: false; kind: 'incomplete'; needed: number }
  | { ok: false; kind: 'malformed'; at: number; reason: string };

export type Failure = Extract<Decoded<unknown>, { ok: false }>;

export function done<T>(value: T, consumed: number): Decoded<T> {
  return { ok: true, value, consumed };
}

export function incomplete(needed: number): Failure {
  return { ok: false, kind: 'incomplete', needed: needed > 0 ? needed : 1 };
}

export function malformed(at: number, reason: string): Failure {
  return { ok: false, kind: 'malformed', at, reason };
}

/** Code-to-name lookup with Zeek's "unknown (0x..)" fallback, so an unknown value is shown, never dropped. */
export function codeName(table: Readonly<Record<number, string>>, code: number, width = 8): string {
  const n = table[code];
  return n !== undefined ? n : `unknown (0x${(code >>> 0).toString(16).padStart(width, '0')})`;
}
