// The catalogue: complete, traceable to the seed documents, and docs/causes.md in sync.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CATALOGUE, CAUSES, STEPS, causeSteps } from '../../src/diagnose/catalogue.js';
import { CAUSES_MD_PATH, renderCausesMarkdown } from '../../src/diagnose/docs.js';
import { diagnoseConnection } from '../../src/diagnose/index.js';
import { CAUSE_IDS } from '../../src/diagnose/types.js';
import { scenarios } from './scenarios.js';
import { collectCauseExamples } from '../../src/docs/examples.js';
import { TSHARK, filterError } from './tshark-filter.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const seedsDir = path.resolve(repoRoot, '../shared/seeds');
const norm = (s: string) => s.replace(/\s+/g, ' ').toLowerCase();

describe('catalogue', () => {
  it('has the 17 causes, in the contract order, each complete', () => {
    expect(CAUSES.map((c) => c.id)).toEqual([...CAUSE_IDS]);
    for (const c of CAUSES) {
      expect(CATALOGUE[c.id]).toBe(c);
      for (const k of ['title', 'explanation', 'confirm', 'ifUnsure', 'evidence', 'errorCode'] as const) expect(c[k].length, `${c.id}.${k}`).toBeGreaterThan(20);
      expect(c.remediation.length, c.id).toBeGreaterThan(0);
      expect(c.remediation).toEqual(causeSteps(c.id).map((s) => STEPS[s].text));
    }
  });
  it('the key remediation terms are where they belong', () => {
    const steps = (id: (typeof CAUSE_IDS)[number]) => CATALOGUE[id].remediation.join('\n');
    expect(steps('cert_expired')).toContain('certlm.msc');
    expect(steps('cert_expired')).toContain('net stop termservice && net start termservice');
    expect(steps('cert_expired')).toContain('Restart-Service TermService -Force');
    expect(steps('cert_unavailable')).toContain('MachineKeys_old');
    expect(steps('port_blocked')).toContain('Remote Desktop (WebSocket)');
    expect(steps('port_blocked')).toContain('mstsc.exe');
    expect(steps('port_blocked')).toContain('Test-NetConnection');
    expect(steps('server_unresponsive')).toContain('MaxOutstandingConnections');
    expect(steps('dns_failure')).toContain('ipconfig /flushdns');
    expect(steps('network_unstable')).toMatch(/VPN/);
    expect(steps('security_layer_mismatch')).toContain('Require use of specific security layer');
    expect(steps('nla_mismatch')).toContain('Network Level Authentication');
    expect(steps('server_denied')).toContain('qwinsta');
  });
  it('is honest about the error codes: negotiation failures are not 0x904', () => {
    for (const id of ['security_layer_mismatch', 'nla_mismatch'] as const) expect(CATALOGUE[id].errorCode).toMatch(/^No: /);
    for (const id of ['port_blocked', 'port_not_listening'] as const) expect(CATALOGUE[id].errorCode).toMatch(/^No: .*0x204/);
    expect(CATALOGUE.network_unstable.errorCode).toMatch(/^Yes/);
    expect(CATALOGUE.server_denied.errorCode).toContain('ERRINFO_SERVER_DENIED_CONNECTION');
  });
  it('no report text names the project\'s own documents ("the seeds")', () => {
    for (const c of CAUSES) for (const k of ['title', 'explanation', 'confirm', 'ifUnsure', 'evidence', 'errorCode'] as const) expect(c[k], `${c.id}.${k}`).not.toMatch(/\bseeds?\b/i);
    for (const s of Object.values(STEPS)) expect(s.text).not.toMatch(/\bseeds?\b/i);
  });
  it('a certificate that is not valid yet has its own steps: the clocks first, no deletion before', () => {
    const steps = CATALOGUE.cert_not_yet_valid.remediation;
    expect(steps[0]).toMatch(/clock/i);
    expect(steps[0]).toContain('w32tm');
    expect(steps.join('\n')).not.toContain('delete it if it has expired');
    expect(CATALOGUE.cert_not_yet_valid.title).not.toMatch(/expired/);
    expect(CATALOGUE.cert_expired.title).not.toMatch(/not yet valid/);
  });
  it('steps name no source (attributed to nothing)', () => {
    for (const s of Object.values(STEPS)) expect(s.text).not.toMatch(/www\.|\.com\b|Microsoft Learn|TheITBros/);
  });
});

