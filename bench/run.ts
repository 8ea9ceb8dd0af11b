// `npx tsx bench/run.ts [--sizes 100M,1G] [--corpora mixed,session,storm] [--runs 3] [--peers all|list]
//                       [--quick] [--flood] [--seed N] [--flows N,N,...] [--flood-runs 1] [--out FILE] [--no-write] [--corpus-dir DIR]`
// Generates (or reuses) the seeded corpus under bench/corpus/, compiles src/ and bench/child.ts to plain
// JavaScript under bench/out/js/ (what users run, no loader in the measured process), then measures every
// peer on the same files, alternating peers run after run, and writes the medians to docs/benchmarks.md.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureCorpus, generateSynFlood, type CorpusFormat, type CorpusInfo, type SynFloodInfo } from './corpus.js';
import { ensureRdpCorpus, type RdpCorpusInfo, type RdpCorpusKind } from './rdp-corpora.js';
import { median, runMeasured, type Sample } from './measure.js';
import { profileAnalyze, type AnalyzeProfile } from './profile.js';
import { keptNotes, SURICATA_INSTALL, renderFloodSection, renderReport, spliceFloodSection, type CaseResult, type RunReport } from './report.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT_JS = path.join(REPO, 'bench/out/js');
const CHILD = path.join(OUT_JS, 'bench/child.js');
const CLI = path.join(OUT_JS, 'src/cli/main.js');

/** tshark answering the RDP question: negotiation, failure codes, alerts, resets, per frame. */
export const TSHARK_FILTER = 'rdp || cotp || tls.alert_message || tcp.flags.reset==1';
export const TSHARK_FIELDS = [
  'frame.number',
  'ip.src',
  'tcp.srcport',
  'ip.dst',
  'tcp.dstport',
  'tcp.flags.reset',
  'cotp.type',
  'rdp.rt_cookie',
  'rdp.negReq.requestedProtocols',
  'rdp.negReq.selectedProtocol',
  'rdp.negFailure.failureCode',
  'tls.alert_message.desc',
];
export const TCPDUMP_FILTER = 'tcp port 3389';

/** Suricata's app-layer parsers (`suricata --list-app-layer-protos`, 7.0) turned off in the peer's configuration: all but RDP and TLS. */
export const SURICATA_OFF = ['http', 'ftp', 'smtp', 'ssh', 'imap', 'smb', 'dcerpc', 'nfs', 'ntp', 'tftp', 'ike', 'krb5', 'quic', 'dhcp', 'snmp', 'sip', 'rfb', 'mqtt', 'telnet', 'http2', 'bittorrent-dht', 'modbus', 'dnp3', 'enip', 'pgsql'];

/**
 * A minimal suricata.yaml for the peer: only the RDP app-layer parser and the TLS one it hands the
 * connection to after an RDP_NEG_RSP selecting TLS (TLS detected on port 443 only otherwise), no stats,
 * eve-json with the rdp events alone written to `logDir`/eve.json. No rules: run with `-S /dev/null`.
 */
export function suricataConfig(logDir: string): string {
  return [
    '%YAML 1.1',
    '---',
    `default-log-dir: ${JSON.stringify(logDir)}`,
    'stats:',
    '  enabled: no',
    'outputs:',
    '  - eve-log:',
    '      enabled: yes',
    '      filetype: regular',
    '      filename: eve.json',
    '      types:',
    '        - rdp',
    'app-layer:',
    '  protocols:',
    '    rdp:',
    '      enabled: yes',
    '    tls:',
    '      enabled: yes',
    '      detection-ports:',
    '        dp: 443',
    '    dns:',
    '      tcp:',
    '        enabled: no',
    '      udp:',
    '        enabled: no',
    ...SURICATA_OFF.map((p) => `    ${p}:\n      enabled: no`),
    '',
  ].join('\n');
}

/** The arguments of a Suricata run on `file` (offline, no rules) in run mode `runmode` ('single' or 'autofp'). */
export function suricataArgs(conf: string, logDir: string, file: string, runmode: 'single' | 'autofp'): string[] {
  return ['-c', conf, '-l', logDir, '-r', file, '--runmode', runmode, '-S', '/dev/null'];
}

