// File sets: the consecutive pieces of one capture that ring buffers and splitting tools write
// (dumpcap -b / editcap -c / editcap -i: NAME_NNNNN_YYYYMMDDhhmmss.EXT; tcpdump -C / -W: NAME,
// NAME1, NAME2 ... or NAME0, NAME1 ...; tcpdump -G with a strftime pattern: names that differ in
// their digits only). Such pieces are read as one capture (one flow table, frames numbered as
// `mergecap -a` of the pieces in time order numbers them), so a connection cut by a file boundary
// is still one connection with one verdict.
//
// What is decided here, before any file is read in full: which inputs may form a set (their names,
// their first record's link type and time), and in which order (first timestamps). Whether two
// pieces really follow each other (no overlap, no long gap) is checked while reading, since a file's
// last timestamp is known only at its end (see src/pipeline/sets.ts).
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { constants, gunzipSync } from 'node:zlib';
import { CaptureParser } from './parser.js';
import type { CaptureSource, FrameView } from './types.js';

/** Bytes read from the start of a file to find its first record (and inflated, for gzip). */
const PROBE_BYTES = 256 * 1024;

/** What the first records of a file say about it. */
export interface FileProbe {
  /** Index of the input as given. */
  index: number;
  path: string;
  /** Link type of the first record, or null (no record in the probed bytes, or not a capture). */
  linkType: number | null;
  /** Time of the first record (float seconds since the epoch), or null. */
  firstTime: number | null;
  /** A capture file header was read (an empty piece has one, and no record). */
  header: boolean;
}

/** The name of a piece of a file set, split into what all pieces share and what tells them apart. */
export interface SetName {
  /** The name with its sequence number and time stamp taken out ("rdp_#_#.pcapng", "rdp.pcap#"). */
  pattern: string;
  /** Sequence number (dumpcap / editcap NNNNN, tcpdump -C / -W's suffix; tcpdump -C's first file: 0), or null. */
  seq: number | null;
  /** Digits of the name's time stamp (dumpcap's YYYYMMDDhhmmss, tcpdump -G's strftime digits), or null. */
  stamp: string | null;
}

/** Capture file endings (tcpdump -C/-W append the file's number after them). */
const CAPTURE_EXT = /\.(pcapng|pcap|cap|dmp|ntar)(\.gz)?$/i;
const CAPTURE_EXT_NUMBERED = /\.(pcapng|pcap|cap|dmp|ntar)(\.gz)?(\d+)$/i;
/** dumpcap's ring buffer / editcap's split names: NAME_NNNNN_YYYYMMDDhhmmss.EXT (wireshark fileset.c). */
const DUMPCAP_NAME = /^(.*)_(\d{5,})_(\d{14})(\.[^.]+(?:\.gz)?)$/;

/**
 * The set-naming parts of a file name, or null when the name is not one a set-writing tool gives:
 * dumpcap's and editcap's NAME_NNNNN_YYYYMMDDhhmmss.EXT, tcpdump -C / -W's NAME.EXTn, or tcpdump
 * -G's strftime names (at least 8 digits in all: a date, so "attempt1.pcap" and "attempt2.pcap"
 * are no set). tcpdump -C's first file has no number at all (planFileSets joins it as sequence 0).
 */
export function setNameOf(base: string): SetName | null {
  const d = DUMPCAP_NAME.exec(base);
  if (d) return { pattern: `${d[1]}_#_#${d[4]}`, seq: Number(d[2]), stamp: d[3]! };
  const t = CAPTURE_EXT_NUMBERED.exec(base);
  if (t) return { pattern: `${base.slice(0, t.index)}.${t[1]}${t[2] ?? ''}#`, seq: Number(t[3]), stamp: null };
  // tcpdump -G: a strftime pattern; every digit run is part of the time stamp.
  const digits = (base.match(/\d+/g) ?? []).join('');
  if (digits.length >= 8) return { pattern: base.replace(/\d+/g, '#'), seq: null, stamp: digits };
  return null;
}

