// The verdict on real stacks, live: a real FreeRDP 2 client (xfreerdp under xvfb-run) against a real
// xrdp on loopback (127.0.0.1 only, ports of its own, its own copies of xrdp.ini), each attempt
// captured by tcpdump on lo and the capture analysed by analyze(). test/diagnose/real-stacks.test.ts
// checks our fixtures that reproduce what we believe real stacks do; this checks the stacks
// themselves. What each capture holds was read with tshark first (written beside each case); when
// tshark is installed the test reads the negotiation bytes with it again and compares.
//
// Needs xrdp, xfreerdp (freerdp2-x11), xvfb-run (xvfb, xauth), tcpdump and root (capturing on lo);
// skips, saying so, without any of them. Every child (xrdp, tcpdump, xvfb-run with its Xvfb and
// xfreerdp, each spawned as its own process group) is killed in a finally or in afterAll.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import type { Report, ReportedConnection } from '../../src/report/types.js';
import { closedPort } from '../probe/servers.js';
import { TSHARK } from './tshark-filter.js';

function which(name: string, extra: string[] = []): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/bin', '/sbin', '/bin', ...extra];
  for (const d of dirs) {
    const p = path.join(d, name);
    if (existsSync(p)) return p;
  }
  return null;
}

const XRDP = which('xrdp');
const INI = '/etc/xrdp/xrdp.ini';
const XFREERDP = which('xfreerdp');
const XVFB_RUN = which('xvfb-run');
const TCPDUMP = which('tcpdump');
const root = typeof process.getuid === 'function' && process.getuid() === 0;
const missing = [
  XRDP && existsSync(INI) ? null : 'xrdp (apt-get install xrdp)',
  XFREERDP ? null : 'xfreerdp (apt-get install freerdp2-x11)',
  XVFB_RUN ? null : 'xvfb-run (apt-get install xvfb xauth)',
  TCPDUMP ? null : 'tcpdump (apt-get install tcpdump)',
  root ? null : 'root (to capture on lo)',
].filter((x): x is string => x !== null);
if (missing.length > 0) console.warn(`test/diagnose/live-real-stacks.test.ts: skipping the live real stacks: missing ${missing.join(', ')}`);

/** Kills a child's whole process group (it was spawned detached, so its pid is the group's id). */
function killGroup(child: ChildProcess | null, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (!child || child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** Waits until 127.0.0.1:PORT accepts; the client ports of these test connections are added to PROBES. */
async function listening(port: number, ms: number, probes: number[]): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        if (s.localPort !== undefined) probes.push(s.localPort);
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

const children = new Set<ChildProcess>();
let dir = '';

function start(cmd: string, args: string[], env?: NodeJS.ProcessEnv): ChildProcess {
  // Own process group (detached) so that xvfb-run's Xvfb and xfreerdp go with it; nothing inherits our stdio.
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true, ...(env ? { env } : {}) });
  children.add(child);
  child.once('close', () => children.delete(child));
  return child;
}

/** xrdp on 127.0.0.1:PORT with its own copy of xrdp.ini, changed by `edit`. */
async function startXrdp(name: string, edit: (ini: string) => string): Promise<{ port: number; probes: number[] } | null> {
  const port = await closedPort();
  const ini = edit(readFileSync(INI, 'utf8').replace(/^port=\d+$/m, `port=tcp://.:${port}`));
  const file = path.join(dir, `${name}.ini`);
  writeFileSync(file, ini);
  const child = start(XRDP!, ['--nodaemon', '--config', file]);
  child.stderr?.resume();
  const probes: number[] = [];
  return (await listening(port, 10_000, probes)) ? { port, probes } : null;
}

/**
 * One attempt: tcpdump on lo for the port (waiting until it says it listens), xfreerdp with ARGS under
 * xvfb-run (killed after 10 s if it has not ended), then tcpdump stopped and the file analysed.
 */
