import { describe, expect, it } from 'vitest';
import { diagnoseConnection } from '../../src/diagnose/index.js';
import { RULES } from '../../src/diagnose/rules/index.js';
import { CAUSE_IDS, GATEWAY_CAUSE_IDS } from '../../src/diagnose/types.js';
import { scenarios } from './scenarios.js';

describe('every cause has a rule module and a scenario', () => {
  it('one rule per cause id, in catalogue order', () => {
    // The RD Gateway's causes have none: gatewayFindings gives them (test/diagnose/gateway-findings.test.ts).
    expect(RULES.map((r) => r.cause)).toEqual(CAUSE_IDS.filter((c) => !GATEWAY_CAUSE_IDS.includes(c)));
  });
  it('every cause is the top finding of at least one scenario', () => {
    const covered = new Set(scenarios().map((s) => s.cause));
    expect([...CAUSE_IDS].filter((c) => !covered.has(c) && !GATEWAY_CAUSE_IDS.includes(c))).toEqual([]);
  });
});

describe.each(scenarios().map((s) => [s.name, s] as const))('%s', (_name, s) => {
  const findings = diagnoseConnection(s.conn, s.input);
  const top = findings[0];

  it(`tops with ${s.cause}`, () => {
    expect(top?.cause, JSON.stringify(findings.map((f) => [f.cause, f.confidence]))).toBe(s.cause);
  });
  it('with the expected confidence', () => {
    expect(top!.confidence).toBeGreaterThanOrEqual(s.minConfidence);
    if (s.maxConfidence !== undefined) expect(top!.confidence).toBeLessThanOrEqual(s.maxConfidence);
    if (top!.confidence < 1) expect(top!.confidenceReason).toMatch(/\w/);
  });
  it('citing the evidence frames', () => {
    for (const f of s.frames) expect(top!.frames).toContain(f);
    expect([...top!.frames].sort((a, b) => a - b)).toEqual(top!.frames);
  });
  it('in one sentence naming the values seen', () => {
    for (const m of s.mentions) expect(top!.explanation).toContain(m);
    expect(top!.explanation).toMatch(/\.$/);
    expect(top!.explanation.replace(/\b(e\.g|i\.e|vs)\./g, '').replace(/\d\.\d/g, '').split(/\.\s+[A-Z]/).length).toBe(1);
  });
  it('with remediation, confirm, filter and the error-code note', () => {
    expect(top!.remediation.length).toBeGreaterThan(0);
    expect(top!.confirm.length).toBeGreaterThan(20);
    expect(top!.filter).toMatch(/(ip|ipv6)\.addr|frame\.number|dns\.qry\.name/);
    expect(top!.errorCode).toMatch(/0x904|0x7/);
    expect(top!.summary).toMatch(/\w/);
  });
});