/** The rdp events of an eve.json: how many in all, and how many `initial_request` (one per X.224 Connection Request). */
export function countSuricataRdp(eve: string): { events: number; initialRequests: number } {
  let events = 0;
  let initialRequests = 0;
  for (const line of eve.split('\n')) {
    if (line === '') continue;
    let e: { event_type?: unknown; rdp?: { event_type?: unknown } };
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      continue;
    }
    if (e.event_type !== 'rdp') continue;
    events++;
    if (e.rdp?.event_type === 'initial_request') initialRequests++;
  }
  return { events, initialRequests };
}

/** One measured Suricata run: the log directory emptied first (eve.json is appended to), its rdp events counted after. */
function suricataRun(file: string, runmode: 'single' | 'autofp'): () => Promise<Sample> {
  return async () => {
    const dir = path.join(REPO, 'bench/out/suricata', runmode);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const conf = path.join(dir, 'suricata.yaml');
    writeFileSync(conf, suricataConfig(dir));
    const s = await runMeasured('suricata', suricataArgs(conf, dir, file, runmode));
    const eve = path.join(dir, 'eve.json');
    const n = countSuricataRdp(existsSync(eve) ? readFileSync(eve, 'utf8') : '');
    return { ...s, detail: { ...s.detail, rdpEvents: n.events, initialRequests: n.initialRequests } };
  };
}

export const PEERS = ['floor', 'zlib', 'reader', 'decode', 'analyze', 'cli', 'pcap-parser', 'tshark', 'tcpdump', 'suricata', 'suricata-autofp', 'multi', 'flood', 'warm', 'profile'] as const;
export type Peer = (typeof PEERS)[number];

/** Which peers run on which format (pcap-parser reads classic pcap only; tcpdump cannot read gzip). */
const MATRIX: Record<CorpusFormat, Peer[]> = {
  pcap: ['floor', 'reader', 'decode', 'analyze', 'cli', 'pcap-parser', 'tshark', 'tcpdump', 'suricata', 'suricata-autofp'],
  pcapng: ['floor', 'reader', 'decode', 'analyze', 'cli', 'tshark', 'tcpdump', 'suricata', 'suricata-autofp'],
  'pcapng.gz': ['zlib', 'reader', 'analyze', 'cli'],
};

export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgG]?)B?$/.exec(s.trim());
  if (!m) throw new Error(`bad size "${s}" (e.g. 100M, 1G)`);
  const mult = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  return Math.round(Number(m[1]) * mult);
}

function log(s: string): void {
  process.stderr.write(s + '\n');
}

function version(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  return `${r.stdout}${r.stderr}`.split('\n').find((l) => l.trim() !== '')?.trim() ?? null;
}

function machineLine(): RunReport['machine'] {
  const cpu = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  const require = createRequire(import.meta.url);
  let pcapParser: string | null = null;
  try {
    pcapParser = (JSON.parse(readFileSync(require.resolve('pcap-parser/package.json'), 'utf8')) as { version: string }).version;
  } catch {
    pcapParser = null;
  }
  return {
    cpu,
    cores: os.cpus().length,
    memoryGB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    tshark: version('tshark', ['--version']),
    tcpdump: version('tcpdump', ['--version']),
    suricata: version('suricata', ['-V']),
    pcapParser,
    loadStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    loadEnd: [],
  };
}

/** Compiles src/cli/main.ts and bench/child.ts (and everything they import) to bench/out/js/. */
function build(): void {
  log('compiling src/ and bench/child.ts to bench/out/js/ (tsc) ...');
  const tsc = path.join(REPO, 'node_modules/.bin/tsc');
  const r = spawnSync(
    tsc,
    [
      '--outDir', OUT_JS, '--rootDir', REPO, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
      '--lib', 'es2022', '--types', 'node', '--skipLibCheck', '--esModuleInterop', '--resolveJsonModule', '--strict',
      '--sourceMap', 'false', '--declaration', 'false',
      path.join(REPO, 'bench/child.ts'), path.join(REPO, 'src/cli/main.ts'),
    ],
    { encoding: 'utf8', cwd: REPO },
  );
  // Type errors elsewhere in the tree do not stop tsc from emitting; a missing output does.
  if (!existsSync(CHILD) || !existsSync(CLI)) throw new Error(`tsc produced no output: ${r.stdout}${r.stderr}`);
  if (r.status !== 0) log(`  (tsc reported type errors in the tree; the emitted JavaScript is used)\n  ${r.stdout.trim().split('\n').slice(0, 3).join('\n  ')}`);
}

