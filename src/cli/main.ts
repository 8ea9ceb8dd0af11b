#!/usr/bin/env node
// The `rdp-autopsy` command: analyze <capture...>, live -i <iface> and probe HOST[:PORT].
// Every error ends as ONE line on stderr and an exit code (README "Exit codes"); never a stack trace.
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import type { CaptureSource } from '../capture/types.js';
import { CaptureInputError } from '../capture/types.js';
import { captureFilesIn, expandGlob, isGlob } from '../capture/fileset.js';
import { EXIT, UsageError, oneLine } from './errors.js';
import { FORMAT_NAMES } from './formats.js';
import { JSON_FULL_LIMIT } from '../report/json.js';
import { resolveTimeZone } from '../report/time.js';
import { narrowOf, parsePort, runAnalysis } from './run.js';
import { runLive } from './live.js';
import { registerProbe } from './probe.js';
import { boundOldGenerationGrowth, keepYoungGenerationSmall } from './heap.js';
import { quietOnBrokenPipe } from './terminal.js';
import { defaultJobs } from '../pipeline.js';

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function positive(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`invalid ${name} "${v}" (expected a positive number)`);
    return n;
  };
}

/** `--jobs`: a whole number >= 1. */
function jobsOf(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`invalid jobs "${v}" (expected a whole number >= 1)`);
  return n;
}

/** Shown after every command's help (README "Exit codes"). */
export const EXIT_CODES_HELP = `
Exit codes:
  0  every connection completed (or none found, and nothing else failed)
  1  at least one connection failed, or none was found and a capture-wide failure
     (e.g. a failed name lookup for the server) is at least 50 % likely
  2  usage error or unreadable input
  3  input damaged (what could be read was analysed and reported)
`;

/**
 * The inputs named on the command line: files, "-" for stdin, a directory (its capture files, e.g.
 * a ring buffer's folder) and a glob the shell did not expand (quoted: 'ring/rdp_*.pcapng').
 */