async function attempt(name: string, port: number, args: string[], probes: number[] = []): Promise<{ file: string; report: Report }> {
  const file = path.join(dir, `${name}.pcap`);
  // Not the connections that checked xrdp was listening (xrdp closes them late, maybe inside this capture).
  const filter = [`tcp port ${port}`, ...probes.map((p) => `not tcp port ${p}`)].join(' and ');
  // --immediate-mode: each packet is handed over at once (otherwise the last second of a short attempt
  // can still sit in the kernel's buffer when tcpdump is stopped); -Z root: it writes into our 0700 folder.
  const dump = start(TCPDUMP!, ['-i', 'lo', '-n', '--immediate-mode', '-U', '-Z', 'root', '-w', file, filter]);
  let client: ChildProcess | null = null;
  try {
    const ready = await new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 5000);
      let err = '';
      dump.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (/listening on/.test(err)) {
          clearTimeout(t);
          resolve(true);
        }
      });
      dump.once('close', () => resolve(false));
    });
    if (!ready) throw new Error(`tcpdump did not start capturing on lo for ${name}`);
    // HOME in our folder: FreeRDP's known_hosts and config go there, not into the user's.
    const home = path.join(dir, 'home');
    mkdirSync(home, { recursive: true });
    const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config') };
    client = start(XVFB_RUN!, ['-a', XFREERDP!, `/v:127.0.0.1:${port}`, '/u:nobody', '/p:not-a-password', '/timeout:3000', ...args], env);
    let log = '';
    client.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    client.once('close', () => process.env.LIVE_REAL_STACKS_KEEP && writeFileSync(path.join(dir, `${name}.log`), log));
    if (!(await exited(client, 10_000))) killGroup(client, 'SIGKILL');
    // The last packets (the server's FIN or alert after the client left) come a little later.
    await new Promise((r) => setTimeout(r, 300));
  } finally {
    killGroup(client, 'SIGKILL');
    killGroup(dump, 'SIGTERM');
    if (!(await exited(dump, 3000))) killGroup(dump, 'SIGKILL');
  }
  const report = await analyze([{ kind: 'file', path: file }], { rdpPorts: [port], jobs: 1 });
  return { file, report };
}

function only(r: Report): ReportedConnection {
  expect(r.connections.map((c) => `${c.client} ${c.outcome} ${c.reached}`), 'one connection in the capture').toHaveLength(1);
  return r.connections[0]!;
}

/** outcome, reached, died phase / how / by, top cause (null: no finding at all). */
function story(c: ReportedConnection): [string, string, string | null, string | null] {
  return [c.outcome, c.reached, c.died ? `${c.died.phase} ${c.died.how} by ${c.died.by}` : null, c.findings[0]?.cause ?? null];
}

/** What tshark reads in the X.224 exchange: [requestedProtocols, neg type of the Confirm, selectedProtocol or failureCode]. */
function tsharkNegotiation(file: string, port: number): Promise<string[][]> {
  return new Promise((resolve, reject) => {
    execFile(
      TSHARK!,
      ['-r', file, '-d', `tcp.port==${port},tpkt`, '-Y', 'rdp.neg_type', '-T', 'fields', '-e', 'rdp.negReq.requestedProtocols', '-e', 'rdp.neg_type', '-e', 'rdp.negReq.selectedProtocol', '-e', 'rdp.negFailure.failureCode'],
      { timeout: 20_000 },
      (err, stdout) => (err ? reject(err) : resolve(stdout.replace(/\n$/, '').split('\n').map((l) => l.split('\t')))),
    );
  });
}

