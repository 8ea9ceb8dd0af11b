// Capture sources: a file (read into one reused chunk buffer, zero-copy views), stdin or any Readable,
// an in-memory buffer; each through gunzip when its first bytes are the gzip magic 1f 8b (RFC 1952 2.3.1).

import { open, type FileHandle } from 'node:fs/promises';
import { readSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { inflateInThread } from './gunzip-thread.js';
import { createCheckedGunzip, type CheckedGunzip } from './gzip.js';
import { CaptureParser } from './parser.js';
import { CaptureInputError, type CaptureFileInfo, type CaptureSink, type CaptureSource } from './types.js';

export const DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024;
/** Bytes per read of a gzipped file (inflating, not reading, is the bottleneck there). */
const GZIP_READ_SIZE = 1024 * 1024;

/** Ends the gunzip pipeline once the parser stopped (damage): not an error of the input. */
const STOPPED = new Error('parser stopped');

export interface ReadOptions {
  /** Bytes per read (file) or per pushed slice (buffer); default 4 MiB. */
  chunkSize?: number;
  /**
   * A gzipped regular file of at least this many bytes is inflated in a worker thread
   * (gunzip-thread.ts); default GZIP_THREAD_MIN. Infinity: always in this thread.
   */
  gzipThreadMin?: number;
  /**
   * Updated once per read with the bytes of the file read so far (compressed bytes for a gzipped
   * file, bytes received from stdin): for a progress display sampled from a timer.
   */
  position?: { bytes: number };
}

/** Below this size (compressed) a worker thread's start-up costs more than inflating here. */
export const GZIP_THREAD_MIN = 16 * 1024 * 1024;

/** File path, "-" for stdin, or the buffer's name. */
export function sourceName(source: CaptureSource): string {
  switch (source.kind) {
    case 'file':
      return source.path;
    case 'stdin':
      return '-';
    case 'buffer':
      return source.name;
  }
}

function isGzip(b: Uint8Array, n: number): boolean {
  return n >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

function errText(e: unknown): string {
  if (e && typeof e === 'object') {
    const code = (e as { code?: unknown }).code;
    const msg = (e as { message?: unknown }).message;
    // Node fs messages end with ", open '/path'": the path is already at the start of ours.
    const text = typeof msg === 'string' ? msg.split('\n')[0]!.replace(/, \w+ '[^']*'$/, '') : String(e);
    return typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
  }
  return String(e);
}

/** Turns the end state of a parser into the result, or CaptureInputError when nothing was readable. */
function conclude(parser: CaptureParser, name: string): CaptureFileInfo {
  const info = parser.finish();
  if (!parser.headerSeen) {
    const why = info.damage !== null ? info.damage.message : info.bytes === 0 ? 'empty file' : 'no capture header';
    throw new CaptureInputError(`${name}: ${why}`, name);
  }
  return info;
}

/**
 * Reads one capture from a file, stdin or buffer, calling sink.onFrame for every record. Throws
 * CaptureInputError when the input cannot be read at all; damage after a valid header is info.damage.
 */
export async function readCapture(
  source: CaptureSource,
  fileIndex: number,
  sink: CaptureSink,
  opts?: ReadOptions,
): Promise<CaptureFileInfo> {
  const chunkSize = Math.max(1, Math.floor(opts?.chunkSize ?? DEFAULT_CHUNK_SIZE));
  switch (source.kind) {
    case 'file':
      return readFile(source.path, fileIndex, sink, chunkSize, opts?.gzipThreadMin ?? GZIP_THREAD_MIN, opts?.position ?? null);
    case 'stdin':
      return readCaptureStream(process.stdin, '-', fileIndex, sink, { chunkSize, position: opts?.position });
    case 'buffer':
      return readBuffer(source.name, source.data, fileIndex, sink, chunkSize);
  }
}

function readBuffer(name: string, data: Buffer, fileIndex: number, sink: CaptureSink, chunkSize: number): Promise<CaptureFileInfo> {
  if (isGzip(data, data.length)) {
    const slices = function* (): Generator<Buffer> {
      for (let i = 0; i < data.length; i += chunkSize) yield data.subarray(i, i + chunkSize);
    };
    return readCaptureStream(Readable.from(slices()), name, fileIndex, sink, { chunkSize });
  }
  const parser = new CaptureParser(name, fileIndex, sink);
  for (let i = 0; i < data.length && !parser.stopped; i += chunkSize) {
    parser.push(data.subarray(i, i + chunkSize));
  }
  return Promise.resolve(conclude(parser, name));
}

async function readFile(path: string, fileIndex: number, sink: CaptureSink, chunkSize: number, gzipThreadMin: number, at: { bytes: number } | null): Promise<CaptureFileInfo> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw new CaptureInputError(`${path}: cannot open: ${errText(e)}`, path);
  }
  let parser: CaptureParser;
  try {
    let unseekable = false;
    try {
      const st = await fh.stat();
      unseekable = st.isFIFO() || st.isCharacterDevice() || st.isSocket();
    } catch {
      // Not known: try positioned reads below.
    }
    if (unseekable) {
      // A FIFO, a character device (/dev/stdin), a process substitution (`<(tcpdump -w - ...)`): they
      // have no positions (a positioned read fails with ESPIPE), so they are read as a stream.
      const stream = fh.createReadStream({ autoClose: false, highWaterMark: chunkSize });
      return await readCaptureStream(stream, path, fileIndex, sink, { chunkSize, position: at ?? undefined });
    }
    const head = Buffer.alloc(2);
    let headLen: number;
    try {
      headLen = (await fh.read(head, 0, 2, 0)).bytesRead;
    } catch (e) {
      throw new CaptureInputError(`${path}: cannot read: ${errText(e)}`, path);
    }
    parser = new CaptureParser(path, fileIndex, sink);
    if (isGzip(head, headLen)) {
      parser.info.gzip = true;
      await readGzipFile(fh, path, parser, chunkSize, gzipThreadMin, at);
    } else {
      await readPlainFile(fh, path, parser, chunkSize, at);
    }
  } finally {
    await fh.close();
  }
  return conclude(parser, path);
}

