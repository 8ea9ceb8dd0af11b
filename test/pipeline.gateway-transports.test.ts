// Issue 14: the RD Gateway's other transports, end to end on the fixture captures built by
// fixtures/lib/scenarios.ts: the legacy HTTP transport (two TLS connections, the IN and OUT
// channels, related by RDG-Connection-Id), compared with tshark's decryption of the same frames.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../src/pipeline.js';
import { renderText } from '../src/report/text.js';
import { renderMarkdown } from '../src/report/markdown.js';
import { renderHtml } from '../src/report/html.js';
import { renderJson } from '../src/report/json.js';
import { exitCodeOf } from '../src/cli/run.js';
import { hasTshark, TSHARK, tsharkFields } from './fixtures/tshark.js';
import { readChunkHead } from '../src/rdp/http-chunked.js';
import { readTsguPacket } from '../src/rdp/tsgu.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const FIX = path.join(repoRoot, 'fixtures');
const cap = (name: string): string => path.join(FIX, 'captures', name);
const run = (file: string, rdpPorts?: number[]) => analyze([{ kind: 'file', path: cap(file) }], rdpPorts ? { rdpPorts } : {});
const formats = (r: Awaited<ReturnType<typeof run>>): [string, string][] => [
  ['text', renderText(r, { color: false })],
  ['markdown', renderMarkdown(r)],
  ['html', renderHtml(r)],
  ['json', renderJson(r)],
];

describe.skipIf(!existsSync(cap('gateway_keylog_legacy_http.pcapng')))('the legacy HTTP transport (gateway_keylog_legacy_http)', () => {
  it('the IN and OUT channels are paired into one tunnel that opened; no finding, exit 0, no RDP attempt failed', async () => {
    for (const ports of [undefined, [443]]) {
      const r = await run('gateway_keylog_legacy_http.pcapng', ports);
      expect(r.connections).toEqual([]);
      expect(r.summary.failed).toBe(0);
      expect(r.gateways).toHaveLength(1);
      const g = r.gateways[0]!;
      expect(g).toMatchObject({ evidence: 'shown', client: '192.168.10.25', gateway: '10.20.0.42:443', connections: ['g1', 'g2'], decrypted: true, refusal: null, transport: 'http', tunnel: { host: 'rdp-srv03.corp.example', port: 3389, opened: true } });
      expect(g.text).toContain("they carry MS-TSGU's legacy HTTP transport (an IN and an OUT channel, without the WebSocket upgrade)");
      expect(g.text).toContain("the legacy HTTP transport's OUT channel (RDG_OUT_DATA: the gateway's packets), paired with connection g2 by its RDG-Connection-Id");
      expect(g.text).toContain("the legacy HTTP transport's IN channel (RDG_IN_DATA: the client's packets), paired with connection g1 by its RDG-Connection-Id");
      // The client's DATA packet is on the IN channel, the gateway's on the OUT channel: both counted in the joined tunnel.
      expect(g.text).toContain('with 1 DATA packet from the client and 1 from the gateway');
      expect(g.text).not.toContain('decoding stopped');
      expect(r.captureFindings).toEqual([]);
      expect(exitCodeOf(r)).toBe(0);
      expect(r.summary.headline).toContain('192.168.10.25 connected through the RD Gateway 10.20.0.42:443 ("rdg.corp.example"); the tunnel to "rdp-srv03.corp.example" port 3389 opened');
    }
  });

  it('every format says which transport it was', async () => {
    const r = await run('gateway_keylog_legacy_http.pcapng');
    for (const [name, out] of formats(r)) expect(out, name).toContain('legacy HTTP transport');
    expect(JSON.parse(renderJson(r)).gateways[0].transport).toBe('http');
  });

  it.skipIf(!hasTshark)("tshark's decryption of the CHANNEL_CREATE frame holds the chunk and the packet we read there", async () => {
    const r = await run('gateway_keylog_legacy_http.pcapng');
    const frame = Number(/the tunnel to "rdp-srv03\.corp\.example" port 3389 is open \(frame (\d+)\)/.exec(r.gateways[0]!.text)?.[1]);
    expect(frame).toBeGreaterThan(0);
    const dump = execFileSync(TSHARK, ['-r', cap('gateway_keylog_legacy_http.pcapng'), '-o', `tls.keylog_file:${cap('gateway_keylog_legacy_http.keylog')}`, '-Y', `frame.number == ${frame}`, '-x'], { encoding: 'latin1', stdio: ['ignore', 'pipe', 'ignore'] });
    const block = dump.split(/Decrypted TLS \(\d+ bytes\):\n/)[1] ?? '';
    const bytes = Buffer.from(
      block
        .split('\n')
        .map((l) => /^[0-9a-f]{4}  ((?:[0-9a-f]{2} ){1,16})/.exec(l)?.[1] ?? '')
        .join('')
        .replace(/ /g, ''),
      'hex',
    );
    // One chunk (RFC 9112 7.1) holding one MS-TSGU CHANNEL_CREATE (2.2.10.2).
    const c = readChunkHead(bytes, 0, bytes.length);
    expect(c.ok && c.value.size).toBe(bytes.length - (c.ok ? c.consumed : 0) - 2);
    if (!c.ok) return;
    const p = readTsguPacket(bytes, c.consumed, bytes.length - 2);
    expect(p.ok && p.value).toMatchObject({ type: 'channel_create', port: 3389, resources: ['rdp-srv03.corp.example'] });
    // tshark shows the gateway's HTTP answers on both channels (the four NTLM 401s and the IN channel's 200).
    const rows = tsharkFields(cap('gateway_keylog_legacy_http.pcapng'), ['http.response.code'], ['-o', `tls.keylog_file:${cap('gateway_keylog_legacy_http.keylog')}`, '-Y', 'http.response']);
    expect([...rows.values()].map((x) => x['http.response.code'])).toEqual(['401', '401', '401', '401', '200']);
  });
});
