// Unix manners of the command line: colour only when the terminal and the environment want it,
// and a reader that quits early (`| head`, `| less`) ends the run quietly, for every command.
import { outputError } from './output.js';

/**
 * Whether the text report gets ANSI colours, for a stream that is (or is not) a terminal:
 * FORCE_COLOR set and not "0"/"false" forces them (https://force-color.org; as in Node, it wins
 * over NO_COLOR), NO_COLOR set and non-empty turns them off (https://no-color.org), and so does
 * TERM=dumb; otherwise colour when the stream is a terminal.
 */
export function colorWanted(isTTY: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  const force = env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force.toLowerCase() !== 'false';
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.TERM === 'dumb') return false;
  return isTTY;
}

/** The exit code of a run whose analysis is done and whose report is being written (noteReportExitCode). */
let reportExitCode: number | undefined;

/** Called when a run's analysis is done, before its report is written: a pipe closed now ends with this code. */
export function noteReportExitCode(code: number): void {
  reportExitCode = code;
}

/** Exit status of a run cut short by a closed pipe before its report was written: 128 + SIGPIPE, as a shell reports it. */
export const EXIT_BROKEN_PIPE = 141;

/**
 * A write into a pipe whose reader has gone (EPIPE, then writes into the destroyed stream) is not
 * an error worth a word: further output is dropped. When the run is still going (its exit code not
 * yet set) it stops at once with EXIT_BROKEN_PIPE; when the report was already written it ends
 * with the code it has. Any other write error ends the run with one line on stderr.
 */
export function quietOnBrokenPipe(stream: NodeJS.WritableStream, name: string, otherError: (message: string) => void): void {
  let broken = false;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (broken || e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') {
      if (!broken) {
        broken = true;
        // The report being written (its run done) ends with the run's code; a run still going, at once.
        if (process.exitCode === undefined) process.exit(reportExitCode ?? EXIT_BROKEN_PIPE);
      }
      return;
    }
    // While a report is written, its writer (src/cli/output.ts) catches the error and says it in one line.
    if (reportExitCode !== undefined) return;
    otherError(outputError(name, e).message);
  });
}