describe.skipIf(missing.length > 0)('a real FreeRDP 2 against a real xrdp on loopback, captured and analysed', () => {
  // negotiate: xrdp's shipped ini (TLS 1.2 and 1.3, its self-signed certificate); rdp: security_layer=rdp;
  // tls12: ssl_protocols=TLSv1.2, so that the certificate is in clear on the wire; tls: security_layer=tls.
  const servers: Record<'negotiate' | 'rdp' | 'tls12' | 'tls', { port: number; probes: number[] } | null> = { negotiate: null, rdp: null, tls12: null, tls: null };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'live-real-stacks-'));
    [servers.negotiate, servers.rdp, servers.tls12, servers.tls] = await Promise.all([
      startXrdp('negotiate', (ini) => ini),
      startXrdp('rdp', (ini) => ini.replace(/^security_layer=\w+$/m, 'security_layer=rdp')),
      startXrdp('tls12', (ini) => ini.replace(/^ssl_protocols=.*$/m, 'ssl_protocols=TLSv1.2')),
      startXrdp('tls', (ini) => ini.replace(/^security_layer=\w+$/m, 'security_layer=tls')),
    ]);
  }, 30_000);

  afterAll(async () => {
    const all = [...children];
    for (const c of all) killGroup(c, 'SIGTERM');
    await Promise.all(all.map(async (c) => (await exited(c, 3000)) || killGroup(c, 'SIGKILL')));
    // LIVE_REAL_STACKS_KEEP=1 keeps the captures (and names the folder) to read them with tshark.
    if (dir && process.env.LIVE_REAL_STACKS_KEEP) console.warn(`live-real-stacks: captures kept in ${dir}`);
    else if (dir) rmSync(dir, { recursive: true, force: true });
  }, 15_000);

  function need(which: keyof typeof servers, ctx: { skip: (note?: string) => void }): { port: number; probes: number[] } {
    const s = servers[which];
    if (s === null) ctx.skip(`xrdp (${which}) did not start listening on 127.0.0.1 (see /var/log/xrdp.log)`);
    return s!;
  }

  it('a connection that works (/sec:tls /cert:ignore +auth-only): completed, no cause stated', async (ctx) => {
    const { port, probes } = need('negotiate', ctx);
    // tshark: RDP_NEG_REQ SSL, RDP_NEG_RSP SSL, TLS 1.3, then the MCS, licensing, capability and
    // finalization records and xrdp's login screen (bitmap updates), then the client's FIN.
    const { file, report } = await attempt('works', port, ['/sec:tls', '/cert:ignore', '+auth-only'], probes);
    const c = only(report);
    expect(story(c)).toEqual(['completed', 'active', null, null]);
    expect(c.negotiation).toMatchObject({ requestedProtocols: 1, selectedProtocol: 1 });
    expect(report.summary.failed).toBe(0);
    expect(report.captureFindings.filter((f) => f.confidence >= 0.5)).toEqual([]);
    if (TSHARK) expect(await tsharkNegotiation(file, port)).toEqual([['0x00000001', '0x01', '', ''], ['', '0x02', '0x00000001', '']]);
  }, 20_000);

  it('the client requiring NLA (/sec:nla): xrdp answers SSL (no RDP_NEG_FAILURE), the client leaves: nla_mismatch, not certain', async (ctx) => {
    const { port, probes } = need('negotiate', ctx);
    // tshark: RDP_NEG_REQ SSL|HYBRID (3), RDP_NEG_RSP selectedProtocol SSL (1) - xrdp does not send
    // an RDP_NEG_FAILURE (HYBRID_REQUIRED_BY_SERVER is the server's code, not this case); the client's
    // FIN, xrdp's TLS alert (decode_error, it was waiting for a ClientHello), the client's RST.
    const { file, report } = await attempt('nla', port, ['/sec:nla', '/cert:ignore', '+auth-only'], probes);
    const c = only(report);
    expect(story(c)).toEqual(['failed', 'x224', 'x224 fin by client', 'nla_mismatch']);
    expect(c.negotiation).toMatchObject({ requestedProtocols: 3, selectedProtocol: 1, failureCode: null });
    const f = c.findings[0]!;
    expect(f.frames).toEqual(expect.arrayContaining([c.negotiation!.requestFrame, c.negotiation!.confirmFrame, c.died!.frame]));
    // A user cancelling at that moment looks the same on the wire: stated, not certain.
    expect(f.confidence).toBeGreaterThanOrEqual(0.5);
    expect(f.confidence).toBeLessThan(0.8);
    expect(c.findings.map((x) => x.cause)).not.toContain('security_layer_mismatch');
    if (TSHARK) expect(await tsharkNegotiation(file, port)).toEqual([['0x00000003', '0x01', '', ''], ['', '0x02', '0x00000001', '']]);
  }, 20_000);

  it('the client refusing the certificate (/cert:deny) over TLS 1.3: an encrypted alert after the handshake, cert_rejected below 0.5', async (ctx) => {
    const { port, probes } = need('negotiate', ctx);
    // tshark: TLS 1.3 completes (the client's Finished), xrdp's two NewSessionTickets, then one
    // client record of 19 bytes (an encrypted alert), FIN and RST. The certificate is encrypted, so
    // which check failed (FreeRDP logs a name mismatch: 127.0.0.1 against CN=host) is not on the wire.
    const { report } = await attempt('deny13', port, ['/sec:tls', '/cert:deny', '+auth-only'], probes);
    const c = only(report);
    expect(story(c)).toEqual(['failed', 'tls', 'tls encrypted_alert by client', 'cert_rejected']);
    expect(c.tls?.version).toBe('TLS1.3');
    expect(c.findings[0]!.confidence).toBeLessThan(0.5);
    // Nothing about the certificate itself can be claimed.
    for (const cause of ['cert_untrusted', 'cert_expired', 'cert_name_mismatch']) expect(c.findings.map((x) => x.cause)).not.toContain(cause);
  }, 20_000);

  it('the client refusing the certificate (/cert:deny) over TLS 1.2: the self-signed certificate is on the wire: cert_untrusted', async (ctx) => {
    const { port, probes } = need('tls12', ctx);
    // tshark: Certificate in clear (xrdp's self-signed one), both Finished, then the client's
    // Encrypted Alert (26 bytes under AES-256-GCM), FIN; xrdp's own alert; the client's RST.
    const { report } = await attempt('deny12', port, ['/sec:tls', '/cert:deny', '+auth-only'], probes);
    const c = only(report);
    expect(story(c)).toEqual(['failed', 'tls', 'tls encrypted_alert by client', 'cert_untrusted']);
    expect(c.tls?.version).toBe('TLS1.2');
    const leaf = c.tls?.certificates?.[0];
    expect(leaf?.subject).toBe(leaf?.issuer);
    // mstsc would prompt and let the user go on: the close fits a refusal, the prompt is not on the wire.
    expect(c.findings[0]!.confidence).toBeGreaterThanOrEqual(0.5);
    expect(c.findings[0]!.confidence).toBeLessThan(0.8);
  }, 20_000);

  it('xrdp with security_layer=rdp, the client with /sec:tls: Standard RDP Security selected, the client leaves: security_layer_mismatch', async (ctx) => {
    const { port, probes } = need('rdp', ctx);
    // tshark: RDP_NEG_REQ SSL (1), RDP_NEG_RSP selectedProtocol PROTOCOL_RDP (0) - again not an
    // RDP_NEG_FAILURE (SSL_NOT_ALLOWED_BY_SERVER would be the spec's answer); the client's FIN, xrdp's FIN.
    const { file, report } = await attempt('seclayer', port, ['/sec:tls', '/cert:ignore', '+auth-only'], probes);
    const c = only(report);
    expect(story(c)).toEqual(['failed', 'x224', 'x224 fin by client', 'security_layer_mismatch']);
    expect(c.negotiation).toMatchObject({ requestedProtocols: 1, selectedProtocol: 0, failureCode: null });
    expect(c.findings[0]!.confidence).toBeLessThan(0.9);
    expect(c.findings.map((x) => x.cause)).not.toContain('nla_mismatch');
    if (TSHARK) expect(await tsharkNegotiation(file, port)).toEqual([['0x00000001', '0x01', '', ''], ['', '0x02', '0x00000000', '']]);
  }, 20_000);

  it('the other way round: xrdp with security_layer=tls, the client with /sec:rdp (no RDP_NEG_REQ): security_layer_mismatch', async (ctx) => {
    const { port, probes } = need('tls', ctx);
    // tshark: an X.224 Connection Request with the cookie only, a Connection Confirm without
    // negotiation data (11 bytes), the client's MCS Connect Initial, xrdp's Disconnect Provider
    // Ultimatum (03 00 00 09 02 f0 80 21 80: rn-user-requested) and its RST - what the fixture
    // security_layer_mismatch_xrdp reproduces.
    const { file, report } = await attempt('rdp2tls', port, ['/sec:rdp', '+auth-only'], probes);
    const c = only(report);
    expect(story(c)).toEqual(['failed', 'mcs', 'mcs disconnect_ultimatum by server', 'security_layer_mismatch']);
    expect(c.negotiation).toMatchObject({ requestedProtocols: null, selectedProtocol: null });
    expect(c.findings.map((x) => x.cause)).not.toContain('server_denied');
    if (TSHARK) expect(await tsharkNegotiation(file, port)).toEqual([['']]);
  }, 20_000);

  it('a client to a port where nothing listens: the SYN answered by RST: port_not_listening', async () => {
    const port = await closedPort();
    const { report } = await attempt('closed', port, ['/sec:tls', '/cert:ignore', '+auth-only']);
    // FreeRDP tries once per address: SYN, RST/ACK.
    const c = only(report);
    expect(story(c)).toEqual(['failed', 'tcp', 'tcp rst by server', 'port_not_listening']);
    expect(c.findings[0]!.confidence).toBeLessThan(0.9);
  }, 20_000);
});
