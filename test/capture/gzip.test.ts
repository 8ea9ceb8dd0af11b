// src/capture/gzip.ts: gzip members framed by us (RFC 1952), deflate inflated raw. Every inflated
// byte comes out before a bad CRC32 / ISIZE, a cut-short member or trailing garbage is named (with
// its compressed byte offset), whatever the chunking; and a damaged gzip capture is analysed whole
// (exit 3), in this thread and in the inflating thread alike.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync, gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createCheckedGunzip, decodeGzipHeader, type GzipDamage } from '../../src/capture/gzip.js';
import { readCapture } from '../../src/capture/source.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-gzip-'));

async function inflate(input: Buffer, step: number): Promise<{ out: Buffer; damage: GzipDamage | null }> {
  const g = createCheckedGunzip({ chunkSize: 16384 });
  const parts: Buffer[] = [];
  g.on('data', (c: Buffer) => parts.push(Buffer.from(c)));
  const done = new Promise<void>((resolve, reject) => {
    g.on('end', resolve);
    g.on('error', reject);
  });
  for (let i = 0; i < input.length; i += step) {
    // The caller's buffer is reused after the callback (as readGzipFile does): scribble over it.
    const piece = Buffer.from(input.subarray(i, i + step));
    await new Promise<void>((resolve) => g.write(piece, () => resolve()));
    piece.fill(0xee);
  }
  g.end();
  await done;
  return { out: Buffer.concat(parts), damage: g.damage };
}

const data = Buffer.alloc(400_000);
for (let i = 0; i < data.length; i++) data[i] = ((i * 7) & 0xff) ^ (i >> 10);
const gz = gzipSync(data);

describe('decodeGzipHeader (RFC 1952 2.3)', () => {
  it('the plain 10-byte header', () => {
    expect(decodeGzipHeader(Buffer.from('1f8b08000000000000ff', 'hex'), 0, 10)).toEqual({ ok: true, consumed: 10 });
  });
  it('FEXTRA, FNAME, FCOMMENT and FHCRC', () => {
    // FLG 0x1e: XLEN 2 "ab", name "n\0", comment "c\0", CRC16.
    const h = Buffer.from('1f8b081e00000000000302006162' + '6e00' + '6300' + 'beef', 'hex');
    expect(decodeGzipHeader(h, 0, h.length)).toEqual({ ok: true, consumed: h.length });
    for (let cut = 0; cut < h.length; cut++) {
      const r = decodeGzipHeader(h, 0, cut);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.kind).toBe('incomplete');
    }
  });
  it('a bad method, reserved flags, no magic', () => {
    expect(decodeGzipHeader(Buffer.from('1f8b09000000000000ff', 'hex'), 0, 10)).toMatchObject({ ok: false, kind: 'malformed', at: 2 });
    expect(decodeGzipHeader(Buffer.from('1f8b08200000000000ff', 'hex'), 0, 10)).toMatchObject({ ok: false, kind: 'malformed', at: 3 });
    expect(decodeGzipHeader(Buffer.from('1f00', 'hex'), 0, 2)).toMatchObject({ ok: false, kind: 'malformed', reason: 'no gzip magic' });
  });
  it('never throws on hostile bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        const r = decodeGzipHeader(Buffer.concat([Buffer.from([0x1f, 0x8b, 8]), b]), 0, b.length + 3);
        if (r.ok) expect(r.consumed).toBeLessThanOrEqual(b.length + 3);
      }),
    );
  });
});

describe('CheckedGunzip: every inflated byte first, then the damage', () => {
  const cases: { name: string; input: Buffer; out: Buffer; damage: RegExp | null; offset?: number }[] = [
    { name: 'intact', input: gz, out: data, damage: null },
    { name: 'two members', input: Buffer.concat([gz, gzipSync(Buffer.from('tail'))]), out: Buffer.concat([data, Buffer.from('tail')]), damage: null },
    { name: 'zero padding', input: Buffer.concat([gz, Buffer.alloc(512)]), out: data, damage: null },
    {
      name: 'bad CRC32',
      input: Buffer.concat([gz.subarray(0, gz.length - 8), Buffer.from([gz[gz.length - 8]! ^ 1]), gz.subarray(gz.length - 7)]),
      out: data,
      damage: /^gzip CRC32 mismatch in the trailer at compressed byte \d+: stored 0x[0-9a-f]{8}, data 0x[0-9a-f]{8} \(every inflated byte was analysed\)$/,
      offset: gz.length - 8,
    },
    {
      name: 'bad ISIZE',
      input: Buffer.concat([gz.subarray(0, gz.length - 1), Buffer.from([gz[gz.length - 1]! ^ 0x80])]),
      out: data,
      damage: /^gzip ISIZE mismatch in the trailer at compressed byte \d+: stored \d+, data 400000/,
      offset: gz.length - 4,
    },
    {
      name: 'trailing garbage',
      input: Buffer.concat([gz, Buffer.from('this is not gzip')]),
      out: data,
      damage: /^trailing garbage after the gzip data, from compressed byte \d+ \(not a gzip member; ignored\)$/,
      offset: gz.length,
    },
    { name: 'cut in the trailer', input: gz.subarray(0, gz.length - 3), out: data, damage: /cut short in the trailer/, offset: gz.length - 3 },
    { name: 'no trailer', input: gz.subarray(0, gz.length - 8), out: data, damage: /cut short after the deflate data .* \(no trailer\)$/, offset: gz.length - 8 },
    { name: 'cut in a second header', input: Buffer.concat([gz, gz.subarray(0, 6)]), out: data, damage: /cut short in the header of the member at compressed byte \d+/, offset: gz.length },
  ];
  for (const step of [1 << 20, 4093, 8, 1]) {
    for (const c of cases) {
      it(`${c.name}, written ${step} bytes at a time`, async () => {
        if (step === 1 && c.input.length > 100_000 && c.name !== 'bad CRC32') return;
        const r = await inflate(c.input, step);
        expect(r.out.equals(c.out)).toBe(true);
        if (c.damage === null) expect(r.damage).toBeNull();
        else {
          expect(r.damage?.message).toMatch(c.damage);
          expect(r.damage?.offset).toBe(c.offset);
        }
      });
    }
  }

  it('cut inside the deflate data: what inflated comes out (as zcat gives it)', async () => {
    const cut = gz.subarray(0, gz.length - 2000);
    const r = await inflate(cut, 65536);
    expect(r.out.length).toBeGreaterThan(300_000);
    expect(r.out.equals(data.subarray(0, r.out.length))).toBe(true);
    expect(r.damage).toEqual({ offset: cut.length, message: `gzip data cut short at compressed byte ${cut.length}, inside the deflate data of the member at compressed byte 0` });
  });

  it('any corruption: never throws, output a prefix of the data or damage named', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: gz.length - 1 }), fc.integer({ min: 1, max: 255 }), fc.integer({ min: 1, max: 70_000 }), async (at, x, step) => {
        const bad = Buffer.from(gz);
        bad[at] = bad[at]! ^ x;
        let r: { out: Buffer; damage: GzipDamage | null };
        try {
          r = await inflate(bad, step);
        } catch {
          return; // a corrupt header is an error before any output
        }
        let intact = false;
        try {
          intact = gunzipSync(bad).equals(data);
        } catch {
          intact = false;
        }
        if (!intact) expect(r.damage !== null || !r.out.equals(data)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });
});

