// Inference of the RDP connection sequence inside TLS without keys (../shared/design.md,
// "Inside TLS without keys"): from the direction, order and size of the application-data
// records after the TLS handshake, name the steps the connection most likely went through.
// Pure: a list of records in, a list of steps out. Every step is `inferred: true` with a
// confidence below 1 and the frames that carry it; `reason` says which rule matched.
//
// Sizes are turned into plaintext estimates with the negotiated suite (tls.ts plaintextRange,
// upper bound = minimal padding); unknown suite: record length - 24 (the TLS 1.2 AES-GCM overhead
// seen in most RDP captures). The thresholds below are plaintext bytes, from MS-RDPBCGR PDU sizes
// and from the real captures in ../shared/captures (MANIFEST.md):
//
// - CredSSP (MS-CSSP 3.1.5): TSRequests alternate client/server: NTLM NEGOTIATE ~40-80,
//   CHALLENGE ~150-350, AUTHENTICATE + pubKeyAuth ~400-1000, server pubKeyAuth ~60-350,
//   authInfo (credentials) ~80-300; Kerberos AP-REQ can be a few KB. The exchange ends when the
//   client sends two records in a row and the second is Connect-Initial-sized
//   (>= MCS_CONNECT_INITIAL_MIN), because the server never answers authInfo (MS-CSSP 3.1.5.2),
//   or (HYBRID_EX) at the server's 4-byte Early User Authorization Result (MS-RDPBCGR 2.2.10.2),
//   or at a server TSRequest that can only hold version + errorCode (MS-CSSP 2.2.1, 3.1.5: from
//   version 3 the server reports a failure in errorCode; `30 0d a0 03 02 01 06 a4 06 02 04 <NTSTATUS>`
//   is 15 bytes, up to CREDSSP_ERROR_MAX with a longer encoding): no CHALLENGE (>= 100) or
//   pubKeyAuth (>= 40) is that small, and a TSRequest is never smaller than CREDSSP_ERROR_MIN.
// - MCS Connect Initial (MS-RDPBCGR 2.2.1.3): client, >= 200 (core+security+network+cluster data
//   is ~300-700; zeek rdp-to-ssl: 464-byte record, ~440 plaintext). Connect Response
//   (2.2.1.4): the next server record, >= 40.
// - Erect Domain (12), Attach User Request (8) / Confirm (11), Channel Join Request (12) /
//   Confirm (15) (2.2.1.5-2.2.1.9): runs of tiny records, <= TINY.
// - Client Info (2.2.1.11): the next client record, >= 100 (~300-900 with names and paths).
// - Licensing (2.2.1.12) and optional auto-detect / multitransport PDUs: the records between
//   Client Info and Demand Active.
// - Demand Active (2.2.1.13.1): the last server record (>= 150) before Confirm Active, which is
//   a client record >= 200 whose next two client records are small (< 150: Synchronize /
//   Control, 2.2.1.14-2.2.1.16): the finalization's signature. A licensing client message
//   (New License Request, ~300-400) is followed by server records and a large client record,
//   so it does not match; Windows may send Monitor Layout / auto-detect server records in between.
// - Finalization (2.2.1.14-2.2.1.22): the small records after Confirm Active. The client sends
//   Synchronize, Control Cooperate, Control Request Control, Font List (~35-40 bytes each, records
//   of 59-63 bytes under AES-GCM), the server answers Synchronize, Control Cooperate, Control
//   Granted, Font Map; the server's fourth small record (after at least three of the client's) is
//   the Font Map, and from it the connection is active (1.3.1.1) even when no graphics follow (an
//   idle logon screen sends a few hundred bytes). Without those answers: the small records up to
//   the first large server record; active from it, strongly so when large server records
//   (>= 1000, bitmap / graphics updates) keep coming.
// - A sustained stream (>= BULK_MIN_LARGE server records >= LARGE_SERVER, usually with small
//   client input records in between: fast-path input, 2.2.8.1.2) after MCS / licensing is the
//   active phase even when an earlier step did not match its template (a Demand Active smaller
//   than usual, an auto-detect PDU where Confirm Active was expected): only an active session
//   sends graphics in bulk. Phases reached never go back: steps come out in phase order.
//
// Limits: TLS 1.3 hides the handshake's end too: `splitTls13Records` removes the server's
// encrypted flight and the client's Finished; server records before the client's first record
// (NewSessionTickets) are skipped, a ticket sent later is taken for RDP data. Records must be in
// capture order per connection (both directions interleaved).
import type { Phase } from '../handshake/types.js';
import { plaintextRange } from './tls.js';
import { TLS1_3 } from './tls-codes.js';

