// `rdp-autopsy live` for real, on the loopback interface: the built CLI runs as a child process,
// libpcap (cap) captures on `lo`, and the test makes RDP-shaped traffic on 127.0.0.1 at high
// ports only (an RDP_NEG_FAILURE server, a port nobody listens on, an X.224 + node:tls exchange
// with an expired certificate). Every capture is bounded (--duration, --count or SIGINT) and each
// child is killed after a deadline. Needs root (or CAP_NET_RAW) and a loadable cap: skipped, with
// a message, otherwise.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAP_UNAVAILABLE, loadCap } from '../../src/capture/live.js';
import type { Report, ReportedConnection } from '../../src/report/types.js';
import {
  HYBRID_REQUIRED_BY_SERVER,
  PROTOCOL_SSL,
  x224ConnectionConfirm,
  x224ConnectionRequest,
} from '../../fixtures/lib/rdp-bytes.js';
import { getCert } from '../../fixtures/lib/certs.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function capLoads(): string | null {
  try {
    loadCap();
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
const isRoot = process.getuid?.() === 0;
const capError = capLoads();
const skipReason = !isRoot ? 'not running as root' : capError !== null ? `cap cannot be loaded: ${capError}` : null;
if (skipReason !== null) console.warn(`test/cli/live.test.ts: live capture on lo skipped (${skipReason})`);
const hasTshark = spawnSync('tshark', ['-v'], { encoding: 'utf8' }).status === 0;

interface Done {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

interface Live {
  child: ChildProcess;
  /** Resolves when the CLI says it is capturing (rejects if it ends first). */
  ready: Promise<void>;
  done: Promise<Done>;
  /** What it printed on stdout so far. */
  stdout: () => string;
}

/** One line on stderr, no stack trace. */
function oneLineError(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^rdp-autopsy: /);
  expect(stderr).not.toMatch(/\n\s+at /);
  return lines[0]!;
}

// ---------------------------------------------------------------- local traffic (127.0.0.1 only)

function listen(onConnection: (s: net.Socket) => void): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer(onConnection);
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

function portOf(srv: net.Server): number {
  return (srv.address() as net.AddressInfo).port;
}

/** A port on 127.0.0.1 with no listener (bound once by us, then released). */
async function closedPort(): Promise<number> {
  const srv = await listen(() => {});
  const p = portOf(srv);
  await new Promise((r) => srv.close(r));
  return p;
}

/** Reads one TPKT (RFC 1006 6) from the socket; bytes after it are pushed back. */
function readTpkt(sock: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let acc = Buffer.alloc(0);
    const cleanup = (): void => {
      sock.off('data', onData);
      sock.off('close', onClose);
    };
    const onData = (d: Buffer): void => {
      acc = Buffer.concat([acc, d]);
      if (acc.length < 4) return;
      const n = acc.readUInt16BE(2);
      if (acc.length < n) return;
      cleanup();
      sock.pause();
      if (acc.length > n) sock.unshift(acc.subarray(n));
      resolve(acc.subarray(0, n));
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('closed before a TPKT'));
    };
    sock.on('data', onData);
    sock.on('close', onClose);
  });
}

/** Ends when the socket closes, or after `ms` (then destroys it). */
function closed(sock: net.Socket, ms = 3000): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      sock.destroy();
      resolve();
    }, ms);
    sock.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    sock.on('error', () => {});
  });
}

/** (a) X.224 Connection Request asking for SSL, answered with RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER. */
async function negFailureServer(): Promise<net.Server> {
  return listen((s) => {
    s.on('error', () => {});
    readTpkt(s).then(
      () => s.end(x224ConnectionConfirm({ type: 'failure', failureCode: HYBRID_REQUIRED_BY_SERVER })),
      () => s.destroy(),
    );
  });
}

/** (c) X.224 selecting SSL, then TLS 1.2 with an expired certificate (MS-RDPBCGR 5.4.5.1). */
async function tlsServer(): Promise<net.Server> {
  const cert = getCert('expired');
  return listen((s) => {
    s.on('error', () => {});
    readTpkt(s).then(
      () => {
        s.write(x224ConnectionConfirm({ type: 'rsp', selectedProtocol: PROTOCOL_SSL }));
        const t = new tls.TLSSocket(s, { isServer: true, key: cert.keyPem, cert: cert.chainPem, maxVersion: 'TLSv1.2' });
        t.on('error', () => {});
        s.resume();
      },
      () => s.destroy(),
    );
  });
}

