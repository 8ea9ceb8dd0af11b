// no_user_logon (issue 13): a completed session, decrypted with the keys the capture carries, in which
// the server sent no Save Session Info logon notification (MS-RDPBCGR 2.2.10.1.1). End to end on the
// keylog_no_user_logon fixture in every report format; the rule's limits on altered records (read
// only in part, inferred, ended by a logoff, still running when the capture ended, no keys).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import { diagnoseConnection } from '../../src/diagnose/index.js';
import { noUserLogon } from '../../src/diagnose/rules/no_user_logon.js';
import type { ConnectionRecord } from '../../src/handshake/types.js';
import type { DiagnosisInput } from '../../src/diagnose/types.js';
import type { Report, ReportedConnection } from '../../src/report/types.js';
import { renderJson } from '../../src/report/json.js';
import { renderText } from '../../src/report/text.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderHtml } from '../../src/report/html.js';
import { SchemaValidator } from '../report/json-schema.js';
import { TSHARK, filterError } from './tshark-filter.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const cap = (name: string): string => path.join(repoRoot, 'fixtures/captures', name);
const schema = JSON.parse(readFileSync(path.join(repoRoot, 'docs/report.schema.json'), 'utf8')) as Record<string, unknown>;

async function run(name: string, opts: { byteBudget?: number; noDsb?: boolean } = {}): Promise<{ r: Report; c: ReportedConnection }> {
  const input = opts.noDsb ? { kind: 'buffer' as const, name: `${name}.pcapng`, data: stripDsb(readFileSync(cap(`${name}.pcapng`))) } : { kind: 'file' as const, path: cap(`${name}.pcapng`) };
  const r = await analyze([input], { jobs: 1, ...(opts.byteBudget !== undefined ? { byteBudget: opts.byteBudget } : {}) });
  expect(r.connections).toHaveLength(1);
  return { r, c: r.connections[0]! };
}

/** The pcapng without its Decryption Secrets Blocks (block type 0x0000000A, pcapng 4.7): the same capture, no keys. */
function stripDsb(buf: Buffer): Buffer {
  const parts: Buffer[] = [];
  let off = 0;
  while (off + 12 <= buf.length) {
    const type = buf.readUInt32LE(off);
    const len = buf.readUInt32LE(off + 4);
    if (type !== 0x0000000a) parts.push(buf.subarray(off, off + len));
    off += len;
  }
  return Buffer.concat(parts);
}

const input: DiagnosisInput = { connections: [], dns: [], captureEnd: [Infinity], names: new Map() };

describe('keylog_no_user_logon: a decrypted session that worked, with no user logon', () => {
  it('is completed, every phase decoded, with a no_user_logon warning naming its frames', async () => {
    const { r, c } = await run('keylog_no_user_logon');
    expect(c.outcome).toBe('completed');
    expect(c.reached).toBe('active');
    expect(c.died).toBeNull();
    expect(c.phases.every((p) => !p.inferred)).toBe(true);
    expect(c.tls!.decryption).toMatchObject({ status: 'decrypted', failure: null });
    expect(c.tls!.decryption!.decodeStopped).toBeUndefined();
    expect(c.mcs!.logon).toBeUndefined();
    expect(c.mcs!.disconnectUltimatum).toMatchObject({ by: 'client' });
    expect(c.findings).toHaveLength(1);
    const f = c.findings[0]!;
    expect(f).toMatchObject({ cause: 'no_user_logon', severity: 'warning', confidence: 0.9 });
    const demand = c.phases.find((p) => p.phase === 'capabilities')!.frame;
    const active = c.phases.find((p) => p.phase === 'active')!.frame;
    expect(f.frames).toEqual([c.mcs!.clientInfoFrame!, demand, active, c.mcs!.disconnectUltimatum!.frame].sort((a, b) => a - b));
    expect(f.explanation).toContain(`Demand Active in frame ${demand}, active from frame ${active}`);
    expect(f.explanation).toContain('the server sent no Save Session Info logon notification (MS-RDPBCGR 2.2.10.1.1): no user logged on');
    expect(f.explanation).toContain(`the client ended it with a Disconnect Provider Ultimatum (${c.mcs!.disconnectUltimatum!.reasonName}) in frame ${c.mcs!.disconnectUltimatum!.frame}`);
    // Without NLA, requiring it is one of the steps; the Security log is the first.
    expect(f.remediation[0]).toContain('4625');
    expect(f.remediation.join('\n')).toContain('Network Level Authentication');
    // A warning: the exit code and the counts stay those of a connection that worked.
    expect(r.summary.failed).toBe(0);
    expect(r.summary.completed).toBe(1);
    expect(r.summary.headline).toBe('The connection attempt completed. No user logged on in it (the server sent no Save Session Info).');
  });

  it('is in JSON (valid against the schema), text, Markdown and HTML', async () => {
    const { r, c } = await run('keylog_no_user_logon');
    const json = JSON.parse(renderJson(r)) as { schemaVersion: string; connections: { findings: { cause: string; severity?: string; frames: number[] }[] }[] };
    expect(new SchemaValidator(schema).validate(json)).toEqual([]);
    expect(json.connections[0]!.findings[0]).toMatchObject({ cause: 'no_user_logon', severity: 'warning', frames: c.findings[0]!.frames });
    const text = renderText(r, { color: false });
    expect(text).toContain('no user logon seen (no Save Session Info)');
    expect(text).toContain('Warning: no_user_logon (90%): The session reached the active phase');
    const md = renderMarkdown(r);
    expect(md).toContain('no_user_logon');
    expect(md).toContain('no user logged on');
    const html = renderHtml(r);
    expect(html).toContain('no_user_logon');
    expect(html).toContain('no user logged on');
  });

  it.skipIf(!TSHARK)('its Wireshark filter compiles', async () => {
    const { c } = await run('keylog_no_user_logon');
    expect(filterError(c.findings[0]!.filter)).toBe('');
  });

  it('without the keys: no finding (the notification is inside TLS), still completed', async () => {
    const { c } = await run('keylog_no_user_logon', { noDsb: true });
    expect(c.tls!.decryption).toBeUndefined();
    expect(c.outcome).toBe('completed');
    expect(c.findings).toEqual([]);
  });

  it('read only in part (a small byte budget): where it stopped is said, no finding, the text says it is not known', async () => {
    const { r, c } = await run('keylog_no_user_logon', { byteBudget: 2500 });
    const stops = c.tls!.decryption!.decodeStopped!;
    expect(stops.map((s) => s.by)).toContain('server');
    expect(stops.every((s) => /budget of 2500/.test(s.reason))).toBe(true);
    expect(c.findings.some((f) => f.cause === 'no_user_logon')).toBe(false);
    expect(new SchemaValidator(schema).validate(JSON.parse(renderJson(r)))).toEqual([]);
    expect(c.reached).toBe('active');
    const server = stops.find((s) => s.by === 'server')!;
    expect(renderText(r, { color: false })).toContain(`whether a user logged on is not known (the server's data was read only until frame ${server.frame})`);
  });

  it('a session with its logon (keylog_completed_logoff, with its key log) has no such warning', async () => {
    const text = readFileSync(cap('keylog_completed_logoff.keylog'), 'latin1');
    const r = await analyze([{ kind: 'file', path: cap('keylog_completed_logoff.pcapng') }], { jobs: 1, keyLogs: [{ name: 'k', text }] });
    const c = r.connections[0]!;
    expect(c.mcs!.logon).toBeDefined();
    expect(c.findings.some((f) => f.cause === 'no_user_logon')).toBe(false);
  });
});