/** One application-data record after the TLS handshake. */
export interface AppRecord {
  dir: 'c2s' | 's2c';
  /** TLSCiphertext.length (without the 5-byte header). */
  length: number;
  frame: number;
  time: number;
}

/** MS-RDPBCGR 2.2.1.1.1 requestedProtocols / selectedProtocol values. */
export const PROTOCOL_RDP = 0x0;
export const PROTOCOL_SSL = 0x1;
export const PROTOCOL_HYBRID = 0x2;
export const PROTOCOL_RDSTLS = 0x4;
export const PROTOCOL_HYBRID_EX = 0x8;

export interface ShapeInput {
  records: AppRecord[];
  /** selectedProtocol of the RDP_NEG_RSP (null when unknown: CredSSP is then not assumed). */
  selectedProtocol: number | null;
  /** Negotiated suite and version (for the plaintext estimates), or null. */
  cipherSuite: number | null;
  version: number | null;
  /** ServerHello echoed encrypt_then_mac (RFC 7366): changes CBC record sizes. */
  encryptThenMac?: boolean;
}

/** Step names, in connection-sequence order. */
export type ShapeStepName =
  | 'credssp'
  | 'early_user_authorization_result'
  | 'credssp_error'
  | 'mcs_connect_initial'
  | 'mcs_connect_response'
  | 'mcs_erect_domain_attach_user'
  | 'mcs_channel_join'
  | 'client_info'
  | 'licensing'
  | 'demand_active'
  | 'confirm_active'
  | 'finalization'
  | 'active';

export interface ShapeStep {
  step: ShapeStepName;
  phase: Phase;
  inferred: true;
  /** 0..1, always < 1. */
  confidence: number;
  /** Frames of the records that make the step (first one is the evidence frame). */
  frames: number[];
  /** Time of the first record. */
  time: number;
  /** Which rule matched, with the sizes, one line. */
  reason: string;
}

export interface ShapeResult {
  steps: ShapeStep[];
  /** The furthest phase the steps show, or 'tls' when none. */
  reached: Phase;
  /** Records left unexplained once the pattern stopped matching (their first frame), or null. */
  unexplainedFrom: number | null;
}

/** Plaintext thresholds (bytes); see the header comment for where each comes from. */
export const SHAPE_THRESHOLDS = {
  TINY: 40,
  MCS_CONNECT_INITIAL_MIN: 200,
  MCS_CONNECT_RESPONSE_MIN: 40,
  CLIENT_INFO_MIN: 100,
  DEMAND_ACTIVE_MIN: 150,
  CONFIRM_ACTIVE_MIN: 200,
  /** Synchronize (2.2.1.14, 22 bytes), Control (2.2.1.15, 26), Persistent Key List / Font List: small. */
  FINALIZATION_MAX: 150,
  /** The server's finalization PDUs: Synchronize, Control Cooperate, Control Granted, Font Map (2.2.1.19-2.2.1.22). */
  FINALIZATION_SERVER_RECORDS: 4,
  /** Client finalization records before the Font Map: Synchronize, Control Cooperate, Control Request Control, Font List (one may share a record). */
  FINALIZATION_CLIENT_MIN: 3,
  LARGE_SERVER: 1000,
  /** Large server records that make a sustained (active-phase) stream. */
  BULK_MIN_LARGE: 3,
  /** TSRequest with version and errorCode only (MS-CSSP 2.2.1): 15-16 bytes, a little more with long-form lengths. */
  CREDSSP_ERROR_MIN: 13,
  CREDSSP_ERROR_MAX: 32,
  /** Overhead assumed when the suite is unknown (TLS 1.2 AES-GCM: 8 nonce + 16 tag). */
  UNKNOWN_OVERHEAD: 24,
} as const;

const T = SHAPE_THRESHOLDS;

/** Estimated plaintext (upper bound) of a record. */
export function estimatePlaintext(length: number, cipherSuite: number | null, version: number | null, encryptThenMac = false): number {
  if (cipherSuite !== null && version !== null) {
    const r = plaintextRange(length, cipherSuite, version, encryptThenMac);
    if (r) return r.max;
  }
  return Math.max(0, length - T.UNKNOWN_OVERHEAD);
}

