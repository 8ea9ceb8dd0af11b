// `rdp-autopsy probe` end to end, against servers started on loopback only (test/probe/servers.ts):
// the verdict, its evidence and remediation in every format, the matrix, the exit code, and the
// probe's own capture read back by `analyze` with the same verdict.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { Report } from '../../src/report/types.js';
import { SchemaValidator } from '../report/json-schema.js';
import { repoRoot } from '../report/helpers.js';
import { closedPort, mintCert, startServer, type FakeServer, type FakeServerOpts } from './servers.js';

const schema = new SchemaValidator(JSON.parse(readFileSync(path.join(repoRoot, 'docs/report.schema.json'), 'utf8')) as Record<string, unknown>);

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new Sink();
  let stderr = '';
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    stderr += s.toString();
    return true;
  });
  try {
    return { code: await main(['node', 'rdp-autopsy', ...args], out), stdout: out.text, stderr };
  } finally {
    spy.mockRestore();
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-probe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const good = mintCert({ cn: 'rdp-srv01.corp.example', san: ['rdp-srv01.corp.example', '127.0.0.1', '::1', 'localhost'], notBeforeDays: -30, notAfterDays: 300 });

interface Case {
  name: string;
  opts: FakeServerOpts | 'closed';
  /** Probe by the name "localhost" (resolved in the test to the loopback address the server uses). */
  byName?: boolean;
  top: string | null;
  /** Words the text report must carry. */
  words: RegExp[];
  code: number;
  /** analyze of the capture: the same top cause (false when the capture cannot show it, said in the test). */
  sameInCapture?: boolean;
}

const CASES: Case[] = [
  { name: 'negotiate server (healthy)', opts: { mode: 'negotiate', cert: good }, top: null, words: [/no problem found/, /HYBRID_EX/, /the NTLM CHALLENGE names CORP\\RDP-SRV01/, /Windows 10\.0\.20348/], code: 0 },
  { name: 'TLS-only server', opts: { mode: 'tls_only', cert: good }, top: 'security_layer_mismatch', words: [/SSL_REQUIRED_BY_SERVER/, /Require use of specific security layer/], code: 1 },
  { name: 'NLA-required server', opts: { mode: 'nla_required', cert: good }, top: 'nla_mismatch', words: [/HYBRID_REQUIRED_BY_SERVER/, /requires Network Level Authentication/], code: 1 },
  { name: 'expired certificate', opts: { mode: 'negotiate', cert: mintCert({ cn: 'rdp-srv01.corp.example', san: ['127.0.0.1'], notBeforeDays: -400, notAfterDays: -10 }) }, top: 'cert_expired', words: [/expired on \d{4}-\d\d-\d\d/, /certlm\.msc/], code: 1 },
  { name: 'not-yet-valid certificate', opts: { mode: 'negotiate', cert: mintCert({ cn: 'rdp-srv01.corp.example', san: ['127.0.0.1'], notBeforeDays: 10, notAfterDays: 400 }) }, top: 'cert_not_yet_valid', words: [/not valid before/], code: 1 },
  { name: 'wrong-name certificate (probed by name)', opts: { mode: 'negotiate', cert: mintCert({ cn: 'old-name.corp.example', san: ['old-name.corp.example'], notBeforeDays: -30, notAfterDays: 300 }) }, byName: true, top: 'cert_name_mismatch', words: [/not to "localhost"/, /old-name\.corp\.example/], code: 1 },
  { name: 'self-signed certificate', opts: { mode: 'negotiate', cert: mintCert({ cn: 'rdp-srv01.corp.example', san: ['127.0.0.1'], notBeforeDays: -30, notAfterDays: 300 }) }, top: 'cert_untrusted', words: [/self-signed/, /possibly/], code: 0 },
  { name: 'TLS 1.3-only server', opts: { mode: 'negotiate', cert: good, minVersion: 'TLSv1.3' }, top: 'tls_mismatch', words: [/accepts only TLS1\.3/, /protocol_version/], code: 1 },
  { name: 'silent listener', opts: { behaviour: 'silent' }, top: 'server_unresponsive', words: [/never answers the X\.224 request/], code: 1 },
  { name: 'closed port', opts: 'closed', top: 'port_not_listening', words: [/nothing listens/], code: 1 },
  { name: 'server that resets after the Confirm', opts: { mode: 'negotiate', cert: good, behaviour: 'reset_after_confirm' }, top: 'cert_unavailable', words: [/reset/], code: 1 },
];

let localhostAddr: string;
beforeAll(async () => {
  localhostAddr = (await lookup('localhost', { verbatim: true })).address;
});

describe.each(CASES)('probe: $name', (c) => {
  let server: FakeServer | null = null;
  let port = 0;
  let target = '';
  const capture = path.join(dir, `${c.name.replace(/\W+/g, '_')}.pcapng`);
  const runs: Record<string, { code: number; stdout: string; stderr: string }> = {};

  beforeAll(async () => {
    const host = c.byName ? (localhostAddr === '::1' ? '::1' : '127.0.0.1') : '127.0.0.1';
    if (c.opts === 'closed') port = await closedPort(host);
    else {
      server = await startServer({ ...c.opts, host });
      port = server.port;
    }
    target = c.byName ? `localhost:${port}` : `${host}:${port}`;
    runs.json = await cli(['probe', target, '--timeout', '1', '--format', 'json', '--capture', capture]);
    runs.text = await cli(['probe', target, '--timeout', '1', '--no-color']);
  }, 60_000);
  afterAll(async () => {
    await server?.close();
  });

  it('gives the verdict with its evidence and remediation (json, schema-valid)', () => {
    const j = JSON.parse(runs.json!.stdout) as Report;
    expect(schema.validate(j)).toEqual([]);
    expect(runs.json!.code).toBe(c.code);
    const top = j.captureFindings[0] ?? null;
    if (c.top === null) expect(j.captureFindings.filter((f) => f.confidence >= 0.5)).toEqual([]);
    else expect(top?.cause).toBe(c.top);
    if (top) {
      expect(top.remediation.length).toBeGreaterThan(0);
      expect(top.explanation.length).toBeGreaterThan(20);
      if (c.top !== 'cert_untrusted' || top.frames.length > 0) expect(top.frames.length).toBeGreaterThan(0);
    }
    expect(j.probe?.port).toBe(port);
    if (c.opts === 'closed') expect(j.probe?.connect?.outcome).toBe('refused');
    else expect(j.probe?.connect?.outcome).toBe('connected');
    // Bounded: at most 6 protocol sets + 4 TLS versions.
    expect(j.connections.length).toBeLessThanOrEqual(10);
  });

  it('says it in text, with the matrix', () => {
    const t = runs.text!.stdout;
    expect(runs.text!.code).toBe(c.code);
    for (const w of c.words) expect(t).toMatch(w);
    if (c.opts !== 'closed') expect(t).toMatch(/Security protocols \(one X\.224 Connection Request each\):/);
    if (c.top) expect(t).toContain(`Finding: ${c.top}`);
  });

  it('says it in Markdown and HTML', async () => {
    const md = await cli(['probe', target, '--timeout', '1', '--format', 'md']);
    const html = await cli(['probe', target, '--timeout', '1', '--format', 'html']);
    if (c.top) {
      expect(md.stdout).toContain(c.top);
      expect(html.stdout).toContain(c.top);
    }
    expect(md.stdout).toContain('## Probe');
    expect(html.stdout).toContain('<section class="probe" id="probe">');
    expect(md.code).toBe(c.code);
    expect(html.code).toBe(c.code);
  }, 30_000);

  it('analyze of its capture gives the same verdict', async () => {
    const a = await cli(['analyze', capture, '--format', 'json', '--port', String(port)]);
    const j = JSON.parse(a.stdout) as Report;
    const probeTop = (JSON.parse(runs.json!.stdout) as Report).captureFindings[0]?.cause ?? null;
    const all = [...j.captureFindings, ...j.connections.flatMap((x) => x.findings)].sort((x, y) => y.confidence - x.confidence);
    // TLS 1.3 encrypts the certificate: a finding about it only the probe's socket saw cannot be in the capture.
    expect(all[0]?.cause ?? null).toBe(probeTop);
    expect(a.code).toBe(runs.json!.code);
  });
});

describe('probe: one line for a host it cannot reach', () => {
  it('a closed port: one line on stderr with the timing, exit 1', async () => {
    const port = await closedPort();
    const r = await cli(['probe', `127.0.0.1:${port}`, '--timeout', '1']);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`rdp-autopsy: 127\\.0\\.0\\.1 port ${port}: connection refused after [\\d.]+ ms`));
    expect(r.code).toBe(1);
  });

  it('a name that does not resolve: dns_failure, one line, exit 1', async () => {
    const r = await cli(['probe', 'no-such-host.invalid', '--timeout', '2', '--format', 'json']);
    expect(r.stderr).toMatch(/^rdp-autopsy: no-such-host\.invalid: the name does not resolve \(\w+\)\n$/);
    const j = JSON.parse(r.stdout) as Report;
    expect(j.captureFindings[0]?.cause).toBe('dns_failure');
    expect(j.connections).toEqual([]);
    expect(r.code).toBe(1);
  });

  it('a target that is not HOST[:PORT] is a usage error', async () => {
    const r = await cli(['probe', 'a:b:c:99999', '--timeout', '1']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('ndjson: a line per connection, then the summary with the verdict', async () => {
    const port = await closedPort();
    const r = await cli(['probe', `127.0.0.1:${port}`, '--timeout', '1', '--format', 'ndjson']);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    const last = lines.at(-1) as unknown as Report;
    expect(last.captureFindings[0]?.cause).toBe('port_not_listening');
    expect(last.probe?.connect?.outcome).toBe('refused');
  });

  it('--password-file without --user is a usage error', async () => {
    const r = await cli(['probe', '127.0.0.1:1', '--password-file', '/nonexistent']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--password-file needs --user/);
  });
});

describe('probe over IPv6 loopback', () => {
  it('[::1]:PORT: a TLS-only server answers the same as on IPv4', async (ctx) => {
    let server: FakeServer;
    try {
      server = await startServer({ mode: 'tls_only', cert: good, host: '::1' });
    } catch {
      ctx.skip('no IPv6 loopback on this machine');
      return;
    }
    try {
      const r = await cli(['probe', `[::1]:${server.port}`, '--timeout', '1', '--format', 'json']);
      const j = JSON.parse(r.stdout) as Report;
      expect(j.captureFindings[0]?.cause).toBe('security_layer_mismatch');
      // IPv6 endpoints are written in brackets in every report (schema 2.0).
      expect(j.connections[0]?.server).toBe(`[::1]:${server.port}`);
      expect(j.probe?.address).toBe('::1');
    } finally {
      await server.close();
    }
  }, 30_000);
});

describe('probe --user: an NLA logon (password from a file, never on the command line)', () => {
  let server: FakeServer;
  const pw = path.join(dir, 'password.txt');
  beforeAll(async () => {
    server = await startServer({ mode: 'nla_required', cert: good, account: { user: 'alice', domain: 'CORP', password: 'S3cret!' } });
  });
  afterAll(async () => {
    await server.close();
  });

  it('the right password: the server accepts the logon, no nla_failed', async () => {
    writeFileSync(pw, 'S3cret!\n');
    const r = await cli(['probe', `127.0.0.1:${server.port}`, '--timeout', '1', '--format', 'json', '--user', 'CORP\\alice', '--password-file', pw]);
    const j = JSON.parse(r.stdout) as Report;
    expect(schema.validate(j)).toEqual([]);
    expect(j.probe?.logon?.outcome).toBe('accepted');
    expect(j.captureFindings.map((f) => f.cause)).not.toContain('nla_failed');
    // The password is nowhere in the report.
    expect(r.stdout).not.toContain('S3cret!');
  });

  it("a wrong password: the server's errorCode STATUS_LOGON_FAILURE, nla_failed on top", async () => {
    writeFileSync(pw, 'wrong\n');
    const r = await cli(['probe', `127.0.0.1:${server.port}`, '--timeout', '1', '--format', 'json', '--user', 'alice@CORP', '--password-file', pw]);
    const j = JSON.parse(r.stdout) as Report;
    expect(schema.validate(j)).toEqual([]);
    expect(j.probe?.logon?.outcome).toBe('error_code');
    expect(j.probe?.logon?.errorCode).toBe(0xc000006d);
    expect(j.captureFindings[0]?.cause).toBe('nla_failed');
    expect(j.captureFindings[0]?.explanation).toMatch(/STATUS_LOGON_FAILURE/);
    expect(r.code).toBe(1);
    const t = await cli(['probe', `127.0.0.1:${server.port}`, '--timeout', '1', '--user', 'alice@CORP', '--password-file', pw, '--no-color']);
    expect(t.stdout).toMatch(/NLA logon as CORP\\alice: TSRequest errorCode STATUS_LOGON_FAILURE/);
  });
});
