// Key-log decryption end to end (issue 13): the key-log fixture captures (real node:tls sessions
// carrying RDP bytes) analysed with their Decryption Secrets Block, with the separate key log,
// without keys, and with wrong, partial and foreign key logs; secrets and the Client Info
// password never reach any report format.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../src/pipeline.js';
import type { Report, ReportedConnection } from '../src/report/types.js';
import { renderJson } from '../src/report/json.js';
import { renderText } from '../src/report/text.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { renderHtml } from '../src/report/html.js';
import { exportEvidence } from '../src/report/evidence.js';
import { readCapture } from '../src/capture/index.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createAnalyzer } from '../src/pipeline.js';
import { tmpdir } from 'node:os';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cap = (name: string): string => path.join(repoRoot, 'fixtures/captures', name);
const keylogText = (name: string): string => readFileSync(cap(`${name}.keylog`), 'latin1');

async function run(name: string, keyLogs?: { name: string; text: string }[], data?: Buffer): Promise<{ r: Report; c: ReportedConnection }> {
  const r = await analyze([data ? { kind: 'buffer', name: `${name}.pcapng`, data } : { kind: 'file', path: cap(`${name}.pcapng`) }], { jobs: 1, ...(keyLogs ? { keyLogs } : {}) });
  expect(r.connections).toHaveLength(1);
  return { r, c: r.connections[0]! };
}

/** Every report format of a report, for "never in any report" checks. */
function allFormats(r: Report): string {
  return [renderJson(r), renderText(r, { color: false }), renderMarkdown(r), renderHtml(r)].join('\n');
}

/** The secrets (hex) of a key log. */
function secrets(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.trim().split(/\s+/)[2]!);
}

describe('NLA failure over TLS 1.2 AES-256-GCM with EMS, keys in a Decryption Secrets Block', () => {
  it('names the server\'s errorCode from the decrypted TSRequest, every phase decoded', async () => {
    const { r, c } = await run('keylog_nla_logon_failure');
    expect(c.outcome).toBe('failed');
    expect(c.died).toMatchObject({ phase: 'credssp', by: 'server' });
    expect(c.tls!.cipherSuiteName).toBe('TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384');
    expect(c.tls!.decryption).toMatchObject({ status: 'decrypted', failure: null });
    expect(c.tls!.decryption!.records.server).toBeGreaterThan(0);
    expect(c.phases.every((p) => !p.inferred && p.confidence === 1)).toBe(true);
    expect(c.credssp).toMatchObject({ visible: true, version: 6, tokens: ['1', '2', '3'], errorCode: 0xc000006d, errorName: 'STATUS_LOGON_FAILURE' });
    expect(c.timeline.some((e) => e.event === 'CredSSP TSRequest' && e.detail?.includes('NTLM AUTHENTICATE (CORP\\alice from WKS-ALICE)'))).toBe(true);
    const top = c.findings[0]!;
    expect(top.cause).toBe('nla_failed');
    expect(top.explanation).toContain('errorCode STATUS_LOGON_FAILURE (0xC000006D) in frame 14: the user name or the password is wrong');
    expect(r.warnings.some((w) => w.startsWith('TLS secrets for 1 session from Decryption Secrets Block'))).toBe(true);
    const out = allFormats(r);
    for (const s of secrets(keylogText('keylog_nla_logon_failure'))) expect(out).not.toContain(s);
  });

  it('a key log with a wrong secret for this session: a finding about the keys, and the inferred answer stays', async () => {
    // The logoff capture has no DSB: its key log with every secret replaced is the only key source.
    const wrong = keylogText('keylog_completed_logoff').replace(/ ([0-9a-f]+)\n/g, (_m, h: string) => ` ${'5a'.repeat(h.length / 2)}\n`);
    expect(wrong).not.toBe(keylogText('keylog_completed_logoff'));
    const { c } = await run('keylog_completed_logoff', [{ name: 'wrong.keylog', text: wrong }]);
    expect(c.tls!.decryption).toMatchObject({ status: 'failed', records: { client: 0, server: 0 } });
    expect(c.tls!.decryption!.reason).toContain('does not decrypt with the secrets given for this session');
    expect(c.warnings.some((w) => w.message.includes('does not decrypt with the key log'))).toBe(true);
    // A healthy session stays completed (inferred as without keys).
    expect(c.outcome).toBe('completed');
    expect(c.reached).toBe('active');
  });
});

