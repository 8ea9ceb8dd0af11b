// Issue 19: pcapng times at the limits of if_tsresol and if_tsoffset (pcapng 4.2). A time that
// cannot be a date is reported as out of range: never a 19-digit offset, never a 1970..1970 span,
// never an exception, and never a certificate judged against it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readCapture } from '../../src/capture/index.js';
import { MAX_TIME_SECONDS, timeInRange } from '../../src/capture/types.js';
import { analyze } from '../../src/pipeline.js';
import { renderText } from '../../src/report/text.js';
import { renderHtml } from '../../src/report/html.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderJson } from '../../src/report/json.js';
import { offsetText } from '../../src/report/ladder.js';
import { certDateProblem } from '../../src/diagnose/facts.js';
import type { CertificateInfo } from '../../src/handshake/types.js';
import { epb, idb, shb } from './build.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function frames(): Promise<Buffer[]> {
  const out: Buffer[] = [];
  await readCapture({ kind: 'buffer', name: 'x', data: readFileSync(path.join(repoRoot, 'fixtures/captures/port_not_listening.pcap')) }, 0, {
    onFrame(v) {
      out.push(Buffer.from(v.buf.subarray(v.off, v.off + v.capLen)));
    },
  });
  return out;
}

async function pcapng(tsresol: number | undefined, tsoffset: bigint | undefined, ts: (i: number) => bigint): Promise<Buffer> {
  const parts = [shb(), idb(1, 'le', { tsresol, tsoffset })];
  (await frames()).forEach((f, i) => parts.push(epb(0, ts(i), f)));
  return Buffer.concat(parts);
}

const CASES: [string, number | undefined, bigint | undefined, (i: number) => bigint, RegExp][] = [
  ['if_tsoffset -2^62', 6, -(1n << 62n), (i) => BigInt(i) * 1000n, /if_tsoffset -\d+ s: times are out of range/],
  ['if_tsoffset +2^62', 6, 1n << 62n, (i) => BigInt(i) * 1000n, /if_tsoffset \d+ s: times are out of range/],
  ['if_tsresol 10^0 with 64-bit timestamps', 0, undefined, (i) => 0xffffffffffffff00n + BigInt(i), /frame 1 has a timestamp of \d+ s from 1970: times are out of range/],
  ['if_tsresol 2^-127', 0x80 | 127, undefined, (i) => 0xffffffffffffff00n + BigInt(i), /if_tsresol 2\^-127 \(a 64-bit timestamp spans under a second\): times are out of range/],
  ['if_tsresol 10^-25', 25, undefined, (i) => BigInt(i), /if_tsresol 10\^-25/],
  ['one frame far in the future', 6, undefined, (i) => (i === 2 ? 0xffffffffffffffffn : 1_700_000_000_000_000n + BigInt(i) * 1000n), /frame 3 has a timestamp/],
];

describe('extreme pcapng timestamps are out of range, and said to be', () => {
  for (const [name, res, off, ts, warning] of CASES) {
    it(name, async () => {
      const data = await pcapng(res, off, ts);
      const report = await analyze([{ kind: 'buffer', name: `${name}.pcapng`, data }]);
      expect(report.capture.start).toBeNull();
      expect(report.capture.end).toBeNull();
      expect(report.capture.files[0]!.start).toBeNull();
      expect(report.capture.files[0]!.warnings.some((w) => warning.test(w.message))).toBe(true);
      // The verdict does not depend on the times.
      expect(report.connections.map((c) => c.outcome)).toEqual(['failed', 'failed', 'failed']);
      for (const text of [renderText(report, { color: false }), renderHtml(report), renderMarkdown(report), renderJson(report)]) {
        expect(text).not.toMatch(/\d{16,}\.\d{3}s/);
        expect(text).not.toContain('+-');
        expect(text).not.toContain('1970-01-01');
      }
    });
  }

  it('an ordinary capture keeps its span and offsets', async () => {
    const report = await analyze([{ kind: 'buffer', name: 'ok.pcapng', data: await pcapng(6, 0n, (i) => 1_700_000_000_000_000n + BigInt(i) * 1000n) }]);
    expect(report.capture.start).toBe('2023-11-14T22:13:20.000Z');
    expect(report.capture.end).toBe('2023-11-14T22:13:20.005Z');
    expect(report.capture.files[0]!.warnings).toEqual([]);
  });

  it('offsetText: out of range beyond ~31 years or not a number; a negative offset keeps its sign', () => {
    expect(offsetText(1.2345)).toBe('+1.234s');
    expect(offsetText(-0.5)).toBe('-0.500s');
    expect(offsetText(-4611686018427387904)).toBe('out of range');
    expect(offsetText(NaN)).toBe('out of range');
    expect(offsetText(Infinity)).toBe('out of range');
  });

  it('timeInRange: the range of dates', () => {
    expect(timeInRange(0)).toBe(true);
    expect(timeInRange(MAX_TIME_SECONDS)).toBe(true);
    expect(timeInRange(MAX_TIME_SECONDS + 1)).toBe(false);
    expect(timeInRange(-MAX_TIME_SECONDS - 1)).toBe(false);
    expect(timeInRange(NaN)).toBe(false);
  });

  it('a certificate is not judged against a time out of range or a clock never set', () => {
    const cert = { notBefore: '2024-01-01T00:00:00Z', notAfter: '2025-01-01T00:00:00Z' } as CertificateInfo;
    expect(certDateProblem(cert, Date.parse('2026-01-01T00:00:00Z') / 1000)).toMatchObject({ kind: 'expired' });
    expect(certDateProblem(cert, 1e13)).toBeNull();
    expect(certDateProblem(cert, 5)).toBeNull();
  });
});
