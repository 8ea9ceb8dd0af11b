// The analyze command's work, shared with `live`: read, analyse, render, write, exit code.
import type { CaptureSource } from '../capture/types.js';
import type { Report, ReportedConnection } from '../report/types.js';
import { statSync } from 'node:fs';
import { AnalyzeProgress, analyze } from '../pipeline.js';
import { startProgress, type ProgressDisplay } from './progress.js';
import { fullCollection } from './heap.js';
import { Narrowing, NarrowError, type NarrowSpec } from '../net/narrow.js';
import { reinterpretProbeCapture } from '../probe/index.js';
import { exportEvidence, spoolStdin } from '../report/evidence.js';
import { ndjsonStream } from '../report/ndjson.js';
import { batchedWriter, writeJson } from '../report/json.js';
import { writeText } from '../report/text.js';
import { writeHtml } from '../report/html.js';
import { writeMarkdown } from '../report/markdown.js';
import { FORMATS, FORMAT_NAMES, type RenderOptions, type Renderer } from './formats.js';
import { EXIT, UsageError } from './errors.js';
import { noteReportExitCode } from './terminal.js';
import { colorWanted } from './terminal.js';
import { fileSink, refuseOutputOntoInput, streamSink, type OutputSink } from './output.js';

export interface RunOptions {
  format: string;
  output?: string;
  ports: number[];
  /** undefined: colour when writing to a terminal. */
  color?: boolean;
  exportEvidence?: string;
  /** Files read at once (the main thread and worker threads); undefined: defaultJobs(). */
  jobs?: number;
  /** false: every file on its own, even the pieces of a file set (AnalyzeOptions.fileSets). */
  fileSets?: boolean;
  /** Text report: 'summary' (identical failures once, the default) or 'full'. */
  detail?: 'summary' | 'full';
  /** `--keylog` files, read. */
  keyLogs?: { name: string; text: string }[];
  /** `--tz`, resolved (resolveTimeZone): the zone of printed times in text, Markdown and HTML. */
  tz?: string;
  /** `--quiet`: no progress on stderr (src/cli/progress.ts), even on a terminal. */
  quiet?: boolean;
  /** `--host`, `--server`, `--from`, `--to`, `--filter` (src/net/narrow.ts), checked by narrowOf(). */
  narrow?: NarrowSpec;
}

/** The narrowing options, checked before anything is read (a wrong one is a usage error). */
export function narrowOf(spec: NarrowSpec): NarrowSpec | undefined {
  try {
    return new Narrowing(spec).active ? spec : undefined;
  } catch (e) {
    if (e instanceof NarrowError) throw new UsageError(e.message);
    throw e;
  }
}

/** The progress display of a run: on stderr when it is a terminal and not `--quiet` (src/cli/progress.ts). */
function progressOf(o: RunOptions, sources: CaptureSource[]): { progress: AnalyzeProgress | undefined; display: ProgressDisplay } {
  if (o.quiet === true || process.stderr.isTTY !== true) return { progress: undefined, display: { stop: () => undefined } };
  const progress = new AnalyzeProgress();
  let totalBytes = 0;
  for (const s of sources) {
    if (s.kind !== 'file') continue;
    try {
      totalBytes += statSync(s.path).size;
    } catch {
      // read errors are told by the reader
    }
  }
  return { progress, display: startProgress(progress, process.stderr, { totalBytes }) };
}

/** Checks the options that do not depend on the input (before anything is read). */
export function checkOptions(o: RunOptions): Renderer {
  if (!Object.hasOwn(FORMATS, o.format)) {
    throw new UsageError(`unknown format "${o.format}" (expected one of ${FORMAT_NAMES.join(', ')})`);
  }
  const r = FORMATS[o.format];
  if (!r) throw new UsageError(`format "${o.format}" is not yet available`);
  return r;
}

/** A capture-wide finding at least this confident fails a capture with no connection (exit 1). */
export const CAPTURE_FAILURE_CONFIDENCE = 0.5;

/**
 * 3 damaged input; 1 a connection failed, or no connection at all and a capture-wide finding (a
 * failed lookup for the server, say) of at least CAPTURE_FAILURE_CONFIDENCE, or no connection at
 * all but a scan or SYN flood whose TCP handshakes failed, or an RD Gateway's decrypted exchange
 * shows it refused the connection; else 0.
 */
export function exitCodeOf(report: Report): number {
  if (report.capture.damage.length > 0) return EXIT.DAMAGED;
  if (report.summary.failed > 0) return EXIT.FAILED;
  // A probe (or analyze of its capture): a likely finding fails it even when every step completed
  // (a certificate the probe accepted to read it, say).
  // A warning (the gateway's KDC proxy failing before a tunnel that opened, say) fails nothing.
  if (report.probe && report.captureFindings.some((f) => f.severity !== 'warning' && f.confidence >= CAPTURE_FAILURE_CONFIDENCE)) return EXIT.FAILED;
  if (report.summary.connections === 0 && report.captureFindings.some((f) => f.severity !== 'warning' && f.confidence >= CAPTURE_FAILURE_CONFIDENCE)) return EXIT.FAILED;
  // A capture that is nothing but a scan or a flood (issue 19): it failed when their handshakes did.
  if (report.summary.connections === 0 && report.probes.some((p) => p.kind !== 'health_check' && p.failedHandshakes > 0)) return EXIT.FAILED;
  // An RD Gateway that refused the connection, read from its decrypted exchange (diagnose/gateway.ts).
  if ((report.gateways ?? []).some((g) => g.refusal !== null)) return EXIT.FAILED;
  return EXIT.OK;
}

