// fast-check: random mutations (bytes flipped, inserted, deleted, ranges overwritten, tails cut) of
// our fixture captures through `analyze`. It never throws anything but CaptureInputError (the input
// is no capture at all any more), and whatever it returns is a well-formed report.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CaptureInputError } from '../../src/capture/types.js';
import type { Report } from '../../src/report/types.js';
import { analyzeBuffer, repoRoot } from './build.js';

const FIX = path.join(repoRoot, 'fixtures/captures');
const NAMES = [
  'completed_tls_nla.pcap',
  'completed_standard_rdp.pcap',
  'completed_tls13.pcapng',
  'cert_expired.pcapng',
  'nla_mismatch.pcap',
  'server_denied_license.pcap',
  'udp_side_channel.pcap',
  'port_blocked_silent.pcap.gz',
].filter((n) => existsSync(path.join(FIX, n)));
const CAPTURES = NAMES.map((n) => readFileSync(path.join(FIX, n)));

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; byte: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'fill'; at: number; count: number; byte: number }
  | { kind: 'cut'; at: number };

/** `at` is a fraction of the length so every mutation lands inside whatever the buffer is by then. */
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('set' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), byte: fc.constantFrom(0x00, 0xff, 0x7f, 0x80, 0x03, 0x16, 0x30, 0x84) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 16 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), count: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ kind: fc.constant('fill' as const), at: fc.double({ min: 0, max: 1, noNaN: true }), count: fc.integer({ min: 1, max: 32 }), byte: fc.constantFrom(0x00, 0xff) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.double({ min: 0, max: 1, noNaN: true }) }),
);

function apply(input: Buffer, muts: Mutation[]): Buffer {
  let b = Buffer.from(input);
  for (const m of muts) {
    if (b.length === 0) break;
    const at = Math.min(b.length - 1, Math.floor(m.at * b.length));
    switch (m.kind) {
      case 'flip':
        b[at] = b[at]! ^ (1 << m.bit);
        break;
      case 'set':
        b[at] = m.byte;
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + m.count))]);
        break;
      case 'fill':
        b.fill(m.byte, at, Math.min(b.length, at + m.count));
        break;
      case 'cut':
        b = b.subarray(0, at);
        break;
    }
  }
  return b;
}

/** A report whose parts a writer relies on are there and consistent. */
function wellFormed(r: Report): void {
  expect(r.summary.connections).toBe(r.connections.length);
  expect(r.summary.completed + r.summary.failed + r.summary.incompleteCapture).toBe(r.summary.connections);
  expect(r.capture.damage.length).toBeLessThanOrEqual(1);
  for (const c of r.connections) {
    expect(c.flow.firstFrame).toBeGreaterThanOrEqual(1);
    expect(c.flow.lastFrame).toBeLessThanOrEqual(r.capture.frames);
    for (const w of c.warnings) if (w.frame !== null) expect(w.frame).toBeLessThanOrEqual(r.capture.frames);
  }
  JSON.stringify(r);
}

describe.skipIf(CAPTURES.length === 0)('random mutations of the fixture captures through analyze', () => {
  it(`never throw anything but CaptureInputError (${NAMES.length} captures)`, async () => {
    const start = Date.now();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: CAPTURES.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 6 }), async (i, muts) => {
        const data = apply(CAPTURES[i]!, muts);
        let r: Report;
        try {
          r = await analyzeBuffer(data, NAMES[i]!);
        } catch (e) {
          expect(e, `${NAMES[i]} ${JSON.stringify(muts)}: ${(e as Error).stack ?? String(e)}`).toBeInstanceOf(CaptureInputError);
          return;
        }
        wellFormed(r);
      }),
      { numRuns: 1500, seed: 0x5eed, endOnFailure: true },
    );
    expect(Date.now() - start).toBeLessThan(30_000);
  }, 60_000);

  it('mutations past the file header keep the file readable (damage at most, never an input error)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: CAPTURES.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), async (i, muts) => {
        const raw = CAPTURES[i]!;
        if (NAMES[i]!.endsWith('.gz')) return; // a gzip stream has no header to spare
        const head = raw.readUInt32LE(0) === 0x0a0d0d0a ? raw.readUInt32LE(4) : 24;
        const data = Buffer.concat([raw.subarray(0, head), apply(raw.subarray(head), muts)]);
        wellFormed(await analyzeBuffer(data, NAMES[i]!));
      }),
      { numRuns: 600, seed: 0xbeef, endOnFailure: true },
    );
  }, 60_000);
});
