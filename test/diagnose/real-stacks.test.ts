// Issue 12: what real stacks (xrdp, FreeRDP, rdesktop, Windows) do, reproduced by the fixture
// builder (fixtures/lib/scenarios.ts, "issue 12"), end to end: the whole pipeline on each capture,
// then the outcome, the phase reached, the death and the top cause, and the report's words where
// they matter. The expectations are written out here (not read from the manifest) so that a
// rebuilt manifest cannot silently change them.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import { CAUSES } from '../../src/diagnose/catalogue.js';
import type { Report, ReportedConnection } from '../../src/report/types.js';
import { renderText } from '../../src/report/text.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderHtml } from '../../src/report/html.js';
import { renderJson } from '../../src/report/json.js';
import { renderNdjson } from '../../src/report/ndjson.js';
import { exportEvidence } from '../../src/report/evidence.js';
import { TSHARK, filterError } from './tshark-filter.js';

const FIX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'captures');

async function run(file: string, rdpPorts: number[] = []): Promise<Report> {
  return analyze([{ kind: 'file', path: path.join(FIX, file) }], { rdpPorts });
}

function conn(r: Report, client: string): ReportedConnection {
  const c = r.connections.find((x) => x.client === client);
  expect(c, `connection from ${client} in ${r.connections.map((x) => x.client).join(', ')}`).toBeDefined();
  return c!;
}

/** outcome, reached, died phase / how / by, top cause (null: no finding at all). */
function story(c: ReportedConnection): [string, string, string | null, string | null] {
  return [c.outcome, c.reached, c.died ? `${c.died.phase} ${c.died.how} by ${c.died.by}` : null, c.findings[0]?.cause ?? null];
}

const skip = !existsSync(path.join(FIX, 'completed_idle_logon.pcap'));
if (skip) console.warn(`[real stacks] skipped: ${FIX} has no issue-12 captures (npx tsx fixtures/build.ts)`);

describe.skipIf(skip)('1. the finalization is visible without keys: a session ended seconds after it became active completed', () => {
  it('HYBRID, TLS 1.2: the server Font Map makes it active; close_notify, FIN and a reset after it end a working session', async () => {
    const r = await run('completed_idle_logon.pcap');
    const c = conn(r, '192.168.10.25:50400');
    expect(story(c)).toEqual(['completed', 'active', null, null]);
    const active = c.phases.find((p) => p.phase === 'active')!;
    expect(active).toMatchObject({ inferred: true });
    expect(active.confidence).toBeGreaterThan(0.5);
    expect(active.confidence).toBeLessThan(1);
    // The proof is the server's fourth finalization record, not a large graphics record (there is none).
    const ev = c.timeline.find((e) => e.event === 'Session active')!;
    expect(ev).toMatchObject({ frame: active.frame, direction: 's2c', inferred: true });
    expect(ev.detail).toMatch(/Font Map that ends the finalization/);
    const fin = c.timeline.find((e) => e.event === 'Connection finalization')!;
    expect(fin.detail).toMatch(/4 small client and 4 small server records after Confirm Active/);
    const text = renderText(r, { color: false });
    expect(text).not.toMatch(/FAILED/);
    expect(r.summary.headline).not.toMatch(/failed/);
  });

  it('several clients: IPv6 to port 3390 over TLS 1.3, NLA over a lossy path (seconds of retransmissions), TLS 1.2 SSL', async () => {
    const r = await run('completed_idle_several.pcapng', [3390]);
    expect(r.connections).toHaveLength(3);
    for (const client of ['[fd00:10::25]:50410', '192.168.10.31:50411', '192.168.10.25:50412']) {
      expect(story(conn(r, client)), client).toEqual(['completed', 'active', null, null]);
    }
    const lossy = conn(r, '192.168.10.31:50411');
    expect(lossy.flow.tcp!.retransmissions[0] + lossy.flow.tcp!.retransmissions[1]).toBeGreaterThanOrEqual(6);
    const activeAt = lossy.phases.find((p) => p.phase === 'active')!.time;
    expect(activeAt - lossy.start).toBeGreaterThan(3);
  });
});