async function clientNegFailure(port: number): Promise<void> {
  const c = net.connect(port, '127.0.0.1', () => {
    c.write(x224ConnectionRequest({ cookie: 'alice', neg: { requestedProtocols: PROTOCOL_SSL } }));
  });
  c.on('data', () => {});
  await closed(c);
}

async function clientSyn(port: number): Promise<void> {
  const c = net.connect(port, '127.0.0.1');
  await closed(c);
}

/** The client refuses the expired certificate after the handshake and closes (as mstsc does). */
async function clientTls(port: number): Promise<string> {
  const c = net.connect(port, '127.0.0.1');
  c.on('error', () => {});
  await new Promise<void>((resolve) => c.once('connect', () => resolve()));
  c.write(x224ConnectionRequest({ cookie: 'bob', neg: { requestedProtocols: PROTOCOL_SSL } }));
  await readTpkt(c);
  c.resume();
  const t = tls.connect({ socket: c, servername: 'rdp-srv01.corp.example', maxVersion: 'TLSv1.2' });
  const why = await new Promise<string>((resolve) => {
    t.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    t.once('secureConnect', () => resolve('accepted'));
  });
  t.destroy();
  await closed(c);
  return why;
}

// ---------------------------------------------------------------- the CLI as a child process

describe('rdp-autopsy live: cap missing (RDP_AUTOPSY_NO_CAP=1)', () => {
  it('one line with the install hint, exit 2', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), 'live', '-i', 'lo'], {
      cwd: repoRoot,
      encoding: 'utf8',
      env: { ...process.env, RDP_AUTOPSY_NO_CAP: '1' },
      timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(oneLineError(r.stderr)).toBe(`rdp-autopsy: ${CAP_UNAVAILABLE}`);
    expect(r.stdout).toBe('');
  });
});

