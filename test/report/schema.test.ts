// docs/report.schema.json: the validator (test/report/json-schema.ts) on known-bad documents, the
// schema against the code (version, causes, phases), and the JSON / NDJSON output of EVERY
// fixture capture validated against it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CAUSE_IDS } from '../../src/diagnose/types.js';
import { PHASES } from '../../src/handshake/types.js';
import { renderJson } from '../../src/report/json.js';
import { ndjsonConnectionLine, ndjsonStream, ndjsonSummaryLine, renderNdjson } from '../../src/report/ndjson.js';
import { REPORT_SCHEMA_VERSION, type Report, type ReportedConnection } from '../../src/report/types.js';
import { analyze } from '../../src/pipeline.js';
import { SchemaValidator, isDateTime } from './json-schema.js';
import { FIXTURES, fixtureReport, hostileReport, repoRoot, scenarios } from './helpers.js';

const schema = JSON.parse(readFileSync(path.join(repoRoot, 'docs/report.schema.json'), 'utf8')) as Record<string, unknown> & {
  $defs: Record<string, Record<string, unknown>>;
};
const v = new SchemaValidator(schema);
const def = (name: string): Record<string, unknown> => ({ $ref: `#/$defs/${name}` });

describe('the validator', () => {
  it('accepts a matching document and names each violation with its path', () => {
    const s = {
      type: 'object',
      properties: { a: { type: 'integer', minimum: 1 }, b: { enum: ['x', 'y'] }, c: { type: 'array', items: { type: 'string', pattern: '^z' }, maxItems: 2 } },
      required: ['a'],
      additionalProperties: false,
    };
    expect(v.validate({ a: 1, b: 'x', c: ['z1'] }, s)).toEqual([]);
    expect(v.validate({ b: 'q', c: ['y', 'z', 'z'], d: 1 }, s)).toEqual([
      '$: missing required "a"',
      '$.b: "q" not one of ["x","y"]',
      '$.c: 3 items > maxItems 2',
      '$.c[0]: "y" does not match ^z',
      '$.d: not allowed',
    ]);
    expect(v.validate({ a: 0.5 }, s)).toEqual(['$.a: expected integer, got number', '$.a: 0.5 < minimum 1']);
  });
  it('unevaluatedProperties sees the properties of a $ref and of valid anyOf branches only', () => {
    const local = new SchemaValidator({
      $defs: { base: { type: 'object', properties: { a: { type: 'string' } }, required: ['a'] } },
      $ref: '#/$defs/base',
      properties: { b: { type: 'integer' } },
      unevaluatedProperties: false,
    });
    expect(local.validate({ a: 'x', b: 1 })).toEqual([]);
    expect(local.validate({ a: 'x', b: 1, c: 2 })).toEqual(['$.c: not allowed']);
    expect(local.validate({ a: 3, b: 1 }).length).toBeGreaterThan(0);
  });
  it('refuses a keyword it does not implement (the schema cannot rely on an ignored keyword)', () => {
    expect(() => v.validate({}, { type: 'object', propertyNames: { maxLength: 3 } })).toThrow(/unsupported keyword "propertyNames"/);
  });
  it('checks RFC 3339 date-times with real dates', () => {
    expect(isDateTime('2025-03-01T08:00:00Z')).toBe(true);
    expect(isDateTime('2026-03-10T09:00:00.000Z')).toBe(true);
    expect(isDateTime('2025-02-30T08:00:00Z')).toBe(false);
    expect(isDateTime('2025-03-01 08:00:00')).toBe(false);
  });
});

