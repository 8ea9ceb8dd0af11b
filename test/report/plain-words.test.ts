// Issue 17, "wrong facts in summaries": reports that stay true and speak to the admin. A certificate
// that is not valid yet is its own case (clocks first); no report names the project's own documents.
import { describe, expect, it } from 'vitest';
import { renderText } from '../../src/report/text.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderHtml } from '../../src/report/html.js';
import { fixtureReport, scenarios } from './helpers.js';

describe('cert_not_yet_valid on its fixture capture', () => {
  it('is told apart from an expired certificate, with the clocks checked first', async () => {
    const r = await fixtureReport('captures/cert_not_yet_valid.pcapng');
    const c = r.connections.find((x) => x.outcome === 'failed')!;
    expect(c.died).toMatchObject({ phase: 'tls', how: 'encrypted_alert', by: 'client' });
    const f = c.findings[0]!;
    expect(f.cause).toBe('cert_not_yet_valid');
    expect(f.explanation).toContain('not valid before 2026-06-01');
    expect(f.explanation).toMatch(/clock/);
    expect(f.remediation[0]).toMatch(/clocks of both machines|both machines/);
    expect(f.remediation[0]).toContain('w32tm');
    const text = renderText(r, { color: false });
    expect(text).not.toMatch(/expired/);
    expect(text).not.toContain('delete it if it has expired');
    expect(r.summary.headline).toContain("the server's certificate is not valid before 2026-06-01");
  });
});

describe('no report names the project\'s own documents', () => {
  it.each(scenarios().map((s) => s.file))('%s', async (file) => {
    const r = await fixtureReport(file);
    for (const out of [renderText(r, { color: false }), renderMarkdown(r), renderHtml(r), JSON.stringify(r)]) expect(out).not.toMatch(/\bseeds?\b/i);
  });
});