/**
 * The inputs a directory stands for: its capture files (by ending, tcpdump's numbered endings
 * included), sorted by name. Hidden files and subdirectories are left out.
 */
export function captureFilesIn(dir: string): string[] {
  const names = readdirSync(dir)
    .filter((n) => !n.startsWith('.') && (CAPTURE_EXT.test(n) || CAPTURE_EXT_NUMBERED.test(n)))
    .sort(compareNames);
  const out: string[] = [];
  for (const n of names) {
    const p = path.join(dir, n);
    try {
      if (statSync(p).isFile()) out.push(p);
    } catch {
      // Gone since the listing: not an input.
    }
  }
  return out;
}

/** Name order with numbers compared as numbers (rdp.pcap2 before rdp.pcap10). */
export function compareNames(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** Whether an argument is a glob pattern (the shell did not expand it: quoted, or no match). */
export function isGlob(arg: string): boolean {
  return /[*?[]/.test(path.basename(arg));
}

/** A glob's last path component as a RegExp (`*`, `?`, `[...]`). */
function globRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const ch = glob[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '[') {
      const close = glob.indexOf(']', i + 2);
      if (close < 0) re += '\\[';
      else {
        const body = glob.slice(i + 1, close).replace(/\\/g, '\\\\');
        re += `[${body.startsWith('!') ? `^${body.slice(1)}` : body}]`;
        i = close;
      }
    } else re += ch.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * The files a glob matches (in its last path component only: `captures/rdp_*.pcapng`), sorted by
 * name; hidden files match only a pattern that starts with a dot.
 */
export function expandGlob(arg: string): string[] {
  const dir = path.dirname(arg);
  const re = globRegExp(path.basename(arg));
  const dotOk = path.basename(arg).startsWith('.');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => (dotOk || !n.startsWith('.')) && re.test(n))
    .sort(compareNames)
    .map((n) => (dir === '.' && !arg.startsWith('./') ? n : path.join(dir, n)))
    .filter((p) => {
      try {
        return statSync(p).isFile();
      } catch {
        return false;
      }
    });
}

/**
 * The first record's link type and time: the file's first PROBE_BYTES (inflated when gzipped) fed
 * to the capture parser. A file that cannot be read or parsed gives nulls (the real read says why).
 */
export function probeFile(index: number, file: string): FileProbe {
  const probe: FileProbe = { index, path: file, linkType: null, firstTime: null, header: false };
  let head: Buffer;
  try {
    // Only a regular file is opened ahead of its read: opening a FIFO waits for its writer, and
    // closing it again would discard what the writer had put in it.
    if (!statSync(file).isFile()) return probe;
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(PROBE_BYTES);
      const n = readSync(fd, buf, 0, PROBE_BYTES, 0);
      head = buf.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  } catch {
    return probe;
  }
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) {
    try {
      // A cut stream inflates as far as it goes (no error for the missing end).
      head = gunzipSync(head, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: 4 * PROBE_BYTES });
    } catch {
      return probe;
    }
  }
  let seen = false;
  const parser = new CaptureParser(file, index, {
    onFrame(v: FrameView): void {
      if (seen) return;
      seen = true;
      probe.linkType = v.linkType;
      probe.firstTime = v.tsSec + v.tsNsec / 1e9;
    },
  });
  try {
    parser.push(head);
  } catch {
    // Damage is the real read's to report.
  }
  probe.header = parser.headerSeen;
  return probe;
}

/** One input of a planned set, in reading order. */
export interface SetMember {
  index: number;
  path: string;
  name: SetName;
  /** Its first record's time; for an empty piece (no record: editcap -i of a quiet interval), the next piece's. */
  firstTime: number;
  empty: boolean;
}

