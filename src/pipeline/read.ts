// Reading a source into a FilePart in this thread (a second pass when a DSB came after its
// sessions), and the push analyzer of a live capture.
import { threadId } from 'node:worker_threads';
import type { CaptureFileInfo, CaptureSource, FrameView } from '../capture/types.js';
import { KeyLog } from '../rdp/keylog.js';
import { readCapture, sourceName } from '../capture/index.js';
import { type Report, type ReportedConnection } from '../report/types.js';
import { mergeParts } from './merge.js';
import { type AnalyzeOptions, type FilePart, FileRun } from './run.js';


/** The push-based analyzer of one source (a live capture): frames one by one, then the report. */
export interface Analyzer {
  /** One frame (the view is reused by the caller; nothing of it is kept). */
  push(v: FrameView): void;
  /** Ends the source (open connections end at its last frame) and returns the report. */
  finish(info: CaptureFileInfo): Report;
  /** The TLS secrets the analysis decrypts with (key logs, followed as they grow): for a live sensor's evidence DSBs. */
  readonly keys: KeyLog;
}

/**
 * The per-file body of analyze(), fed frame by frame: what analyze() does for one file, for a
 * source that is not a file (libpcap). `name` is what the report calls the source (the file a live
 * capture is saved to, or e.g. "live:lo"). `onConnection` streams connections as they end.
 */
export function createAnalyzer(opts: AnalyzeOptions & { name: string }): Analyzer {
  const run = new FileRun(opts, opts.name, 0, opts.onConnection ?? null);
  let done = false;
  return {
    push: run.onFrame,
    keys: run.keyStore,
    finish(info: CaptureFileInfo): Report {
      if (done) throw new Error('createAnalyzer: finish() was already called');
      done = true;
      const part = run.finish(info);
      opts.onFile?.({ fileIndex: 0, file: opts.name, threadId });
      return mergeParts([part], opts);
    },
  };
}

/** Reads one source in this thread. */
export async function filePart(
  source: CaptureSource,
  fileIndex: number,
  opts: AnalyzeOptions,
  onConnection: ((c: ReportedConnection) => void) | null,
): Promise<FilePart> {
  const run = new FileRun(opts, sourceName(source), fileIndex, onConnection);
  opts.progress?.begin(run);
  const info = await readCapture(source, fileIndex, run, { position: run.position });
  const part = run.finish(info);
  opts.progress?.end(run, part);
  // A Decryption Secrets Block after the packets of the sessions it holds keys for (pcapng 4.7 asks
  // writers to put it before them; not every tool does): a second pass over the file with every
  // DSB's keys known from the start. Memory stays bounded (the file is streamed again, only the DSBs'
  // text is held); the cost is paid only by such files. A stream (stdin) or streamed output cannot be
  // read twice: the report then says which sessions went undecrypted and why.
  const late = run.keyedTooLate(part);
  if (late === 0) return part;
  const what = `a Decryption Secrets Block came after the packets of ${late} TLS session${late === 1 ? '' : 's'} not decrypted`;
  if (source.kind === 'stdin' || onConnection !== null) {
    part.keyLog?.problems.push(`${what}; ${source.kind === 'stdin' ? 'standard input' : 'streamed output'} is read once, so ${late === 1 ? 'it stays' : 'they stay'} undecrypted (give the file, or the keys with --keylog)`);
    return part;
  }
  const again = new FileRun({ ...opts, keyLogs: [...(opts.keyLogs ?? []), ...run.dsbTexts] }, sourceName(source), fileIndex, null);
  const second = again.finish(await readCapture(source, fileIndex, again));
  second.keyLog?.problems.push(`${what}: the file was read a second time with its keys`);
  return second;
}
