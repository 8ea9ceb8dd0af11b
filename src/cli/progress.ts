// Progress on stderr for a long analysis (issue 17, "Large captures"): when stderr is a terminal
// and the run has gone on for PROGRESS_AFTER_MS, one line rewritten in place every
// PROGRESS_EVERY_MS: bytes read of the files' size (with the share), frames, connections so far and
// the read rate. Nothing otherwise (a pipe, a file, `--quiet`). It is drawn from a timer that samples
// the run's counters (AnalyzeProgress): nothing is done per packet for it. The line is erased when
// the run ends, so the report (on stdout, or a terminal shared with stderr) starts on a clean line.
import type { AnalyzeProgress, ProgressSample } from '../pipeline.js';

/** A run shorter than this shows no progress at all. */
export const PROGRESS_AFTER_MS = 2000;
/** The line is redrawn this often. */
export const PROGRESS_EVERY_MS = 250;

/** 1 234 567 -> "1.2 MB" (decimal units, as file managers and `ls -h --si` show sizes). */
export function bytesText(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${n} B` : `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

/** 1234567 -> "1,234,567". */
function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** "read 512 MB of 2.0 GB (25 %), 1,234,567 frames, 42 connections, 180 MB/s" */
export function progressLine(s: ProgressSample, totalBytes: number, seconds: number): string {
  const share = totalBytes > 0 ? ` of ${bytesText(totalBytes)} (${Math.min(100, Math.floor((100 * s.bytes) / totalBytes))} %)` : '';
  const rate = seconds > 0 ? `, ${bytesText(s.bytes / seconds)}/s` : '';
  return `read ${bytesText(s.bytes)}${share}, ${count(s.frames)} frame${s.frames === 1 ? '' : 's'}, ${count(s.connections)} connection${s.connections === 1 ? '' : 's'}${rate}`;
}

export interface ProgressDisplay {
  /** Stops the timer and erases the line if one was drawn. */
  stop(): void;
}

export interface ProgressOptions {
  /** Sum of the input files' sizes (0: unknown, e.g. stdin). */
  totalBytes: number;
  /** Default PROGRESS_AFTER_MS; RDP_AUTOPSY_PROGRESS_AFTER_MS in the environment sets it (for tests). */
  afterMs?: number;
  everyMs?: number;
  now?: () => number;
}

/**
 * Starts the display on `stream` when it is a terminal; otherwise a display that does nothing.
 * The timer is unref'd: it never keeps the process alive.
 */
export function startProgress(progress: AnalyzeProgress, stream: NodeJS.WriteStream, o: ProgressOptions): ProgressDisplay {
  if (stream.isTTY !== true) return { stop: () => undefined };
  const now = o.now ?? Date.now;
  const envAfter = Number(process.env.RDP_AUTOPSY_PROGRESS_AFTER_MS);
  const after = o.afterMs ?? (process.env.RDP_AUTOPSY_PROGRESS_AFTER_MS !== undefined && Number.isFinite(envAfter) && envAfter >= 0 ? envAfter : PROGRESS_AFTER_MS);
  const every = o.everyMs ?? PROGRESS_EVERY_MS;
  const start = now();
  let drawn = false;
  let stopped = false;
  const draw = (): void => {
    if (stopped) return;
    const elapsed = now() - start;
    if (elapsed < after) return;
    const line = progressLine(progress.sample(), o.totalBytes, elapsed / 1000);
    const width = stream.columns !== undefined && stream.columns > 1 ? stream.columns - 1 : 0;
    try {
      // \r and "erase to the end of the line" (ECMA-48 EL): the line is rewritten in place.
      stream.write(`\r${width > 0 ? line.slice(0, width) : line}\x1b[K`);
      drawn = true;
    } catch {
      stopped = true;
    }
  };
  const timer = setInterval(draw, every);
  timer.unref();
  return {
    stop(): void {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      if (drawn) {
        try {
          stream.write('\r\x1b[K');
        } catch {
          // stderr is gone: nothing to erase
        }
      }
    },
  };
}
