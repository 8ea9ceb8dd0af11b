// How to start a worker thread running one of our modules, compiled or not.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * How to start a worker running the module at `self` (its import.meta.url): the compiled JavaScript runs
 * as it is; the TypeScript sources (under vitest or tsx) go through tsx's loader (tsx/esm/api tsImport),
 * or null when tsx cannot be found (the caller then does the work in its own thread).
 */
export function workerEntry(self: string): { entry: string | URL; eval: boolean } | null {
  if (!self.startsWith('file:')) return null;
  if (self.endsWith('.js')) return { entry: new URL(self), eval: false };
  try {
    // The ESM build of tsx/esm/api (its CommonJS build cannot register the loader from a worker).
    const pkgPath = createRequire(fileURLToPath(self)).resolve('tsx/package.json');
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports?: Record<string, { import?: { default?: string } } | string> };
    const rel = (pkg.exports?.['./esm/api'] as { import?: { default?: string } } | undefined)?.import?.default;
    if (typeof rel !== 'string') return null;
    const api = pathToFileURL(join(dirname(pkgPath), rel)).href;
    const code = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(self)}, ${JSON.stringify(self)}));`;
    return { entry: code, eval: true };
  } catch {
    return null;
  }
}