interface Case {
  id: string;
  size: string;
  format: string;
  peer: Peer;
  /** Capture bytes processed and frames, for MB/s and packets/s. */
  bytes: number;
  frames: number;
  run(): Promise<Sample>;
}

function nodeCase(mode: string, file: string): () => Promise<Sample> {
  return () => runMeasured(process.execPath, [CHILD, mode, file], { json: true });
}

function casesFor(sizeName: string, info: CorpusInfo, peers: Set<Peer>, have: Record<string, boolean>): Case[] {
  const out: Case[] = [];
  for (const f of info.files) {
    for (const peer of MATRIX[f.format]) {
      if (!peers.has(peer) || !have[peer]) continue;
      const base = { id: `${sizeName} ${f.format} ${peer}`, size: sizeName, format: f.format, peer, bytes: f.captureBytes, frames: info.frames };
      let run: () => Promise<Sample>;
      switch (peer) {
        case 'tshark':
          run = () => runMeasured('tshark', ['-r', f.path, '-Y', TSHARK_FILTER, '-T', 'fields', ...TSHARK_FIELDS.flatMap((x) => ['-e', x])]);
          break;
        case 'tcpdump':
          run = () => runMeasured('tcpdump', ['-r', f.path, '-w', '/dev/null', TCPDUMP_FILTER]);
          break;
        case 'suricata':
          run = suricataRun(f.path, 'single');
          break;
        case 'suricata-autofp':
          run = suricataRun(f.path, 'autofp');
          break;
        case 'cli':
          // 1 = some connection failed (an answer, not an error); 3 = damage reported.
          run = () => runMeasured(process.execPath, [CLI, 'analyze', f.path, '--format', 'json', '-o', '/dev/null'], { okCodes: [0, 1, 3] });
          break;
        default:
          run = nodeCase(peer, f.path);
      }
      out.push({ ...base, run });
    }
  }
  return out;
}

function multiCases(sizeName: string, info: CorpusInfo): Case[] {
  const a = info.files.find((f) => f.format === 'pcap');
  const b = info.files.find((f) => f.format === 'pcapng');
  if (!a || !b) return [];
  const cli = (files: string[], extra: string[]) => () =>
    runMeasured(process.execPath, [CLI, 'analyze', ...files, ...extra, '--format', 'json', '-o', '/dev/null'], { okCodes: [0, 1, 3] });
  const mk = (format: string, files: string[], extra: string[], bytes: number, frames: number): Case => ({
    id: `${sizeName} ${format} multi`,
    size: sizeName,
    format,
    peer: 'multi',
    bytes,
    frames,
    run: cli(files, extra),
  });
  const both = [a.path, b.path];
  const bothBytes = a.captureBytes + b.captureBytes;
  // The pair twice, with the thread count explicit: the default depends on the machine's cores.
  return [
    mk('pcap', [a.path], [], a.captureBytes, info.frames),
    mk('pcapng', [b.path], [], b.captureBytes, info.frames),
    mk('pcap+pcapng --jobs 1', both, ['--jobs', '1'], bothBytes, 2 * info.frames),
    mk('pcap+pcapng --jobs 2', both, ['--jobs', '2'], bothBytes, 2 * info.frames),
  ];
}

/** The Node peers that have a JIT to warm up, each run twice in one process (child.ts `twice:MODE`), on the pcap. */
const WARM_MODES = ['floor', 'decode', 'analyze', 'pcap-parser'] as const;

function warmCases(sizeName: string, info: CorpusInfo, have: Record<string, boolean>): Case[] {
  const f = info.files.find((x) => x.format === 'pcap');
  if (!f) return [];
  return WARM_MODES.filter((m) => have[m] !== false).map((m) => ({
    id: `${sizeName} pcap warm ${m}`,
    size: sizeName,
    format: 'pcap',
    peer: 'warm' as const,
    bytes: f.captureBytes,
    frames: info.frames,
    run: nodeCase(`twice:${m}`, f.path),
  }));
}

