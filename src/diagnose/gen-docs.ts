// Writes docs/causes.md from the catalogue, with a real finding per cause from its fixture capture,
// the example reports of the bundled sample (docs/example-report.{txt,md,html}) and the README's
// example block: `npx tsx src/diagnose/gen-docs.ts`. test/docs/examples.test.ts fails when they drift.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CAUSES_MD_PATH, renderCausesMarkdown } from './docs.js';
import { README_PATH, renderExamples } from '../docs/examples.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const ex = await renderExamples(repoRoot);
const written: string[] = [];
function write(rel: string, content: string): void {
  writeFileSync(path.join(repoRoot, rel), content);
  written.push(rel);
}
write(CAUSES_MD_PATH, renderCausesMarkdown(ex.causeExamples));
for (const [rel, content] of ex.files) write(rel, content);
write(README_PATH, ex.readme);
process.stdout.write(`wrote ${written.join(', ')}\n`);