/** Whether a server record is exactly the 4-byte Early User Authorization Result (MS-RDPBCGR 2.2.10.2). */
function isEarlyUserAuthSized(length: number, cipherSuite: number | null, version: number | null, encryptThenMac: boolean): boolean {
  if (cipherSuite !== null && version !== null) {
    const r = plaintextRange(length, cipherSuite, version, encryptThenMac);
    if (r) return r.min <= 4 && 4 <= r.max;
  }
  return length - T.UNKNOWN_OVERHEAD >= 0 && length - T.UNKNOWN_OVERHEAD <= 8;
}

/**
 * TLS 1.3 (RFC 8446 2): after ServerHello both flights are application_data records. Removes the
 * server's records before the client's first one (EncryptedExtensions .. Finished) and that first
 * client record (its Finished), leaving the records after the handshake.
 */
export function splitTls13Records(records: AppRecord[]): { handshake: AppRecord[]; application: AppRecord[] } {
  const firstClient = records.findIndex((r) => r.dir === 'c2s');
  if (firstClient < 0) return { handshake: records.slice(), application: [] };
  return { handshake: records.slice(0, firstClient + 1), application: records.slice(firstClient + 1) };
}

/**
 * Whether a server record can hold a TSRequest with only version and errorCode (MS-CSSP 2.2.1):
 * its plaintext range meets [CREDSSP_ERROR_MIN, CREDSSP_ERROR_MAX].
 */
export function isCredsspErrorSized(length: number, cipherSuite: number | null, version: number | null, encryptThenMac = false): boolean {
  if (cipherSuite !== null && version !== null) {
    const r = plaintextRange(length, cipherSuite, version, encryptThenMac);
    if (r) return r.min <= T.CREDSSP_ERROR_MAX && r.max >= T.CREDSSP_ERROR_MIN;
  }
  const p = length - T.UNKNOWN_OVERHEAD;
  return p >= T.CREDSSP_ERROR_MIN && p <= T.CREDSSP_ERROR_MAX;
}

const PHASE_ORDER: Phase[] = ['tls', 'credssp', 'mcs', 'licensing', 'capabilities', 'finalization', 'active'];

/** Infers the connection-sequence steps from the shape of the records (see the header comment). */
export function inferTlsPhases(input: ShapeInput): ShapeResult {
  const recs = input.records;
  const n = recs.length;
  const etm = input.encryptThenMac ?? false;
  const pt = new Array<number>(n);
  for (let k = 0; k < n; k++) pt[k] = estimatePlaintext(recs[k]!.length, input.cipherSuite, input.version, etm);
  return inferTlsShape(input, pt, true);
}

const NO_FRAMES: number[] = Object.freeze([]) as unknown as number[];

/**
 * inferTlsPhases with the plaintext estimates given (`pt[k]` = estimatePlaintext of `records[k]`
 * under the input's suite, version and encrypt-then-MAC) instead of recomputed. With `full` false,
 * the same steps (names, phases, confidences, times, order; same `reached` and `unexplainedFrom`)
 * but without their frames (an empty array) and reasons (''): what src/handshake/shape.ts asks for
 * every new record to learn whether a step appeared, before asking for the full steps.
 */
