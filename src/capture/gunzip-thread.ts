// A large gzipped capture file is inflated in a worker thread, into a ring of slots in a
// SharedArrayBuffer that the main thread parses in place.
//
// Inflated in the main thread, node:zlib hands out every output chunk in a new 1 MiB buffer: ~1 GB of
// short-lived ArrayBuffers for the 1 GB corpus. V8 counts them as external memory and starts an
// incremental mark of the whole heap for every ~64 MB of it: 55 mark-compacts, ~1 s of V8's
// background threads fighting the inflate thread for the two cores, the inflate and the parse no
// longer overlapping (analyze() of the 1 GB gzipped pcapng: 4.9 s wall for 3.5 s of inflate), and
// ~30 MB more peak RSS than the same capture uncompressed. In the worker those buffers live in a heap
// of a few MB whose collections cost next to nothing, the main thread allocates nothing per chunk,
// and it parses one slot while the worker fills the next.
import { readSync } from 'node:fs';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { createCheckedGunzip } from './gzip.js';
import { workerEntry } from '../worker-entry.js';

/** Slots of the ring, and the bytes of each (a slot is handed to the parser when full, or at the end). */
export const GUNZIP_SLOTS = 4;
export const GUNZIP_SLOT_SIZE = 1024 * 1024;

/** workerData of the inflating thread (the marker keeps other workers' data apart). */
interface GunzipWorkerData {
  rdpAutopsyGunzip: 1;
  /** The file's descriptor, opened by the main thread (threads share the process's descriptors). */
  fd: number;
  ring: SharedArrayBuffer;
  slots: number;
  slotSize: number;
}

type ToMain =
  | { type: 'data'; slot: number; len: number; read: number }
  | { type: 'end' }
  | { type: 'error'; message: string }
  | { type: 'damage'; message: string };
type ToWorker = { type: 'free'; slot: number };

/** What the main thread gets: slots of inflated bytes in order, then the end or an error. */
export interface InflateSink {
  /**
   * Inflated bytes (a view into the ring, valid during the call only), and the compressed bytes read
   * from the file so far (for a progress display). Returns false to stop.
   */
  data(bytes: Buffer, read: number): boolean;
}

export type InflateOutcome =
  | { kind: 'end' }
  /** sink.data returned false. */
  | { kind: 'stopped' }
  /** sink.data threw this. */
  | { kind: 'thrown'; error: unknown }
  /** The file could not be read or inflated (the gzip data is corrupt or cut short): node's message. */
  | { kind: 'error'; message: string }
  /** The gzip framing is damaged (bad CRC / ISIZE, cut short, trailing garbage), after every inflated byte was handed over. */
  | { kind: 'damage'; message: string }
  | { kind: 'unavailable'; delivered: boolean; why: string };

/**
 * Inflates the gzip file open as `fd` in a worker thread, handing each slot to sink.data in order.
 * 'unavailable' when the thread could not run (no worker entry, it failed to start, or died):
 * `delivered` says whether some bytes had already been handed over (then the caller cannot start again).
 */
export function inflateInThread(fd: number, sink: InflateSink): Promise<InflateOutcome> {
  const how = workerEntry(import.meta.url);
  if (how === null) return Promise.resolve({ kind: 'unavailable', delivered: false, why: 'no worker entry' });
  const ring = new SharedArrayBuffer(GUNZIP_SLOTS * GUNZIP_SLOT_SIZE);
  const view = Buffer.from(ring);
  const data: GunzipWorkerData = { rdpAutopsyGunzip: 1, fd, ring, slots: GUNZIP_SLOTS, slotSize: GUNZIP_SLOT_SIZE };
  return new Promise((resolve) => {
    let delivered = false;
    let settled = false;
    let w: Worker;
    const settle = (o: InflateOutcome): void => {
      if (settled) return;
      settled = true;
      w.removeAllListeners();
      w.on('error', () => {});
      // Resolved once the thread has stopped: the caller closes the descriptor the thread reads.
      w.terminate().then(
        () => resolve(o),
        () => resolve(o),
      );
    };
    try {
      w = new Worker(how.entry, { eval: how.eval, workerData: data, stdout: false, stderr: false });
    } catch (e) {
      resolve({ kind: 'unavailable', delivered: false, why: e instanceof Error ? e.message : String(e) });
      return;
    }
    w.on('message', (m: ToMain) => {
      if (settled) return;
      if (m.type === 'data') {
        delivered = true;
        let more: boolean;
        try {
          more = sink.data(view.subarray(m.slot * GUNZIP_SLOT_SIZE, m.slot * GUNZIP_SLOT_SIZE + m.len), m.read);
        } catch (e) {
          settle({ kind: 'thrown', error: e });
          return;
        }
        if (!more) settle({ kind: 'stopped' });
        else w.postMessage({ type: 'free', slot: m.slot } satisfies ToWorker);
      } else if (m.type === 'end') {
        settle({ kind: 'end' });
      } else if (m.type === 'damage') {
        settle({ kind: 'damage', message: m.message });
      } else {
        settle({ kind: 'error', message: m.message });
      }
    });
    w.on('error', (e) => settle({ kind: 'unavailable', delivered, why: e.message }));
    w.on('exit', (code) => settle({ kind: 'unavailable', delivered, why: `inflating thread exited with code ${code}` }));
  });
}

