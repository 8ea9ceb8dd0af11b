// libpcap's kernel drop counter for real (native/packet-stats): a capture on loopback through cap
// with a small buffer, the event loop blocked while a child process floods UDP to 127.0.0.1, so
// the kernel drops what the full buffer cannot take; the addon then reads drops > 0 and packets > 0
// on the capture's own socket. Skips with a message when the addon is not built, cap is missing or
// the process may not capture (not root, no CAP_NET_RAW).
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { LiveCaptureError, loadCap, startLiveCapture, type CapModule, type LiveCapture } from '../../src/capture/live.js';
import { loadPacketStats } from '../../src/capture/packet-stats.js';
import { runLive } from '../../src/cli/live.js';

const stats = loadPacketStats();
let cap: CapModule | null = null;
let capWhy = '';
try {
  cap = loadCap();
} catch (e) {
  capWhy = (e as Error).message;
}
const skip = stats.reader === null ? `the packet-stats addon is not available (${stats.unavailable})` : cap === null ? `cap is not available (${capWhy})` : null;
if (skip !== null) console.warn(`skipping the live kernel-drop test: ${skip}`);

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** A UDP port nobody listens on (the packets are captured, then answered with ICMP, which the filter leaves out). */
async function freePort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A child process sending 1000-byte datagrams to 127.0.0.1:port as fast as it can (at most a minute). */
function flood(port: number): ChildProcess {
  const child = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('node:dgram').createSocket('udp4'); const b = Buffer.alloc(1000); const end = Date.now() + 60000;
       (function go() { for (let i = 0; i < 200; i++) s.send(b, ${port}, '127.0.0.1'); if (Date.now() < end) setImmediate(go); else process.exit(0); })();`,
    ],
    { stdio: 'ignore' },
  );
  children.push(child);
  return child;
}

class Text extends Writable {
  text = '';
  onText: ((t: string) => void) | null = null;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString('utf8');
    this.onText?.(this.text);
    cb();
  }
}

/** Blocks this thread (the event loop too: cap reads nothing) for `ms`. */
function block(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe.skipIf(skip !== null)("libpcap's kernel drop counter on loopback (root)", () => {
  it('a blocked reader with a small buffer: the kernel drops, the addon counts drops and packets on the capture socket', async () => {
    const port = await freePort();
    let live: LiveCapture;
    try {
      live = startLiveCapture(cap!, { iface: 'lo', filter: `udp dst port ${port}`, bufferSize: 64 * 1024, packetStats: stats }, { onFrame() {} });
    } catch (e) {
      if (e instanceof LiveCaptureError && e.kind === 'permission') {
        console.warn(`skipping the live kernel-drop test: ${e.message}`);
        return;
      }
      throw e;
    }
    try {
      expect(live.kernelUnavailable).toBeNull();
      expect(live.kernel()).toMatchObject({ packets: 0, drops: 0 });
      const child = flood(port);
      // The event loop stays blocked (cap reads nothing) until the kernel has dropped packets: the
      // counter is read synchronously, so this waits for the event, not for a fixed time.
      const t0 = Date.now();
      let k = live.kernel();
      while ((k === null || k.drops === 0) && Date.now() - t0 < 45_000) {
        block(100);
        k = live.kernel();
      }
      child.kill('SIGKILL');
      expect(k).not.toBeNull();
      expect(k!.drops).toBeGreaterThan(0);
      expect(k!.packets).toBeGreaterThan(0);
      // tp_packets includes tp_drops (the kernel adds them before copying out).
      expect(k!.packets).toBeGreaterThanOrEqual(k!.drops);
      // The kernel resets its counters at each read: the totals still only grow.
      block(50);
      const again = live.kernel()!;
      expect(again.drops).toBeGreaterThanOrEqual(k!.drops);
      expect(again.packets).toBeGreaterThanOrEqual(k!.packets);
      const info = live.stop();
      expect(info.kernel!.drops).toBeGreaterThanOrEqual(again.drops);
    } finally {
      live.stop();
    }
    // The socket is gone with the capture: the addon no longer lists it.
    expect(stats.reader!().some((s) => s.iface === 'lo')).toBe(false);
  }, 90_000);

  it('live --sensor: the stderr line, the final summary and the ECS summary event carry the kernel drops', async () => {
    const port = await freePort();
    const out = new Text();
    const err = new Text();
    const started = new Promise<void>((resolve) => (err.onText = (t) => t.includes('capturing on lo') && resolve()));
    const run = runLive({ format: 'text', ports: [], iface: 'lo', sensor: true, ndjson: '-', filter: `udp dst port ${port}`, duration: 2 }, out, { stderr: err, packetStats: stats }).catch((e: Error) => e);
    // The capture is open, or runLive ended before (no permission: one line, skipped like the first test).
    const early = await Promise.race([started.then(() => null), run]);
    if (early instanceof Error && /permission denied/.test(early.message)) {
      console.warn(`skipping the live kernel-drop test: ${early.message}`);
      return;
    }
    expect(early).toBeNull();
    const child = flood(port);
    // Blocked until the kernel has dropped packets of the capture (read directly, synchronously).
    const t0 = Date.now();
    const lo = (): number => stats.reader!().filter((s) => s.iface === 'lo').reduce((n, s) => n + s.drops, 0);
    while (lo() === 0 && Date.now() - t0 < 45_000) block(100);
    child.kill('SIGKILL');
    const code = await run;
    expect(code).toBe(0);
    const summary = JSON.parse(out.text.trim().split('\n').at(-1)!) as { rdp: { summary: { kernel_drops?: number; kernel_packets?: number } } };
    expect(summary.rdp.summary.kernel_drops).toBeGreaterThan(0);
    expect(summary.rdp.summary.kernel_packets).toBeGreaterThan(summary.rdp.summary.kernel_drops!);
    expect(err.text).toMatch(/rdp-autopsy: the kernel dropped \d+ packets of this capture in the last 5 s \(libpcap's counter/);
  }, 90_000);
});