export function inferTlsShape(input: ShapeInput, pt: ArrayLike<number>, full: boolean): ShapeResult {
  const recs = input.records;
  const n = recs.length;
  const etm = input.encryptThenMac ?? false;
  // Called for every new record of a connection (src/handshake/shape.ts): plain loops, no
  // slice/map/filter chains (they were a third of its time in the 1 GB corpus profile), and the
  // reasons (template strings) built only when asked for.
  const steps: ShapeStep[] = [];
  /** "c81 s286 c567": direction and length of recs[from, to). */
  const sizes = (from: number, to: number): string => {
    let out = '';
    for (let k = from; k < to; k++) out += `${k > from ? ' ' : ''}${recs[k]!.dir === 'c2s' ? 'c' : 's'}${recs[k]!.length}`;
    return out;
  };
  const add = (step: ShapeStepName, phase: Phase, confidence: number, from: number, to: number, reason: string) => {
    let frames = NO_FRAMES;
    if (full) {
      frames = [];
      for (let k = from; k < to; k++) frames.push(recs[k]!.frame);
    }
    steps.push({ step, phase, inferred: true, confidence, frames, time: recs[from]!.time, reason });
  };
  /** From `from` on: the first large server record of a sustained stream, with its counts, or null. */
  const bulkStream = (from: number): { from: number; large: number; input: number } | null => {
    let first = -1;
    let large = 0;
    let inputRecords = 0;
    for (let k = from; k < n; k++) {
      if (recs[k]!.dir === 's2c' && pt[k]! >= T.LARGE_SERVER) {
        if (first < 0) first = k;
        large++;
      } else if (first >= 0 && recs[k]!.dir === 'c2s' && pt[k]! < T.FINALIZATION_MAX) inputRecords++;
    }
    return large >= T.BULK_MIN_LARGE ? { from: first, large, input: inputRecords } : null;
  };
  const addBulk = (b: { from: number; large: number; input: number }, why: string) => {
    add(
      'active',
      'active',
      b.input > 0 ? 0.6 : 0.5,
      b.from,
      n,
      !full ? '' : `${why} ${b.large} server records >= ${T.LARGE_SERVER} bytes follow (bulk graphics)${b.input > 0 ? ` with ${b.input} small client records (input)` : ''}`,
    );
  };
  let i = 0;
  // TLS 1.3 (RFC 8446 4.6.1): NewSessionTicket messages travel as application_data records after the
  // handshake. The client always speaks first in RDP (CredSSP NEGOTIATE, MS-CSSP 3.1.5; or MCS
  // Connect Initial), so server records before the client's first one are post-handshake messages.
  if (needsTls13Split(input.version)) while (i < n && recs[i]!.dir === 's2c') i++;
  const proto = input.selectedProtocol;
  const credssp = proto !== null && (proto & (PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX)) !== 0;
  const hybridEx = proto !== null && (proto & PROTOCOL_HYBRID_EX) !== 0;

  // 1. CredSSP.
  let stoppedAt: number | null = null;
  const stop = (at: number) => {
    if (stoppedAt === null && at < n) stoppedAt = at;
  };
  let credsspFailed = false;
  if (credssp && i < n) {
    const start = i;
    let euar = -1;
    let error = -1;
    while (i < n) {
      const r = recs[i]!;
      if (hybridEx && r.dir === 's2c' && i > start && isEarlyUserAuthSized(r.length, input.cipherSuite, input.version, etm)) {
        euar = i;
        break;
      }
      if (r.dir === 's2c' && i > start && isCredsspErrorSized(r.length, input.cipherSuite, input.version, etm)) {
        error = i;
        break;
      }
      if (i > start && r.dir === 'c2s' && recs[i - 1]!.dir === 'c2s' && pt[i]! >= T.MCS_CONNECT_INITIAL_MIN) break;
      i++;
    }
    if (i > start) {
      let c = 0;
      for (let k = start; k < i; k++) if (recs[k]!.dir === 'c2s') c++;
      const s = i - start - c;
      const conf = c >= 2 && s >= 1 ? 0.7 : 0.5;
      add('credssp', 'credssp', conf, start, i, full ? `${proto === PROTOCOL_HYBRID ? 'HYBRID' : 'HYBRID_EX'} selected; ${c} client / ${s} server records alternating (${sizes(start, i)})${euar >= 0 ? ', then the Early User Authorization Result' : error >= 0 ? ', then an error-sized server record' : i < n ? ', then MCS' : ''}` : '');
    }
    if (euar >= 0) {
      add('early_user_authorization_result', 'credssp', input.cipherSuite !== null ? 0.8 : 0.6, euar, euar + 1, full ? `server record of ${recs[euar]!.length} bytes = 4 bytes of plaintext under the negotiated suite (MS-RDPBCGR 2.2.10.2)` : '');
      i = euar + 1;
    }
    if (error >= 0) {
      add(
        'credssp_error',
        'credssp',
        input.cipherSuite !== null ? 0.6 : 0.45,
        error,
        error + 1,
        !full ? '' : `server record of ${recs[error]!.length} bytes (~${pt[error]} plaintext): only a TSRequest with version and errorCode is that small (MS-CSSP 2.2.1), the server reporting a failure`,
      );
      i = error + 1;
      credsspFailed = true;
      stop(i);
    }
  }

  // 2. MCS Connect Initial / Response.
  mcs: {
    if (i >= n || credsspFailed) break mcs;
    if (recs[i]!.dir !== 'c2s' || pt[i]! < T.MCS_CONNECT_INITIAL_MIN) {
      stop(i);
      break mcs;
    }
    add('mcs_connect_initial', 'mcs', 0.6, i, i + 1, full ? `client record of ${recs[i]!.length} bytes (~${pt[i]} plaintext >= ${T.MCS_CONNECT_INITIAL_MIN}) opens the RDP exchange` : '');
    i++;
    // Connect Initial may take more than one record when large; the response is the next server record.
    while (i < n && recs[i]!.dir === 'c2s' && pt[i]! > T.TINY) i++;
    if (i >= n) break mcs;
    if (recs[i]!.dir !== 's2c' || pt[i]! < T.MCS_CONNECT_RESPONSE_MIN) {
      stop(i);
      break mcs;
    }
    add('mcs_connect_response', 'mcs', 0.6, i, i + 1, full ? `next server record of ${recs[i]!.length} bytes (~${pt[i]} plaintext) answers it` : '');
    i++;

    // 3. Erect Domain, Attach User, Channel Joins: a run of tiny records.
    const runStart = i;
    while (i < n && pt[i]! <= T.TINY) i++;
    if (i - runStart < 2) {
      stop(runStart);
      break mcs;
    }
    // Up to the first tiny server record (Attach User Confirm) inclusive; the rest are joins.
    let firstServer = -1;
    for (let k = runStart; k < i; k++) if (recs[k]!.dir === 's2c') { firstServer = k; break; }
    const attachEnd = firstServer >= 0 ? firstServer + 1 : i;
    add('mcs_erect_domain_attach_user', 'mcs', 0.55, runStart, attachEnd, full ? `tiny records (<= ${T.TINY} plaintext) right after Connect Response: ${sizes(runStart, attachEnd)}` : '');
    if (attachEnd < i) {
      let joins = 0;
      for (let k = attachEnd; k < i; k++) if (recs[k]!.dir === 's2c') joins++;
      add('mcs_channel_join', 'mcs', 0.5, attachEnd, i, full ? `${joins} tiny request/confirm pairs follow (${sizes(attachEnd, i)})` : '');
    }

    // 4. Client Info.
    if (i >= n) break mcs;
    if (recs[i]!.dir !== 'c2s' || pt[i]! < T.CLIENT_INFO_MIN) {
      stop(i);
      break mcs;
    }
    add('client_info', 'mcs', 0.5, i, i + 1, full ? `client record of ${recs[i]!.length} bytes (~${pt[i]} plaintext) after the joins` : '');
    i++;

    // 5. Demand Active = last server record before Confirm Active (a client record >= CONFIRM_ACTIVE_MIN
    //    whose next two client records are small: Synchronize, Control Cooperate ...).
    const nextClientRecordsSmall = (k: number): boolean => {
      let seen = 0;
      for (let m = k + 1; m < n && seen < 2; m++) {
        if (recs[m]!.dir !== 'c2s') continue;
        if (pt[m]! >= T.FINALIZATION_MAX) return false;
        seen++;
      }
      return seen === 2;
    };
    let confirm = -1;
    for (let k = i; k + 1 < n; k++) {
      if (recs[k]!.dir === 'c2s' && pt[k]! >= T.CONFIRM_ACTIVE_MIN && nextClientRecordsSmall(k)) {
        let d = k - 1;
        while (d >= i && recs[d]!.dir !== 's2c') d--;
        if (d >= i && pt[d]! >= T.DEMAND_ACTIVE_MIN) {
          confirm = k;
          break;
        }
      }
    }
    if (confirm < 0) {
      // No Demand Active / Confirm Active pattern: licensing, then, if it comes, the bulk stream of an active session.
      const bulk = bulkStream(i);
      const licEnd = bulk === null ? n : bulk.from;
      if (licEnd > i) add('licensing', 'licensing', 0.4, i, licEnd, full ? `records after Client Info with no Demand Active / Confirm Active pattern${bulk === null ? ' yet' : ''} (${sizes(i, Math.min(licEnd, i + 8))}${licEnd - i > 8 ? ' ...' : ''})` : '');
      if (bulk !== null) addBulk(bulk, `after Client Info, no Demand Active / Confirm Active pattern recognised, but`);
      i = n;
      break mcs;
    }
    let demand = confirm - 1;
    while (recs[demand]!.dir !== 's2c') demand--;
    if (demand > i) add('licensing', 'licensing', 0.45, i, demand, full ? `records between Client Info and Demand Active (${sizes(i, demand)})` : '');
    add('demand_active', 'capabilities', 0.5, demand, demand + 1, full ? `server record of ${recs[demand]!.length} bytes (~${pt[demand]} plaintext) just before Confirm Active` : '');
    add('confirm_active', 'capabilities', 0.55, confirm, confirm + 1, full ? `client record of ${recs[confirm]!.length} bytes (~${pt[confirm]} plaintext) followed by small client records (Synchronize / Control)` : '');
    i = confirm + 1;

    // 6. Finalization, then active. The server's answers (Synchronize, Control Cooperate, Control
    //    Granted, Font Map: 2.2.1.19-2.2.1.22) are small records after the client's own (Synchronize,
    //    Control Cooperate, Control Request Control, [Persistent Key List,] Font List: 2.2.1.14-2.2.1.18);
    //    the Font Map is the server's last, and after it the connection is active (1.3.1.1), whether or
    //    not graphics follow (an idle logon screen sends only small updates).
    const finStart = i;
    let clientSmall = 0;
    let serverSmall = 0;
    let fontMap = -1;
    while (i < n && !(recs[i]!.dir === 's2c' && pt[i]! >= T.LARGE_SERVER)) {
      if (pt[i]! < T.FINALIZATION_MAX) {
        if (recs[i]!.dir === 'c2s') clientSmall++;
        else if (++serverSmall === T.FINALIZATION_SERVER_RECORDS && clientSmall >= T.FINALIZATION_CLIENT_MIN) {
          fontMap = i;
          break;
        }
      }
      i++;
    }
    if (fontMap >= 0) {
      add('finalization', 'finalization', 0.6, finStart, fontMap + 1, full ? `${clientSmall} small client and ${serverSmall} small server records after Confirm Active (${sizes(finStart, fontMap + 1)}): the client's Synchronize, Control Cooperate, Control Request Control, Font List and the server's answers` : '');
      let large = 0;
      for (let k = fontMap + 1; k < n; k++) if (recs[k]!.dir === 's2c' && pt[k]! >= T.LARGE_SERVER) large++;
      add(
        'active',
        'active',
        large >= T.BULK_MIN_LARGE ? 0.8 : 0.7,
        fontMap,
        n,
        !full ? '' : `server record of ${recs[fontMap]!.length} bytes (~${pt[fontMap]} plaintext), its ${T.FINALIZATION_SERVER_RECORDS}th small record after Confirm Active, is the Font Map that ends the finalization (MS-RDPBCGR 1.3.1.1)${large > 0 ? `; ${large} server records >= ${T.LARGE_SERVER} bytes follow (graphics)` : ''}`,
      );
      i = n;
    }
    if (fontMap < 0 && i > finStart) add('finalization', 'finalization', 0.5, finStart, i, full ? `${i - finStart} records after Confirm Active before the first large server record` : '');
    if (i < n) {
      let large = 0;
      for (let k = i; k < n; k++) if (recs[k]!.dir === 's2c' && pt[k]! >= T.LARGE_SERVER) large++;
      add(
        'active',
        'active',
        large >= T.BULK_MIN_LARGE ? 0.8 : 0.6,
        i,
        n,
        !full ? '' : `server record of ${recs[i]!.length} bytes (~${pt[i]} plaintext) after the finalization: graphics updates${large > 1 ? ` (${large} server records >= ${T.LARGE_SERVER} bytes in the ${n - i} records from it)` : ''}`,
      );
      i = n;
    }
  }

  // Fallback: the sequence was not recognised, but bulk server data shows an active session.
  if (stoppedAt !== null && !credsspFailed) {
    const from = stoppedAt as number;
    const bulk = bulkStream(from);
    if (bulk !== null) addBulk(bulk, full ? `sequence not recognised from frame ${recs[from]!.frame}, but` : '');
  }

  let reached: Phase = 'tls';
  for (const s of steps) if (PHASE_ORDER.indexOf(s.phase) > PHASE_ORDER.indexOf(reached)) reached = s.phase;
  return { steps, reached, unexplainedFrom: stoppedAt === null ? null : recs[stoppedAt as number]!.frame };
}

/** True when the negotiated version needs splitTls13Records before inferTlsPhases. */
export function needsTls13Split(version: number | null): boolean {
  return version !== null && version >= TLS1_3 && version <= 0x03ff;
}
