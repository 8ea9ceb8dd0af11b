// The probe against a real RDP server: xrdp on loopback (127.0.0.1 only, a port of its own, its own
// copy of xrdp.ini), when xrdp is installed (`apt-get install xrdp`; .ci/run installs it). Skips,
// saying so, when it is not.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probe, reinterpretProbeCapture } from '../../src/probe/index.js';
import { analyze } from '../../src/pipeline.js';
import { closedPort } from './servers.js';

const XRDP = ['/usr/sbin/xrdp', '/usr/bin/xrdp'].find((p) => existsSync(p)) ?? null;
const INI = '/etc/xrdp/xrdp.ini';
const available = XRDP !== null && existsSync(INI);
if (!available) console.warn('test/probe/xrdp.test.ts: xrdp is not installed (apt-get install xrdp): skipping the probe of a real xrdp');

async function listening(port: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe.skipIf(!available)('probe of a real xrdp on loopback', () => {
  let child: ChildProcess | null = null;
  let port = 0;
  let dir = '';
  let started = false;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'probe-xrdp-'));
    port = await closedPort();
    // "tcp://.:PORT" is 127.0.0.1:PORT (xrdp.ini's own comment): loopback only.
    const ini = readFileSync(INI, 'utf8').replace(/^port=\d+$/m, `port=tcp://.:${port}`);
    writeFileSync(path.join(dir, 'xrdp.ini'), ini);
    child = spawn(XRDP!, ['--nodaemon', '--config', path.join(dir, 'xrdp.ini')], { stdio: 'ignore' });
    started = await listening(port, 10_000);
  }, 20_000);

  afterAll(() => {
    child?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers as a healthy server: protocols, TLS versions, its certificate; analyze of the capture agrees', async (ctx) => {
    if (!started) {
      ctx.skip('xrdp did not start listening on 127.0.0.1 (see /var/log/xrdp.log)');
      return;
    }
    const out = await probe(`127.0.0.1:${port}`, { timeoutMs: 3000 });
    if (typeof out === 'string') throw new Error(out);
    const r = out.result;
    expect(r.connect?.outcome).toBe('connected');
    // xrdp 0.9 without NLA: Standard RDP Security for PROTOCOL_RDP, TLS for the others.
    expect(r.x224.find((s) => s.set === 'SSL')?.selectedProtocolName).toBe('SSL');
    expect(r.x224.every((s) => s.outcome === 'selected' || s.outcome === 'confirm_without_negotiation')).toBe(true);
    expect(r.tls.find((t) => t.offered === 'TLS1.2')?.outcome).toBe('handshake');
    expect(r.certificate?.chain.length).toBeGreaterThan(0);
    // Nothing a client would fail on, beyond the self-signed certificate's warning.
    expect(out.report.captureFindings.filter((f) => f.confidence >= 0.5)).toEqual([]);
    expect(out.report.summary.failed).toBe(0);
    const again = reinterpretProbeCapture(await analyze([{ kind: 'buffer', name: 'xrdp.pcapng', data: out.capture }], { rdpPorts: [port], jobs: 1 }));
    expect(again?.captureFindings.map((f) => f.cause)).toEqual(out.report.captureFindings.map((f) => f.cause));
  }, 60_000);
});
