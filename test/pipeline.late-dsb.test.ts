// A Decryption Secrets Block after the packets it holds keys for (issue 13): Wireshark writes a DSB
// where the keys became known, editcap --inject-secrets puts it first, some tools append it. The
// file is read a second time with every DSB's keys (bounded memory: streamed again, the DSB text
// held); a stream read once says which sessions were left undecrypted and why.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../src/pipeline.js';
import type { ReportedConnection } from '../src/report/types.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cap = (name: string): Buffer => readFileSync(path.join(repoRoot, 'fixtures/captures', `${name}.pcapng`));

/** The pcapng with its Decryption Secrets Blocks (type 0x0000000A) moved to the end of the file. */
function dsbLast(buf: Buffer): Buffer {
  const keep: Buffer[] = [];
  const dsbs: Buffer[] = [];
  for (let off = 0; off + 12 <= buf.length; ) {
    const len = buf.readUInt32LE(off + 4);
    (buf.readUInt32LE(off) === 0x0000000a ? dsbs : keep).push(buf.subarray(off, off + len));
    off += len;
  }
  expect(dsbs.length).toBeGreaterThan(0);
  return Buffer.concat([...keep, ...dsbs]);
}

describe('a Decryption Secrets Block after the packets', () => {
  it('still decrypts the connection (a second pass), and says so', async () => {
    const data = dsbLast(cap('keylog_nla_logon_failure'));
    const r = await analyze([{ kind: 'buffer', name: 'late-dsb.pcapng', data }], { jobs: 1 });
    const c = r.connections[0]!;
    expect(c.tls!.decryption).toMatchObject({ status: 'decrypted', failure: null });
    expect(c.credssp!.errorName).toBe('STATUS_LOGON_FAILURE');
    expect(c.findings[0]!.cause).toBe('nla_failed');
    expect(r.warnings).toContain('key log: a Decryption Secrets Block came after the packets of 1 TLS session not decrypted: the file was read a second time with its keys');
    // The same answer as with the DSB first.
    const first = await analyze([{ kind: 'buffer', name: 'late-dsb.pcapng', data: cap('keylog_nla_logon_failure') }], { jobs: 1 });
    const strip = (x: ReportedConnection) => ({ ...x, evidenceFile: undefined });
    expect(strip(c)).toEqual(strip(first.connections[0]!));
  });

  it('with the DSB first, the file is read once (no such warning)', async () => {
    const r = await analyze([{ kind: 'buffer', name: 'dsb-first.pcapng', data: cap('keylog_nla_logon_failure') }], { jobs: 1 });
    expect(r.warnings.some((w) => w.includes('came after'))).toBe(false);
  });

  it('streamed output (read once): the session is left undecrypted and the report says why', async () => {
    const data = dsbLast(cap('keylog_tls13_server_denied'));
    const streamed: ReportedConnection[] = [];
    const r = await analyze([{ kind: 'buffer', name: 'late-dsb.pcapng', data }], { jobs: 1, onConnection: (c) => void streamed.push(c) });
    expect(streamed).toHaveLength(1);
    const c = r.connections[0]!;
    expect(c.tls!.decryption).toBeUndefined();
    expect(r.warnings.some((w) => w.includes('a Decryption Secrets Block came after the packets of 1 TLS session not decrypted; streamed output is read once, so it stays undecrypted'))).toBe(true);
  });
});
