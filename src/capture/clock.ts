// Timestamps that jump (issue 18): a record whose time is far outside its neighbours' (a bogus
// clock, a corrupted record header: a year of 1970 or of 2038) must not make idle times of years or
// a capture span of decades. A frame more than CLOCK_JUMP_S away from the last plausible time is a
// suspect; the frame after it decides: when that one is back near the last plausible time, the
// suspect was an isolated outlier (its time is replaced by the last plausible one, and named in a
// warning); when it continues from the suspect's time, the clock really moved (a pause, files
// merged end to end) and both keep their times. A frame cannot be both: only what the two
// neighbours agree on is taken as plausible.

/** A jump larger than this between a frame and the last plausible time makes the frame a suspect. */
export const CLOCK_JUMP_S = 3600;
/** Outliers named per file (the count goes on). */
export const MAX_CLOCK_OUTLIERS = 8;

export interface ClockOutlier {
  frame: number;
  /** The frame's own (implausible) time. */
  time: number;
  /** The time used for it instead: the last plausible frame's. */
  plausible: number;
}

export class ClockCheck {
  /** The last plausible time (NaN before the first frame). */
  last = Number.NaN;
  /** Earliest and latest plausible times. */
  min = Infinity;
  max = -Infinity;
  readonly outliers: ClockOutlier[] = [];
  outlierCount = 0;

  /** Whether a frame at `time` must wait for the next one to be judged. */
  suspect(time: number): boolean {
    const d = time - this.last;
    return d > CLOCK_JUMP_S || d < -CLOCK_JUMP_S;
  }

  accept(time: number): void {
    this.last = time;
    if (time < this.min) this.min = time;
    if (time > this.max) this.max = time;
  }

  /**
   * The suspect frame (`frame` at `time`) and the time of the frame after it: the time to use for
   * the suspect (its own, or the last plausible one when it was an isolated outlier).
   */
  resolve(frame: number, time: number, next: number): number {
    const backNear = Math.abs(next - this.last) <= CLOCK_JUMP_S;
    const followsSuspect = Math.abs(next - time) <= CLOCK_JUMP_S;
    if (backNear && !followsSuspect) {
      this.outlierCount++;
      if (this.outliers.length < MAX_CLOCK_OUTLIERS) this.outliers.push({ frame, time, plausible: this.last });
      return this.last;
    }
    this.accept(time);
    return time;
  }
}