/**
 * A gzipped file: the compressed bytes are read into two buffers in turn and written to gunzip, a
 * buffer being read into again once gunzip has consumed it (its write callback). createReadStream
 * allocated a new 4 MiB buffer per read: ~1 GB of ArrayBuffers for the 1 GB corpus, and V8 starts
 * a full (incremental) mark for every ~64 MB of such external memory: 78 mark-compacts, 2.8 s of
 * the main thread in the garbage collector for analyze() on the 1 GB gzipped pcapng.
 */
async function readGzipFile(fh: FileHandle, path: string, parser: CaptureParser, chunkSize: number, threadMin: number, at: { bytes: number } | null): Promise<void> {
  let size = -1;
  try {
    const st = await fh.stat();
    if (st.isFile()) size = st.size;
  } catch {
    // Not a regular file then: read below as a stream of unknown length.
  }
  const regular = size >= 0;
  if (regular) parser.info.compressedBytes = size;
  if (regular && size >= threadMin) {
    const o = await inflateInThread(fh.fd, {
      data(bytes: Buffer, read: number): boolean {
        if (at !== null) at.bytes = read;
        parser.push(bytes);
        return !parser.stopped;
      },
    });
    switch (o.kind) {
      case 'end':
      case 'stopped':
        return;
      case 'thrown':
        throw o.error;
      case 'error': {
        const why = `gzip data is corrupt or cut short (${o.message})`;
        if (!parser.headerSeen) throw new CaptureInputError(`${path}: ${why}`, path);
        parser.fail(why);
        return;
      }
      case 'damage':
        // Every inflated byte was handed over first (src/capture/gzip.ts).
        if (!parser.headerSeen) throw new CaptureInputError(`${path}: ${o.message}`, path);
        parser.fail(o.message);
        return;
      case 'unavailable':
        if (o.delivered) {
          parser.fail(`inflating thread failed: ${o.why}`);
          return;
        }
      // Nothing was delivered: inflate here instead.
    }
  }
  // 1 MiB at a time: a 4 MiB read inflates to ~4.5 MiB of output queued at once, and these large
  // short-lived buffers, freed only by the garbage collector, left the process's RSS 20-25 MB
  // higher (1 GB gzipped corpus, analyze).
  const readSize = Math.min(chunkSize, GZIP_READ_SIZE);
  await inflateInto(parser, path, chunkSize, async (gunzip, closed) => {
    const bufs = [Buffer.allocUnsafe(readSize), Buffer.allocUnsafe(readSize)];
    const busy: (Promise<void> | null)[] = [null, null];
    let k = 0;
    let position = 0;
    let reads = 0;
    for (;;) {
      const wait = busy[k];
      if (wait) await Promise.race([wait, closed]);
      if (gunzip.destroyed) return;
      const buf = bufs[k]!;
      let n: number;
      if (regular) {
        if (++reads % READS_PER_YIELD === 0) await new Promise<void>((resolve) => setImmediate(resolve));
        n = readSync(fh.fd, buf, 0, readSize, position);
      } else {
        n = (await fh.read(buf, 0, readSize, position)).bytesRead;
      }
      if (gunzip.destroyed) return;
      if (n === 0) {
        gunzip.end();
        return;
      }
      position += n;
      if (at !== null) at.bytes = position;
      busy[k] = new Promise<void>((resolve) => gunzip.write(n === readSize ? buf : buf.subarray(0, n), () => resolve()));
      k ^= 1;
    }
  });
}

