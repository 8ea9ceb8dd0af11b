// NSS key log format (the SSLKEYLOGFILE format written by NSS, OpenSSL's keylog callback, Node's
// tls 'keylog' event, FreeRDP and browsers; also the content of a pcapng Decryption Secrets Block
// of type 0x544c534b "TLSK", pcapng 4.7). One line per secret: `LABEL <client_random hex>
// <secret hex>`; '#' comments and blank lines are ignored. This file is about TLS only: a key
// store per client random, not tied to what runs inside TLS.
//
// Labels kept (https://firefox-source-docs.mozilla.org/security/nss/legacy/key_log_format/):
// - CLIENT_RANDOM: the 48-byte master secret of TLS 1.2 and earlier (RFC 5246 8.1; with the
//   extended master secret of RFC 7627 too: the line carries the result, not the premaster);
// - CLIENT_HANDSHAKE_TRAFFIC_SECRET, SERVER_HANDSHAKE_TRAFFIC_SECRET, CLIENT_TRAFFIC_SECRET_0,
//   SERVER_TRAFFIC_SECRET_0: TLS 1.3 traffic secrets (RFC 8446 7.1).
// - RSA: `RSA <first 8 bytes of the encrypted pre-master secret> <48-byte pre-master secret>` for
//   the RSA key exchange (RFC 5246 7.4.7.1), found by the ClientKeyExchange's encrypted pre-master.
// Other labels (EXPORTER_SECRET, EARLY_EXPORTER_SECRET, CLIENT_EARLY_TRAFFIC_SECRET) are
// counted as skipped. The secrets are kept only in memory: nothing here is ever reported.

/** The TLS 1.3 secrets of one session (RFC 8446 7.1), each null until a line gives it. */
export interface Tls13Secrets {
  clientHandshake: Buffer | null;
  serverHandshake: Buffer | null;
  clientTraffic0: Buffer | null;
  serverTraffic0: Buffer | null;
}

/** A line that could not be used: its number (1-based, in the source it came from) and why. */
export interface KeyLogProblem {
  source: string;
  line: number;
  reason: string;
}

/** Problems kept per key store (a wrong file fed as a key log could have millions of lines). */
export const MAX_KEYLOG_PROBLEMS = 20;
/** Sessions kept per key store (each a few dozen bytes; a key log of a busy browser has thousands). */
export const MAX_KEYLOG_SESSIONS = 1_000_000;

const TLS13_LABELS: Readonly<Record<string, keyof Tls13Secrets>> = {
  CLIENT_HANDSHAKE_TRAFFIC_SECRET: 'clientHandshake',
  SERVER_HANDSHAKE_TRAFFIC_SECRET: 'serverHandshake',
  CLIENT_TRAFFIC_SECRET_0: 'clientTraffic0',
  SERVER_TRAFFIC_SECRET_0: 'serverTraffic0',
};
const IGNORED_LABELS = new Set(['EXPORTER_SECRET', 'EARLY_EXPORTER_SECRET', 'CLIENT_EARLY_TRAFFIC_SECRET', 'PMS_CLIENT_RANDOM']);

/** Lowercase hex of 32 bytes, or null. */
function hexKey(s: string): string | null {
  return s.length === 64 && /^[0-9a-fA-F]+$/.test(s) ? s.toLowerCase() : null;
}

function hexBytes(s: string): Buffer | null {
  return s.length > 0 && s.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(s) ? Buffer.from(s, 'hex') : null;
}

/** Lowercase hex of a client random as the key store indexes it. */
export function clientRandomKey(random: Uint8Array): string {
  return Buffer.from(random.buffer, random.byteOffset, random.byteLength).toString('hex');
}

/**
 * The secrets of every source given (key log files, Decryption Secrets Blocks), by client random.
 * Duplicate lines are tolerated (the same value again is not a problem; a different one replaces
 * it and is named as a problem, since one of the two is wrong).
 */
export class KeyLog {
  readonly master = new Map<string, Buffer>();
  readonly tls13 = new Map<string, Tls13Secrets>();
  /** RSA lines: the pre-master secret by the first 8 bytes of its encryption (16 lowercase hex). */
  readonly rsa = new Map<string, Buffer>();
  /** Lines read that carried a secret we keep / another label we do not use. */
  lines = 0;
  skipped = 0;
  readonly problems: KeyLogProblem[] = [];
  droppedProblems = 0;
  /** Names of the sources read ("keys.log", "DSB in capture.pcapng"), in order. */
  readonly sources: string[] = [];
  /**
   * Set by the owner when a source can grow while it is used (a live capture's SSLKEYLOGFILE):
   * reads what was appended; true when lines were added. Called on a miss, before giving up.
   */
  refresh: (() => boolean) | null = null;

  get size(): number {
    return this.master.size + this.tls13.size + this.rsa.size;
  }

  private problem(source: string, line: number, reason: string): void {
    if (this.problems.length < MAX_KEYLOG_PROBLEMS) this.problems.push({ source, line, reason });
    else this.droppedProblems++;
  }

