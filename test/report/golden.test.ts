// Golden reports (reviewed once by eye): the text and Markdown output of three fixtures,
// compared byte for byte. Regenerate after a deliberate change with UPDATE_GOLDEN=1
// (`UPDATE_GOLDEN=1 npx vitest run test/report/golden.test.ts`), then review the diff.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderText } from '../../src/report/text.js';
import { fixtureReport, repoRoot } from './helpers.js';

const GOLDEN = path.join(repoRoot, 'test/report/golden');
const update = process.env.UPDATE_GOLDEN === '1';

const CASES = [
  { name: 'cert_expired', file: 'captures/cert_expired.pcapng' },
  { name: 'port_blocked_icmp', file: 'captures/port_blocked_icmp.pcap' },
  { name: 'security_layer_mismatch_retry', file: 'captures/security_layer_mismatch_retry.pcap' },
];

function check(file: string, actual: string): void {
  const p = path.join(GOLDEN, file);
  if (update || !existsSync(p)) {
    writeFileSync(p, actual);
    if (!update) throw new Error(`${file} was missing and has been written: review it, then run again`);
    return;
  }
  expect(actual, `${file} differs (UPDATE_GOLDEN=1 to regenerate, then review the diff)`).toBe(readFileSync(p, 'utf8'));
}

describe('golden reports', () => {
  for (const c of CASES) {
    it(`${c.name}: text`, async () => check(`${c.name}.txt`, renderText(await fixtureReport(c.file), { color: false })));
    it(`${c.name}: markdown`, async () => check(`${c.name}.md`, renderMarkdown(await fixtureReport(c.file))));
  }
});