/** A regular file read synchronously yields to the event loop after this many reads (timers, streamed output, workers' messages). */
const READS_PER_YIELD = 16;

/**
 * Reads the file into one reused buffer: records are handed out as views into it; the unconsumed tail of a
 * record straddling the buffer end moves to the front before the next read. The buffer grows (doubling,
 * never past the record's validated length) only for a record larger than itself.
 *
 * A regular file is read with readSync: a read from the page cache is a memory copy, and handing it to
 * libuv's thread pool and awaiting it made the main thread sit idle for the copy and then pay for the
 * promise (1 GB pcap: ~230 ms idle in a profile; async double buffering measured slower still, the chunk
 * being written on another core). Anything else (a FIFO, a device) is read asynchronously.
 */
async function readPlainFile(fh: FileHandle, path: string, parser: CaptureParser, chunkSize: number, at: { bytes: number } | null): Promise<void> {
  let regular: boolean;
  try {
    regular = (await fh.stat()).isFile();
  } catch {
    regular = false;
  }
  let buf = Buffer.allocUnsafe(chunkSize);
  let filled = 0;
  let position = 0;
  let reads = 0;
  for (;;) {
    if (filled === buf.length) {
      // The unit at the front is incomplete and fills the buffer, so needed > buf.length.
      const grown = Buffer.allocUnsafe(Math.min(parser.needed, buf.length * 2));
      buf.copy(grown, 0, 0, filled);
      buf = grown;
    }
    let n: number;
    try {
      const len = Math.min(chunkSize, buf.length - filled);
      if (regular) {
        if (++reads % READS_PER_YIELD === 0) await new Promise<void>((resolve) => setImmediate(resolve));
        n = readSync(fh.fd, buf, filled, len, position);
      } else {
        n = (await fh.read(buf, filled, len, position)).bytesRead;
      }
    } catch (e) {
      if (!parser.headerSeen) throw new CaptureInputError(`${path}: cannot read: ${errText(e)}`, path);
      if (filled > 0) parser.push(buf.subarray(0, filled));
      parser.fail(`read error: ${errText(e)}`);
      return;
    }
    if (n === 0) {
      // End of file: a partial unit goes to the parser's carry, and finish() names it as damage.
      if (filled > 0) parser.push(buf.subarray(0, filled));
      return;
    }
    position += n;
    if (at !== null) at.bytes = position;
    filled += n;
    const off = parser.feed(buf, 0, filled);
    if (parser.stopped) return;
    if (off > 0) {
      buf.copyWithin(0, off, filled);
      filled -= off;
    }
  }
}

/**
 * Reads a capture from any Readable (stdin, a socket, a test stream), through gunzip when it starts with
 * 1f 8b. Records straddling chunks are assembled in the parser's small carry buffer.
 */
