// `--format json` is written connection by connection (writeJson): the same bytes as
// JSON.stringify(report, null, 2) + "\n", through the CLI to a file and to stdout alike.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import { batchedWriter, renderJson, writeJson } from '../../src/report/json.js';
import type { Report } from '../../src/report/types.js';
import { main } from '../../src/cli/main.js';
import { FIXTURES } from './helpers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-json-stream-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function streamed(report: Report, batch?: number): { text: string; pieces: number } {
  const pieces: string[] = [];
  if (batch === undefined) writeJson(report, (p) => pieces.push(p));
  else {
    const out = batchedWriter((c) => pieces.push(c), batch);
    writeJson(report, out.write);
    out.flush();
  }
  return { text: pieces.join(''), pieces: pieces.length };
}

const CAPTURES = path.join(FIXTURES, 'captures');
const all = readdirSync(CAPTURES)
  .filter((n) => /\.pcap(ng)?(\.gz)?$/.test(n))
  .map((n) => ({ kind: 'file' as const, path: path.join(CAPTURES, n) }));

describe('writeJson', () => {
  it('equals renderJson on every fixture capture, alone and together', async () => {
    for (const s of all) {
      const r = await analyze([s], { jobs: 1 });
      expect(streamed(r).text).toBe(renderJson(r));
    }
    const together = await analyze(all, { jobs: 1 });
    const { text, pieces } = streamed(together);
    expect(text).toBe(renderJson(together));
    // One piece per connection at least: the text is never built whole.
    expect(pieces).toBeGreaterThan(together.connections.length);
  });

  it('equals renderJson in batches of any size', async () => {
    const r = await analyze(all.slice(0, 6), { jobs: 1 });
    for (const size of [1, 7, 100, 1 << 16, 1 << 30]) expect(streamed(r, size).text).toBe(renderJson(r));
  });

  it('no connection, empty lists, odd values: as JSON.stringify writes them', async () => {
    const r = await analyze([all.find((s) => s.path.endsWith('dns_failure.pcap'))!], { jobs: 1 });
    expect(r.connections).toHaveLength(0);
    expect(streamed(r).text).toBe(renderJson(r));
    const odd = { ...r, warnings: [], extra: undefined, fn: () => 1, nested: { a: [[], {}, null], s: 'line\nbreak "quoted"' } } as unknown as Report;
    expect(streamed(odd).text).toBe(renderJson(odd));
    const withHoles = { ...r, connections: [undefined, null] } as unknown as Report;
    expect(streamed(withHoles).text).toBe(renderJson(withHoles));
    expect(streamed({} as Report).text).toBe(renderJson({} as Report));
  });
});

class Sink extends Writable {
  text = '';
  writes = 0;
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    this.writes++;
    cb();
  }
}

describe('rdp-autopsy analyze --format json', () => {
  it('-o FILE and stdout hold the bytes of renderJson', async () => {
    const files = all.map((s) => s.path);
    const report = await analyze(all, { jobs: 1 });
    const expected = renderJson(report);
    const file = path.join(tmp, 'report.json');
    const out = new Sink();
    expect(await main(['node', 'rdp-autopsy', 'analyze', '--jobs', '1', '--format', 'json', '-o', file, ...files], out)).toBe(1);
    expect(readFileSync(file, 'utf8')).toBe(expected);
    expect(out.text).toBe('');
    const stdout = new Sink();
    await main(['node', 'rdp-autopsy', 'analyze', '--jobs', '1', '--format', 'json', ...files], stdout);
    expect(stdout.text).toBe(expected);
    expect(stdout.writes).toBeGreaterThan(1);
  });
});