describe('the schema against the code', () => {
  it('is draft 2020-12 and names the version the code writes', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect((schema.$defs.reportFields!.properties as Record<string, { const: string }>).schemaVersion!.const).toBe(REPORT_SCHEMA_VERSION);
  });
  it('lists every cause id and phase of the code', () => {
    expect(schema.$defs.causeId!.enum).toEqual([...CAUSE_IDS]);
    expect(schema.$defs.phase!.enum).toEqual([...PHASES]);
  });
  it('uses every definition it declares', () => {
    const text = JSON.stringify(schema);
    for (const name of Object.keys(schema.$defs)) {
      if (name === 'ndjsonConnection' || name === 'ndjsonSummary') continue; // entry points for NDJSON lines
      expect(text.includes(`"#/$defs/${name}"`), name).toBe(true);
    }
  });
  it('documents evidenceFile as optional on a connection', () => {
    const f = schema.$defs.connectionFields!;
    expect(Object.keys(f.properties as object)).toContain('evidenceFile');
    expect(f.required).not.toContain('evidenceFile');
  });
  it('rejects reports that break it: an unknown field, an IPv6 endpoint without brackets, a confidence above 1, a bad date', async () => {
    // The JSON report (the schema documents what --format json writes: with the ISO twins of its times).
    const r = JSON.parse(renderJson(await fixtureReport('captures/cert_expired.pcapng'))) as Report;
    expect(v.validate(r)).toEqual([]);
    const extra = structuredClone(r) as unknown as { connections: Record<string, unknown>[] };
    extra.connections[0]!.surprise = 1;
    expect(v.validate(extra)).toContain('$.connections[0].surprise: not allowed');
    const br = structuredClone(r);
    br.connections[0]!.server = 'fd00::1:3389';
    expect(v.validate(br).some((e) => e.startsWith('$.connections[0].server'))).toBe(true);
    const ok6 = structuredClone(r);
    ok6.connections[0]!.server = '[fd00::1]:3389';
    expect(v.validate(ok6)).toEqual([]);
    const conf = structuredClone(r);
    conf.connections[0]!.findings[0]!.confidence = 1.5;
    expect(v.validate(conf).some((e) => e.includes('confidence: 1.5 > maximum 1'))).toBe(true);
    const date = structuredClone(r);
    date.connections[0]!.tls!.certificates[0]!.notAfter = '2025-13-01T00:00:00Z';
    expect(v.validate(date).some((e) => e.includes('notAfter'))).toBe(true);
  });
});

const all = [...scenarios().map((s) => ({ name: s.name, file: s.file, ports: s.rdpPorts.filter((p) => p !== 3389) })), { name: 'sample', file: 'sample.pcapng', ports: [] as number[] }];

describe('every fixture capture: --format json validates', () => {
  for (const s of all) {
    it(s.name, async () => {
      const r = await fixtureReport(s.file, s.ports);
      const json = JSON.parse(renderJson(r)) as unknown;
      expect(v.validate(json)).toEqual([]);
    });
  }
});

describe('every fixture capture: --format ndjson lines validate', () => {
  for (const s of all) {
    it(s.name, async () => {
      // Streamed, as the CLI does: a line per connection as it ends, then the summary.
      const lines: string[] = [];
      const stream = ndjsonStream((l) => lines.push(l));
      const r = await analyze([{ kind: 'buffer', name: s.file, data: readFileSync(path.join(FIXTURES, s.file)) }], {
        rdpPorts: s.ports,
        onConnection: stream.onConnection,
      });
      stream.finish(r);
      expect(lines.length).toBe(r.connections.length + 1);
      for (const l of lines) expect(l.endsWith('\n') && l.indexOf('\n') === l.length - 1).toBe(true);
      const objs = lines.map((l) => JSON.parse(l) as { type: string; id?: string });
      for (const o of objs.slice(0, -1)) expect(v.validate(o, def('ndjsonConnection'))).toEqual([]);
      expect(v.validate(objs.at(-1), def('ndjsonSummary'))).toEqual([]);
      expect(objs.at(-1)!.type).toBe('summary');
      expect(objs.slice(0, -1).map((o) => o.id).sort()).toEqual(r.connections.map((c) => c.id).sort());
    });
  }
});

describe('reports carrying hostile strings and evidence files still validate', () => {
  it('json and ndjson', async () => {
    const r: Report = await hostileReport();
    expect(v.validate(JSON.parse(renderJson(r)))).toEqual([]);
    const lines = renderNdjson(r).split('\n').filter((l) => l !== '');
    expect(lines.length).toBe(r.connections.length + 1);
    expect(v.validate(JSON.parse(lines[0]!), def('ndjsonConnection'))).toEqual([]);
    const summary = JSON.parse(ndjsonSummaryLine(r)) as { evidence: unknown };
    expect(v.validate(summary, def('ndjsonSummary'))).toEqual([]);
    expect(summary.evidence).toEqual([{ connection: 'c1', file: (r.connections[0] as ReportedConnection).evidenceFile }]);
    // One line per object whatever the strings carry (JSON escapes line breaks).
    expect(ndjsonConnectionLine(r.connections[0]!).split('\n').length).toBe(2);
  });
});
