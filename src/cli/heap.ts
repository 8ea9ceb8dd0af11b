// V8 heap settings of the rdp-autopsy process (the command only: analyze() as a library leaves its
// host's V8 alone).
import { setFlagsFromString } from 'node:v8';

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