/** A pcap of n small UDP packets (not RDP: the reader's frame count is what is checked). */
function pcap(n: number): Buffer {
  const head = Buffer.from('d4c3b2a1020004000000000000000000ffff000001000000', 'hex');
  const recs: Buffer[] = [head];
  for (let i = 0; i < n; i++) {
    const r = Buffer.alloc(16 + 60);
    r.writeUInt32LE(1700000000 + i, 0);
    r.writeUInt32LE(60, 8);
    r.writeUInt32LE(60, 12);
    r.fill(i & 0xff, 16);
    recs.push(r);
  }
  return Buffer.concat(recs);
}

describe('a damaged gzip capture: every frame analysed, the damage named, in both threads', () => {
  const plain = pcap(40_000);
  const good = gzipSync(plain);
  const variants: [string, Buffer, RegExp][] = [
    ['crc', Buffer.concat([good.subarray(0, good.length - 8), Buffer.from([good[good.length - 8]! ^ 0xff]), good.subarray(good.length - 7)]), /CRC32 mismatch/],
    ['isize', Buffer.concat([good.subarray(0, good.length - 2), Buffer.from([good[good.length - 2]! ^ 0xff, good[good.length - 1]!])]), /ISIZE mismatch/],
    ['garbage', Buffer.concat([good, Buffer.from('garbage\n')]), /trailing garbage/],
  ];
  for (const [name, bytes, re] of variants) {
    for (const thread of [false, true]) {
      it(`${name}, ${thread ? 'inflating thread' : 'this thread'}`, async () => {
        const file = path.join(tmp, `${name}.pcap.gz`);
        writeFileSync(file, bytes);
        let frames = 0;
        const info = await readCapture({ kind: 'file', path: file }, 0, { onFrame: () => void frames++ }, { gzipThreadMin: thread ? 0 : Infinity });
        expect(frames).toBe(40_000);
        expect(info.damage?.message).toMatch(re);
        // The damage is at the end of the inflated data, not where the data is intact.
        expect(info.damage?.offset).toBe(plain.length);
        expect(info.damage?.frame).toBe(40_001);
      });
    }
  }

  it('the CLI on a small fixture with a bad CRC: the same connections, exit 3, the damage named', () => {
    const src = readFileSync(path.join(repoRoot, 'fixtures/captures/port_not_listening.pcap'));
    const z = gzipSync(src);
    z[z.length - 6] ^= 0x5a;
    const file = path.join(tmp, 'pnl.pcap.gz');
    writeFileSync(file, z);
    const cli = (f: string) =>
      spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'analyze', '--format', 'json', f], {
        cwd: repoRoot,
        encoding: 'utf8',
        timeout: 60_000,
      });
    const bad = cli(file);
    const ref = cli(path.join(repoRoot, 'fixtures/captures/port_not_listening.pcap'));
    expect(bad.status).toBe(3);
    const jb = JSON.parse(bad.stdout) as { connections: { outcome: string }[]; capture: { frames: number; damage: string[] } };
    const jr = JSON.parse(ref.stdout) as { connections: { outcome: string }[]; capture: { frames: number } };
    expect(jb.capture.frames).toBe(jr.capture.frames);
    expect(jb.connections.map((c) => c.outcome)).toEqual(jr.connections.map((c) => c.outcome));
    expect(jb.capture.damage).toHaveLength(1);
    expect(jb.capture.damage[0]).toContain(`gzip CRC32 mismatch in the trailer at compressed byte ${z.length - 8}`);
    expect(jb.capture.damage[0]).toContain(`at byte offset ${src.length} `);
  });
});