export function sourcesOf(args: string[]): CaptureSource[] {
  let stdin = 0;
  return args.flatMap((a): CaptureSource[] => {
    if (a === '-') {
      if (++stdin > 1) throw new UsageError('"-" (stdin) can be given only once');
      return [{ kind: 'stdin' }];
    }
    let st;
    try {
      st = statSync(a);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' && isGlob(a)) {
        const files = expandGlob(a);
        if (files.length === 0) throw new UsageError(`${a}: no file matches`);
        return files.map((path) => ({ kind: 'file', path }));
      }
      throw new UsageError(`${a}: ${code === 'ENOENT' ? 'no such file' : `cannot read (${code ?? 'error'})`}`);
    }
    if (st.isDirectory()) {
      let files: string[];
      try {
        files = captureFilesIn(a);
      } catch (e) {
        throw new UsageError(`${a}: cannot list the directory (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      if (files.length === 0) throw new UsageError(`${a}: no capture files in the directory (.pcap, .pcapng, .cap, gzipped or numbered by tcpdump -C)`);
      return files.map((path) => ({ kind: 'file', path }));
    }
    return [{ kind: 'file', path: a }];
  });
}

/** `--tz`: UTC, local, or an IANA zone Intl knows (resolved to its IANA name). */
function tzOf(v: string): string {
  try {
    return resolveTimeZone(v);
  } catch {
    throw new UsageError(`invalid time zone "${v}" (expected UTC, local, or an IANA zone such as Europe/Berlin)`);
  }
}

/** A repeatable option's values. */
function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

/** `--detail`: summary or full. */
function detailOf(v: string): 'summary' | 'full' {
  if (v !== 'summary' && v !== 'full') throw new UsageError(`invalid detail "${v}" (expected summary or full)`);
  return v;
}

interface CommonOpts {
  detail?: 'summary' | 'full';
  tz?: string;
  format: string;
  output?: string;
  port?: number[];
  color: boolean;
  exportEvidence?: string;
  keylog?: string[];
}

/** `--keylog FILE` (repeatable): each file's text, read before the capture (a missing file is a usage error). */
function keyLogsOf(files: string[] | undefined): { name: string; text: string }[] | undefined {
  if (files === undefined || files.length === 0) return undefined;
  return files.map((f) => {
    try {
      return { name: f, text: readFileSync(f, 'latin1') };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UsageError(`--keylog ${f}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : `cannot read (${code ?? 'error'})`}`);
    }
  });
}

function addCommon(cmd: Command): Command {
  return cmd
    .addOption(new Option('--format <format>', `report format: ${FORMAT_NAMES.join('|')}`).default('text'))
    .option('-o, --output <file>', 'write the report to FILE')
    .option('--port <n>', 'an extra TCP/UDP port to treat as RDP (repeatable, or comma-separated)', parsePort)
    .option('--export-evidence <dir>', 'write a small pcapng per failed connection into DIR (each packet commented with its original frame number)')
    .option('--no-color', 'no ANSI colours in the text report')
    .option('--tz <zone>', 'time zone of the times printed in text, md and html: UTC (the default), local, or an IANA zone (Europe/Berlin); always labelled. JSON and NDJSON give ISO 8601 UTC', tzOf)
    .option('--detail <level>', `text report: summary (identical failures once, with their count; the default) or full (every attempt); json: summary (connections without timeline and flow counters) or full, by default full up to ${JSON_FULL_LIMIT} connections`, detailOf)
    .option('--keylog <file>', 'TLS key log (NSS format, as SSLKEYLOGFILE writes it) to decrypt RDP connections with (repeatable; a pcapng\'s Decryption Secrets Blocks are used too)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .addHelpText('after', EXIT_CODES_HELP);
}

/** Colour: off with --no-color, otherwise decided by the terminal. */
function colorOf(o: CommonOpts): boolean | undefined {
  return o.color === false ? false : undefined;
}

export async function main(argv: string[], stdout: NodeJS.WritableStream = process.stdout): Promise<number> {
  let code: number = EXIT.OK;
  const program = new Command();
  program
    .name('rdp-autopsy')
    .description('Tells, for every RDP connection attempt in a capture, where the handshake died and why.')
    .version(version(), '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => stdout.write(s),
      writeErr: (s) => process.stderr.write(s),
      outputError: (s, write) => write(`rdp-autopsy: ${oneLine(s)}\n`),
    })
    .showSuggestionAfterError(false)
    .addHelpText('after', EXIT_CODES_HELP);

  addCommon(
    program
      .command('analyze')
      .description('analyse capture files (pcap / pcapng, gzipped or not; "-" reads stdin)')
      .argument('<capture...>', 'capture files, directories of them (a ring buffer), quoted globs, or - for stdin')
      .option('--no-file-set', 'read every file on its own, even the pieces of a ring buffer or split capture')
      .option('--jobs <n>', `files read at once, in as many threads (default: one per two cores, ${defaultJobs()} here; 1 reads them one after the other)`, jobsOf)
      .option('-q, --quiet', 'no progress line on stderr (shown only when stderr is a terminal and the run takes over 2 s)')
      .option('--host <ip>', 'analyse only the frames to or from IP (repeatable; ICMP errors about them too)', collect)
      .option('--server <ip[:port]>', 'analyse only the frames to or from the server IP (on PORT) (repeatable)', collect)
      .option('--from <time>', 'analyse only the frames from TIME: ISO 8601 (UTC when no zone is given) or +10m / +90s / +1h30m after the first frame of the file')
      .option('--to <time>', 'analyse only the frames up to TIME (as --from)')
      .option('--filter <bpf>', 'analyse only the frames a BPF filter passes (host, net, port, portrange, src, dst, ip, ip6, tcp, udp, icmp, icmp6, and, or, not); frame numbers stay the capture\'s'),
  ).action(async (captures: string[], o: CommonOpts & { jobs?: number; fileSet: boolean; quiet?: boolean; host?: string[]; server?: string[]; from?: string; to?: string; filter?: string }) => {
    const narrow = narrowOf({ hosts: o.host, servers: o.server, from: o.from, to: o.to, filter: o.filter });
    code = await runAnalysis(
      sourcesOf(captures),
      { format: o.format, output: o.output, ports: o.port ?? [], color: colorOf(o), exportEvidence: o.exportEvidence, jobs: o.jobs, fileSets: o.fileSet, detail: o.detail, keyLogs: keyLogsOf(o.keylog), quiet: o.quiet === true, narrow, tz: o.tz },
      stdout,
    );
  });

  addCommon(
    program
      .command('live')
      .description('capture live (libpcap) and analyse on Ctrl-C, --duration or --count')
      .option('-i, --interface <iface>', 'network interface to capture on')
      .option('--duration <seconds>', 'stop after S seconds', positive('duration'))
      .option('--count <n>', 'stop after N packets', positive('count'))
      .option('--filter <bpf>', 'BPF capture filter (default: RDP ports over TCP and UDP, an RD Gateway\'s TCP 443 and UDP 3391, ICMP, ICMPv6, DNS)')
      .option('--write <file>', 'save the raw capture as pcap to FILE (the report refers to its frames)')
      .option('--ring <size_mb:files>', 'with --write: a ring of pcap files of SIZE_MB each, the last FILES kept (dumpcap names: FILE_00001_YYYYMMDDhhmmss.pcap)')
      .option('--sensor', 'run until stopped, reporting each attempt as it ends: a line per failure on stdout, a summary on SIGUSR1 and at the end')
      .option('--ndjson <file>', '(--sensor) append an ECS event per connection to FILE ("-": stdout instead of the lines)')
      .option('--ring-memory <mb>', '(--sensor) megabytes of recent packets kept in memory to write evidence as failures end (default 64)', positive('ring-memory'))
      .option('--list', 'list the interfaces and exit')
      .option('--host <ip>', 'analyse only the captured frames to or from IP (repeatable; ICMP errors about them too; --write keeps every captured frame)', collect)
      .option('--server <ip[:port]>', 'analyse only the captured frames to or from the server IP (on PORT) (repeatable)', collect)
      .option('--from <time>', 'analyse only the frames from TIME: ISO 8601 (UTC when no zone is given) or +10m after the first frame')
      .option('--to <time>', 'analyse only the frames up to TIME (as --from)'),
  ).action(
    async (
      o: CommonOpts & {
        interface?: string;
        duration?: number;
        count?: number;
        filter?: string;
        write?: string;
        list?: boolean;
        ring?: string;
        sensor?: boolean;
        ndjson?: string;
        ringMemory?: number;
        host?: string[];
        server?: string[];
        from?: string;
        to?: string;
      },
    ) => {
      const narrow = narrowOf({ hosts: o.host, servers: o.server, from: o.from, to: o.to });
      code = await runLive(
        {
          iface: o.interface,
          duration: o.duration,
          count: o.count,
          filter: o.filter,
          write: o.write,
          list: o.list === true,
          ring: o.ring,
          sensor: o.sensor === true,
          ndjson: o.ndjson,
          ringMemory: o.ringMemory,
          format: o.format,
          output: o.output,
          ports: o.port ?? [],
          color: colorOf(o),
          exportEvidence: o.exportEvidence,
          detail: o.detail,
          keyLogs: keyLogsOf(o.keylog),
          tz: o.tz,
          narrow,
        },
        stdout,
      );
    },
  );

  registerProbe(program, stdout, EXIT_CODES_HELP, (c) => {
    code = c;
  });

  try {
    if (argv.length <= 2) {
      program.outputHelp();
      return EXIT.USAGE;
    }
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help / --version exit 0; every other commander error is a usage error (already printed).
      return e.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (e instanceof UsageError || e instanceof CaptureInputError) {
      process.stderr.write(`rdp-autopsy: ${oneLine(e.message)}\n`);
      return EXIT.USAGE;
    }
    process.stderr.write(`rdp-autopsy: internal error: ${oneLine(e instanceof Error ? e.message : String(e))}\n`);
    return EXIT.USAGE;
  }
}

function isEntryPoint(): boolean {
  const arg = process.argv[1];
  if (!arg) return false;
  try {
    return realpathSync(arg) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  keepYoungGenerationSmall();
  boundOldGenerationGrowth();
  const writeFailed = (message: string): void => {
    try {
      process.stderr.write(`rdp-autopsy: ${oneLine(message)}\n`);
    } catch {
      // stderr itself is gone: the exit code still tells
    }
    process.exit(EXIT.USAGE);
  };
  quietOnBrokenPipe(process.stdout, 'stdout', writeFailed);
  quietOnBrokenPipe(process.stderr, 'stderr', () => process.exit(EXIT.USAGE));
  main(process.argv).then(
    (c) => {
      process.exitCode = c;
    },
    (e: unknown) => {
      process.stderr.write(`rdp-autopsy: internal error: ${oneLine(e instanceof Error ? e.message : String(e))}\n`);
      process.exitCode = EXIT.USAGE;
    },
  );
}
