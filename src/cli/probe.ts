// `rdp-autopsy probe HOST[:PORT]`: asks a server what a client would meet (src/probe/), and reports
// it with the same formats and exit codes as `analyze`. A host that cannot be reached is also told
// in one line on stderr.
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { Option } from 'commander';
import { probe } from '../probe/index.js';
import type { ProbeResult } from '../report/probe.js';
import { EXIT, UsageError } from './errors.js';
import { FORMAT_NAMES } from './formats.js';
import { exitCodeOf, openOutput } from './run.js';

export interface ProbeCliOptions {
  format: string;
  output?: string;
  color?: boolean;
  timeout: number;
  capture?: string;
  user?: string;
  passwordFile?: string;
}

/** The one line for a host the probe could not talk to, or null. */
export function unreachableLine(r: ProbeResult): string | null {
  const where = `${r.host}${r.address && r.address !== r.host ? ` (${r.address})` : ''} port ${r.port}`;
  if (r.dns?.error) return `${r.dns.name}: the name does not resolve (${r.dns.error})`;
  const c = r.connect;
  if (!c || c.outcome === 'connected') return null;
  if (c.outcome === 'refused') return `${where}: connection refused after ${c.ms.toFixed(1)} ms (nothing listens on the port)`;
  if (c.outcome === 'filtered') return `${where}: no answer to the SYN within ${r.timeoutMs} ms (filtered by a firewall, or the host is down)`;
  if (c.outcome === 'unreachable') return `${where}: unreachable (${c.errno}) after ${c.ms.toFixed(1)} ms`;
  return `${where}: cannot connect (${c.errno ?? 'error'})`;
}

/** "DOMAIN\\user", "user@domain" or "user" (MS-NLMP: the domain goes with the user name). */
export function splitUser(u: string): { user: string; domain: string } {
  const bs = u.indexOf('\\');
  if (bs >= 0) return { domain: u.slice(0, bs), user: u.slice(bs + 1) };
  const at = u.lastIndexOf('@');
  if (at > 0) return { user: u.slice(0, at), domain: u.slice(at + 1) };
  return { user: u, domain: '' };
}

/** The password: the first line of --password-file, else asked on the terminal (not echoed), else stdin's first line. */
async function readPassword(o: ProbeCliOptions, input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => void } = process.stdin): Promise<string> {
  if (o.passwordFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(o.passwordFile, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read ${o.passwordFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    return text.split(/\r?\n/)[0] ?? '';
  }
  if (input.isTTY && input.setRawMode) process.stderr.write(`Password for ${o.user}: `);
  return new Promise((resolve, reject) => {
    let buf = '';
    const raw = input.isTTY === true && input.setRawMode !== undefined;
    if (raw) input.setRawMode!(true);
    const finish = (): void => {
      input.off('data', onData);
      input.off('end', finish);
      if (raw) {
        input.setRawMode!(false);
        process.stderr.write('\n');
      }
      input.pause();
      const line = buf.split(/\r?\n|\r/)[0] ?? '';
      if (raw && buf.includes('\u0003')) reject(new UsageError('interrupted'));
      else resolve(line);
    };
    const onData = (d: Buffer | string): void => {
      buf += d.toString();
      if (/[\r\n\u0003\u0004]/.test(buf)) finish();
    };
    input.on('data', onData);
    input.once('end', finish);
    input.resume();
  });
}

export async function runProbeCommand(target: string, o: ProbeCliOptions, stdout: NodeJS.WritableStream): Promise<number> {
  if (o.passwordFile !== undefined && o.user === undefined) throw new UsageError('--password-file needs --user');
  const out = openOutput({ format: o.format, output: o.output, ports: [], color: o.color }, stdout);
  const credentials = o.user !== undefined ? { ...splitUser(o.user), password: await readPassword(o) } : undefined;
  const res = await probe(target, { timeoutMs: Math.round(o.timeout * 1000), captureName: o.capture ?? `probe of ${target}`, credentials });
  if (typeof res === 'string') throw new UsageError(res);
  if (o.capture !== undefined) {
    try {
      writeFileSync(o.capture, res.capture);
    } catch (e) {
      throw new UsageError(`cannot write ${o.capture}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const line = unreachableLine(res.result);
  if (line !== null) process.stderr.write(`rdp-autopsy: ${line}\n`);
  // NDJSON: a line per connection, then the summary line (the probe's connections are all done by now).
  if (out.onConnection) for (const c of res.report.connections) out.onConnection(c);
  await out.emit(res.report);
  const code = exitCodeOf(res.report);
  return line !== null && code === EXIT.OK ? EXIT.FAILED : code;
}

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || n > 600) throw new UsageError(`invalid timeout "${v}" (expected seconds, 0 < s <= 600)`);
  return n;
}

/** Adds the `probe` command to the program; `done` receives its exit code. */
export function registerProbe(program: Command, stdout: NodeJS.WritableStream, exitHelp: string, done: (code: number) => void): void {
  program
    .command('probe')
    .description('probe a server (HOST[:PORT], names and IPv4/IPv6) from the client side: TCP, X.224 per protocol set, TLS per version, certificate, CredSSP')
    .argument('<target>', 'HOST, HOST:PORT or [IPv6]:PORT (port 3389 by default)')
    .addOption(new Option('--format <format>', `report format: ${FORMAT_NAMES.join('|')}`).default('text'))
    .option('-o, --output <file>', 'write the report to FILE')
    .option('--no-color', 'no ANSI colours in the text report')
    .option('--timeout <seconds>', 'per step: the connect, and each answer awaited (default 5)', seconds, 5)
    .option('--capture <file>', "write the probe's own traffic as pcapng (packets reconstructed from the sockets, TLS key log in a Decryption Secrets Block)")
    .option('--user <user>', 'also test an NLA logon as USER (DOMAIN\\user, user@domain or user); the password is asked for, or read from --password-file, never taken from the command line')
    .option('--password-file <file>', 'read the password for --user from the first line of FILE')
    .addHelpText('after', exitHelp)
    .action(async (target: string, o: ProbeCliOptions & { color: boolean }) => {
      done(await runProbeCommand(target, { ...o, color: o.color === false ? false : undefined }, stdout));
    });
}
