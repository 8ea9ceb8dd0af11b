// tshark 4.0's view of a capture, grouped per TCP connection, for the differential tests.
// Two passes (../shared/captures/MANIFEST.md "Observations"): the default dissection for
// TCP / X.224 / RDP negotiation / MCS / GCC, and `-d tcp.port==N,tls` for the TLS handshake
// (tshark 4.0 does not switch to TLS after the X.224 Confirm by itself).
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

export const TSHARK = '/usr/bin/tshark';
export const hasTshark = existsSync(TSHARK);

/** Separates the values of one field in a frame (a control character no field value carries). */
const AGG = '\x1f';

export type Row = Map<string, string[]>;

/** `tshark -T fields` over a file: one row per frame, each field a list of its occurrences. */
export function tsharkRows(file: string, fields: string[], extra: string[] = []): Promise<Map<number, Row>> {
  const args = ['-r', file, ...extra, '-T', 'fields', '-E', `aggregator=${AGG}`, '-e', 'frame.number', ...fields.flatMap((f) => ['-e', f])];
  return new Promise((resolve, reject) => {
    execFile(TSHARK, args, { encoding: 'utf8', maxBuffer: 256 << 20 }, (err, out) => {
      if (err) return reject(err);
      const rows = new Map<number, Row>();
      for (const line of out.split('\n')) {
        if (line === '') continue;
        const cols = line.split('\t');
        const row: Row = new Map();
        fields.forEach((f, i) => {
          const v = cols[i + 1] ?? '';
          row.set(f, v === '' ? [] : v.split(AGG));
        });
        rows.set(Number(cols[0]), row);
      }
      resolve(rows);
    });
  });
}

export const PASS1_FIELDS = [
  'ip.src',
  'ipv6.src',
  'ip.dst',
  'ipv6.dst',
  'tcp.srcport',
  'tcp.dstport',
  'icmp.type',
  'icmpv6.type',
  'tcp.flags.syn',
  'tcp.flags.ack',
  'tcp.flags.fin',
  'tcp.flags.reset',
  'cotp.type',
  'rdp.rt_cookie',
  'rdp.negReq.requestedProtocols',
  'rdp.negReq.selectedProtocol',
  'rdp.negFailure.failureCode',
  't125.ConnectMCSPDU',
  'rdp.client.name',
  'rdp.client.build',
  'rdp.desktop.width',
  'rdp.desktop.height',
  'rdp.keyboardLayout',
  't124.DomainMCSPDU',
  't124.reason',
  'rdp.version.major',
  'rdp.version.minor',
  '_ws.malformed',
];

export const PASS2_FIELDS = [
  'tls.handshake.type',
  'tls.handshake.version',
  'tls.handshake.extensions.supported_version',
  'tls.handshake.ciphersuite',
  'tls.handshake.extensions_server_name',
  'x509af.notBefore',
  'x509af.notAfter',
  'x509af.utcTime',
  'x509af.generalizedTime',
  'tls.alert_message.level',
  'tls.alert_message.desc',
  'tls.record.opaque_type',
];

/** One TCP segment as tshark saw it (ICMP errors quoting a TCP header are not segments). */
export interface Segment {
  frame: number;
  src: string;
  dst: string;
  row: Row;
}

/** The TCP segments of a pass-1 run, keyed by nothing: callers filter by endpoints and frame range. */
export function segments(rows: Map<number, Row>): Segment[] {
  const out: Segment[] = [];
  for (const [frame, row] of rows) {
    if (first(row, 'icmp.type') !== null || first(row, 'icmpv6.type') !== null) continue;
    const sport = first(row, 'tcp.srcport');
    const dport = first(row, 'tcp.dstport');
    if (sport === null || dport === null) continue;
    const sip = first(row, 'ip.src') ?? first(row, 'ipv6.src');
    const dip = first(row, 'ip.dst') ?? first(row, 'ipv6.dst');
    if (sip === null || dip === null) continue;
    // As our reports write endpoints: IPv6 in brackets.
    const ep = (ip: string, port: string): string => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
    out.push({ frame, src: ep(sip, sport), dst: ep(dip, dport), row });
  }
  return out.sort((a, b) => a.frame - b.frame);
}

export function first(row: Row | undefined, field: string): string | null {
  return row?.get(field)?.[0] ?? null;
}

export function all(row: Row | undefined, field: string): string[] {
  return row?.get(field) ?? [];
}

export function has(row: Row | undefined, field: string, value: string): boolean {
  return all(row, field).includes(value);
}

/** "0x0000000b" / "11" -> 11, absent -> null. */
export function num(v: string | null): number | null {
  if (v === null) return null;
  return v.startsWith('0x') ? parseInt(v, 16) : Number(v);
}

/** tshark's TLS version words (RFC 8446 4.1.2 legacy_version, 4.2.1 supported_versions) in our naming. */
export function tlsVersionName(v: number): string {
  if (v === 0x0300) return 'SSL3.0';
  if (v >= 0x0301 && v <= 0x0304) return `TLS1.${v - 0x0301}`;
  return `0x${v.toString(16).padStart(4, '0')}`;
}

/** "2021-02-12 00:00:00 (UTC)" (x509af.utcTime / generalizedTime) -> "2021-02-12T00:00:00Z". */
export function isoOfTsharkTime(s: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.\d+)? \(UTC\)$/.exec(s);
  if (!m) throw new Error(`unexpected tshark time format: ${JSON.stringify(s)}`);
  return `${m[1]}T${m[2]}Z`;
}

/**
 * Validity of every certificate of a Certificate message frame, in order. x509af.notBefore /
 * notAfter carry the CHOICE index (0 utcTime, 1 generalizedTime; RFC 5280 4.1.2.5), the times sit
 * in x509af.utcTime / x509af.generalizedTime in document order.
 */
export function certificateValidity(row: Row): { notBefore: string; notAfter: string }[] {
  const nb = all(row, 'x509af.notBefore');
  const na = all(row, 'x509af.notAfter');
  const utc = all(row, 'x509af.utcTime').slice();
  const gen = all(row, 'x509af.generalizedTime').slice();
  const take = (choice: string): string => {
    const q = choice === '0' ? utc : gen;
    const v = q.shift();
    if (v === undefined) throw new Error('tshark listed more validity choices than times');
    return isoOfTsharkTime(v);
  };
  const out: { notBefore: string; notAfter: string }[] = [];
  for (let i = 0; i < nb.length; i++) out.push({ notBefore: take(nb[i]!), notAfter: take(na[i] ?? '0') });
  return out;
}
