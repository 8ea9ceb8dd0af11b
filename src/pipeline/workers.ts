// Several files in worker threads, one per file, at most `jobs` at once; parts streamed in file order.
import { availableParallelism } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { workerEntry } from '../worker-entry.js';
import type { CaptureSource } from '../capture/types.js';
import { CaptureInputError } from '../capture/types.js';
import { sourceName } from '../capture/index.js';
import { type NarrowSpec } from '../net/narrow.js';
import { type ReportedConnection } from '../report/types.js';
import { filePart } from './read.js';
import { type FilePart, shiftId } from './run.js';


// ---------------------------------------------------------------- workers

/** workerData of our worker threads (the marker keeps other workers' data apart). */
export interface WorkerMarker {
  rdpAutopsyPart: 1;
}

/** One file for a worker to read. */
export interface PartJob {
  source: CaptureSource;
  fileIndex: number;
  opts: { rdpPorts?: number[]; maxRecords?: number; byteBudget?: number; keyLogs?: { name: string; text: string }[]; narrow?: NarrowSpec };
  stream: boolean;
}

export type WorkerMessage =
  | { type: 'connection'; c: ReportedConnection }
  | { type: 'part'; part: FilePart }
  | { type: 'error'; input: boolean; message: string; file: string };

/** A worker that could not load or died: the file is read again in this thread. */
export class WorkerUnavailable extends Error {
  constructor(
    message: string,
    /** Connections the worker streamed before it failed (not sent twice). */
    readonly streamed: number,
  ) {
    super(message);
  }
}

/**
 * One worker thread reading files one after the other (a thread per file at a time, without paying
 * the thread's start-up for every small file). Jobs are posted as messages; the worker answers with
 * streamed connections, then the part (or an error).
 */
export class WorkerLane {
  private worker: Worker | null = null;
  /** Set when the worker failed: later files of this lane are read in the main thread. */
  broken = false;
  private current: {
    resolve: (p: FilePart) => void;
    reject: (e: Error) => void;
    onConnection: ((c: ReportedConnection) => void) | null;
    streamed: number;
  } | null = null;

  run(job: PartJob, onConnection: ((c: ReportedConnection) => void) | null): Promise<FilePart> {
    if (this.broken) return Promise.reject(new WorkerUnavailable('worker unavailable', 0));
    if (this.worker === null) {
      const how = workerEntry(import.meta.url);
      if (how === null) {
        this.broken = true;
        return Promise.reject(new WorkerUnavailable('no worker entry', 0));
      }
      const w = new Worker(how.entry, { eval: how.eval, workerData: { rdpAutopsyPart: 1 } satisfies WorkerMarker, stdout: false, stderr: false });
      w.on('message', (m: WorkerMessage) => {
        const cur = this.current;
        if (!cur) return;
        if (m.type === 'connection') {
          cur.streamed++;
          cur.onConnection?.(m.c);
          return;
        }
        this.current = null;
        if (m.type === 'part') cur.resolve(m.part);
        else cur.reject(m.input ? new CaptureInputError(m.message, m.file) : new Error(m.message));
      });
      const fail = (why: string): void => {
        this.broken = true;
        this.worker = null;
        const cur = this.current;
        this.current = null;
        cur?.reject(new WorkerUnavailable(why, cur.streamed));
      };
      w.on('error', (e) => fail(e.message));
      w.on('exit', (code) => fail(`worker exited with code ${code}`));
      this.worker = w;
    }
    const w = this.worker;
    return new Promise((resolve, reject) => {
      this.current = { resolve, reject, onConnection, streamed: 0 };
      w.postMessage(job);
    });
  }

  /** Ends the thread (its exit is no failure any more). */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    this.broken = true;
    if (w) {
      w.removeAllListeners('exit');
      w.removeAllListeners('error');
      await w.terminate();
    }
  }
}

/** The worker's side: read each file posted, post streamed connections and the part. */
export async function runPartJob(job: PartJob): Promise<void> {
  const port = parentPort!;
  let source = job.source;
  // A Buffer arrives as a Uint8Array (structured clone).
  if (source.kind === 'buffer') source = { ...source, data: Buffer.from(source.data.buffer, source.data.byteOffset, source.data.byteLength) };
  try {
    const part = await filePart(source, job.fileIndex, job.opts, job.stream ? (c) => port.postMessage({ type: 'connection', c } satisfies WorkerMessage) : null);
    port.postMessage({ type: 'part', part } satisfies WorkerMessage);
  } catch (e) {
    const input = e instanceof CaptureInputError;
    port.postMessage({
      type: 'error',
      input,
      message: e instanceof Error ? e.message : String(e),
      file: input ? e.file : sourceName(source),
    } satisfies WorkerMessage);
  }
}

if (!isMainThread && (workerData as Partial<WorkerMarker> | null)?.rdpAutopsyPart === 1) {
  // Jobs one at a time (the main thread posts the next one after the answer).
  parentPort!.on('message', (job: PartJob) => void runPartJob(job));
}

/**
 * Streamed connections of several files in order of their ids: a file's connections are renumbered
 * (and passed on) once every earlier file has ended, so ids match the final report's.
 */
export class StreamOrder {
  /** Per file: [connection id offset, flow id offset], null until every earlier file has ended. */
  private readonly offsets: ([number, number] | null)[];
  private readonly held: ReportedConnection[][];
  private readonly parts: (FilePart | null)[];

  constructor(
    n: number,
    private readonly out: (c: ReportedConnection) => void,
  ) {
    this.offsets = new Array<[number, number] | null>(n).fill(null);
    this.offsets[0] = [0, 0];
    this.held = Array.from({ length: n }, () => []);
    this.parts = new Array<FilePart | null>(n).fill(null);
  }

  sink(fileIndex: number): (c: ReportedConnection) => void {
    return (c) => {
      const off = this.offsets[fileIndex];
      if (off) this.emit(c, off);
      else this.held[fileIndex]!.push(c);
    };
  }

  private emit(c: ReportedConnection, [ids, flows]: [number, number]): void {
    this.out(ids === 0 && flows === 0 ? c : { ...c, id: shiftId(c.id, ids), flow: { ...c.flow, id: c.flow.id + flows } });
  }

  /** A file ended: the next files whose predecessors have all ended pass on what they held. */
  done(part: FilePart): void {
    this.parts[part.fileIndex] = part;
    for (let i = 0; i + 1 < this.offsets.length; i++) {
      const p = this.parts[i];
      const off = this.offsets[i];
      if (!p || !off || this.offsets[i + 1] !== null) continue;
      const next: [number, number] = [off[0] + p.idsUsed, off[1] + p.stats.flowsTracked];
      this.offsets[i + 1] = next;
      for (const c of this.held[i + 1]!) this.emit(c, next);
      this.held[i + 1] = [];
    }
  }
}

/**
 * Files analysed at once by default: one per two cores (at least one). One file keeps ~1.4 cores busy
 * (its thread, plus V8's optimising compiler and concurrent marking on another core), and every thread
 * pays its own JIT warm-up, so on 2 cores two files in two threads took longer than one thread reading
 * both (1 GB pcap + 1 GB pcapng: 2.8 s against 2.5 s; docs/architecture.md, "Several files").
 */
export function defaultJobs(cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / 2));
}