export async function readCaptureStream(
  stream: Readable,
  name: string,
  fileIndex: number,
  sink: CaptureSink,
  opts?: ReadOptions,
): Promise<CaptureFileInfo> {
  const parser = new CaptureParser(name, fileIndex, sink);
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const head: Buffer[] = [];
  let headLen = 0;
  let ended = false;
  const at = opts?.position ?? null;
  const next = async (): Promise<Buffer | null> => {
    const r = await it.next();
    if (r.done) return null;
    const c = typeof r.value === 'string' ? Buffer.from(r.value) : r.value;
    if (at !== null) at.bytes += c.length;
    return c;
  };
  try {
    while (headLen < 2) {
      const c = await next();
      if (c === null) {
        ended = true;
        break;
      }
      head.push(c);
      headLen += c.length;
    }
  } catch (e) {
    throw new CaptureInputError(`${name}: cannot read: ${errText(e)}`, name);
  }
  const first = head.length === 1 ? head[0]! : Buffer.concat(head);
  if (!isGzip(first, first.length)) {
    try {
      for (const c of head) parser.push(c);
      if (!ended) {
        for (;;) {
          if (parser.stopped) break;
          const c = await next();
          if (c === null) break;
          parser.push(c);
        }
      }
    } catch (e) {
      if (!parser.headerSeen) throw new CaptureInputError(`${name}: cannot read: ${errText(e)}`, name);
      parser.fail(`read error: ${errText(e)}`);
    } finally {
      if (parser.stopped && !ended) await it.return?.();
    }
    return conclude(parser, name);
  }
  parser.info.gzip = true;
  const source = Readable.from(
    (async function* (): AsyncGenerator<Buffer> {
      yield first;
      if (ended) return;
      for (;;) {
        const c = await next();
        if (c === null) return;
        yield c;
      }
    })(),
    { objectMode: false },
  );
  try {
    await inflateInto(parser, name, opts?.chunkSize ?? DEFAULT_CHUNK_SIZE, (gunzip) => pipeline(source, gunzip));
  } finally {
    if (parser.stopped && !ended) await it.return?.();
  }
  return conclude(parser, name);
}

/**
 * Inflates what `produce` writes to gunzip (ending it) into the parser. `closed` resolves when
 * gunzip is closed (the parser stopped, or the data is corrupt): a producer waiting for it stops.
 * Throws CaptureInputError when the data is corrupt before a capture header; afterwards that is
 * damage. An exception of the sink is thrown as it is.
 */
async function inflateInto(
  parser: CaptureParser,
  name: string,
  chunkSize: number,
  produce: (gunzip: CheckedGunzip, closed: Promise<void>) => Promise<void>,
): Promise<void> {
  const gunzip = createCheckedGunzip({ chunkSize: Math.max(64, Math.min(chunkSize, 1 << 20)) });
  const closed = new Promise<void>((resolve) => gunzip.once('close', resolve));
  let sinkError: { e: unknown } | null = null;
  // Inflated chunks go straight to the parser through a Writable (as `node:zlib` alone would be
  // drained), not through gunzip's async iterator: read() on a readable with several chunks
  // buffered concatenates them into a new buffer each time, which made peak RSS grow with the file.
  // Each chunk is parsed in a later turn of the event loop, not inside write(): zlib hands out a
  // chunk (its 'data' event calls write() synchronously) before it queues the next inflate, so
  // parsing inside write() kept the inflate thread idle while the parser ran. Now the next chunk
  // inflates while this one is parsed (when a second core is free); the Writable (highWaterMark 0)
  // holds one chunk at a time, so at most about two inflated chunks wait.
  const parse = new Writable({
    highWaterMark: 0,
    write(chunk: Buffer, _enc, cb): void {
      setImmediate(() => {
        try {
          parser.push(chunk);
        } catch (e) {
          sinkError = { e };
          cb(STOPPED);
          return;
        }
        cb(parser.stopped ? STOPPED : null);
      });
    },
  });
  const producing = produce(gunzip, closed).catch((e: unknown) => {
    gunzip.destroy(e instanceof Error ? e : new Error(String(e)));
  });
  try {
    await pipeline(gunzip, parse);
  } catch (e) {
    if (e !== STOPPED) {
      const why = `gzip data is corrupt or cut short (${errText(e)})`;
      if (!parser.headerSeen) throw new CaptureInputError(`${name}: ${why}`, name);
      parser.fail(why);
    }
  } finally {
    gunzip.destroy();
    await producing;
  }
  if (sinkError) throw (sinkError as { e: unknown }).e;
  parser.info.compressedBytes ??= gunzip.bytesIn;
  // A bad trailer, a cut-short member, trailing garbage: named after every inflated byte was parsed.
  if (gunzip.damage !== null && !parser.stopped) {
    if (!parser.headerSeen) throw new CaptureInputError(`${name}: ${gunzip.damage.message}`, name);
    parser.fail(gunzip.damage.message);
  }
}