/** Bytes per read of the compressed file in the worker, and zlib's output chunk size. */
const READ_SIZE = 1024 * 1024;
const OUT_CHUNK = 1024 * 1024;

/**
 * The worker's side: reads the descriptor into two reused buffers, through gunzip, copies the output into
 * free slots and posts each full one; gunzip pauses while no slot is free.
 *
 * Nothing is allocated per chunk either: fs streams allocate a new buffer per read, and zlib a new 1 MiB
 * output buffer each time one is used up, which in this thread's small heap piled up as ~64 MB of dead
 * ArrayBuffers before V8's external-memory trigger collected them. So reads go into two reused buffers, and
 * zlib's output buffers are recycled: Buffer.allocUnsafe, in this thread only, hands out again a buffer
 * whose chunks have all been copied (chunks come in order, so once one from a newer buffer has been copied,
 * none of the older buffer is pending any more).
 */
function runWorker(d: GunzipWorkerData): void {
  const port = parentPort!;
  const ring = Buffer.from(d.ring);
  const free: number[] = [];
  for (let i = 0; i < d.slots; i++) free.push(i);

  const pool: ArrayBuffer[] = [];
  const allocUnsafe = Buffer.allocUnsafe;
  Buffer.allocUnsafe = ((size: number): Buffer => {
    if (size === OUT_CHUNK) {
      const ab = pool.pop();
      if (ab !== undefined) return Buffer.from(ab, 0, OUT_CHUNK);
    }
    return allocUnsafe.call(Buffer, size);
  }) as typeof Buffer.allocUnsafe;
  let lastOut: ArrayBufferLike | null = null;

  const gunzip = createCheckedGunzip({ chunkSize: OUT_CHUNK });
  let slot = -1;
  let fill = 0;
  let pending: Buffer | null = null;
  /** Set when the file could not be read or inflated: posted after what was inflated before it. */
  let failure: string | null = null;
  const fail = (e: unknown): void => {
    if (failure !== null) return;
    const err = e as { code?: unknown; message?: unknown } | null;
    const msg = typeof err?.message === 'string' ? err.message.split('\n')[0]! : String(e);
    failure = typeof err?.code === 'string' && !msg.includes(err.code) ? `${err.code}: ${msg}` : msg;
    inflated = true;
    finish();
  };
  const post = (): void => {
    port.postMessage({ type: 'data', slot, len: fill, read: pos } satisfies ToMain);
    slot = -1;
    fill = 0;
  };
  /** Copies what is pending into free slots; false when it has to wait for one. */
  const drain = (): boolean => {
    while (pending !== null) {
      if (slot < 0) {
        if (free.length === 0) return false;
        slot = free.shift()!;
        fill = 0;
      }
      const n = Math.min(d.slotSize - fill, pending.length);
      pending.copy(ring, slot * d.slotSize + fill, 0, n);
      fill += n;
      if (n === pending.length) {
        const ab = pending.buffer;
        if (ab !== lastOut) {
          if (lastOut !== null && lastOut.byteLength === OUT_CHUNK && pool.length < 2) pool.push(lastOut as ArrayBuffer);
          lastOut = ab;
        }
        pending = null;
      } else {
        pending = pending.subarray(n);
      }
      if (fill === d.slotSize) post();
    }
    return true;
  };
  /** gunzip ended or failed: the end (or the failure) is posted once what is pending has gone into slots. */
  let inflated = false;
  let finished = false;
  function finish(): void {
    if (!inflated || pending !== null || finished) return;
    finished = true;
    if (slot >= 0 && fill > 0) post();
    if (failure !== null) port.postMessage({ type: 'error', message: failure } satisfies ToMain);
    else if (gunzip.damage !== null) port.postMessage({ type: 'damage', message: gunzip.damage.message } satisfies ToMain);
    else port.postMessage({ type: 'end' } satisfies ToMain);
  }
  port.on('message', (m: ToWorker) => {
    free.push(m.slot);
    if (pending !== null && drain()) {
      gunzip.resume();
      finish();
    }
  });
  gunzip.on('data', (chunk: Buffer) => {
    pending = chunk;
    if (!drain()) gunzip.pause();
  });
  gunzip.on('end', () => {
    inflated = true;
    finish();
  });
  gunzip.on('error', fail);

  const bufs = [Buffer.allocUnsafeSlow(READ_SIZE), Buffer.allocUnsafeSlow(READ_SIZE)];
  const busy = [false, false];
  let k = 0;
  let pos = 0;
  let ended = false;
  const pump = (): void => {
    while (!ended && failure === null && !busy[k]) {
      const buf = bufs[k]!;
      let n: number;
      try {
        n = readSync(d.fd, buf, 0, READ_SIZE, pos);
      } catch (e) {
        fail(e);
        gunzip.destroy();
        return;
      }
      if (n === 0) {
        ended = true;
        gunzip.end();
        return;
      }
      pos += n;
      const i = k;
      busy[i] = true;
      k ^= 1;
      gunzip.write(n === READ_SIZE ? buf : buf.subarray(0, n), () => {
        busy[i] = false;
        // A later turn: write callbacks may come while gunzip is still inside write().
        setImmediate(pump);
      });
    }
  };
  pump();
}

if (!isMainThread && (workerData as Partial<GunzipWorkerData> | null)?.rdpAutopsyGunzip === 1) {
  runWorker(workerData as GunzipWorkerData);
}