function floodCases(flood: SynFloodInfo): Case[] {
  const base = { size: `${flood.flows / 1e6}M flows`, format: 'pcap', bytes: flood.bytes, frames: flood.frames };
  return [
    { ...base, id: `flood floor ${flood.flows}`, peer: 'flood', run: nodeCase('floor', flood.path) },
    { ...base, id: `flood analyze ${flood.flows}`, peer: 'flood', run: nodeCase('analyze', flood.path) },
  ];
}

async function measureAll(cases: Case[], runs: number, label: string): Promise<CaseResult[]> {
  const samples = new Map<string, Sample[]>();
  const errors = new Map<string, string>();
  for (let r = 1; r <= runs; r++) {
    for (const c of cases) {
      if (errors.has(c.id)) continue;
      try {
        const s = await c.run();
        const list = samples.get(c.id) ?? [];
        list.push(s);
        samples.set(c.id, list);
        log(`  [${label} ${r}/${runs}] ${c.id.padEnd(28)} ${(s.ms / 1000).toFixed(2).padStart(7)} s wall  ${(s.cpuMs / 1000).toFixed(2).padStart(7)} s cpu  ${(s.maxRssKB / 1024).toFixed(0).padStart(5)} MB`);
      } catch (e) {
        errors.set(c.id, e instanceof Error ? e.message : String(e));
        log(`  [${label} ${r}/${runs}] ${c.id}: FAILED ${errors.get(c.id)}`);
      }
    }
  }
  return cases.map((c) => {
    const s = samples.get(c.id) ?? [];
    return {
      id: c.id,
      size: c.size,
      format: c.format,
      peer: c.peer,
      bytes: c.bytes,
      frames: c.frames,
      runs: s.length,
      ms: median(s.map((x) => x.ms)),
      cpuMs: median(s.map((x) => x.cpuMs)),
      ...(c.peer === 'warm' ? { warmMs: median(s.map((x) => Number(x.detail['warmMs']))), warmCpuMs: median(s.map((x) => Number(x.detail['warmCpuMs']))) } : {}),
      maxRssKB: Math.max(0, ...s.map((x) => x.maxRssKB)),
      rssBy: s[0]?.rssBy ?? 'resourceUsage',
      lines: s[0]?.lines ?? 0,
      detail: s[s.length - 1]?.detail ?? {},
      error: errors.get(c.id) ?? null,
    };
  });
}

export interface BenchOptions {
  sizes: string[];
  runs: number;
  peers: Set<Peer>;
  seed: number;
  /** Half-open flows of the SYN floods measured (default 100k, 300k, 1M; --quick 100k). */
  flows: number[];
  /** `--flood`: only the SYN floods, their section written into docs/benchmarks.md in place. */
  floodOnly: boolean;
  /** Runs of the SYN-flood case (default 1: it shows a bound, not a speed). */
  floodRuns: number;
  out: string | null;
  corpusDir: string;
  /** Which corpora: the mixed link (bench/corpus.ts), an RDP server's capture, an attempt storm (bench/rdp-corpora.ts). */
  corpora: ('mixed' | RdpCorpusKind)[];
}

/** An RDP corpus described as the report describes corpora (attempts; no bulk, DNS or ICMP of its own but the storm's bulk). */
function asCorpusInfo(i: RdpCorpusInfo): CorpusInfo {
  return {
    generatorVersion: i.generatorVersion,
    seed: i.seed,
    bytesTarget: i.bytesTarget,
    linkRate: 0,
    concurrency: 0,
    rdpEvery: 0,
    files: i.files,
    frames: i.frames,
    rdpPortFrames: i.rdpPortFrames,
    rdpAttempts: Object.values(i.attempts).reduce((a, n) => a + n, 0),
    rdpRounds: 0,
    templates: Object.keys(i.attempts),
    bulkFlows: 0,
    bulkBytes: 0,
    dnsQueries: 0,
    icmpEchoes: 0,
    start: i.start,
    end: i.end,
  };
}

