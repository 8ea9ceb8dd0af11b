// Server Redirection end to end (issue 13): keylog_server_redirection, a connection broker that sends
// the client on (decrypted with the capture's Decryption Secrets Block) and the client's reconnect to
// the target. The redirected connection is not a failure; its fields are in the JSON record and the
// reports, escaped like every string the server sends.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../src/pipeline.js';
import type { Report } from '../src/report/types.js';
import { renderJson } from '../src/report/json.js';
import { renderText } from '../src/report/text.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { renderHtml } from '../src/report/html.js';
import { SchemaValidator } from './report/json-schema.js';
import { EVIL } from './report/helpers.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const file = path.join(repoRoot, 'fixtures/captures/keylog_server_redirection.pcapng');
const schema = JSON.parse(readFileSync(path.join(repoRoot, 'docs/report.schema.json'), 'utf8')) as Record<string, unknown>;

let once: Promise<Report> | null = null;
const report = (): Promise<Report> => (once ??= analyze([{ kind: 'file', path: file }], { jobs: 1 }));

describe('keylog_server_redirection', () => {
  it('the broker connection is completed (redirected), with the decoded Server Redirection fields', async () => {
    const r = await report();
    expect(r.connections).toHaveLength(2);
    const [c1, c2] = r.connections;
    expect(c1!.server).toBe('10.20.0.16:3389');
    expect(c1!.tls!.decryption!.status).toBe('decrypted');
    expect(c1!.outcome).toBe('completed');
    expect(c1!.died).toBeNull();
    expect(c1!.findings).toEqual([]);
    const rd = c1!.mcs!.redirection!;
    expect(rd).toEqual({
      frame: rd.frame,
      sessionId: 3,
      redirFlags: 0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x20 | 0x100 | 0x200 | 0x800,
      redirFlagNames: ['LB_TARGET_NET_ADDRESS', 'LB_LOAD_BALANCE_INFO', 'LB_USERNAME', 'LB_DOMAIN', 'LB_PASSWORD', 'LB_DONTSTOREUSERNAME', 'LB_TARGET_FQDN', 'LB_TARGET_NETBIOS_NAME', 'LB_TARGET_NET_ADDRESSES'],
      targetNetAddress: '10.20.0.15',
      loadBalanceInfo: 'Cookie: msts=3640205228.15629.0000\\x0d\\x0a',
      targetFqdn: 'rdp-srv01.corp.example',
      targetNetBiosName: 'RDP-SRV01',
      targetNetAddresses: ['10.20.0.15', 'fe80::15'],
      noRedirect: false,
    });
    const ev = c1!.timeline.find((e) => e.event === 'Server Redirection')!;
    expect(ev).toMatchObject({ frame: rd.frame, decrypted: true, detail: 'to rdp-srv01.corp.example, session id 3' });
    // The reconnect to the target, with the load-balance info as its routing token, completes on its own.
    expect(c2!.server).toBe('10.20.0.15:3389');
    expect(c2!.negotiation!.routingToken).toContain('Cookie: msts=3640205228.15629.0000');
    expect(c2!.outcome).toBe('completed');
    expect(c2!.mcs!.logon).toBeDefined();
    expect(r.summary.failed).toBe(0);
    expect(r.summary.headline).toBe('All 2 connection attempts completed.');
  });

  it('never reports the password (logon cookie), user or domain of the redirection', async () => {
    const r = await report();
    const json = renderJson(r);
    expect(json).not.toMatch(/"(password|userName|domain)"/);
    expect(json.match(/"redirection"/g)).toHaveLength(1);
  });

  it('is valid JSON for the schema and is told in text, Markdown and HTML', async () => {
    const r = await report();
    expect(new SchemaValidator(schema).validate(JSON.parse(renderJson(r)))).toEqual([]);
    const text = renderText(r, { color: false });
    expect(text).toContain('completed: redirected to rdp-srv01.corp.example');
    expect(text).toMatch(/Server Redirection in frame \d+ \(session id 3, load-balance info "Cookie: msts=3640205228\.15629\.0000\\x0d\\x0a"\)/);
    expect(renderMarkdown(r)).toContain('redirected to rdp-srv01.corp.example');
    expect(renderHtml(r)).toContain('redirected to rdp-srv01.corp.example');
  });

  it('escapes the server\'s strings in every format', async () => {
    const r = structuredClone(await report());
    const rd = r.connections[0]!.mcs!.redirection!;
    rd.targetFqdn = EVIL;
    rd.loadBalanceInfo = EVIL;
    const html = renderHtml(r);
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    const text = renderText(r, { color: false });
    expect(text).not.toMatch(/\x1b|\x9b|\u202e/);
    expect(text).not.toContain('\n# heading');
    const md = renderMarkdown(r);
    expect(md).not.toContain('<script>');
    expect(md).not.toContain('\n# heading');
  });
});
