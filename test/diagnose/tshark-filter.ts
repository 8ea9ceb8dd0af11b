// Compiles Wireshark display filters with tshark against an empty pcap: what a finding's `filter` must pass.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** tshark's path, or undefined when it is not installed (the tests that need it skip). */
export const TSHARK = ['/usr/bin/tshark', '/usr/local/bin/tshark'].find((p) => existsSync(p));

let empty: string | undefined;

/** tshark's error output for `filter` ('' when it compiles). Needs TSHARK. */
export function filterError(filter: string): string {
  if (!empty) {
    empty = path.join(mkdtempSync(path.join(tmpdir(), 'rdp-autopsy-filters-')), 'empty.pcap');
    const hdr = Buffer.alloc(24);
    hdr.writeUInt32LE(0xa1b2c3d4, 0);
    hdr.writeUInt16LE(2, 4);
    hdr.writeUInt16LE(4, 6);
    hdr.writeUInt32LE(65535, 16);
    hdr.writeUInt32LE(1, 20);
    writeFileSync(empty, hdr);
  }
  try {
    execFileSync(TSHARK!, ['-n', '-r', empty, '-Y', filter], { stdio: ['ignore', 'pipe', 'pipe'] });
    return '';
  } catch (e) {
    return String((e as { stderr?: Buffer }).stderr ?? e);
  }
}