export function parseOptions(argv: string[]): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string' },
      runs: { type: 'string' },
      peers: { type: 'string' },
      quick: { type: 'boolean', default: false },
      flood: { type: 'boolean', default: false },
      seed: { type: 'string' },
      flows: { type: 'string' },
      'flood-runs': { type: 'string' },
      out: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
      'corpus-dir': { type: 'string' },
      corpora: { type: 'string' },
    },
    strict: true,
  });
  const corpora = (values.corpora ?? 'mixed,session,storm').split(',').map((s) => s.trim()).filter(Boolean);
  for (const c of corpora) if (!['mixed', 'session', 'storm'].includes(c)) throw new Error(`unknown corpus "${c}" (known: mixed, session, storm)`);
  const quick = values.quick === true;
  const floodOnly = values.flood === true;
  const sizes = floodOnly ? [] : (values.sizes ?? (quick ? '20M' : '100M,1G')).split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of sizes) parseSize(s);
  const runs = Number(values.runs ?? (quick ? 1 : 3));
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`bad --runs "${values.runs}"`);
  const peerList = floodOnly ? ['flood'] : (values.peers ?? 'all') === 'all' ? [...PEERS] : values.peers!.split(',').map((p) => p.trim());
  for (const p of peerList) if (!(PEERS as readonly string[]).includes(p)) throw new Error(`unknown peer "${p}" (known: ${PEERS.join(', ')})`);
  const flows = (values.flows ?? (quick ? '100000' : '100000,300000,1000000')).split(',').map((x) => Number(x.trim()));
  for (const n of flows) if (!Number.isInteger(n) || n < 1) throw new Error(`bad --flows "${values.flows}"`);
  flows.sort((a, b) => a - b);
  const out = values['no-write'] ? null : path.resolve(values.out ?? (quick ? path.join(REPO, 'bench/out/benchmarks-quick.md') : path.join(REPO, 'docs/benchmarks.md')));
  return {
    sizes,
    runs,
    peers: new Set(peerList as Peer[]),
    seed: Number(values.seed ?? 1),
    flows,
    floodOnly,
    floodRuns: Math.max(1, Number(values['flood-runs'] ?? 1) || 1),
    out,
    corpusDir: path.resolve(values['corpus-dir'] ?? path.join(REPO, 'bench/corpus')),
    corpora: corpora as BenchOptions['corpora'],
  };
}

