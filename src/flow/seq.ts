// TCP sequence-number arithmetic modulo 2^32 (RFC 9293 3.4: comparisons are
// made on the signed 32-bit difference, so wrap-around at 2^32 is transparent).

/** Signed distance a - b in sequence space (-2^31 .. 2^31-1). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** a + n modulo 2^32, as an unsigned number. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
