// What the command line tells users when it stops: one line, never a stack trace.

/** Exit codes (README "Exit codes"). */
export const EXIT = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  DAMAGED: 3,
} as const;

/** A usage or input error to print as one line and exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** One line: the first line of the message, without commander's "error: " prefix. */
export function oneLine(message: string): string {
  const first = message.split(/\r?\n/).find((l) => l.trim() !== '') ?? message;
  return first.replace(/^error:\s*/i, '').trim();
}
