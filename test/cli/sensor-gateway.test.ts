// `live --sensor` and RD Gateway connections (issue 14): each connection the sensor names a
// gateway's is an ECS event as it ends (src/report/ecs.ts ecsGatewayEvent), every field of it within
// docs/siem/index-template.json (strict mapping), with its gateway_* findings; HTTPS that only could
// be a gateway's gives none; a refusal is a line on stdout and counts in the summary.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import { Sensor } from '../../src/cli/sensor.js';
import type { GatewaySighting } from '../../src/handshake/gateway-watch.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cap = (n: string): string => path.join(repoRoot, 'fixtures/captures', n);
const TEMPLATE = JSON.parse(readFileSync(path.join(repoRoot, 'docs/siem/index-template.json'), 'utf8')) as { template: { mappings: { properties: Record<string, Mapping> } } };
const tmp = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-sensor-gw-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Mapping {
  type?: string;
  properties?: Record<string, Mapping>;
}

/** Every leaf of an event must be a mapped field of its type (as test/cli/sensor.test.ts checks the attempt events). */
function outsideTemplate(ev: unknown, props: Record<string, Mapping> = TEMPLATE.template.mappings.properties, at = ''): string[] {
  if (ev === null || typeof ev !== 'object' || Array.isArray(ev)) return [`${at}: not an object`];
  const out: string[] = [];
  for (const [k, v] of Object.entries(ev as Record<string, unknown>)) {
    const name = at ? `${at}.${k}` : k;
    const m = props[k];
    if (!m) {
      out.push(`${name}: not in the template`);
      continue;
    }
    for (const x of Array.isArray(v) ? v : [v]) {
      if (m.properties) {
        out.push(...outsideTemplate(x, m.properties, name));
        continue;
      }
      const ok =
        m.type === 'keyword' || m.type === 'match_only_text'
          ? typeof x === 'string'
          : m.type === 'long'
            ? Number.isInteger(x)
            : m.type === 'scaled_float'
              ? typeof x === 'number' && Number.isFinite(x)
              : m.type === 'boolean'
                ? typeof x === 'boolean'
                : m.type === 'date'
                  ? typeof x === 'string' && /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(x)
                  : m.type === 'ip'
                    ? typeof x === 'string' && /^([\d.]+|[\da-f:]+)$/i.test(x)
                    : false;
      if (!ok) out.push(`${name}: ${JSON.stringify(x)} is not a ${m.type}`);
    }
  }
  return out;
}

class Lines extends Writable {
  text = '';
  override _write(c: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.text += c.toString();
    cb();
  }
}

/** The sightings of a fixture as the analyzer streams them, fed to a sensor writing ECS events to a file. */
async function sense(file: string, ndjson: 'file' | '-' = 'file'): Promise<{ events: Record<string, any>[]; stdout: string; sensor: Sensor }> {
  const out = path.join(tmp, `${file}.ndjson`);
  const stdout = new Lines();
  const sensor = new Sensor({ iface: 'eth0', ndjson: ndjson === '-' ? '-' : out, ringMemory: 1 << 20, version: 'test', drops: () => null }, stdout, new Lines());
  const seen: GatewaySighting[] = [];
  await analyze([{ kind: 'file', path: cap(file) }], { onConnection: () => {}, onGatewaySighting: (g) => seen.push(g) });
  for (const g of seen) sensor.onGatewaySighting(g);
  const text = ndjson === '-' ? stdout.text : existsSync(out) ? readFileSync(out, 'utf8') : '';
  return { events: text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, any>), stdout: stdout.text, sensor };
}