describe('no_user_logon on altered records', () => {
  let base: ConnectionRecord | null = null;
  async function record(): Promise<ConnectionRecord> {
    if (base === null) {
      const { c } = await run('keylog_no_user_logon');
      const { findings: _f, ...rest } = c as ReportedConnection & { findings: unknown };
      base = rest as unknown as ConnectionRecord;
    }
    return structuredClone(base);
  }

  it('fires on the record as analysed', async () => {
    expect(noUserLogon.check(await record(), input)?.cause).toBe('no_user_logon');
  });

  it('not when the server logged a user on, nor when ERRINFO_LOGOFF_BY_USER says one was', async () => {
    const a = await record();
    a.mcs!.logon = { frame: 50, infoType: 1, infoTypeName: 'INFOTYPE_LOGON_LONG' };
    expect(noUserLogon.check(a, input)).toBeNull();
    const b = await record();
    b.errorInfo.push({ frame: 60, code: 0x0c, name: 'ERRINFO_LOGOFF_BY_USER', description: 'The user logged off.' });
    expect(noUserLogon.check(b, input)).toBeNull();
  });

  it('not when the server side was read only in part, cut, or had bytes missing', async () => {
    const a = await record();
    a.tls!.decryption!.decodeStopped = [{ by: 'server', frame: 40, reason: 'the per-connection budget of 1048576 bytes was used up' }];
    expect(noUserLogon.check(a, input)).toBeNull();
    const b = await record();
    b.flow.cutBytes[1] = 100;
    expect(noUserLogon.check(b, input)).toBeNull();
    const g = await record();
    g.flow.gapBytes[1] = 100;
    expect(noUserLogon.check(g, input)).toBeNull();
  });

  it('not when decryption was partial or failed, or the active phase was inferred', async () => {
    for (const status of ['partial', 'failed', 'no_key', 'unsupported'] as const) {
      const a = await record();
      a.tls!.decryption!.status = status;
      expect(noUserLogon.check(a, input), status).toBeNull();
    }
    const b = await record();
    b.phases = b.phases.map((p) => (p.phase === 'active' ? { ...p, inferred: true, confidence: 0.6 } : p));
    expect(noUserLogon.check(b, input)).toBeNull();
  });

  it('not on a connection that failed (warnings are about sessions that worked)', async () => {
    const a = await record();
    a.outcome = 'failed';
    expect(noUserLogon.check(a, input)).toBeNull();
    expect(diagnoseConnection(a, input).some((f) => f.cause === 'no_user_logon')).toBe(false);
  });

  it('at lower confidence when the capture ended while the session still ran', async () => {
    const a = await record();
    a.mcs!.disconnectUltimatum = null;
    a.errorInfo = [];
    a.flow.tcp!.fins = [];
    a.flow.tcp!.rsts = [];
    const f = noUserLogon.check(a, input)!;
    expect(f.confidence).toBe(0.6);
    expect(f.confidenceReason).toContain('the logon may have completed after it');
    expect(f.explanation).toContain('the capture ended while the session still ran');
  });

  it('names the earliest end: a server ERRINFO before the close', async () => {
    const a = await record();
    const dpu = a.mcs!.disconnectUltimatum!.frame;
    a.errorInfo.push({ frame: dpu - 1, code: 0x04, name: 'ERRINFO_LOGON_TIMEOUT', description: 'x' });
    const f = noUserLogon.check(a, input)!;
    expect(f.explanation).toContain(`the server ended it with Set Error Info ERRINFO_LOGON_TIMEOUT in frame ${dpu - 1}`);
    expect(f.frames).toContain(dpu - 1);
  });
});
