// Issue 12 pattern 7 and issue 18's pre-authentication connection, end to end on the fixture
// captures: one user attempt made of several connections (src/diagnose/attempts.ts) is told as one
// attempt: the first failure carries the cause, the client's own retry is its consequence, a
// fallback that completes over Standard RDP Security is a session with a warning, and mstsc's NLA
// pre-authentication connection is no failure when the reconnect after it completes.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import { exitCodeOf } from '../../src/cli/run.js';
import { renderText } from '../../src/report/text.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderHtml } from '../../src/report/html.js';
import type { Report } from '../../src/report/types.js';

const FIX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'captures');

function conn(r: Report, port: number) {
  const c = r.connections.find((x) => x.client.endsWith(`:${port}`));
  expect(c, `connection from port ${port}`).toBeDefined();
  return c!;
}

const load = (name: string) => analyze([{ kind: 'file', path: path.join(FIX, `${name}.pcap`) }]);

describe.skipIf(!existsSync(FIX))('one user attempt, several connections (issue 12 pattern 7, issue 18 pre-authentication)', () => {
  it("mstsc's automatic retry (SSL only after CredSSP failed, HYBRID_REQUIRED_BY_SERVER) is the first failure's consequence", async () => {
    const r = await load('mstsc_retry_hybrid_required');
    const first = conn(r, 51240);
    const retry = conn(r, 51241);
    expect(first.outcome).toBe('failed');
    expect(first.died).toMatchObject({ phase: 'credssp' });
    expect(first.findings[0]!.cause).toBe('nla_failed');
    expect(first.findings[0]!.remediation.length).toBeGreaterThan(0);
    expect(first.attempt).toBeNull();
    expect(retry.outcome).toBe('failed');
    expect(retry.died).toMatchObject({ phase: 'x224', how: 'negotiation_failure', by: 'server' });
    expect(retry.attempt).toMatchObject({ role: 'retry', of: first.id });
    // Linked, with no second remediation.
    expect(retry.findings[0]).toMatchObject({ cause: 'nla_mismatch', consequenceOf: first.id, remediation: [] });
    expect(r.summary.headline).toMatch(/NLA \(CredSSP\) authentication failed/);
    expect(r.summary.headline).not.toMatch(/NLA required/);
    expect(r.servers[0]!.lines.join(', ')).toMatch(/1 the client's own retry after a failure/);
    const g = r.groups.find((x) => x.connectionIds.includes(retry.id))!;
    expect(g.rootCauseConnectionId).toBe(first.id);
    expect(g.summary).toMatch(new RegExp(`${retry.id} was the client's own retry with other protocols, a consequence of ${first.id}`));
    const text = renderText(r, { color: false });
    expect(text).toMatch(new RegExp(`Consequence of ${first.id}: nla_mismatch`));
    expect(renderMarkdown(r)).toMatch(/nla\\?_mismatch \(consequence of c1\)/);
    expect(renderHtml(r)).toContain(`nla_mismatch (consequence of ${first.id})`);
  });

  it('a fallback that completes over Standard RDP Security: the user got a session, the weak security is a warning of its own', async () => {
    const r = await load('security_layer_mismatch_retry');
    const first = conn(r, 50210);
    const fallback = conn(r, 50211);
    expect(first.findings[0]!.cause).toBe('security_layer_mismatch');
    expect(fallback.outcome).toBe('completed');
    expect(fallback.attempt).toMatchObject({ role: 'retry', of: first.id });
    const w = fallback.findings[0]!;
    expect(w).toMatchObject({ cause: 'standard_rdp_security', severity: 'warning', confidence: 1 });
    expect(w.explanation).toMatch(/ENCRYPTION_METHOD_128BIT \(RC4\)/);
    expect(w.remediation.join(' ')).toMatch(/Require use of specific security layer/);
    expect(r.summary.headline).toMatch(/Then c\d+ completed with .*: the user got a session\. It runs over weak Standard RDP Security/);
    // A warning is not a failure: counts and exit code speak of one failed connection only.
    expect(r.summary).toMatchObject({ failed: 1, completed: 1 });
    const text = renderText(r, { color: false });
    expect(text).toMatch(/Warning: standard_rdp_security \(100%\)/);
    expect(renderMarkdown(r)).toMatch(/### Warning/);
    expect(renderHtml(r)).toContain('standard_rdp_security (warning)');
  });

  it('a session over Standard RDP Security on its own also carries the warning, and stays completed (exit 0)', async () => {
    const r = await load('completed_standard_rdp');
    expect(r.connections[0]!.outcome).toBe('completed');
    expect(r.connections[0]!.findings.map((f) => f.cause)).toEqual(['standard_rdp_security']);
    expect(r.summary.headline).toMatch(/^The connection attempt completed\. It runs over weak Standard RDP Security/);
    expect(exitCodeOf(r)).toBe(0);
  });

  it("mstsc's NLA pre-authentication connection followed by a completed reconnect is no failure", async () => {
    const r = await load('mstsc_preauth_reconnect');
    const pre = conn(r, 51250);
    const main = conn(r, 51251);
    expect(main.outcome).toBe('completed');
    expect(pre.attempt).toMatchObject({ role: 'pre_authentication', of: main.id });
    expect(pre.attempt!.note).toMatch(/public-key proof \(frame \d+\).*same certificate/);
    expect(pre.findings).toEqual([]);
    expect(r.summary).toMatchObject({ connections: 2, completed: 1, failed: 0, incompleteCapture: 0, preAuthentication: 1 });
    expect(r.summary.headline).toBe('The connection attempt completed.');
    expect(exitCodeOf(r)).toBe(0);
    const text = renderText(r, { color: false });
    expect(text).not.toMatch(/FAILED/);
    expect(text).toMatch(/NLA pre-authentication for c2/);
    expect(renderMarkdown(r)).toMatch(/NLA pre-authentication for c2/);
    expect(renderHtml(r)).toContain('NLA pre-authentication for c2');
  });

  it('the same connection with no reconnect after it is still a failure', async () => {
    const r = await load('mstsc_preauth_no_reconnect');
    const c = r.connections[0]!;
    expect(c.outcome).toBe('failed');
    expect(c.died).toMatchObject({ phase: 'credssp', by: 'client' });
    expect(c.attempt).toBeNull();
    expect(r.summary).toMatchObject({ failed: 1, preAuthentication: 0 });
    expect(exitCodeOf(r)).toBe(1);
  });
});
