// Where a report (or any file the command writes for the user) goes, and how writing it can fail,
// without ever destroying or half-writing a file (issue 19):
// - `-o FILE` that is one of the inputs (same device and inode, through links) is refused before
//   anything is read or written (refuseOutputOntoInput);
// - a report for a regular file is written to a temporary file in the same folder and renamed over
//   FILE only when complete (rename(2) replaces atomically within a file system), so a failed run
//   leaves the old FILE as it was; devices and FIFOs (/dev/null, /dev/full, a named pipe) are
//   written in place, as they cannot be replaced;
// - every write error on any output (ENOSPC, EPIPE, EIO, ...) ends as the same one line,
//   "cannot write WHERE: CODE (what it means)", exit 2 (OutputError), never a stack trace.
import { closeSync, fdatasyncSync, fstatSync, openSync, renameSync, statSync, unlinkSync, writeSync, type Stats } from 'node:fs';
import path from 'node:path';
import { UsageError } from './errors.js';

/** A write (or open, rename) of an output failed: one line, exit 2. */
export class OutputError extends UsageError {
  constructor(
    readonly where: string,
    readonly code: string,
  ) {
    super(`cannot write ${where}: ${code}${MEANING[code] ? ` (${MEANING[code]})` : ''}`);
    this.name = 'OutputError';
  }
}

const MEANING: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on device',
  EPIPE: 'the reader of the output went away',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  EIO: 'input/output error',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOENT: 'no such folder',
  ENOTDIR: 'a part of the path is not a folder',
  EISDIR: 'is a directory',
  EEXIST: 'already exists',
  ERR_STREAM_DESTROYED: 'the output was closed',
};

/** The OutputError for an error thrown or emitted while writing `where`. */
export function outputError(where: string, e: unknown): OutputError {
  if (e instanceof OutputError) return e;
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return new OutputError(where, code ?? (e instanceof Error ? e.message : String(e)));
}

/** Device and inode of `p` through links, or null when it does not exist (or cannot be stat'ed). */
function identity(p: string): Stats | null {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

/**
 * Throws a UsageError (exit 2) when `output` is the same file as one of `inputs` (same device and
 * inode, through hard and symbolic links), or names the same path when neither exists yet.
 * Devices that are not regular files (/dev/null, a terminal) are not inputs a report could destroy.
 */
export function refuseOutputOntoInput(output: string | undefined, inputs: readonly string[], option = '-o'): void {
  if (output === undefined) return;
  const out = identity(output);
  for (const input of inputs) {
    const inp = identity(input);
    const same =
      out !== null && inp !== null
        ? out.dev === inp.dev && out.ino === inp.ino && (out.isFile() || out.isFIFO())
        : path.resolve(output) === path.resolve(input);
    if (same) throw new UsageError(`${option} ${output} is the input ${input}: refusing to overwrite a capture with its report`);
  }
}

/** A sink for report text: write pieces, then close (commits) or abort (leaves nothing behind). */
export interface OutputSink {
  write(text: string): void;
  /** Writes what is pending and checks for errors; a file is renamed into place. Throws OutputError. */
  close(): Promise<void>;
  /** After a failure: removes a temporary file, never touches the destination. */
  abort(): void;
}

/**
 * A report file: a temporary file next to `dest` (created exclusively, so no planted link is
 * followed), renamed over `dest` by close(). A `dest` that exists and is not a regular file (a
 * device, a FIFO) is written in place. The first write error is kept; later writes are dropped and
 * close() throws it, after removing the temporary file.
 */
export function fileSink(dest: string): OutputSink {
  const st = identity(dest);
  const inPlace = st !== null && !st.isFile();
  let tmp: string | null = null;
  let fd: number;
  try {
    if (inPlace) {
      fd = openSync(dest, 'w');
    } else {
      const dir = path.dirname(dest);
      const base = path.basename(dest);
      for (let i = 0; ; i++) {
        const name = path.join(dir, `.${base}.${process.pid}-${i}.tmp`);
        try {
          fd = openSync(name, 'wx', st !== null ? st.mode & 0o777 : 0o666);
          tmp = name;
          break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || i >= 100) throw e;
        }
      }
    }
  } catch (e) {
    throw outputError(dest, e);
  }
  let failed: unknown = null;
  let open = true;
  const release = (): void => {
    if (!open) return;
    open = false;
    try {
      closeSync(fd);
    } catch (e) {
      failed ??= e;
    }
  };
  const removeTmp = (): void => {
    if (tmp === null) return;
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
    tmp = null;
  };
  return {
    write(text: string): void {
      if (failed !== null || !open) return;
      try {
        writeAll(fd, text);
      } catch (e) {
        failed = e;
      }
    },
    async close(): Promise<void> {
      if (failed === null && open && !inPlace) {
        try {
          // Regular files only: the report is on disk before it replaces the old one.
          if (fstatSync(fd).isFile()) fdatasyncQuiet(fd);
        } catch (e) {
          failed = e;
        }
      }
      release();
      if (failed !== null) {
        removeTmp();
        throw outputError(dest, failed);
      }
      if (tmp !== null) {
        try {
          renameSync(tmp, dest);
        } catch (e) {
          removeTmp();
          throw outputError(dest, e);
        }
        tmp = null;
      }
    },
    abort(): void {
      release();
      removeTmp();
    },
  };
}

/** fdatasync, where the file system has it (EINVAL on some that do not: nothing to wait for). */
function fdatasyncQuiet(fd: number): void {
  try {
    fdatasyncSync(fd);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL' && (e as NodeJS.ErrnoException).code !== 'ENOTSUP') throw e;
  }
}

/**
 * A stream (stdout): its 'error' events (EPIPE, ENOSPC on a SyncWriteStream) are caught and kept
 * instead of crashing the process; later writes are dropped, close() waits for what was written
 * and throws the first error as an OutputError naming `where`.
 */
export function streamSink(stream: NodeJS.WritableStream, where = 'stdout'): OutputSink {
  let failed: unknown = null;
  const onError = (e: unknown): void => {
    failed ??= e;
  };
  stream.on('error', onError);
  return {
    write(text: string): void {
      if (failed !== null) return;
      try {
        stream.write(text);
      } catch (e) {
        failed ??= e;
      }
    },
    async close(): Promise<void> {
      if (failed === null) {
        // The callback of an empty write comes after every earlier write (or with their error).
        await new Promise<void>((resolve) => {
          try {
            stream.write('', (e?: Error | null) => {
              if (e) failed ??= e;
              resolve();
            });
          } catch (e) {
            failed ??= e;
            resolve();
          }
        });
        // An 'error' event is emitted on the next tick after the failed write's callback.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      stream.off('error', onError);
      // Keep a listener: an error emitted later (the pipe closed meanwhile) must not crash the process.
      if (failed !== null) stream.on('error', () => undefined);
      if (failed === null) return;
      // A reader that quit early (`| head`, `| less`) is no error worth a word (issue 17's Unix
      // manners): the report was cut by the reader's choice. Other errors (ENOSPC on a redirected
      // stdout, EIO) are one line with exit 2.
      const code = (failed as NodeJS.ErrnoException).code;
      if (code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED') return;
      throw outputError(where, failed);
    },
    abort(): void {
      // A stream cannot be taken back.
    },
  };
}

/** Writes all of `text` to `fd` (a write may take only part of it). */
export function writeAll(fd: number, text: string | Uint8Array): void {
  const b = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  for (let off = 0; off < b.length; ) off += writeSync(fd, b, off, b.length - off);
}
