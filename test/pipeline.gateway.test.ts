// Issue 14, step 1: RD Gateway connections (HTTPS 443, UDP 3391) seen without keys, end to end on
// the fixture captures built by fixtures/lib/scenarios.ts (gateway_*): the report names the gateway
// as far as the cleartext proves it, never reports "No RDP connection attempt" with nothing said,
// and never a failed RDP attempt in phase tcp (also with --port 443).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../src/pipeline.js';
import { renderText } from '../src/report/text.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { renderHtml } from '../src/report/html.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIX = path.join(repoRoot, 'fixtures');
const MANIFEST = path.join(FIX, 'captures/manifest.json');

interface Scenario {
  name: string;
  file: string;
  expected: { gateways?: { client: string; gateway: string; evidence: string }[] };
}
const all: Scenario[] = existsSync(MANIFEST) ? (JSON.parse(readFileSync(MANIFEST, 'utf8')) as { scenarios: Scenario[] }).scenarios : [];
const gateways = all.filter((s) => s.expected.gateways !== undefined);

const run = (file: string, rdpPorts?: number[]) => analyze([{ kind: 'file', path: path.join(FIX, file) }], rdpPorts ? { rdpPorts } : {});

describe.skipIf(gateways.length === 0)('RD Gateway connections without keys (fixtures)', () => {
  it('the manifest has the gateway scenarios', () => {
    expect(gateways.map((s) => s.name).sort()).toEqual(['gateway_https_udp', 'gateway_named_refused']);
  });

  for (const s of gateways) {
    for (const ports of [undefined, [443]]) {
      it(`${s.name}${ports ? ' with --port 443' : ''}: the gateway is named with its evidence, and no RDP attempt failed`, async () => {
        const r = await run(s.file, ports);
        expect(r.connections).toEqual([]);
        expect(r.summary.failed).toBe(0);
        expect(r.gateways.map((g) => ({ client: g.client, gateway: g.gateway, evidence: g.evidence }))).toEqual(s.expected.gateways);
        expect(r.summary.headline).toMatch(/^No direct RDP connection attempt in this capture \(\d+ frames\); /);
        expect(r.summary.headline).toContain(s.expected.gateways![0]!.gateway);
        expect(r.summary.headline).toContain('key log');
      });
    }
  }

  it('gateway_https_udp: the UDP 3391 datagram proves the gateway; the connection is told from its cleartext', async () => {
    const r = await run('captures/gateway_https_udp.pcap');
    const g = r.gateways[0]!;
    expect(g.evidence).toBe('shown');
    expect(g.connections).toEqual(['g1']);
    expect(g.udpConnections).toEqual(['g2']);
    expect(g.names[0]).toBe('access.corp.example'); // the SNI first, then the certificate's names (the fixture's certificate is rdp-srv02's)
    expect(g.text).toContain('sent UDP to port 3391 of that host');
    expect(g.text).toMatch(/TLS1\.2 handshake completed, then \d+ ms of encrypted data/);
    expect(g.text).toContain('the client closed it');
    expect(r.summary.headline).toContain('192.168.10.25 connected through the RD Gateway 10.20.0.40:443 ("access.corp.example")');
  });

  it('gateway_named_refused: the SNI and the DNS name make it likely; the gateway closed it', async () => {
    const r = await run('captures/gateway_named_refused.pcap');
    const g = r.gateways[0]!;
    expect(g.evidence).toBe('likely');
    expect(g.names).toContain('rdg.corp.example');
    expect(g.text).toContain('the name "rdg.corp.example" names a gateway');
    expect(g.text).toContain('the gateway closed it');
    expect(r.summary.headline).toContain('most likely connected through an RD Gateway at 10.20.0.41:443');
  });

  it('every report format shows the gateway section', async () => {
    const r = await run('captures/gateway_named_refused.pcap');
    expect(renderText(r, { color: false })).toContain('RD Gateway (HTTPS):');
    expect(renderMarkdown(r)).toContain('## RD Gateway (HTTPS)');
    expect(renderHtml(r)).toContain('id="gateways"');
  });
});

describe('HTTPS beside direct RDP (the README sample)', () => {
  it('is not called a gateway when the client connects to RDP directly, and not a failed attempt with --port 443', async () => {
    const plain = await run('sample.pcapng');
    const with443 = await run('sample.pcapng', [443]);
    expect(plain.gateways).toEqual([]);
    expect(with443.gateways).toEqual([]);
    expect(with443.connections.filter((c) => c.server.endsWith(':443'))).toEqual([]);
    // The RDP connections' stories are the same (their ids aside: --port 443 hands the HTTPS flow one).
    const story = (cs: typeof plain.connections) => cs.map((c) => [c.client, c.server, c.outcome, c.reached, c.died?.frame ?? null]);
    expect(story(with443.connections)).toEqual(story(plain.connections));
    // The RDP flows' ids do not depend on the HTTPS flow being watched (numbered apart).
    expect(plain.connections.map((c) => c.flow.id)).toEqual([1, 2, 3, 4, 5]);
  });
});