describe.skipIf(skip)('2. a client that finishes the TLS handshake and then leaves has judged the certificate', () => {
  it('HYBRID offered, SSL selected, TLS 1.3 (certificate encrypted), client FIN after its Finished: cert_rejected, not nla_mismatch', async () => {
    const c = conn(await run('cert_rejected_ssl_selected.pcap'), '192.168.10.25:50420');
    expect(story(c)).toEqual(['failed', 'tls', 'tls fin by client', 'cert_rejected']);
    expect(c.findings.map((f) => f.cause)).not.toContain('nla_mismatch');
  });

  it('HYBRID offered, SSL selected, TLS 1.2 with a visible self-signed certificate, client FIN: cert_untrusted, not nla_mismatch', async () => {
    const c = conn(await run('cert_untrusted_ssl_selected.pcap'), '192.168.10.25:50421');
    expect(story(c)).toEqual(['failed', 'tls', 'tls fin by client', 'cert_untrusted']);
    expect(c.findings.map((f) => f.cause)).not.toContain('nla_mismatch');
    expect(c.findings[0]!.explanation).toMatch(/is self-signed/);
  });
});

describe.skipIf(skip)('3. Standard RDP Security against a TLS-only server', () => {
  it("no RDP_NEG_REQ, xrdp's Confirm without negotiation data, Connect Initial, Disconnect Provider Ultimatum and RST: security_layer_mismatch", async () => {
    const c = conn(await run('security_layer_mismatch_xrdp.pcap'), '192.168.10.25:50430');
    expect(story(c)).toEqual(['failed', 'mcs', 'mcs disconnect_ultimatum by server', 'security_layer_mismatch']);
    expect(c.findings.map((f) => f.cause)).not.toContain('server_denied');
    expect(c.findings[0]!.explanation).toMatch(/Connection Confirm without negotiation data .* MCS Connect Initial .* Disconnect Provider Ultimatum/);
    expect(c.findings[0]!.confidence).toBeGreaterThanOrEqual(0.6);
  });

  it('SSL offered, PROTOCOL_RDP selected, client FIN: security_layer_mismatch', async () => {
    const c = conn(await run('security_layer_mismatch_rdp_selected.pcap'), '192.168.10.25:50431');
    expect(story(c)).toEqual(['failed', 'x224', 'x224 fin by client', 'security_layer_mismatch']);
    expect(c.findings[0]!.explanation).toMatch(/selected PROTOCOL_RDP \(Standard RDP Security\)/);
  });
});

