// The analyze command's work, shared with `live`: read, analyse, render, write, exit code.
import { writeFileSync } from 'node:fs';
import type { CaptureSource } from '../capture/types.js';
import type { Report } from '../report/types.js';
import { analyze } from '../pipeline.js';
import { FORMATS, FORMAT_NAMES, type Renderer } from './formats.js';
import { EXIT, UsageError } from './errors.js';

export interface RunOptions {
  format: string;
  output?: string;
  ports: number[];
  /** undefined: colour when writing to a terminal. */
  color?: boolean;
  exportEvidence?: string;
}

/** Checks the options that do not depend on the input (before anything is read). */
export function checkOptions(o: RunOptions): Renderer {
  if (!Object.hasOwn(FORMATS, o.format)) {
    throw new UsageError(`unknown format "${o.format}" (expected one of ${FORMAT_NAMES.join(', ')})`);
  }
  const r = FORMATS[o.format];
  if (!r) throw new UsageError(`format "${o.format}" is not yet available`);
  if (o.exportEvidence !== undefined) throw new UsageError('--export-evidence is not yet available');
  return r;
}

export function exitCodeOf(report: Report): number {
  if (report.capture.damage.length > 0) return EXIT.DAMAGED;
  if (report.summary.failed > 0) return EXIT.FAILED;
  return EXIT.OK;
}

export async function runAnalysis(
  sources: CaptureSource[],
  o: RunOptions,
  stdout: NodeJS.WritableStream,
): Promise<number> {
  const render = checkOptions(o);
  const report = await analyze(sources, { rdpPorts: o.ports });
  const color = o.color ?? (o.output === undefined && (stdout as { isTTY?: boolean }).isTTY === true && !process.env.NO_COLOR);
  const text = render(report, { color });
  if (o.output !== undefined) {
    try {
      writeFileSync(o.output, text);
    } catch (e) {
      throw new UsageError(`cannot write ${o.output}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  } else {
    stdout.write(text);
  }
  return exitCodeOf(report);
}

/** `--port` values: integers 1..65535. */
export function parsePort(value: string, previous: number[] | undefined): number[] {
  const out = previous ?? [];
  for (const part of value.split(',')) {
    const n = Number(part);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`invalid port "${part}" (expected 1..65535)`);
    out.push(n);
  }
  return out;
}