export async function main(argv: string[]): Promise<void> {
  const o = parseOptions(argv);
  const started = Date.now();
  const machine = machineLine();
  const have: Record<string, boolean> = Object.fromEntries(PEERS.map((p) => [p, true]));
  const skipped: string[] = [];
  if (machine.tshark === null) {
    have.tshark = false;
    skipped.push('tshark (not installed)');
  }
  if (machine.tcpdump === null) {
    have.tcpdump = false;
    skipped.push('tcpdump (not installed)');
  }
  if (machine.suricata === null) {
    have.suricata = false;
    have['suricata-autofp'] = false;
    skipped.push(`suricata (not installed: ${SURICATA_INSTALL})`);
  }
  if (machine.pcapParser === null) {
    have['pcap-parser'] = false;
    skipped.push('pcap-parser (not installed: npm i -D pcap-parser)');
  }
  const multiFile = existsSync(path.join(REPO, 'src/pipeline/workers.ts')) && /worker_threads/.test(readFileSync(path.join(REPO, 'src/pipeline/workers.ts'), 'utf8'));
  build();
  mkdirSync(o.corpusDir, { recursive: true });
  const corpora: { name: string; info: CorpusInfo }[] = [];
  for (const s of o.sizes) {
    if (o.corpora.includes('mixed')) {
      const t = Date.now();
      const info = await ensureCorpus({ seed: o.seed, bytes: parseSize(s), base: path.join(o.corpusDir, `corpus-${s}-seed${o.seed}`), formats: ['pcap', 'pcapng', 'pcapng.gz'] });
      log(`corpus ${s}: ${info.frames} frames, ${info.rdpAttempts} RDP attempts (${((Date.now() - t) / 1000).toFixed(1)} s)`);
      corpora.push({ name: s, info });
    }
    for (const kind of ['session', 'storm'] as const) {
      if (!o.corpora.includes(kind)) continue;
      const t = Date.now();
      const info = await ensureRdpCorpus({ kind, seed: o.seed, bytes: parseSize(s), base: path.join(o.corpusDir, `${kind}-${s}-seed${o.seed}`), formats: ['pcap', 'pcapng', 'pcapng.gz'] });
      log(`${kind} corpus ${s}: ${info.frames} frames, ${Object.values(info.attempts).reduce((a, n) => a + n, 0)} attempts, ${info.sessions} sessions (${((Date.now() - t) / 1000).toFixed(1)} s)`);
      corpora.push({ name: `${kind}-${s}`, info: asCorpusInfo(info) });
    }
  }
  const floods: SynFloodInfo[] = [];
  if (o.peers.has('flood')) {
    for (const n of o.flows) {
      const t = Date.now();
      const flood = generateSynFlood({ seed: o.seed, flows: n, path: path.join(o.corpusDir, `synflood-${n}-seed${o.seed}.pcap`) });
      log(`SYN flood: ${flood.flows} half-open flows, ${flood.frames} frames (${((Date.now() - t) / 1000).toFixed(1)} s)`);
      floods.push(flood);
    }
  }
  const results: CaseResult[] = [];
  for (const c of corpora) {
    log(`measuring ${c.name} (${o.runs} runs, peers alternating)`);
    const cases = casesFor(c.name, c.info, o.peers, have);
    if (o.peers.has('warm')) cases.push(...warmCases(c.name, c.info, have));
    if (o.peers.has('multi') && c === corpora[corpora.length - 1]) cases.push(...multiCases(c.name, c.info));
    results.push(...(await measureAll(cases, o.runs, c.name)));
  }
  for (const flood of floods) {
    log(`measuring the SYN flood of ${flood.flows} flows`);
    results.push(...(await measureAll(floodCases(flood), o.floodRuns, 'flood')));
  }
  let profile: AnalyzeProfile | null = null;
  const largest = corpora[corpora.length - 1]?.info.files.find((f) => f.format === 'pcap');
  if (o.peers.has('profile') && largest) {
    log(`profiling analyze() on ${path.basename(largest.path)} (--cpu-prof, then --trace-opt --trace-deopt)`);
    try {
      profile = profileAnalyze(CHILD, largest.path, path.join(REPO, 'bench/out/prof'));
    } catch (e) {
      log(`  profile failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  machine.loadEnd = os.loadavg().map((x) => Math.round(x * 100) / 100);
  const report: RunReport = {
    date: new Date().toISOString(),
    command: `npx tsx bench/run.ts ${argv.join(' ')}`.trim(),
    options: { sizes: o.sizes, runs: o.runs, seed: o.seed, flows: o.flows, floodRuns: o.floodRuns, peers: [...o.peers] },
    machine,
    corpora,
    floods,
    results,
    profile: profile === null ? null : { ...profile, file: path.relative(REPO, profile.file) },
    skipped,
    multiFileWorkers: multiFile,
    tsharkCommand: `tshark -r FILE -Y '${TSHARK_FILTER}' -T fields ${TSHARK_FIELDS.map((f) => `-e ${f}`).join(' ')}`,
    tcpdumpCommand: `tcpdump -r FILE -w /dev/null '${TCPDUMP_FILTER}'`,
    suricataCommand: `suricata ${suricataArgs('suricata.yaml', 'DIR', 'FILE', 'single').join(' ')} (and --runmode autofp)`,
    elapsedS: Math.round((Date.now() - started) / 1000),
  };
  mkdirSync(path.join(REPO, 'bench/out'), { recursive: true });
  writeFileSync(path.join(REPO, 'bench/out/last-run.json'), JSON.stringify(report, null, 2) + '\n');
  if (o.floodOnly) {
    // The flood section alone, in place of the one in the benchmarks page (the rest of it stays).
    const section = renderFloodSection(report);
    if (o.out) {
      writeFileSync(o.out, spliceFloodSection(existsSync(o.out) ? readFileSync(o.out, 'utf8') : '', section));
      log(`wrote the SYN-flood section of ${path.relative(REPO, o.out)} (${report.elapsedS} s in all)`);
    } else process.stdout.write(section.join('\n') + '\n');
    return;
  }
  const md = renderReport(report);
  if (o.out) {
    mkdirSync(path.dirname(o.out), { recursive: true });
    // A hand-written "## Notes" section of the file written before is kept at its end (keptNotes).
    writeFileSync(o.out, md + (existsSync(o.out) ? keptNotes(readFileSync(o.out, 'utf8')) : ''));
    log(`wrote ${path.relative(REPO, o.out)} (${report.elapsedS} s in all)`);
  } else process.stdout.write(md);
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  main(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 2;
  });
}
