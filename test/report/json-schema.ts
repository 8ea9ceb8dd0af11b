// A small JSON Schema (draft 2020-12) validator for the subset docs/report.schema.json uses.
// Any other keyword is refused (an error), so the schema cannot rely on a keyword this
// validator would silently ignore. Keywords: type, enum, const, properties, required,
// additionalProperties, unevaluatedProperties (with $ref / allOf / anyOf / oneOf annotations,
// JSON Schema 2020-12 Core 11.3), items, minItems, maxItems, minimum, maximum, pattern,
// format "date-time" (RFC 3339 5.6), anyOf, allOf, oneOf, $ref to "#/$defs/NAME".

type Schema = boolean | { [k: string]: unknown };

const ANNOTATIONS = new Set(['$schema', '$id', '$defs', '$comment', 'title', 'description', 'examples', 'default']);
const KEYWORDS = new Set([
  'type',
  'enum',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'unevaluatedProperties',
  'items',
  'minItems',
  'maxItems',
  'minimum',
  'maximum',
  'pattern',
  'format',
  'anyOf',
  'allOf',
  'oneOf',
  '$ref',
]);

interface Result {
  errors: string[];
  /** Property names evaluated at this instance location (for unevaluatedProperties). */
  evaluated: Set<string>;
}

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function typeMatches(v: unknown, t: string): boolean {
  const actual = typeOf(v);
  return actual === t || (t === 'number' && actual === 'integer');
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** RFC 3339 5.6 date-time (with a real calendar date). */
export function isDateTime(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return false;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  return mo >= 1 && mo <= 12 && d >= 1 && d <= days && h <= 23 && mi <= 59 && se <= 60;
}

export class SchemaValidator {
  constructor(private readonly root: { [k: string]: unknown }) {}

  private resolve(ref: string): Schema {
    const m = /^#\/\$defs\/([A-Za-z0-9_]+)$/.exec(ref);
    if (!m) throw new Error(`unsupported $ref ${ref}`);
    const defs = this.root.$defs as Record<string, Schema> | undefined;
    const s = defs?.[m[1]!];
    if (s === undefined) throw new Error(`unresolved $ref ${ref}`);
    return s;
  }

  validate(value: unknown, schema: Schema = this.root): string[] {
    return this.check(value, schema, '$').errors;
  }

  private check(v: unknown, schema: Schema, at: string): Result {
    const evaluated = new Set<string>();
    if (schema === true) return { errors: [], evaluated };
    if (schema === false) return { errors: [`${at}: not allowed`], evaluated };
    const errors: string[] = [];
    for (const k of Object.keys(schema)) {
      if (!KEYWORDS.has(k) && !ANNOTATIONS.has(k)) throw new Error(`unsupported keyword "${k}" at schema for ${at}`);
    }
    const s = schema;
    const sub = (x: unknown, sc: Schema, p: string): string[] => this.check(x, sc, p).errors;

    if (s.$ref !== undefined) {
      const r = this.check(v, this.resolve(s.$ref as string), at);
      errors.push(...r.errors);
      if (r.errors.length === 0) for (const k of r.evaluated) evaluated.add(k);
    }
    if (s.type !== undefined) {
      const types = Array.isArray(s.type) ? (s.type as string[]) : [s.type as string];
      if (!types.some((t) => typeMatches(v, t))) errors.push(`${at}: expected ${types.join('|')}, got ${typeOf(v)}`);
    }
    if (s.enum !== undefined && !(s.enum as unknown[]).some((e) => deepEqual(e, v))) {
      errors.push(`${at}: ${JSON.stringify(v)} not one of ${JSON.stringify(s.enum)}`);
    }
    if (s.const !== undefined && !deepEqual(s.const, v)) errors.push(`${at}: expected ${JSON.stringify(s.const)}, got ${JSON.stringify(v)}`);
    if (typeof v === 'number') {
      if (typeof s.minimum === 'number' && v < s.minimum) errors.push(`${at}: ${v} < minimum ${s.minimum}`);
      if (typeof s.maximum === 'number' && v > s.maximum) errors.push(`${at}: ${v} > maximum ${s.maximum}`);
    }
    if (typeof v === 'string') {
      if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(v)) errors.push(`${at}: ${JSON.stringify(v)} does not match ${s.pattern}`);
      if (s.format === 'date-time' && !isDateTime(v)) errors.push(`${at}: ${JSON.stringify(v)} is not an RFC 3339 date-time`);
      else if (s.format !== undefined && s.format !== 'date-time') throw new Error(`unsupported format ${String(s.format)}`);
    }
    if (Array.isArray(v)) {
      if (typeof s.minItems === 'number' && v.length < s.minItems) errors.push(`${at}: ${v.length} items < minItems ${s.minItems}`);
      if (typeof s.maxItems === 'number' && v.length > s.maxItems) errors.push(`${at}: ${v.length} items > maxItems ${s.maxItems}`);
      if (s.items !== undefined) v.forEach((x, i) => errors.push(...sub(x, s.items as Schema, `${at}[${i}]`)));
    }
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const props = (s.properties ?? {}) as Record<string, Schema>;
      for (const r of (s.required ?? []) as string[]) if (!Object.hasOwn(o, r)) errors.push(`${at}: missing required "${r}"`);
      for (const [k, x] of Object.entries(o)) {
        if (Object.hasOwn(props, k)) {
          evaluated.add(k);
          errors.push(...sub(x, props[k]!, `${at}.${k}`));
        } else if (s.additionalProperties !== undefined) {
          evaluated.add(k);
          errors.push(...sub(x, s.additionalProperties as Schema, `${at}.${k}`));
        }
      }
    }
    if (s.allOf !== undefined) {
      for (const b of s.allOf as Schema[]) {
        const r = this.check(v, b, at);
        errors.push(...r.errors);
        if (r.errors.length === 0) for (const k of r.evaluated) evaluated.add(k);
      }
    }
    if (s.anyOf !== undefined) {
      const rs = (s.anyOf as Schema[]).map((b) => this.check(v, b, at));
      const ok = rs.filter((r) => r.errors.length === 0);
      if (ok.length === 0) errors.push(`${at}: matches no anyOf branch (${rs.map((r) => r.errors[0]).join('; ')})`);
      for (const r of ok) for (const k of r.evaluated) evaluated.add(k);
    }
    if (s.oneOf !== undefined) {
      const rs = (s.oneOf as Schema[]).map((b) => this.check(v, b, at));
      const ok = rs.filter((r) => r.errors.length === 0);
      if (ok.length !== 1) errors.push(`${at}: matches ${ok.length} oneOf branches, expected 1`);
      for (const r of ok) for (const k of r.evaluated) evaluated.add(k);
    }
    if (s.unevaluatedProperties !== undefined && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (evaluated.has(k)) continue;
        evaluated.add(k);
        errors.push(...sub(x, s.unevaluatedProperties as Schema, `${at}.${k}`));
      }
    }
    return { errors, evaluated };
  }
}
