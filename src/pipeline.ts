// The whole analysis, one pass per file (design.md "Data flow"): capture reader -> packet decoders
// (one reusable DecodedPacket) -> flow table -> one handshake state machine per connection ->
// connection records -> diagnosis -> Report. Memory stays flat: a finished connection keeps only
// its record, and past MAX_RECORDS connections are counted per server instead of recorded.
//
// Each file is read by its own FileRun (its own flow table) into a FilePart: the records, the file's
// facts and its DNS log. Parts are merged in file order (connection and flow ids renumbered as one
// run would have numbered them) and the diagnosis runs once on the merged records, since the
// cross-connection rules need all of them. Several files run in worker threads, one per file, at
// most `jobs` at once; the same FileRun runs in a worker, in the main thread, or behind
// createAnalyzer() for frames pushed one by one (live capture).
//
// This module is analyze() and the names the rest of the tool uses; the work is in src/pipeline/:
// run.ts (FileRun: one file's frames to a FilePart; options, limits, progress), read.ts (a source read
// in this thread; the live push analyzer), workers.ts (worker threads, parts streamed in file order),
// sets.ts (file sets read as one capture), merge.ts (parts merged into the Report, the diagnosis).
import type { CaptureSource } from './capture/types.js';
import { planFileSets } from './capture/fileset.js';
import { type Report } from './report/types.js';
import { mergeParts } from './pipeline/merge.js';
import { filePart } from './pipeline/read.js';
import { analyzeWithSets } from './pipeline/sets.js';
import { StreamOrder, WorkerLane, WorkerUnavailable, defaultJobs } from './pipeline/workers.js';
import { type AnalyzeOptions, type FilePart, sourceBytes } from './pipeline/run.js';

// The parts of the analysis, each in its own module under src/pipeline/ (what they export that the rest of the tool uses).
export { TOOL_VERSION, MAX_RECORDS, MAX_BARE_RECORDS, MAX_DNS, MAX_GATEWAY_SIGHTINGS, STREAM_CONTEXT_SECONDS, type AnalyzeOptions, type ProgressSample, AnalyzeProgress, BOMB_RATIO, BOMB_MIN_BYTES, EMPTY_SHARE, BOMB_MIN_FRAMES, inflationWarnings, attributeMiddleboxResets } from './pipeline/run.js';
export { MAX_OTHER_PORTS_REPORTED, reported } from './pipeline/merge.js';
export { type Analyzer, createAnalyzer } from './pipeline/read.js';
export { defaultJobs } from './pipeline/workers.js';
export { SET_MAX_GAP } from './pipeline/sets.js';


/**
 * Analyses capture files, one pass each, and returns the report. Throws CaptureInputError when
 * a source is not a capture at all; damage inside a capture is reported (capture.damage), not thrown.
 * Several files are read in worker threads (AnalyzeOptions.jobs); the report is the same as one
 * thread's.
 */
export async function analyze(sources: CaptureSource[], opts: AnalyzeOptions = {}): Promise<Report> {
  const sets = opts.fileSets === false || sources.length < 2 ? [] : planFileSets(sources);
  if (sets.length > 0) return analyzeWithSets(sources, sets, opts);
  const n = sources.length;
  const jobs = Math.max(1, Math.floor(opts.jobs ?? defaultJobs()));
  const order = opts.onConnection ? new StreamOrder(n, opts.onConnection) : null;
  const parts: FilePart[] = new Array<FilePart>(n);
  const ended = (part: FilePart): void => {
    parts[part.fileIndex] = part;
    opts.progress?.partDone(part, sourceBytes(sources[part.fileIndex]));
    order?.done(part);
    opts.onFile?.({ fileIndex: part.fileIndex, file: part.name, threadId: part.threadId });
  };
  if (n <= 1 || jobs === 1) {
    for (let i = 0; i < n; i++) ended(await filePart(sources[i]!, i, opts, order?.sink(i) ?? null));
    return mergeParts(parts, opts);
  }
  const workerOpts = { rdpPorts: opts.rdpPorts, maxRecords: opts.maxRecords, byteBudget: opts.byteBudget, keyLogs: opts.keyLogs, narrow: opts.narrow };
  const one = async (i: number, lane: WorkerLane | null): Promise<void> => {
    const source = sources[i]!;
    let sink = order?.sink(i) ?? null;
    if (lane !== null && source.kind !== 'stdin') {
      try {
        ended(await lane.run({ source, fileIndex: i, opts: workerOpts, stream: sink !== null }, sink));
        return;
      } catch (e) {
        if (!(e instanceof WorkerUnavailable)) throw e;
        // Read again here; what the worker already streamed (the same connections, in the same order) is not sent twice.
        let skip = e.streamed;
        const pass = sink;
        if (pass && skip > 0) sink = (c) => (skip > 0 ? void skip-- : pass(c));
      }
    }
    ended(await filePart(source, i, opts, sink));
  };
  // `jobs` threads at most, the main thread one of them: it reads stdin (if given) and then takes files
  // from the same queue as the workers, in file order. A main thread that only waited for the workers
  // would leave a core's worth of thread idle while one more worker paid its own start-up and warm-up.
  const threads = Math.min(jobs, n);
  const lanes: (WorkerLane | null)[] = [null, ...Array.from({ length: threads - 1 }, () => new WorkerLane())];
  let next = 0;
  const drive = async (lane: WorkerLane | null): Promise<void> => {
    try {
      if (lane === null) for (let i = 0; i < n; i++) if (sources[i]!.kind === 'stdin') await one(i, null);
      while (next < n) {
        const i = next++;
        if (sources[i]!.kind !== 'stdin') await one(i, lane);
      }
    } finally {
      await lane?.close();
    }
  };
  await Promise.all(lanes.map(drive));
  return mergeParts(parts, opts);
}