describe.skipIf(skip)('4. a silent server is server_unresponsive even if a late answer comes', () => {
  it('client FIN after 10 s without a Confirm, then a late Confirm (SSL selected) and a reset: server_unresponsive, the Confirm is not the cause', async () => {
    const c = conn(await run('server_unresponsive_late_confirm.pcap'), '192.168.10.25:50440');
    expect(story(c)).toEqual(['failed', 'x224', 'x224 timeout by server', 'server_unresponsive']);
    expect(c.findings.map((f) => f.cause)).not.toContain('nla_mismatch');
    expect(c.findings[0]!.explanation).toMatch(/gave up after 10 s without a Connection Confirm .* came only in frame \d+/);
  });

  it('a ClientHello never acknowledged (retransmitted), then the server closes: not cert_unavailable', async () => {
    const c = conn(await run('server_unresponsive_tls.pcap'), '192.168.10.25:50441');
    expect(story(c)).toEqual(['failed', 'tls', 'tls fin by server', 'server_unresponsive']);
    expect(c.findings.map((f) => f.cause)).not.toContain('cert_unavailable');
    const top = c.findings[0]!;
    expect(top.confidence).toBeLessThanOrEqual(0.5);
    expect(top.explanation).toMatch(/never acknowledged the client's ClientHello \(frame \d+, retransmitted 4 times\)/);
  });
});

describe.skipIf(skip)('9. words', () => {
  it('SSL_NOT_ALLOWED_BY_SERVER means the server allows only Standard RDP Security (the mstsc note says so)', async () => {
    const note = CAUSES.find((c) => c.id === 'security_layer_mismatch')!.errorCode;
    expect(note).toMatch(/SSL_NOT_ALLOWED_BY_SERVER[^.;]*allows only Standard RDP Security/);
    expect(note).toMatch(/SSL_REQUIRED_BY_SERVER[^.;]*requires TLS/);
    const r = await run('security_layer_mismatch_retry.pcap');
    const f = r.connections[0]!.findings[0]!;
    expect(f.explanation).toMatch(/SSL_NOT_ALLOWED_BY_SERVER .*allows only Standard RDP Security/);
  });

  const tmp = mkdtempSync(path.join(tmpdir(), 'real-stacks-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('docs/causes.md says, for each cause these patterns touch, which signals it uses and what lowers its confidence', () => {
    const md = readFileSync(path.join(FIX, '..', '..', 'docs', 'causes.md'), 'utf8');
    for (const id of ['cert_untrusted', 'cert_rejected', 'cert_unavailable', 'server_unresponsive', 'security_layer_mismatch', 'nla_mismatch', 'server_denied'] as const) {
      const cause = CAUSES.find((c) => c.id === id)!;
      expect(cause.signals, id).toMatch(/\d+%/);
      const section = md.slice(md.indexOf(`## ${id}\n`), md.indexOf('\n## ', md.indexOf(`## ${id}\n`) + 1));
      expect(section, id).toContain('**Signals the analysis uses, and what lowers its confidence.**');
    }
    expect(md).toMatch(/a connection is `active` \(MS-RDPBCGR 1\.3\.1\.1\) from the server's 4th record/);
  });

  it('IPv6 endpoints are [addr]:port in text, Markdown, HTML, JSON, NDJSON, the headline, per-server lines and the evidence', async () => {
    const file = path.join(FIX, 'cert_untrusted.pcap');
    const r = await analyze([{ kind: 'file', path: file }]);
    const c = r.connections[0]!;
    expect([c.client, c.server]).toEqual(['[fd00:10::25]:50240', '[fd00:20::15]:3389']);
    expect(r.servers.map((s) => s.server)).toEqual(['[fd00:20::15]:3389']);
    expect(r.summary.headline).toContain('[fd00:20::15]:3389');
    const outputs: Record<string, string> = {
      text: renderText(r, { color: false }),
      // Markdown escapes the brackets (\\[ \\]) so that they read as text, not as a link.
      md: renderMarkdown(r).replace(/\\([[\]])/g, '$1'),
      html: renderHtml(r),
      json: renderJson(r),
      ndjson: renderNdjson(r),
    };
    for (const [format, out] of Object.entries(outputs)) {
      expect(out, format).toContain('[fd00:20::15]:3389');
      expect(out, format).toContain('[fd00:10::25]:50240');
      // Never the ambiguous form, where the port reads as the address's last group.
      expect(out, format).not.toMatch(/(?<!\[)fd00:20::15:3389/);
      expect(out, format).not.toMatch(/(?<!\[)fd00:10::25:50240/);
    }
    const res = await exportEvidence(r, [{ kind: 'file', path: file }], path.join(tmp, 'ev'));
    expect(res.files).toHaveLength(1);
    expect(res.files[0]!.frames).toBeGreaterThan(5);
    expect(readdirSync(path.join(tmp, 'ev'))).toEqual([`${c.id}.pcapng`]);
  });
});

describe.skipIf(skip || !TSHARK)('the findings of these captures', () => {
  it('carry Wireshark display filters that compile in tshark', async () => {
    const files = ['cert_rejected_ssl_selected.pcap', 'cert_untrusted_ssl_selected.pcap', 'security_layer_mismatch_xrdp.pcap', 'security_layer_mismatch_rdp_selected.pcap', 'server_unresponsive_late_confirm.pcap', 'server_unresponsive_tls.pcap'];
    const filters = new Set<string>();
    for (const f of files) for (const c of (await run(f)).connections) for (const x of c.findings) filters.add(x.filter);
    expect(filters.size).toBeGreaterThanOrEqual(6);
    for (const filter of filters) expect(filterError(filter), filter).toBe('');
  });
});
