// Writes docs/causes.md from the catalogue: `npx tsx src/diagnose/gen-docs.ts`.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CAUSES_MD_PATH, renderCausesMarkdown } from './docs.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const target = path.join(repoRoot, CAUSES_MD_PATH);
writeFileSync(target, renderCausesMarkdown());
process.stdout.write(`wrote ${path.relative(process.cwd(), target) || target}\n`);