/** A planned file set: two or more inputs that look like pieces of one capture, in time order. */
export interface PlannedSet {
  members: SetMember[];
  /** True when the time order differs from the order the files were given in. */
  reordered: boolean;
  /** Pieces missing between members, by their sequence numbers: [after member k, count]. */
  missing: { after: number; count: number; seqs: number[] }[];
}

/**
 * Groups the inputs into planned file sets: files of one directory whose names follow one set
 * pattern and whose first records share a link type, ordered by their first timestamps (sequence
 * numbers break ties). Inputs that do not fit a set (stdin, buffers, other names, unreadable files)
 * are left out of the plan and read on their own, as before.
 */
export function planFileSets(sources: CaptureSource[], probe: (index: number, file: string) => FileProbe = probeFile): PlannedSet[] {
  type Candidate = { index: number; path: string; name: SetName; firstTime: number | null };
  const candidates = new Map<string, Candidate[]>();
  const add = (key: string, c: Candidate): void => {
    const list = candidates.get(key);
    if (list) list.push(c);
    else candidates.set(key, [c]);
  };
  const keyOf = (file: string, pattern: string): string => `${path.dirname(path.resolve(file))}\u0000${pattern}`;
  for (let i = 0; i < sources.length; i++) {
    const s = sources[i]!;
    if (s.kind !== 'file') continue;
    const name = setNameOf(path.basename(s.path));
    if (name === null) continue;
    const p = probe(i, s.path);
    if (!p.header) continue;
    add(keyOf(s.path, name.pattern), { index: i, path: s.path, name, firstTime: p.firstTime });
  }
  // tcpdump -C's first file is NAME, the next ones NAME1, NAME2 ...: an unnumbered input whose name
  // is the pattern of numbered ones (without the '#') joins them as sequence 0.
  for (let i = 0; i < sources.length; i++) {
    const s = sources[i]!;
    if (s.kind !== 'file' || !CAPTURE_EXT.test(s.path)) continue;
    const base = path.basename(s.path);
    if (setNameOf(base) !== null) continue;
    const list = candidates.get(keyOf(s.path, `${base}#`));
    if (!list || list.some((m) => m.index === i)) continue;
    const p = probe(i, s.path);
    if (p.header) list.push({ index: i, path: s.path, name: { pattern: `${base}#`, seq: 0, stamp: null }, firstTime: p.firstTime });
  }
  const sets: PlannedSet[] = [];
  for (const list of candidates.values()) {
    const timed = list.filter((c) => c.firstTime !== null);
    if (list.length < 2 || timed.length === 0) continue;
    const given = list.map((m) => m.index);
    // An empty piece stands where its number (or name) puts it: just before the next piece with records.
    const after = (a: Candidate, b: Candidate): boolean => (a.name.seq !== null && b.name.seq !== null ? b.name.seq > a.name.seq : compareNames(b.path, a.path) > 0);
    const members: SetMember[] = list.map((c) => {
      let t = c.firstTime;
      if (t === null) for (const o of timed) if (after(c, o) && (t === null || o.firstTime! < t)) t = o.firstTime;
      return { index: c.index, path: c.path, name: c.name, firstTime: t ?? Infinity, empty: c.firstTime === null };
    });
    members.sort((a, b) => a.firstTime - b.firstTime || (a.name.seq ?? 0) - (b.name.seq ?? 0) || compareNames(a.path, b.path));
    const reordered = members.some((m, k) => m.index !== given[k]);
    const missing: PlannedSet['missing'] = [];
    for (let k = 0; k + 1 < members.length; k++) {
      const a = members[k]!.name.seq;
      const b = members[k + 1]!.name.seq;
      if (a === null || b === null || b <= a + 1) continue;
      const seqs: number[] = [];
      for (let q = a + 1; q < b && seqs.length < 20; q++) seqs.push(q);
      missing.push({ after: k, count: b - a - 1, seqs });
    }
    sets.push({ members, reordered, missing });
  }
  return sets.sort((a, b) => a.members[0]!.index - b.members[0]!.index);
}
