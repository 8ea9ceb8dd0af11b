// File sets (ring buffers, split captures) read as one capture: pieces in order, frames numbered on.
import type { CaptureFileInfo, CaptureSource } from '../capture/types.js';
import { readCapture } from '../capture/index.js';
import { type PlannedSet } from '../capture/fileset.js';
import { type FileSetSummary, type Report, type ReportedConnection } from '../report/types.js';
import { filePart } from './read.js';
import { type AnalyzeOptions, type FilePart, FileRun, shiftId } from './run.js';
import { durationText, mergeParts, round3 } from './merge.js';


/**
 * Pieces of a set that overlap by more than this (seconds) are not consecutive: separate captures
 * (one capture process writes its pieces one after the other; a few ms covers the timestamps of
 * several interfaces merged slightly out of order).
 */
export const SET_OVERLAP_TOLERANCE = 0.05;
/** Pieces further apart than this (seconds) are read as separate captures (another day, another run). */
export const SET_MAX_GAP = 3600;

/**
 * analyze() with file sets: every input in the order given, a set read where its first piece was
 * given, its pieces in time order through one FileRun. In this thread, one unit after the other (a
 * set's pieces cannot be read apart; the default on 2 cores is one thread anyway).
 */
export async function analyzeWithSets(sources: CaptureSource[], sets: PlannedSet[], opts: AnalyzeOptions): Promise<Report> {
  const setOf = new Map<number, PlannedSet>();
  for (const s of sets) for (const m of s.members) setOf.set(m.index, s);
  const parts: FilePart[] = [];
  const notes: string[] = [];
  let idOffset = 0;
  let flowOffset = 0;
  /** Streamed connections get the ids the final report gives them (the parts before are done). */
  const sink = (): ((c: ReportedConnection) => void) | null => {
    const out = opts.onConnection;
    if (!out) return null;
    const [ids, flows] = [idOffset, flowOffset];
    return ids === 0 && flows === 0 ? out : (c) => out({ ...c, id: shiftId(c.id, ids), flow: { ...c.flow, id: c.flow.id + flows } });
  };
  const done = (part: FilePart): void => {
    parts.push(part);
    idOffset += part.idsUsed;
    flowOffset += part.stats.flowsTracked;
    for (const f of part.files) opts.onFile?.({ fileIndex: f.fileIndex, file: f.summary.file, threadId: part.threadId });
  };
  for (let i = 0; i < sources.length; i++) {
    const set = setOf.get(i);
    if (set === undefined) {
      done(await filePart(sources[i]!, i, opts, sink()));
      continue;
    }
    if (Math.min(...set.members.map((m) => m.index)) !== i) continue;
    await readSet(set, sources, opts, sink, done, notes);
  }
  const report = mergeParts(parts, opts);
  report.warnings.push(...notes);
  return report;
}

/** A planned set's pieces in time order; a piece that overlaps the one before or comes too long after it starts a new capture. */
export async function readSet(
  set: PlannedSet,
  sources: CaptureSource[],
  opts: AnalyzeOptions,
  sink: () => ((c: ReportedConnection) => void) | null,
  done: (part: FilePart) => void,
  notes: string[],
): Promise<void> {
  const name = (k: number): string => set.members[k]!.path;
  let run: FileRun | null = null;
  let prev: CaptureFileInfo | null = null;
  let gaps: FileSetSummary['gaps'] = [];
  const meta = (): Omit<FileSetSummary, 'files' | 'firstFrames'> => ({ reordered: set.reordered, gaps });
  const end = (r: FileRun, info: CaptureFileInfo): void => {
    const part = r.finish(info, meta());
    opts.progress?.end(r, part);
    done(part);
  };
  for (let k = 0; k < set.members.length; k++) {
    const m = set.members[k]!;
    const missing = set.missing.find((x) => x.after === k - 1);
    if (run !== null && prev !== null) {
      const prevEnd = Math.max(prev.end ?? -Infinity, run.lastRecordTime);
      // An empty piece (no record) has the next piece's time: it neither overlaps nor starts late.
      const seconds = m.empty ? 0 : m.firstTime - prevEnd;
      if (seconds < -SET_OVERLAP_TOLERANCE || seconds > SET_MAX_GAP) {
        notes.push(
          seconds < 0
            ? `${m.path} overlaps ${name(k - 1)} in time (it starts ${durationText(-seconds)} before the other ends): read as a separate capture, not as the next piece of a file set`
            : `${m.path} starts ${durationText(seconds)} after ${name(k - 1)} ends: read as a separate capture, not as the next piece of a file set`,
        );
        end(run, prev);
        run = null;
        gaps = [];
      } else {
        run.endPiece(prev, { fileIndex: m.index, name: m.path });
        gaps.push({ after: set.members[k - 1]!.index, before: m.index, seconds: Math.max(0, round3(seconds)), missing: missing?.seqs ?? [] });
      }
    }
    if (missing) {
      const which = missing.count === 1 ? `piece ${missing.seqs[0]} is` : `${missing.count} pieces (${missing.seqs.join(', ')}${missing.count > missing.seqs.length ? ', ...' : ''}) are`;
      notes.push(`file set: ${which} missing between ${name(k - 1)} and ${m.path} (by the numbers in their names): connections across that gap lack their packets`);
    }
    run ??= new FileRun(opts, m.path, m.index, sink());
    opts.progress?.begin(run);
    prev = await readCapture(sources[m.index]!, m.index, run, { position: run.position });
  }
  if (run !== null && prev !== null) end(run, prev);
}