describe('NLA failures over TLS 1.0 and 1.1 (CBC: implicit chained IVs, explicit IVs; the TLS 1.0 PRF)', () => {
  for (const [name, version] of [
    ['keylog_tls10_cbc_logon_failure', 'TLS1.0'],
    ['keylog_tls11_cbc_logon_failure', 'TLS1.1'],
  ] as const) {
    it(`${version}: the errorCode decrypted, every phase decoded`, async () => {
      const { r, c } = await run(name);
      expect(c.tls!.version).toBe(version);
      expect(c.tls!.cipherSuiteName).toBe('TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA');
      expect(c.tls!.decryption).toMatchObject({ status: 'decrypted', failure: null });
      expect(c.phases.every((p) => !p.inferred)).toBe(true);
      expect(c.credssp).toMatchObject({ visible: true, tokens: ['1', '2', '3'], errorName: 'STATUS_LOGON_FAILURE' });
      expect(c.findings[0]!.cause).toBe('nla_failed');
      const out = allFormats(r);
      for (const s of secrets(keylogText(name))) expect(out).not.toContain(s);
    });
  }
  it('TLS 1.0 with a wrong key log: the first record does not authenticate (a finding about the keys, not a crash)', async () => {
    const name = 'keylog_tls10_cbc_logon_failure';
    const wrong = keylogText(name).replace(/ ([0-9a-f]+)\n/g, (_m, h: string) => ` ${'5a'.repeat(h.length / 2)}\n`);
    const { c } = await run(name, [{ name: 'wrong.keylog', text: wrong }], stripDsb(readFileSync(cap(`${name}.pcapng`))));
    expect(c.tls!.decryption).toMatchObject({ status: 'failed', records: { client: 0, server: 0 } });
  });
});