/** Where the report goes: streamed NDJSON lines as connections end, then the rendered report. */
export interface ReportOutput {
  /** For AnalyzeOptions.onConnection (ndjson only). */
  onConnection: ((c: ReportedConnection) => void) | undefined;
  /**
   * Writes the finished report (the summary line for ndjson) and closes the output: `-o FILE` is
   * renamed into place only now. Throws an OutputError (one line, exit 2) on any write error.
   */
  emit(report: Report): Promise<void>;
  /** After a failed run: removes the temporary file of `-o`, leaving an old FILE as it was. */
  abort(): void;
}

/**
 * Opens the output of a run (src/cli/output.ts): `-o FILE` through a temporary file in FILE's
 * folder, renamed over FILE when the report is complete; stdout with its write errors caught.
 */
export function openOutput(o: RunOptions, stdout: NodeJS.WritableStream): ReportOutput {
  const render = checkOptions(o);
  // ndjson writes as connections end: its sink is open from the start; the others at the end.
  let sink: OutputSink | null = o.format === 'ndjson' ? sinkOf(o, stdout) : null;
  const color = (): boolean =>
    o.color ?? (o.output === undefined && colorWanted((stdout as { isTTY?: boolean }).isTTY === true));
  const finish = async (write: (s: OutputSink) => void): Promise<void> => {
    sink ??= sinkOf(o, stdout);
    try {
      write(sink);
    } catch (e) {
      sink.abort();
      throw e;
    }
    await sink.close();
  };
  if (o.format === 'ndjson') {
    const ndjson = ndjsonStream((line) => sink!.write(line));
    return {
      onConnection: ndjson.onConnection,
      emit: (report) => finish(() => ndjson.finish(report)),
      abort: () => sink?.abort(),
    };
  }
  const stream = STREAMED[o.format];
  return {
    onConnection: undefined,
    emit: (report) =>
      finish((s) => {
        if (stream === undefined) {
          s.write(render(report, { color: color(), detail: o.detail, tz: o.tz }));
          return;
        }
        // Written piece by piece (a connection at a time): the same bytes as the format's renderer
        // without the whole text, or an escaped copy of the report, in memory.
        const out = batchedWriter((chunk) => s.write(chunk));
        stream(report, { color: color(), detail: o.detail, tz: o.tz }, out.write);
        out.flush();
      }),
    abort: () => sink?.abort(),
  };
}

function sinkOf(o: RunOptions, stdout: NodeJS.WritableStream): OutputSink {
  return o.output === undefined ? streamSink(stdout) : fileSink(o.output);
}

export async function runAnalysis(
  sources: CaptureSource[],
  o: RunOptions,
  stdout: NodeJS.WritableStream,
): Promise<number> {
  refuseOutputOntoInput(
    o.output,
    sources.flatMap((s) => (s.kind === 'file' ? [s.path] : [])),
  );
  const out = openOutput(o, stdout);
  // --export-evidence reads the inputs twice: stdin is spooled to a temp file first.
  const spool = o.exportEvidence !== undefined ? await spoolStdin(sources).catch((e: Error) => Promise.reject(new UsageError(e.message))) : null;
  const { progress, display } = progressOf(o, sources);
  try {
    const analysed = await analyze(spool ? spool.sources : sources, { rdpPorts: o.ports, onConnection: out.onConnection, jobs: o.jobs, fileSets: o.fileSets, keyLogs: o.keyLogs, progress, narrow: o.narrow, beforeDiagnosis: fullCollection() ?? undefined }).finally(() => display.stop());
    // A capture written by `probe --capture`: its connections are probe steps, told as the probe told them.
    const report = reinterpretProbeCapture(analysed) ?? analysed;
    if (spool && o.exportEvidence !== undefined) {
      const ev = await exportEvidence(report, spool.sources, o.exportEvidence, { keyLogs: o.keyLogs }).catch((e: Error) => Promise.reject(new UsageError(e.message)));
      spool.restore(report);
      report.warnings.push(...ev.warnings);
    }
    noteReportExitCode(exitCodeOf(report));
    await out.emit(report);
    return exitCodeOf(report);
  } catch (e) {
    out.abort();
    throw e;
  } finally {
    spool?.cleanup();
  }
}

/** Formats written piece by piece (writeJson, writeText, writeHtml, writeMarkdown in src/report/). */
const STREAMED: Readonly<Record<string, (report: Report, opts: RenderOptions, write: (piece: string) => void) => void>> = {
  json: (r, o, write) => writeJson(r, write, { detail: o.detail }),
  text: (r, o, write) => writeText(r, { color: o.color, detail: o.detail, tz: o.tz }, write),
  html: (r, o, write) => writeHtml(r, write, { tz: o.tz }),
  md: (r, o, write) => writeMarkdown(r, write, { tz: o.tz }),
};

/** `--port` values: integers 1..65535. */
export function parsePort(value: string, previous: number[] | undefined): number[] {
  const out = previous ?? [];
  for (const part of value.split(',')) {
    const n = Number(part);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`invalid port "${part}" (expected 1..65535)`);
    out.push(n);
  }
  return out;
}
