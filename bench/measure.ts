// Runs one peer as a child process and measures it. Node children (bench/child.ts) time their own work
// and report process.resourceUsage().maxRSS; other programs (tshark, tcpdump, our CLI) are timed from
// spawn to exit, with their peak RSS (VmHWM) and CPU time (utime + stime, all threads) read by polling
// /proc/<pid>/status and /proc/<pid>/stat every few milliseconds.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface Sample {
  /** Wall-clock time of the work, ms. */
  ms: number;
  /** CPU time (user + system, every thread), ms. */
  cpuMs: number;
  maxRssKB: number;
  frames: number | null;
  /** Capture bytes processed (decompressed for gzip). */
  bytes: number | null;
  /** Lines the child wrote on stdout (tshark's field rows). */
  lines: number;
  exitCode: number;
  detail: Record<string, unknown>;
  /** How peak RSS was read. */
  rssBy: 'resourceUsage' | 'VmHWM poll';
}

const POLL_MS = 5;
const TICKS_PER_SEC = ((): number => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

function procSnapshot(pid: number): { hwmKB: number; cpuMs: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the "(comm)" part: state is field 3; utime 14, stime 15 (proc(5)).
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(rest[11]) + Number(rest[12]);
    return { hwmKB: m ? Number(m[1]) : 0, cpuMs: (ticks * 1000) / TICKS_PER_SEC };
  } catch {
    return null;
  }
}

/** Exit codes that are an answer, not a failure (our CLI: 1 = some connection failed). */
export interface RunOpts {
  okCodes?: number[];
  /** The child prints one JSON line (a ChildResult) instead of being timed from outside. */
  json?: boolean;
  env?: NodeJS.ProcessEnv;
}

export function runMeasured(cmd: string, args: string[], opts: RunOpts = {}): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let lines = 0;
    let out = '';
    let err = '';
    let hwm = 0;
    let cpu = 0;
    const poll = (): void => {
      if (child.pid === undefined || child.exitCode !== null) return;
      const s = procSnapshot(child.pid);
      if (s) {
        if (s.hwmKB > hwm) hwm = s.hwmKB;
        if (s.cpuMs > cpu) cpu = s.cpuMs;
      }
    };
    const timer = setInterval(poll, POLL_MS);
    poll();
    child.stdout.on('data', (c: Buffer) => {
      for (let i = 0; i < c.length; i++) if (c[i] === 10) lines++;
      if (opts.json && out.length < 1 << 20) out += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      if (err.length < 4096) err += c.toString('utf8');
    });
    child.on('error', (e) => {
      clearInterval(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearInterval(timer);
      const ms = performance.now() - t0;
      const exitCode = code ?? -1;
      if (!(opts.okCodes ?? [0]).includes(exitCode)) {
        // V8's out-of-memory report puts the reason first and a native stack after it.
        const lines = err.trim().split('\n');
        const why = lines.find((l) => /FATAL ERROR|out of memory|Error:/.test(l)) ?? lines.slice(-2).join(' | ');
        const died = signal ? `killed by ${signal}` : `exited with ${exitCode}`;
        reject(new Error(`${died} after ${(ms / 1000).toFixed(1)} s at ${Math.round(hwm / 1024)} MB peak RSS: ${why.trim()}`));
        return;
      }
      if (opts.json) {
        try {
          const r = JSON.parse(out.trim().split('\n').pop() ?? '') as {
            ms: number;
            cpuMs: number;
            maxRssKB: number;
            frames: number;
            bytes: number;
            detail: Record<string, unknown>;
          };
          resolve({ ms: r.ms, cpuMs: r.cpuMs, maxRssKB: r.maxRssKB, frames: r.frames, bytes: r.bytes, lines, exitCode, detail: r.detail, rssBy: 'resourceUsage' });
        } catch (e) {
          reject(new Error(`${cmd}: no result line (${e instanceof Error ? e.message : String(e)}): ${err.trim()}`));
        }
        return;
      }
      resolve({ ms, cpuMs: cpu, maxRssKB: hwm, frames: null, bytes: null, lines, exitCode, detail: {}, rssBy: 'VmHWM poll' });
    });
  });
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = xs.slice().sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length & 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