describe('RSA key exchange with only an NSS RSA line (RFC 5246 7.4.7.1, extended master secret)', () => {
  const name = 'keylog_rsa_kx_logon_failure';
  it('finds the pre-master by the ClientKeyExchange, derives the master secret, decrypts every record', async () => {
    const text = keylogText(name);
    expect(text).toMatch(/^RSA [0-9a-f]{16} [0-9a-f]{96}\n$/);
    const { r, c } = await run(name);
    expect(c.tls!.cipherSuiteName).toBe('TLS_RSA_WITH_AES_256_CBC_SHA');
    expect(c.tls!.decryption).toMatchObject({ status: 'decrypted', failure: null });
    expect(c.credssp!.errorName).toBe('STATUS_LOGON_FAILURE');
    expect(c.findings[0]!.cause).toBe('nla_failed');
    const out = allFormats(r);
    for (const s of secrets(text)) expect(out).not.toContain(s);
  });
  it('its evidence pcapng carries its RSA line (found by the public rsaKey) and decrypts by itself', async () => {
    const sources = [{ kind: 'file' as const, path: cap(`${name}.pcapng`) }];
    const r = await analyze(sources, { jobs: 1 });
    const rsaKey = r.connections[0]!.tls!.decryption!.rsaKey!;
    expect(keylogText(name)).toContain(`RSA ${rsaKey} `);
    const dir = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-ev-'));
    try {
      const ev = await exportEvidence(r, sources, dir);
      const info = await readCapture({ kind: 'file', path: ev.files[0]!.file }, 0, { onFrame: () => undefined });
      expect(info.secrets[0]!.data.toString('latin1')).toBe(keylogText(name));
      const again = await analyze([{ kind: 'file', path: ev.files[0]!.file }], { jobs: 1 });
      expect(again.connections[0]!.credssp!.errorName).toBe('STATUS_LOGON_FAILURE');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('from a separate key log too; another session\'s RSA line leaves it undecrypted, saying why', async () => {
    const data = stripDsb(readFileSync(cap(`${name}.pcapng`)));
    const ok = await run(name, [{ name: 'rsa.keylog', text: keylogText(name) }], data);
    expect(ok.c.tls!.decryption!.status).toBe('decrypted');
    const other = await run(name, [{ name: 'other.keylog', text: `RSA 0011223344556677 ${'ab'.repeat(48)}\n` }], data);
    expect(other.c.tls!.decryption!.status).toBe('no_key');
    expect(other.c.tls!.decryption!.reason).toMatch(/nor an RSA line for its encrypted pre-master [0-9a-f]{16}/);
    const wrong = await run(name, [{ name: 'wrong.keylog', text: keylogText(name).replace(/ ([0-9a-f]{96})\n/, ` ${'ab'.repeat(48)}\n`) }], data);
    expect(wrong.c.tls!.decryption!.status).toBe('failed');
  });
});

/** The pcapng without its Decryption Secrets Blocks (block type 0x0000000A). */
function stripDsb(buf: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let off = 0; off + 12 <= buf.length; ) {
    const len = buf.readUInt32LE(off + 4);
    if (buf.readUInt32LE(off) !== 0x0000000a) parts.push(buf.subarray(off, off + len));
    off += len;
  }
  return Buffer.concat(parts);
}

describe('NLA failures over the other TLS 1.2 suites (ChaCha20-Poly1305, AES-CBC with encrypt-then-MAC)', () => {
  for (const [name, suite, code, meaning] of [
    ['keylog_chacha20_password_expired', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', 'STATUS_PASSWORD_EXPIRED', 'the password has expired'],
    ['keylog_cbc_account_restriction', 'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384', 'STATUS_ACCOUNT_RESTRICTION', 'an account restriction prevents this logon'],
  ] as const) {
    it(`${suite}: ${code}`, async () => {
      const { c } = await run(name);
      expect(c.tls!.cipherSuiteName).toBe(suite);
      expect(c.tls!.decryption).toMatchObject({ status: 'decrypted', failure: null });
      expect(c.credssp!.errorName).toBe(code);
      expect(c.findings[0]!.cause).toBe('nla_failed');
      expect(c.findings[0]!.explanation).toContain(meaning);
    });
  }
});

describe('licensing error read from decrypted TLS', () => {
  it('server_denied names the ERROR_ALERT code and the server as who ended it', async () => {
    const { c } = await run('keylog_licensing_error');
    expect(c.tls!.decryption!.status).toBe('decrypted');
    expect(c.licensing).toEqual([expect.objectContaining({ by: 'server', msgName: 'ERROR_ALERT', errorName: 'ERR_NO_LICENSE_SERVER' })]);
    expect(c.died).toMatchObject({ phase: 'licensing', how: 'licensing_error', by: 'server', frame: c.licensing[0]!.frame });
    expect(c.findings[0]!.cause).toBe('server_denied');
    expect(c.findings[0]!.explanation).toContain('ERR_NO_LICENSE_SERVER');
    expect(c.phases.find((p) => p.phase === 'licensing')).toMatchObject({ inferred: false, confidence: 1 });
  });
});

describe('completed session over TLS 1.2 AES-128-GCM, keys in a separate key log', () => {
  it('without the key log: inferred phases, no decryption facts', async () => {
    const { c } = await run('keylog_completed_logoff');
    expect(c.tls!.decryption).toBeUndefined();
    expect(c.outcome).toBe('completed');
    expect(c.phases.some((p) => p.inferred)).toBe(true);
    expect(c.credssp?.visible ?? false).toBe(false);
  });

  it('with --keylog: the ERRINFO end, the Client Info user (never the password), decoded phases', async () => {
    const text = keylogText('keylog_completed_logoff');
    const { r, c } = await run('keylog_completed_logoff', [{ name: 'session.keylog', text }]);
    expect(c.outcome).toBe('completed');
    expect(c.reached).toBe('active');
    expect(c.tls!.decryption!.status).toBe('decrypted');
    for (const p of ['credssp', 'mcs', 'licensing', 'capabilities', 'finalization', 'active'] as const) {
      const ph = c.phases.find((x) => x.phase === p);
      expect(ph, p).toBeDefined();
      expect(ph!.inferred, p).toBe(false);
      expect(ph!.confidence, p).toBe(1);
    }
    expect(c.credssp).toMatchObject({ visible: true, earlyUserAuthResult: 0, errorCode: null });
    expect(c.errorInfo).toEqual([expect.objectContaining({ code: 0xc, name: 'ERRINFO_LOGOFF_BY_USER' })]);
    expect(c.mcs!.disconnectUltimatum).toMatchObject({ by: 'server', reasonName: 'rn-user-requested' });
    expect(c.timeline.some((e) => e.event === 'Client Info' && e.detail?.includes('CORP\\alice'))).toBe(true);
    expect(c.timeline.some((e) => e.event === 'Save Session Info')).toBe(true);
    expect(c.mcs!.logon).toEqual({ frame: c.timeline.find((e) => e.event === 'Save Session Info')!.frame, infoType: 1, infoTypeName: 'INFOTYPE_LOGON_LONG' });
    expect(renderText(r, { color: false })).toContain('TLS decrypted, ended by the server with ERRINFO_LOGOFF_BY_USER, user logged on (Save Session Info, frame');
    expect(c.findings).toEqual([]);
    const out = allFormats(r);
    expect(out).not.toContain('Winter2026');
    for (const s of secrets(text)) expect(out).not.toContain(s);
  });

  it('RDSTLS selected: decrypted, but its application data is inferred as without keys (its PDUs are not TPKT)', async () => {
    const data = Buffer.from(readFileSync(cap('keylog_completed_logoff.pcapng')));
    // RDP_NEG_RSP (MS-RDPBCGR 2.2.1.2.1) type 2, flags 0x1f, length 8, selectedProtocol HYBRID_EX -> RDSTLS.
    const at = data.indexOf(Buffer.from('021f080008000000', 'hex'));
    expect(at).toBeGreaterThan(0);
    data[at + 4] = 0x04;
    const { c } = await run('keylog_completed_logoff', [{ name: 'k', text: keylogText('keylog_completed_logoff') }], data);
    expect(c.security).toBe('rdstls');
    expect(c.tls!.decryption!.status).toBe('decrypted');
    expect(c.tls!.decryption!.reason).toContain('the application data of security rdstls is not decoded');
    expect(c.outcome).toBe('completed');
    expect(c.timeline.some((e) => e.event === 'CredSSP TSRequest')).toBe(false);
  });

  it('a key log for other sessions only: no_key, said in the report', async () => {
    const { r, c } = await run('keylog_completed_logoff', [{ name: 'other.keylog', text: keylogText('keylog_nla_logon_failure') }]);
    expect(c.tls!.decryption).toMatchObject({ status: 'no_key' });
    expect(c.tls!.decryption!.reason).toContain('no CLIENT_RANDOM line');
    expect(c.outcome).toBe('completed');
    expect(r.warnings.some((w) => w.includes('1 without a secret'))).toBe(true);
  });

  it('bad key log lines are named with their line number, the good ones still used', async () => {
    const text = `# comment\nCLIENT_RANDOM zz 00\n\n${keylogText('keylog_completed_logoff')}GARBAGE\n`;
    const { r, c } = await run('keylog_completed_logoff', [{ name: 'mixed.keylog', text }]);
    expect(c.tls!.decryption!.status).toBe('decrypted');
    expect(r.warnings).toContain('key log: mixed.keylog line 2: CLIENT_RANDOM: the client random is not 32 bytes of hex');
    expect(r.warnings.some((w) => /mixed\.keylog line \d+: unknown label "GARBAGE"/.test(w))).toBe(true);
  });

  it('a capture cut inside a record under decryption: no crash, the damage named', async () => {
    const whole = readFileSync(cap('keylog_completed_logoff.pcapng'));
    const cut = whole.subarray(0, Math.floor(whole.length * 0.6));
    const { r, c } = await run('keylog_completed_logoff', [{ name: 'k', text: keylogText('keylog_completed_logoff') }], cut);
    expect(r.capture.damage.length).toBe(1);
    expect(['decrypted', 'partial']).toContain(c.tls!.decryption!.status);
    expect(c.outcome).not.toBe('failed');
  });
});

describe('TLS 1.3 with the traffic secrets in a Decryption Secrets Block', () => {
  it('shows the certificate, and server_denied names ERRINFO and who ended it', async () => {
    const { c } = await run('keylog_tls13_server_denied');
    expect(c.tls!.version).toBe('TLS1.3');
    expect(c.tls!.certificateEncrypted).toBe(false);
    expect(c.tls!.certificates[0]!.subject).toContain('rdp-srv02.corp.example');
    expect(c.tls!.decryption!.status).toBe('decrypted');
    expect(c.died).toMatchObject({ how: 'error_info', by: 'server' });
    expect(c.errorInfo[0]).toMatchObject({ name: 'ERRINFO_SERVER_DENIED_CONNECTION' });
    expect(c.mcs!.disconnectUltimatum).toMatchObject({ by: 'server', reasonName: 'rn-provider-initiated' });
    const top = c.findings[0]!;
    expect(top.cause).toBe('server_denied');
    expect(top.explanation).toContain('ERRINFO_SERVER_DENIED_CONNECTION');
    // The server ended it before any logon.
    expect(c.mcs!.logon).toBeUndefined();
  });

  it('handshake secrets only (a partial key log): the certificate is read, the rest is not, and the report says so', async () => {
    // The separate key log carries the same lines as the DSB; the DSB is in the capture, so use a
    // copy of the capture without it: the pcapng without its DSB block is built here.
    const text = keylogText('keylog_tls13_server_denied')
      .split('\n')
      .filter((l) => !l.includes('TRAFFIC_SECRET_0'))
      .join('\n');
    const data = withoutDsb(readFileSync(cap('keylog_tls13_server_denied.pcapng')));
    const { c } = await run('keylog_tls13_server_denied', [{ name: 'hs-only.keylog', text }], data);
    expect(c.tls!.certificateEncrypted).toBe(false);
    expect(c.tls!.decryption).toMatchObject({ status: 'partial' });
    expect(c.tls!.decryption!.failure!.reason).toContain('TRAFFIC_SECRET_0');
    expect(c.errorInfo).toEqual([]);
  });
});

describe('live: a key log that grows while the capture runs', () => {
  it('reads the lines appended since the start when a session has no secret yet', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-kl-'));
    try {
      const file = path.join(dir, 'sslkeylog.txt');
      writeFileSync(file, '# empty at the start\n');
      const a = createAnalyzer({ name: 'live:test', keyLogs: [{ name: file, text: '# empty at the start\n' }], keyLogFollow: [file] });
      // The client writes its secret after the capture started (before its ServerHello is read).
      writeFileSync(file, `# empty at the start\n${keylogText('keylog_completed_logoff')}`);
      const info = await readCapture({ kind: 'file', path: cap('keylog_completed_logoff.pcapng') }, 0, { onFrame: (v) => a.push(v) });
      const r = a.finish(info);
      expect(r.connections[0]!.tls!.decryption!.status).toBe('decrypted');
      expect(r.connections[0]!.errorInfo[0]!.name).toBe('ERRINFO_LOGOFF_BY_USER');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('--export-evidence of a decrypted connection', () => {
  it('writes a pcapng whose Decryption Secrets Block holds only that connection\'s keys', async () => {
    const sources = [
      { kind: 'file' as const, path: cap('keylog_nla_logon_failure.pcapng') },
      { kind: 'file' as const, path: cap('keylog_completed_logoff.pcapng') },
    ];
    // Both sessions' secrets are known (DSB of the first file, key log of the second); only the
    // failed first connection gets evidence, with its own secrets alone.
    const keyLogs = [{ name: 'other.keylog', text: keylogText('keylog_completed_logoff') }];
    const r = await analyze(sources, { jobs: 1, keyLogs });
    const dir = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-ev-'));
    try {
      const ev = await exportEvidence(r, sources, dir, { keyLogs });
      expect(ev.files).toHaveLength(1);
      expect(ev.files[0]!.file.endsWith('.pcapng')).toBe(true);
      const frames: number[] = [];
      const info = await readCapture({ kind: 'file', path: ev.files[0]!.file }, 0, { onFrame: (v) => void frames.push(v.frame) });
      expect(info.secrets).toHaveLength(1);
      expect(info.secrets[0]!.type).toBe(0x544c534b);
      const lines = info.secrets[0]!.data.toString('latin1');
      const own = keylogText('keylog_nla_logon_failure').trim().split('\n');
      expect(lines.trim().split('\n').sort()).toEqual(own.sort());
      for (const s of secrets(keylogText('keylog_completed_logoff'))) expect(lines).not.toContain(s);
      expect(frames.length).toBe(ev.files[0]!.frames);
      // Analysed again, the evidence file decrypts by itself.
      const again = await analyze([{ kind: 'file', path: ev.files[0]!.file }], { jobs: 1 });
      expect(again.connections[0]!.credssp!.errorName).toBe('STATUS_LOGON_FAILURE');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A pcapng without its Decryption Secrets Blocks (type 0x0000000A, pcapng 4.7), little-endian sections. */
function withoutDsb(b: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let o = 0; o + 12 <= b.length; ) {
    const type = b.readUInt32LE(o);
    const len = b.readUInt32LE(o + 4);
    if (type !== 0x0a) parts.push(b.subarray(o, o + len));
    o += len;
  }
  return Buffer.concat(parts);
}