describe.skipIf(!existsSync(cap('gateway_keylog_rap_refused.pcapng')))('ECS events of RD Gateway connections (live --sensor)', () => {
  it('a refusal with the key log: failure, the gateway_rap_refused finding, rdp.gateway.*, a line on stdout, counted', async () => {
    const { events, stdout, sensor } = await sense('gateway_keylog_rap_refused.pcapng');
    expect(events).toHaveLength(1);
    const e = events[0]!;
    expect(outsideTemplate(e)).toEqual([]);
    expect(e.event).toMatchObject({ kind: 'event', action: 'rdp-gateway-connection', dataset: 'rdp_autopsy.gateway', outcome: 'failure' });
    expect(e.source).toEqual({ ip: '192.168.10.25', port: 51320 });
    expect(e.destination).toEqual({ ip: '10.20.0.42', port: 443 });
    expect(e.network).toEqual({ transport: 'tcp', protocol: 'https', type: 'ipv4' });
    expect(e.tls.client.server_name).toBe('rdg.corp.example');
    expect(e.rule).toMatchObject({ id: 'gateway_rap_refused', category: 'rdp-gateway-failure' });
    expect(e.rdp.cause).toBe('gateway_rap_refused');
    expect(e.rdp.confidence).toBe(0.95);
    expect(e.rdp.gateway).toMatchObject({ connection_id: 'g1', evidence: 'shown', decrypted: true, transport: 'websocket', decryption: 'decrypted', tunnel: { host: 'rdp-srv09.corp.example', port: 3389, opened: false } });
    expect(e.error.message).toMatch(/resource authorization policy \(RD RAP\) refused the tunnel/);
    expect(stdout).toMatch(/^\S+ GATEWAY g1 192\.168\.10\.25:51320 -> 10\.20\.0\.42:443 \("rdg\.corp\.example"\): gateway_rap_refused 95%: /);
    expect(sensor.gatewayRefusals).toBe(1);
    expect(sensor.final({ warnings: [] } as never, 'text')).toContain('RD Gateway: 1 connection to a gateway reported, 1 refused.');
  });

  it('the legacy HTTP transport: one event per channel, the tunnel opened on both (joined by RDG-Connection-Id), success', async () => {
    const { events, stdout } = await sense('gateway_keylog_legacy_http.pcapng');
    expect(events.length).toBeGreaterThanOrEqual(1);
    for (const e of events) {
      expect(outsideTemplate(e)).toEqual([]);
      expect(e.rdp.gateway.transport).toBe('http');
    }
    expect(events.at(-1)!.event.outcome).toBe('success');
    expect(events.at(-1)!.rdp.gateway.tunnel).toEqual({ host: 'rdp-srv02.corp.example', port: 3389, opened: true });
    expect(stdout).toBe('');
  });

  it("the gateway's certificate without keys: gateway_cert_expired with the certificate in tls.server.x509", async () => {
    const { events } = await sense('gateway_cert_expired.pcap', '-');
    expect(events).toHaveLength(1);
    const e = events[0]!;
    expect(outsideTemplate(e)).toEqual([]);
    expect(e.event.outcome).toBe('failure');
    expect(e.rdp.cause).toBe('gateway_cert_expired');
    expect(e.rdp.gateway).toMatchObject({ evidence: 'likely', decrypted: false });
    expect(e.tls.server.x509.not_after).toBe('2025-02-01T00:00:00Z');
    expect(e.rdp.wireshark_filter).toContain('tcp.port == 51400');
  });

  it('the KDC proxy over HTTP/2 and RPC over HTTP: within the template; a warning is no failure', async () => {
    const h2 = await sense('gateway_keylog_kdcproxy_h2.pcapng');
    for (const e of h2.events) expect(outsideTemplate(e)).toEqual([]);
    const kdc = h2.events.find((e) => e.rdp.cause === 'gateway_kdc_proxy_unavailable');
    expect(kdc).toBeDefined();
    expect(kdc!.event.outcome).not.toBe('failure');
    const rpc = await sense('gateway_keylog_rpc_over_http.pcapng');
    expect(rpc.events.length).toBeGreaterThanOrEqual(1);
    for (const e of rpc.events) {
      expect(outsideTemplate(e)).toEqual([]);
      expect(e.rdp.gateway.transport).toBe('rpc_over_http');
      expect(e.event.outcome).toBe('unknown');
    }
  });

  it('HTTPS that only could be a gateway gives no event; UDP 3391 with it is a gateway (dtls)', async () => {
    const { events } = await sense('gateway_https_udp.pcap');
    // The TCP connection ends before the UDP flow: alone it only could be a gateway's (no event); the UDP flow proves it.
    expect(events.map((e) => [e.network.transport, e.network.protocol, e.rdp.gateway.evidence])).toEqual([['udp', 'dtls', 'shown']]);
    for (const e of events) expect(outsideTemplate(e)).toEqual([]);
  });
});
