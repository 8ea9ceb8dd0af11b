// V8 heap settings of the rdp-autopsy process (the command only: analyze() as a library leaves its
// host's V8 alone).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Keeps V8's young generation at its initial size (1 MiB semi-spaces) for the rest of the process.
 * V8 doubles the young generation, up to 2 x 16 MiB, each time as many bytes have survived
 * scavenges since the last doubling as it holds; a long capture always gets there (connection
 * records and per-connection state survive), so the nursery alone took ~32 MB of the peak RSS on
 * the 1 GB corpus against 8-16 MB on the 100 MB one. Kept small, the analysis of the 1 GB pcap
 * peaked at ~96 MB instead of ~130 MB, with the same CPU time (bench/child.js under the flag).
 * `--semi-space-growth-factor` is read when the young generation would grow, so setting it
 * after start-up takes effect (V8 reads --max-semi-space-size only when the heap is set up).
 */
export function keepYoungGenerationSmall(): void {
  try {
    setFlagsFromString('--semi-space-growth-factor=1');
  } catch {
    // An embedder without the flag: the default sizing stays.
  }
}

/** Old-generation growth between full collections, percent (V8's `--heap-growing-percent`). */
export const HEAP_GROWING_PERCENT = 50;

/**
 * Lets V8's old generation grow by HEAP_GROWING_PERCENT over what survived the last full collection
 * before it collects again, instead of V8's own factor (up to 4x when the program allocates fast, as an
 * attempt storm's analysis does: on the 1 GB storm corpus ~130 MB alive after a mark-compact and the
 * next one only at ~500 MB of heap). The command on that corpus: peak RSS ~476 -> ~330 MB for ~5 % more
 * CPU time (25 %: ~300 MB for ~15 % more; docs/benchmarks.md "Notes", loaded machine). V8 reads the
 * flag at every full collection, so setting it after start-up takes effect.
 */
export function boundOldGenerationGrowth(): void {
  try {
    setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  } catch {
    // An embedder without the flag: the default sizing stays.
  }
}

/**
 * A full garbage collection, or null when V8 does not give one. `--expose-gc` set after start-up
 * gives the `gc` function to contexts made after it: one is made for it, the main context is left
 * as it is. The command calls it once, when the capture is read and before the diagnosis and the
 * report are made (AnalyzeOptions.beforeDiagnosis): on an attempt storm the read leaves its chunks,
 * flow tables and the probes' records as garbage that no full collection had reached yet, and the
 * diagnosis and report then grew the heap on top of it (100 MB storm: peak RSS ~160 -> ~145 MB;
 * docs/benchmarks.md "Notes", loaded machine).
 */
export function fullCollection(): (() => void) | null {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('gc');
    return typeof gc === 'function' ? () => void (gc as () => unknown)() : null;
  } catch {
    return null;
  }
}
