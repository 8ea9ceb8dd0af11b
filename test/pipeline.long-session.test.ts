// Sessions past the decode budgets (issue 13). Before: a decrypted session was decoded only up to
// the per-connection byte budget (1 MiB of each direction's TCP stream in all, DEFAULT_BYTE_BUDGET)
// and the flow table reassembled only its first 256 KiB per direction: a Set Error Info or a
// Disconnect Provider Ultimatum late in a long session was lost, and the session's end inferred.
// Now a decrypted session is read to its end: the reassembly limit is lifted for it and the budget
// bounds only the bytes pending (one TLS record / PDU being assembled), so memory stays bounded
// while every record is decrypted and decoded and only decoded facts are kept. Shown here with
// both bounds scaled down to 20000 bytes on keylog_completed_logoff (about 30 KB of server data).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../src/pipeline.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const file = path.join(repoRoot, 'fixtures/captures/keylog_completed_logoff.pcapng');
const keyLogs = [{ name: 'keylog_completed_logoff.keylog', text: readFileSync(path.join(repoRoot, 'fixtures/captures/keylog_completed_logoff.keylog'), 'latin1') }];
const SMALL = 20000;

describe('a decrypted session longer than the decode budgets', () => {
  it('is read to its end: the late Set Error Info and the Disconnect Provider Ultimatum are decoded', async () => {
    const r = await analyze([{ kind: 'file', path: file }], { jobs: 1, keyLogs, byteBudget: SMALL, perFlowBytes: SMALL });
    const c = r.connections[0]!;
    expect(c.flow.payloadBytes[1]).toBeGreaterThan(SMALL);
    expect(c.flow.cutBytes).toEqual([0, 0]);
    expect(c.tls!.decryption).toMatchObject({ status: 'decrypted', failure: null });
    expect(c.tls!.decryption!.decodeStopped).toBeUndefined();
    expect(c.errorInfo.map((e) => e.name)).toEqual(['ERRINFO_LOGOFF_BY_USER']);
    expect(c.mcs!.disconnectUltimatum).toMatchObject({ by: 'server' });
    expect(c.warnings).toEqual([]);
    // The same answer as with the default budgets.
    const full = await analyze([{ kind: 'file', path: file }], { jobs: 1, keyLogs });
    expect(c.errorInfo).toEqual(full.connections[0]!.errorInfo);
    expect(c.timeline).toEqual(full.connections[0]!.timeline);
  });

  it('a unit larger than the budget still stops decoding, and says where (decodeStopped)', async () => {
    const r = await analyze([{ kind: 'file', path: file }], { jobs: 1, keyLogs, byteBudget: 4096 });
    const d = r.connections[0]!.tls!.decryption!;
    expect(d.decodeStopped?.[0]).toMatchObject({ by: 'server', reason: 'the per-connection budget of 4096 bytes was used up' });
  });

  it('without keys nothing changes: the end of the session is not read (its records are opaque), it stays completed', async () => {
    const r = await analyze([{ kind: 'file', path: file }], { jobs: 1, byteBudget: SMALL, perFlowBytes: SMALL });
    const c = r.connections[0]!;
    expect(c.tls!.decryption).toBeUndefined();
    expect(c.errorInfo).toEqual([]);
    expect(c.outcome).toBe('completed');
  });
});
