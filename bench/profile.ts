// Where a fresh process spends its time on one analyze() run: a V8 CPU profile (`node --cpu-prof`)
// of the measured window, its main-thread self time summed by part of the code, and V8's optimising
// compiler's log (`--trace-opt --trace-deopt`) summed: compile jobs, their time on V8's background
// threads, deoptimisations. The summaries are pure (profile or log in, figures out); profileAnalyze runs
// the two child processes.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';

/** The parts of a .cpuprofile file this summary reads (Chrome DevTools protocol, Profiler.Profile). */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  /** Sampled main-thread time in the window, ms. */
  totalMs: number;
  /** Self time by part of the code, largest first. */
  parts: { part: string; ms: number }[];
  /** The functions with the most self time. */
  top: { fn: string; where: string; ms: number }[];
}

/** The part of the code a profile node belongs to (its self time is counted there). */
export function partOf(fn: string, url: string): string {
  if (url === '' && fn === 'read') return 'file reads (`readSync`: the kernel copying from the page cache)';
  if (fn === '(garbage collector)') return 'garbage collection (main-thread pauses)';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)') return 'V8 itself outside JavaScript (`(program)`)';
  if (url.includes('/src/capture/')) return 'capture reader (src/capture)';
  if (url.includes('/src/net/')) return 'packet decoders (src/net)';
  if (url.includes('/src/flow/')) return 'flow table, TCP tracking, reassembly, DNS log (src/flow)';
  if (url.includes('/src/handshake/') || url.includes('/src/rdp/')) return 'RDP, TLS, CredSSP decoding and handshake machines (src/rdp, src/handshake)';
  if (url.includes('/src/diagnose/')) return 'diagnosis (src/diagnose)';
  if (url.includes('/src/report/')) return 'report (src/report)';
  if (url.includes('/src/')) return 'pipeline: per-frame dispatch, records, merge (src/pipeline/)';
  if (url.includes('/bench/')) return 'benchmark child';
  if (url.startsWith('node:')) return 'Node.js internals (buffers, fs, modules)';
  return 'other native calls';
}

/**
 * Self time per part of the code over the samples taken in [fromUs, toUs] (the profile's clock, which is
 * process.hrtime's: CLOCK_MONOTONIC), or over the whole profile.
 */
export function summarizeProfile(p: CpuProfile, fromUs = -Infinity, toUs = Infinity, topN = 12): ProfileSummary {
  const byId = new Map<number, CpuProfile['nodes'][number]>();
  for (const n of p.nodes) byId.set(n.id, n);
  const parts = new Map<string, number>();
  const fns = new Map<string, { fn: string; where: string; ms: number }>();
  let total = 0;
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    // A sample stands for the time until the next one.
    const dt = p.timeDeltas[i + 1] ?? 0;
    if (t < fromUs || t > toUs || dt <= 0) continue;
    const n = byId.get(p.samples[i]!);
    if (!n) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const ms = dt / 1000;
    total += ms;
    const part = partOf(functionName, url);
    parts.set(part, (parts.get(part) ?? 0) + ms);
    const where = url === '' ? '' : `${url.replace(/^file:\/\/.*?\/(src|bench|node_modules)\//, '$1/').replace(/^.*\/out\/js\//, '')}:${lineNumber + 1}`;
    const key = `${functionName}\u0000${where}`;
    const e = fns.get(key) ?? { fn: functionName || '(anonymous)', where, ms: 0 };
    e.ms += ms;
    fns.set(key, e);
  }
  return {
    totalMs: total,
    parts: [...parts].map(([part, ms]) => ({ part, ms })).sort((a, b) => b.ms - a.ms),
    top: [...fns.values()].sort((a, b) => b.ms - a.ms).slice(0, topN),
  };
}

export interface CompileSummary {
  /** TurboFan compile jobs that completed (OSR included). */
  jobs: number;
  /** Of them, functions compiled more than once (after a deoptimisation or for OSR). */
  recompiled: number;
  /** Jobs thrown away before completion (a dependency changed while compiling). */
  aborted: number;
  /** Time of the compile jobs on V8's background threads, ms (completed and aborted). */
  backgroundMs: number;
  /** Their main-thread parts (prepare and finalise), ms. */
  mainMs: number;
  /** Deoptimisations (optimised code thrown back to the interpreter). */
  deopts: number;
  /** The functions whose compiles took the longest in all: name, jobs, ms. */
  top: { fn: string; jobs: number; ms: number }[];
}

/** Sums V8's `--trace-opt --trace-deopt` log (Node 20, V8 11.3 line formats). */
export function summarizeTraceOpt(log: string, topN = 8): CompileSummary {
  let jobs = 0;
  let aborted = 0;
  let bg = 0;
  let main = 0;
  let deopts = 0;
  const per = new Map<string, { jobs: number; ms: number }>();
  const re = /^\[(completed compiling|aborted optimizing) .*?<JSFunction (.*?) \(sfi = [^)]*\)>.*?took ([\d.]+), ([\d.]+), ([\d.]+) ms/;
  for (const line of log.split('\n')) {
    if (line.startsWith('[bailout (kind: deopt')) {
      deopts++;
      continue;
    }
    const m = re.exec(line);
    if (!m) continue;
    const [, what, fn, a, b, c] = m;
    if (what === 'aborted optimizing') aborted++;
    else jobs++;
    bg += Number(b);
    main += Number(a) + Number(c);
    const e = per.get(fn!) ?? { jobs: 0, ms: 0 };
    e.jobs++;
    e.ms += Number(a) + Number(b) + Number(c);
    per.set(fn!, e);
  }
  let recompiled = 0;
  for (const e of per.values()) if (e.jobs > 1) recompiled++;
  return {
    jobs,
    recompiled,
    aborted,
    backgroundMs: bg,
    mainMs: main,
    deopts,
    top: [...per].map(([fn, e]) => ({ fn, ...e })).sort((x, y) => y.ms - x.ms).slice(0, topN),
  };
}

export interface AnalyzeProfile {
  file: string;
  /** The profiled run's own figures (the profiler slows it down a little). */
  ms: number;
  cpuMs: number;
  profile: ProfileSummary;
  compile: CompileSummary | null;
}

/**
 * Runs `child analyze FILE` once under `--cpu-prof` (the summary covers the child's measured window
 * only, not its start-up) and once under `--trace-opt --trace-deopt`.
 */
export function profileAnalyze(child: string, file: string, outDir: string): AnalyzeProfile {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const r = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${outDir}`, '--cpu-prof-interval=200', child, 'analyze', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`profiled run failed: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { ms: number; cpuMs: number; detail: { hrStartUs?: number; hrEndUs?: number } };
  const f = readdirSync(outDir).find((x) => x.endsWith('.cpuprofile'));
  if (!f) throw new Error('no .cpuprofile written');
  const prof = JSON.parse(readFileSync(path.join(outDir, f), 'utf8')) as CpuProfile;
  const summary = summarizeProfile(prof, res.detail.hrStartUs ?? -Infinity, res.detail.hrEndUs ?? Infinity);
  const t = spawnSync(process.execPath, ['--trace-opt', '--trace-deopt', child, 'analyze', file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const compile = t.status === 0 ? summarizeTraceOpt(t.stdout) : null;
  return { file, ms: res.ms, cpuMs: res.cpuMs, profile: summary, compile };
}