describe.skipIf(skipReason !== null)('rdp-autopsy live -i lo (real libpcap capture)', () => {
  let build: string;
  let main: string;
  const servers: net.Server[] = [];
  const children: ChildProcess[] = [];

  beforeAll(() => {
    // A private build (the command of the brief, into our own folder): other engineers may be
    // rebuilding dist/ at the same time. node_modules is linked so `cap` and commander resolve.
    build = mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-live-build-'));
    chmodSync(build, 0o755);
    symlinkSync(path.join(repoRoot, 'node_modules'), path.join(build, 'node_modules'), 'dir');
    const tsc = spawnSync(
      process.execPath,
      [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', path.join(build, 'dist')],
      { cwd: repoRoot, encoding: 'utf8', timeout: 170_000 },
    );
    main = path.join(build, 'dist/cli/main.js');
    if (!existsSync(main)) throw new Error(`build failed: ${tsc.stdout}${tsc.stderr}`);
  }, 180_000);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    if (build) rmSync(build, { recursive: true, force: true });
  });

  function startLive(args: string[], opts: { env?: NodeJS.ProcessEnv; uid?: number; gid?: number; deadlineMs?: number } = {}): Live {
    const t0 = Date.now();
    const child = spawn(process.execPath, [main, 'live', ...args], {
      cwd: build,
      env: { ...process.env, NO_COLOR: '1', ...opts.env },
      uid: opts.uid,
      gid: opts.gid,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stdout = '';
    let stderr = '';
    const deadline = setTimeout(() => child.kill('SIGKILL'), opts.deadlineMs ?? 30_000);
    let markReady: () => void = () => {};
    let failReady: (e: Error) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString('utf8');
      if (stderr.includes('rdp-autopsy: capturing on lo')) markReady();
    });
    const done = new Promise<Done>((resolve) => {
      child.on('close', (code, signal) => {
        clearTimeout(deadline);
        failReady(new Error(`live ended before capturing (${code ?? signal}): ${stderr}`));
        resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
      });
    });
    ready.catch(() => {});
    return { child, ready, done, stdout: () => stdout };
  }

  /** Polls until `f` holds (no fixed limit of its own: the test's timeout bounds it). */
  async function until(f: () => boolean): Promise<void> {
    while (!f()) await new Promise((r) => setTimeout(r, 50));
  }

  function byServer(r: Report, port: number): ReportedConnection[] {
    return r.connections.filter((c) => c.server === `127.0.0.1:${port}`);
  }

  it('(a) RDP_NEG_FAILURE, (b) RST from the kernel, (c) TLS with an expired certificate: outcomes, phases and frames as tshark numbers them', async () => {
    const failSrv = await negFailureServer();
    const tlsSrv = await tlsServer();
    servers.push(failSrv, tlsSrv);
    const pA = portOf(failSrv);
    const pB = await closedPort();
    const pC = portOf(tlsSrv);
    const file = path.join(build, 'incident.pcap');
    const live = startLive(['-i', 'lo', '--port', String(pA), '--port', String(pB), '--port', String(pC), '--duration', '3', '--format', 'json', '--write', file]);
    await live.ready;
    await clientNegFailure(pA);
    await clientSyn(pB);
    expect(await clientTls(pC)).toBe('CERT_HAS_EXPIRED');
    const r = await live.done;

    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(15_000);
    expect(r.stderr).toMatch(new RegExp(`capturing on lo \\(ETHERNET, filter: tcp port 3389 or udp port 3389 or tcp port ${pA} or udp port ${pA} or tcp port ${pB} `));
    expect(r.stderr).toMatch(new RegExp(`captured \\d+ packets on lo in \\d+\\.\\d s, saved to ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const rep = JSON.parse(r.stdout) as Report;
    expect(rep.capture.files[0]!.file).toBe(file);

    const [a] = byServer(rep, pA);
    const [b] = byServer(rep, pB);
    const [c] = byServer(rep, pC);
    expect(byServer(rep, pA)).toHaveLength(1);
    expect(byServer(rep, pB)).toHaveLength(1);
    expect(byServer(rep, pC)).toHaveLength(1);

    expect(a!.outcome).toBe('failed');
    expect(a!.reached).toBe('x224');
    expect(a!.died).toMatchObject({ phase: 'x224', how: 'negotiation_failure', by: 'server' });
    expect(a!.negotiation).toMatchObject({ cookie: 'alice', requestedProtocolNames: ['SSL'], failureCode: 5, failureCodeName: 'HYBRID_REQUIRED_BY_SERVER' });
    expect(a!.findings.map((f) => f.cause)).toContain('nla_mismatch');

    expect(b!.outcome).toBe('failed');
    expect(b!.reached).toBe('tcp');
    expect(b!.died).toMatchObject({ phase: 'tcp', how: 'rst', by: 'server' });
    expect(b!.findings.map((f) => f.cause)).toContain('port_not_listening');

    expect(c!.outcome).toBe('failed');
    expect(c!.reached).toBe('tls');
    expect(c!.died).toMatchObject({ phase: 'tls', by: 'client' });
    expect(c!.negotiation).toMatchObject({ cookie: 'bob', selectedProtocolName: 'SSL' });
    expect(c!.tls!.version).toBe('TLS1.2');
    expect(c!.tls!.sni).toBe('rdp-srv01.corp.example');
    expect(c!.tls!.certificates[0]!.notAfter).toMatch(/^2025-03-01T08:00:00/);
    expect(c!.findings.map((f) => f.cause)).toContain('cert_expired');

    // Frame numbers: 1-based, and the very frames tshark shows in the saved capture.
    for (const conn of [a!, b!, c!]) {
      for (const ev of conn.timeline) {
        expect(ev.frame).toBeGreaterThanOrEqual(1);
        expect(ev.frame).toBeLessThanOrEqual(rep.capture.frames);
      }
    }
    if (!hasTshark) return;
    const t = spawnSync('tshark', ['-r', file, '-T', 'fields', '-E', 'separator=,', '-e', 'frame.number', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'tcp.flags.syn', '-e', 'tcp.flags.ack', '-e', 'tcp.flags.reset', '-e', 'tcp.len'], { encoding: 'utf8' });
    expect(t.status).toBe(0);
    const rows = t.stdout.trim().split('\n').map((l) => l.split(','));
    expect(rows).toHaveLength(rep.capture.frames);
    expect(rows[0]![0]).toBe('1');
    const frameWhere = (pred: (r: string[]) => boolean): number[] => rows.filter(pred).map((r) => Number(r[0]));
    for (const [conn, port] of [[a!, pA], [b!, pB], [c!, pC]] as const) {
      const clientPort = conn.client.split(':').pop()!;
      const syn = frameWhere((r) => r[1] === clientPort && r[2] === String(port) && r[3] === '1' && r[4] === '0');
      expect(syn).toHaveLength(1);
      expect(conn.timeline[0]).toMatchObject({ frame: syn[0], event: 'SYN', direction: 'c2s' });
    }
    const rst = frameWhere((r) => r[1] === String(pB) && r[5] === '1');
    expect(rst).toHaveLength(1);
    expect(b!.died!.frame).toBe(rst[0]);
    // The first client segment with payload is the Connection Request; the first server one, the Confirm.
    const aClient = a!.client.split(':').pop()!;
    expect(a!.negotiation!.requestFrame).toBe(frameWhere((r) => r[1] === aClient && r[2] === String(pA) && r[6] !== '0')[0]);
    expect(a!.negotiation!.confirmFrame).toBe(frameWhere((r) => r[1] === String(pA) && r[2] === aClient && r[6] !== '0')[0]);
    expect(a!.died!.frame).toBe(a!.negotiation!.confirmFrame);
  }, 40_000);

  it('--sensor: a line per failure as it ends with its evidence already written, the ring files, the summary after SIGTERM', async () => {
    const failSrv = await negFailureServer();
    servers.push(failSrv);
    const pA = portOf(failSrv);
    const pB = await closedPort();
    const dir = mkdtempSync(path.join(build, 'sensor-'));
    const ev = path.join(dir, 'evidence');
    const events = path.join(dir, 'events.ndjson');
    const ringBase = path.join(dir, 'ring', 'rdp.pcap');
    const live = startLive(
      ['-i', 'lo', '--sensor', '--port', String(pA), '--port', String(pB), '--export-evidence', ev, '--ndjson', events, '--write', ringBase, '--ring', '0.001:3'],
      { deadlineMs: 120_000 },
    );
    await live.ready;
    await clientNegFailure(pA);
    await until(() => live.stdout().includes(`-> 127.0.0.1:${pA} in x224`));
    // The line came as the attempt ended, and its evidence was on disk already.
    const lineA = live.stdout().split('\n').find((l) => l.includes(`-> 127.0.0.1:${pA} `))!;
    expect(lineA).toMatch(/ FAILED c\d+ 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ in x224 \(negotiation failure by server, frame \d+\): nla_mismatch \d+%/);
    expect(existsSync(path.join(ev, `${/ FAILED (c\d+) /.exec(lineA)![1]}.pcapng`))).toBe(true);
    await clientSyn(pB);
    await until(() => live.stdout().includes(`-> 127.0.0.1:${pB} in tcp`));
    for (let i = 0; i < 6; i++) await clientNegFailure(pA);
    await until(() => live.stdout().split('\n').filter((l) => l.includes(` FAILED `)).length >= 8);
    live.child.kill('SIGTERM');
    const r = await live.done;
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/: 8 attempts, 0 completed, 8 failed, 0 only partly captured\./);
    expect(r.stdout).toContain('Failures by cause: 7 nla_mismatch');
    expect(readFileSync(events, 'utf8').trim().split('\n')).toHaveLength(8);
    // Rotation: the last 3 files of 1 kB or so are kept, named as dumpcap names a ring.
    const ring = readdirSync(path.dirname(ringBase));
    expect(ring).toHaveLength(3);
    for (const n of ring) expect(n).toMatch(/^rdp_\d{5}_\d{14}\.pcap$/);
  }, 180_000);

  it('--count N stops by itself after exactly N packets (temporary capture removed); --filter replaces the default', async () => {
    const p = await closedPort();
    const live = startLive(['-i', 'lo', '--port', String(p), '--filter', `tcp port ${p}`, '--count', '4', '--duration', '20', '--format', 'json']);
    await live.ready;
    for (let i = 0; i < 3; i++) await clientSyn(p); // 3 x (SYN, RST) = 6 packets
    const r = await live.done;
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(15_000);
    expect(r.stderr).toContain(`filter: tcp port ${p});`);
    expect(r.stderr).toMatch(/captured 4 packets on lo in /);
    const rep = JSON.parse(r.stdout) as Report;
    expect(rep.capture.frames).toBe(4);
    const conns = byServer(rep, p);
    expect(conns).toHaveLength(2);
    expect(conns.map((x) => [x.timeline[0]!.frame, x.died?.how, x.died?.frame])).toEqual([
      [1, 'rst', 2],
      [3, 'rst', 4],
    ]);
    expect(existsSync(rep.capture.files[0]!.file)).toBe(false);
  }, 40_000);

  it('--write FILE: tshark reads the same number of frames the report counts', async () => {
    const p = await closedPort();
    const file = path.join(build, 'count.pcap');
    const live = startLive(['-i', 'lo', '--port', String(p), '--filter', `tcp port ${p}`, '--count', '6', '--duration', '20', '--write', file, '--format', 'json']);
    await live.ready;
    for (let i = 0; i < 3; i++) await clientSyn(p);
    const r = await live.done;
    const rep = JSON.parse(r.stdout) as Report;
    expect(rep.capture.frames).toBe(6);
    expect(rep.capture.format).toBe('pcap');
    expect(rep.capture.linkTypes).toEqual([{ linkType: 1, name: expect.any(String), frames: 6 }]);
    if (!hasTshark) return;
    const t = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
    expect(t.status).toBe(0);
    expect(t.stdout.trim().split('\n')).toEqual(['1', '2', '3', '4', '5', '6']);
  }, 40_000);

  it('Ctrl-C (SIGINT) stops the capture; the text report follows with the exit code of analyze', async () => {
    const p = await closedPort();
    const live = startLive(['-i', 'lo', '--port', String(p), '--filter', `tcp port ${p}`]);
    await live.ready;
    await clientSyn(p);
    await new Promise((res) => setTimeout(res, 200));
    live.child.kill('SIGINT');
    const r = await live.done;
    expect(r.signal).toBeNull();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('stops after Ctrl-C');
    expect(r.stderr).toContain('captured 2 packets on lo');
    expect(r.stdout).toContain(`127.0.0.1:${p}`);
    expect(r.stdout).toContain('FAILED');
  }, 40_000);

  it('--list: the interfaces, lo with its addresses and the loopback flag; exit 0', async () => {
    const live = startLive(['--list']);
    const r = await live.done;
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.split('\n')).toContainEqual(expect.stringMatching(/^lo {2}.*127\.0\.0\.1.*\(loopback\)$/));
  });

  it.each<[string, string[], RegExp]>([
    ['an interface that does not exist', ['-i', 'nosuch0'], /^rdp-autopsy: no such interface "nosuch0" \(rdp-autopsy live --list shows them\)$/],
    ['a filter that does not compile', ['-i', 'lo', '--filter', 'tcp port'], /^rdp-autopsy: invalid capture filter "tcp port": .*syntax error/],
    ['no interface', [], /^rdp-autopsy: live needs an interface: -i <iface>/],
    ['--write into a missing folder', ['-i', 'lo', '--write', '/nonexistent-dir/x.pcap', '--duration', '1'], /^rdp-autopsy: cannot write \/nonexistent-dir\/x\.pcap: ENOENT$/],
  ])('%s: one line, exit 2', async (_name, args, re) => {
    const r = await startLive(args).done;
    expect(r.code).toBe(2);
    expect(oneLineError(r.stderr)).toMatch(re);
    expect(r.stdout).toBe('');
  });

  it('permission denied (run as nobody): one line naming root / CAP_NET_RAW, exit 2', async () => {
    const r = await startLive(['-i', 'lo', '--duration', '1'], { uid: 65534, gid: 65534 }).done;
    expect(r.code).toBe(2);
    expect(oneLineError(r.stderr)).toMatch(/^rdp-autopsy: cannot capture on lo: permission denied \(.*\); run as root or give CAP_NET_RAW/);
  });
});