  /** Adds the lines of an NSS key log (a file's text or a DSB's data). */
  add(text: string | Uint8Array, source: string): void {
    const s = typeof text === 'string' ? text : Buffer.from(text.buffer, text.byteOffset, text.byteLength).toString('latin1');
    if (!this.sources.includes(source)) this.sources.push(source);
    let lineNo = 0;
    let start = 0;
    while (start <= s.length) {
      let nl = s.indexOf('\n', start);
      if (nl < 0) nl = s.length;
      lineNo++;
      const line = s.slice(start, nl).trim();
      start = nl + 1;
      if (line === '' || line.startsWith('#')) continue;
      this.addLine(line, source, lineNo);
    }
  }

  private addLine(line: string, source: string, lineNo: number): void {
    const parts = line.split(/\s+/);
    const label = parts[0]!;
    if (IGNORED_LABELS.has(label)) {
      this.skipped++;
      return;
    }
    if (label === 'RSA') {
      this.addRsa(parts, source, lineNo);
      return;
    }
    const field = label === 'CLIENT_RANDOM' ? null : TLS13_LABELS[label];
    if (label !== 'CLIENT_RANDOM' && field === undefined) {
      this.problem(source, lineNo, `unknown label ${JSON.stringify(label.slice(0, 40))}`);
      return;
    }
    if (parts.length !== 3) {
      this.problem(source, lineNo, `${label}: expected 3 fields, found ${parts.length}`);
      return;
    }
    const cr = hexKey(parts[1]!);
    if (cr === null) {
      this.problem(source, lineNo, `${label}: the client random is not 32 bytes of hex`);
      return;
    }
    const secret = hexBytes(parts[2]!);
    if (secret === null) {
      this.problem(source, lineNo, `${label}: the secret is not hex`);
      return;
    }
    if (this.size >= MAX_KEYLOG_SESSIONS && !this.master.has(cr) && !this.tls13.has(cr)) {
      this.problem(source, lineNo, `more than ${MAX_KEYLOG_SESSIONS} sessions: the rest are skipped`);
      return;
    }
    if (field === null || field === undefined) {
      // RFC 5246 8.1: the master secret is always 48 bytes.
      if (secret.length !== 48) {
        this.problem(source, lineNo, `CLIENT_RANDOM: the master secret has ${secret.length} bytes, not 48`);
        return;
      }
      const old = this.master.get(cr);
      if (old !== undefined && !old.equals(secret)) this.problem(source, lineNo, 'CLIENT_RANDOM: a different master secret for a client random already given; the later one is used');
      this.master.set(cr, secret);
    } else {
      // RFC 8446 7.1: a traffic secret is Hash.length bytes (SHA-256 32, SHA-384 48).
      if (secret.length !== 32 && secret.length !== 48) {
        this.problem(source, lineNo, `${label}: the secret has ${secret.length} bytes, not 32 or 48`);
        return;
      }
      let e = this.tls13.get(cr);
      if (e === undefined) {
        e = { clientHandshake: null, serverHandshake: null, clientTraffic0: null, serverTraffic0: null };
        this.tls13.set(cr, e);
      }
      const old = e[field];
      if (old !== null && !old.equals(secret)) this.problem(source, lineNo, `${label}: a different secret for a client random already given; the later one is used`);
      e[field] = secret;
    }
    this.lines++;
  }

  /** `RSA <encrypted pre-master, first 8 bytes hex> <pre-master hex>` (RFC 5246 7.4.7.1: 48 bytes). */
  private addRsa(parts: string[], source: string, lineNo: number): void {
    if (parts.length !== 3) {
      this.problem(source, lineNo, `RSA: expected 3 fields, found ${parts.length}`);
      return;
    }
    const id = parts[1]!;
    if (id.length !== 16 || !/^[0-9a-fA-F]+$/.test(id)) {
      this.problem(source, lineNo, 'RSA: the encrypted pre-master prefix is not 8 bytes of hex');
      return;
    }
    const pms = hexBytes(parts[2]!);
    if (pms === null || pms.length !== 48) {
      this.problem(source, lineNo, `RSA: the pre-master secret is not 48 bytes of hex`);
      return;
    }
    if (this.size >= MAX_KEYLOG_SESSIONS && !this.rsa.has(id.toLowerCase())) {
      this.problem(source, lineNo, `more than ${MAX_KEYLOG_SESSIONS} sessions: the rest are skipped`);
      return;
    }
    this.rsa.set(id.toLowerCase(), pms);
    this.lines++;
  }

  /** The lines of one session, in the key log format (for an evidence capture's DSB), or null. */
  linesFor(clientRandom: string, rsaKey?: string): string | null {
    const out: string[] = [];
    // An RSA key exchange's line, named by its encrypted pre-master's first 8 bytes (public).
    const pms = rsaKey !== undefined ? this.rsa.get(rsaKey) : undefined;
    if (pms !== undefined) out.push(`RSA ${rsaKey} ${pms.toString('hex')}`);
    const m = this.master.get(clientRandom);
    if (m !== undefined) out.push(`CLIENT_RANDOM ${clientRandom} ${m.toString('hex')}`);
    const t = this.tls13.get(clientRandom);
    if (t !== undefined) {
      for (const [label, field] of Object.entries(TLS13_LABELS)) {
        const v = t[field];
        if (v !== null) out.push(`${label} ${clientRandom} ${v.toString('hex')}`);
      }
    }
    return out.length > 0 ? out.join('\n') + '\n' : null;
  }
}

/** pcapng 4.7 secrets type of a TLS key log ("TLSK"). */
export const SECRETS_TYPE_TLS_KEY_LOG = 0x544c534b;