describe.skipIf(!existsSync(seedsDir))('every remediation step is traceable to the seeds', () => {
  const seeds = existsSync(seedsDir)
    ? norm(
        readdirSync(seedsDir)
          .filter((f) => f.endsWith('.txt'))
          .map((f) => readFileSync(path.join(seedsDir, f), 'utf8'))
          .join('\n'),
      )
    : '';
  it.each(Object.entries(STEPS))('%s', (_id, step) => {
    // A step from field experience (not in the seeds) says so and carries no seed terms.
    // So does one from Microsoft's documentation that the seeds do not hold (RD Gateway Manager, the KDC proxy).
    if ('source' in step && (step.source === 'field' || step.source === 'microsoft')) {
      expect(step.seedTerms).toEqual([]);
      return;
    }
    expect(step.seedTerms.length).toBeGreaterThan(0);
    for (const term of step.seedTerms) {
      expect(seeds, `seed term "${term}"`).toContain(norm(term));
      expect(norm(step.text), `step text carries "${term}"`).toContain(norm(term));
    }
  });
  it.each(['certlm.msc', 'MachineKeys', 'MaxOutstandingConnections', 'Remote Desktop (WebSocket)', 'ipconfig /flushdns', 'Test-NetConnection', 'qwinsta'])(
    'the key term %s occurs in the seeds and in a step',
    (term) => {
      expect(seeds).toContain(norm(term));
      expect(Object.values(STEPS).some((s) => s.text.includes(term))).toBe(true);
    },
  );
  it('every step is used by some cause', () => {
    const used = new Set(CAUSE_IDS.flatMap((id) => causeSteps(id)));
    expect(Object.keys(STEPS).filter((k) => !used.has(k as keyof typeof STEPS))).toEqual([]);
  });
});

let examplesOnce: ReturnType<typeof collectCauseExamples> | undefined;
const causeExamples = (): ReturnType<typeof collectCauseExamples> => (examplesOnce ??= collectCauseExamples(repoRoot));

describe('docs/causes.md', () => {
  it('is what the generator writes (run `npx tsx src/diagnose/gen-docs.ts` after changing the catalogue)', async () => {
    const file = path.join(repoRoot, CAUSES_MD_PATH);
    expect(existsSync(file), `${CAUSES_MD_PATH} is missing`).toBe(true);
    const examples = await causeExamples();
    expect(readFileSync(file, 'utf8')).toBe(renderCausesMarkdown(examples));
  }, 60_000);
  it('shows, for every cause, the finding its fixture capture gives', async () => {
    const examples = await causeExamples();
    expect([...examples.keys()].sort()).toEqual(CAUSES.map((c) => c.id).sort());
    const md = readFileSync(path.join(repoRoot, CAUSES_MD_PATH), 'utf8');
    for (const c of CAUSES) {
      const section = md.slice(md.indexOf(`## ${c.id}\n`), md.indexOf('\n## ', md.indexOf(`## ${c.id}\n`) + 3));
      expect(section, c.id).toContain('**Seen in a capture.** `rdp-autopsy analyze fixtures/captures/');
      expect(examples.get(c.id)!.finding.cause).toBe(c.id);
    }
  }, 60_000);
  it('documents every cause, its steps and the thresholds', () => {
    const md = renderCausesMarkdown();
    for (const c of CAUSES) {
      expect(md).toContain(`## ${c.id}`);
      for (const r of c.remediation) expect(md).toContain(r);
      expect(md).toContain(c.ifUnsure);
    }
    expect(md).toContain('## Thresholds');
    expect(md).toMatch(/at least 5 retransmissions/);
  });
});

describe.skipIf(!TSHARK)('display filters compile in tshark', () => {
  it('for the top finding of every scenario', () => {
    const filters = new Set<string>();
    for (const s of scenarios()) for (const f of diagnoseConnection(s.conn, s.input)) filters.add(f.filter);
    expect(filters.size).toBeGreaterThan(15);
    for (const filter of filters) expect(filterError(filter), filter).toBe('');
  }, 120_000);
});
