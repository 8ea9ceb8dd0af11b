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
// (NewSessionTickets) are skipped, and so are tickets that crossed the MCS Connect Initial (the
// server records before the Connect Response, connectResponseAfterTickets); a ticket sent later
// still is taken for RDP data. Records must be in
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

/** Step names in the order of their codes in ShapeSteps.code. */
const STEP_NAMES: readonly ShapeStepName[] = [
  'credssp',
  'early_user_authorization_result',
  'credssp_error',
  'mcs_connect_initial',
  'mcs_connect_response',
  'mcs_erect_domain_attach_user',
  'mcs_channel_join',
  'client_info',
  'licensing',
  'demand_active',
  'confirm_active',
  'finalization',
  'active',
];
const STEP_PHASES: readonly Phase[] = ['credssp', 'credssp', 'credssp', 'mcs', 'mcs', 'mcs', 'mcs', 'mcs', 'licensing', 'capabilities', 'capabilities', 'finalization', 'active'];
const S_CREDSSP = 0;
const S_EUAR = 1;
const S_CREDSSP_ERROR = 2;
const S_CONNECT_INITIAL = 3;
const S_CONNECT_RESPONSE = 4;
const S_ATTACH = 5;
const S_JOIN = 6;
const S_CLIENT_INFO = 7;
const S_LICENSING = 8;
const S_DEMAND = 9;
const S_CONFIRM = 10;
const S_FINALIZATION = 11;
const S_ACTIVE = 12;

/** The name of a step code (ShapeSteps.code). */
export function shapeStepName(code: number): ShapeStepName {
  return STEP_NAMES[code]!;
}

/** The phase of a step code. */
export function shapeStepPhase(code: number): Phase {
  return STEP_PHASES[code]!;
}

/** At most one step of each name, and 'active' twice at most: 16 is room enough. */
const MAX_STEPS = 16;

/**
 * The steps of one inference as columns (issue 16: the inference runs on every new record of a
 * connection, and an object per step, a frames array per step and the closures the former code
 * made per call were its allocation on attempt storms). Reused from call to call; `reasonOf`
 * builds a step's reason from the columns and the records only when it is asked for.
 */
export class ShapeSteps {
  count = 0;
  /** Index into the step names (shapeStepName). */
  readonly code = new Uint8Array(MAX_STEPS);
  readonly confidence = new Float64Array(MAX_STEPS);
  /** Records [from, to) make the step; records[from] is its evidence. */
  readonly from = new Int32Array(MAX_STEPS);
  readonly to = new Int32Array(MAX_STEPS);
  /** Which rule of the step matched (its reason's wording). */
  readonly variant = new Uint8Array(MAX_STEPS);
  /** Counts the reason quotes (by step: records per side, large server records, input records ...). */
  readonly a = new Int32Array(MAX_STEPS);
  readonly b = new Int32Array(MAX_STEPS);
  readonly c = new Int32Array(MAX_STEPS);
  /** The furthest phase's index in PHASE_ORDER. */
  reachedIndex = 0;
  /** Index of the first record left unexplained, or -1. */
  stoppedAt = -1;
}

function addStep(out: ShapeSteps, code: number, confidence: number, from: number, to: number, variant: number, a: number, b: number, c: number): void {
  const k = out.count++;
  out.code[k] = code;
  out.confidence[k] = confidence;
  out.from[k] = from;
  out.to[k] = to;
  out.variant[k] = variant;
  out.a[k] = a;
  out.b[k] = b;
  out.c[k] = c;
}

// bulkStream's answer (module scratch: the inference is synchronous and not re-entered).
let bulkFrom = -1;
let bulkLarge = 0;
let bulkInput = 0;

/** From `from` on: whether a sustained stream follows; its first large server record and counts in bulkFrom, bulkLarge, bulkInput. */
function bulkStream(recs: readonly AppRecord[], pt: ArrayLike<number>, n: number, from: number): boolean {
  let first = -1;
  let large = 0;
  let inputRecords = 0;
  for (let k = from; k < n; k++) {
    if (recs[k]!.dir === 's2c' && pt[k]! >= T.LARGE_SERVER) {
      if (first < 0) first = k;
      large++;
    } else if (first >= 0 && recs[k]!.dir === 'c2s' && pt[k]! < T.FINALIZATION_MAX) inputRecords++;
  }
  bulkFrom = first;
  bulkLarge = large;
  bulkInput = inputRecords;
  return large >= T.BULK_MIN_LARGE;
}

/**
 * TLS 1.3, at the first record after the MCS Connect Initial (index `i`): the index of the Connect
 * Response, past NewSessionTickets that crossed the Connect Initial; -1 when the records there are
 * tickets only. The server sends its tickets once it has the client's Finished (RFC 8446 4.6.1), and
 * a client that sends the Connect Initial right after its Finished (FreeRDP does, in the same
 * millisecond) can see them arrive after it. The server sends nothing else before the client's Erect
 * Domain and Attach User Request (MS-RDPBCGR 1.3.1.1), so in a run of server records here the
 * tickets come first and the Connect Response is the last record of the run that is
 * Connect-Response-sized (a smaller one after it, a Disconnect Provider Ultimatum, is left to the
 * steps after). A run of records of one length that nothing of the client's follows is taken for
 * tickets only (OpenSSL sends two of the same size). A single server record is left as it is.
 */
function connectResponseAfterTickets(recs: readonly AppRecord[], pt: ArrayLike<number>, n: number, i: number): number {
  if (recs[i]!.dir !== 's2c') return i;
  let end = i;
  while (end + 1 < n && recs[end + 1]!.dir === 's2c') end++;
  if (end === i) return i;
  if (end + 1 >= n) {
    let same = true;
    for (let k = i + 1; k <= end && same; k++) same = recs[k]!.length === recs[i]!.length;
    if (same) return -1;
  }
  for (let k = end; k > i; k--) if (pt[k]! >= T.MCS_CONNECT_RESPONSE_MIN) return k;
  return i;
}

/** Whether the next two client records after `k` are small (Synchronize, Control Cooperate ...). */
function nextClientRecordsSmall(recs: readonly AppRecord[], pt: ArrayLike<number>, n: number, k: number): boolean {
  let seen = 0;
  for (let m = k + 1; m < n && seen < 2; m++) {
    if (recs[m]!.dir !== 'c2s') continue;
    if (pt[m]! >= T.FINALIZATION_MAX) return false;
    seen++;
  }
  return seen === 2;
}

/**
 * The inference of inferTlsShape over records[0, n) into `out` (cleared first), without an
 * allocation: the records, their plaintext estimates `pt`, the selectedProtocol, suite, version
 * and encrypt-then-MAC of the ShapeInput given one by one.
 */
export function inferShapeSteps(
  recs: readonly AppRecord[],
  n: number,
  pt: ArrayLike<number>,
  proto: number | null,
  cipherSuite: number | null,
  version: number | null,
  etm: boolean,
  out: ShapeSteps,
): void {
  out.count = 0;
  out.stoppedAt = -1;
  let i = 0;
  // TLS 1.3 (RFC 8446 4.6.1): NewSessionTicket messages travel as application_data records after the
  // handshake. The client always speaks first in RDP (CredSSP NEGOTIATE, MS-CSSP 3.1.5; or MCS
  // Connect Initial), so server records before the client's first one are post-handshake messages.
  if (needsTls13Split(version)) while (i < n && recs[i]!.dir === 's2c') i++;
  const credssp = proto !== null && (proto & (PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX)) !== 0;
  const hybridEx = proto !== null && (proto & PROTOCOL_HYBRID_EX) !== 0;

  // 1. CredSSP.
  let credsspFailed = false;
  if (credssp && i < n) {
    const start = i;
    let euar = -1;
    let error = -1;
    while (i < n) {
      const r = recs[i]!;
      if (hybridEx && r.dir === 's2c' && i > start && isEarlyUserAuthSized(r.length, cipherSuite, version, etm)) {
        euar = i;
        break;
      }
      if (r.dir === 's2c' && i > start && isCredsspErrorSized(r.length, cipherSuite, version, etm)) {
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
      // variant: what ends the exchange (0 Early User Authorization Result, 1 error record, 2 MCS, 3 nothing yet).
      addStep(out, S_CREDSSP, c >= 2 && s >= 1 ? 0.7 : 0.5, start, i, euar >= 0 ? 0 : error >= 0 ? 1 : i < n ? 2 : 3, c, s, 0);
    }
    if (euar >= 0) {
      addStep(out, S_EUAR, cipherSuite !== null ? 0.8 : 0.6, euar, euar + 1, 0, 0, 0, 0);
      i = euar + 1;
    }
    if (error >= 0) {
      addStep(out, S_CREDSSP_ERROR, cipherSuite !== null ? 0.6 : 0.45, error, error + 1, 0, 0, 0, 0);
      i = error + 1;
      credsspFailed = true;
      if (out.stoppedAt < 0 && i < n) out.stoppedAt = i;
    }
  }

  // 2. MCS Connect Initial / Response.
  mcs: {
    if (i >= n || credsspFailed) break mcs;
    if (recs[i]!.dir !== 'c2s' || pt[i]! < T.MCS_CONNECT_INITIAL_MIN) {
      if (out.stoppedAt < 0) out.stoppedAt = i;
      break mcs;
    }
    addStep(out, S_CONNECT_INITIAL, 0.6, i, i + 1, 0, 0, 0, 0);
    i++;
    // Connect Initial may take more than one record when large; the response is the next server record.
    while (i < n && recs[i]!.dir === 'c2s' && pt[i]! > T.TINY) i++;
    if (i >= n) break mcs;
    if (needsTls13Split(version)) {
      const r = connectResponseAfterTickets(recs, pt, n, i);
      if (r < 0) {
        i = n;
        break mcs;
      }
      i = r;
    }
    if (recs[i]!.dir !== 's2c' || pt[i]! < T.MCS_CONNECT_RESPONSE_MIN) {
      if (out.stoppedAt < 0) out.stoppedAt = i;
      break mcs;
    }
    addStep(out, S_CONNECT_RESPONSE, 0.6, i, i + 1, 0, 0, 0, 0);
    i++;

    // 3. Erect Domain, Attach User, Channel Joins: a run of tiny records.
    const runStart = i;
    while (i < n && pt[i]! <= T.TINY) i++;
    if (i - runStart < 2) {
      if (out.stoppedAt < 0 && runStart < n) out.stoppedAt = runStart;
      break mcs;
    }
    // Up to the first tiny server record (Attach User Confirm) inclusive; the rest are joins.
    let firstServer = -1;
    for (let k = runStart; k < i; k++) if (recs[k]!.dir === 's2c') { firstServer = k; break; }
    const attachEnd = firstServer >= 0 ? firstServer + 1 : i;
    addStep(out, S_ATTACH, 0.55, runStart, attachEnd, 0, 0, 0, 0);
    if (attachEnd < i) {
      let joins = 0;
      for (let k = attachEnd; k < i; k++) if (recs[k]!.dir === 's2c') joins++;
      addStep(out, S_JOIN, 0.5, attachEnd, i, 0, joins, 0, 0);
    }

    // 4. Client Info.
    if (i >= n) break mcs;
    if (recs[i]!.dir !== 'c2s' || pt[i]! < T.CLIENT_INFO_MIN) {
      if (out.stoppedAt < 0) out.stoppedAt = i;
      break mcs;
    }
    addStep(out, S_CLIENT_INFO, 0.5, i, i + 1, 0, 0, 0, 0);
    i++;

    // 5. Demand Active = last server record before Confirm Active (a client record >= CONFIRM_ACTIVE_MIN
    //    whose next two client records are small: Synchronize, Control Cooperate ...).
    let confirm = -1;
    for (let k = i; k + 1 < n; k++) {
      if (recs[k]!.dir === 'c2s' && pt[k]! >= T.CONFIRM_ACTIVE_MIN && nextClientRecordsSmall(recs, pt, n, k)) {
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
      const bulk = bulkStream(recs, pt, n, i);
      const licEnd = !bulk ? n : bulkFrom;
      // variant 1: no bulk stream (yet).
      if (licEnd > i) addStep(out, S_LICENSING, 0.4, i, licEnd, bulk ? 0 : 1, 0, 0, 0);
      // variant 0: after Client Info.
      if (bulk) addStep(out, S_ACTIVE, bulkInput > 0 ? 0.6 : 0.5, bulkFrom, n, 0, bulkLarge, bulkInput, 0);
      i = n;
      break mcs;
    }
    let demand = confirm - 1;
    while (recs[demand]!.dir !== 's2c') demand--;
    // variant 2: before Demand Active.
    if (demand > i) addStep(out, S_LICENSING, 0.45, i, demand, 2, 0, 0, 0);
    addStep(out, S_DEMAND, 0.5, demand, demand + 1, 0, 0, 0, 0);
    addStep(out, S_CONFIRM, 0.55, confirm, confirm + 1, 0, 0, 0, 0);
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
      // variant 0: ended by the Font Map.
      addStep(out, S_FINALIZATION, 0.6, finStart, fontMap + 1, 0, clientSmall, serverSmall, 0);
      let large = 0;
      for (let k = fontMap + 1; k < n; k++) if (recs[k]!.dir === 's2c' && pt[k]! >= T.LARGE_SERVER) large++;
      // variant 2: from the Font Map.
      addStep(out, S_ACTIVE, large >= T.BULK_MIN_LARGE ? 0.8 : 0.7, fontMap, n, 2, large, 0, 0);
      i = n;
    }
    // variant 1: up to the first large server record.
    if (fontMap < 0 && i > finStart) addStep(out, S_FINALIZATION, 0.5, finStart, i, 1, 0, 0, 0);
    if (i < n) {
      let large = 0;
      for (let k = i; k < n; k++) if (recs[k]!.dir === 's2c' && pt[k]! >= T.LARGE_SERVER) large++;
      // variant 3: from the first large server record after the finalization.
      addStep(out, S_ACTIVE, large >= T.BULK_MIN_LARGE ? 0.8 : 0.6, i, n, 3, large, 0, 0);
      i = n;
    }
  }

  // Fallback: the sequence was not recognised, but bulk server data shows an active session.
  if (out.stoppedAt >= 0 && !credsspFailed) {
    // variant 1: the sequence stopped matching at record c.
    if (bulkStream(recs, pt, n, out.stoppedAt)) addStep(out, S_ACTIVE, bulkInput > 0 ? 0.6 : 0.5, bulkFrom, n, 1, bulkLarge, bulkInput, out.stoppedAt);
  }

  let reached = 0;
  for (let k = 0; k < out.count; k++) {
    const p = PHASE_ORDER.indexOf(STEP_PHASES[out.code[k]!]!);
    if (p > reached) reached = p;
  }
  out.reachedIndex = reached;
}

/** "c81 s286 c567": direction and length of recs[from, to). */
function sizes(recs: readonly AppRecord[], from: number, to: number): string {
  let out = '';
  for (let k = from; k < to; k++) out += `${k > from ? ' ' : ''}${recs[k]!.dir === 'c2s' ? 'c' : 's'}${recs[k]!.length}`;
  return out;
}

/** The reason of step `k` of `s` (the inference over `recs` and `pt` under selectedProtocol `proto`), one line. */
export function shapeStepReason(s: ShapeSteps, k: number, recs: readonly AppRecord[], pt: ArrayLike<number>, proto: number | null): string {
  const from = s.from[k]!;
  const to = s.to[k]!;
  const v = s.variant[k]!;
  const a = s.a[k]!;
  const b = s.b[k]!;
  const r = recs[from]!;
  switch (s.code[k]) {
    case S_CREDSSP:
      return `${proto === PROTOCOL_HYBRID ? 'HYBRID' : 'HYBRID_EX'} selected; ${a} client / ${b} server records alternating (${sizes(recs, from, to)})${v === 0 ? ', then the Early User Authorization Result' : v === 1 ? ', then an error-sized server record' : v === 2 ? ', then MCS' : ''}`;
    case S_EUAR:
      return `server record of ${r.length} bytes = 4 bytes of plaintext under the negotiated suite (MS-RDPBCGR 2.2.10.2)`;
    case S_CREDSSP_ERROR:
      return `server record of ${r.length} bytes (~${pt[from]} plaintext): only a TSRequest with version and errorCode is that small (MS-CSSP 2.2.1), the server reporting a failure`;
    case S_CONNECT_INITIAL:
      return `client record of ${r.length} bytes (~${pt[from]} plaintext >= ${T.MCS_CONNECT_INITIAL_MIN}) opens the RDP exchange`;
    case S_CONNECT_RESPONSE:
      return `next server record of ${r.length} bytes (~${pt[from]} plaintext) answers it`;
    case S_ATTACH:
      return `tiny records (<= ${T.TINY} plaintext) right after Connect Response: ${sizes(recs, from, to)}`;
    case S_JOIN:
      return `${a} tiny request/confirm pairs follow (${sizes(recs, from, to)})`;
    case S_CLIENT_INFO:
      return `client record of ${r.length} bytes (~${pt[from]} plaintext) after the joins`;
    case S_LICENSING:
      if (v === 2) return `records between Client Info and Demand Active (${sizes(recs, from, to)})`;
      return `records after Client Info with no Demand Active / Confirm Active pattern${v === 1 ? ' yet' : ''} (${sizes(recs, from, Math.min(to, from + 8))}${to - from > 8 ? ' ...' : ''})`;
    case S_DEMAND:
      return `server record of ${r.length} bytes (~${pt[from]} plaintext) just before Confirm Active`;
    case S_CONFIRM:
      return `client record of ${r.length} bytes (~${pt[from]} plaintext) followed by small client records (Synchronize / Control)`;
    case S_FINALIZATION:
      if (v === 0) return `${a} small client and ${b} small server records after Confirm Active (${sizes(recs, from, to)}): the client's Synchronize, Control Cooperate, Control Request Control, Font List and the server's answers`;
      return `${to - from} records after Confirm Active before the first large server record`;
    default: {
      // S_ACTIVE
      if (v === 0 || v === 1) {
        const why = v === 0 ? `after Client Info, no Demand Active / Confirm Active pattern recognised, but` : `sequence not recognised from frame ${recs[s.c[k]!]!.frame}, but`;
        return `${why} ${a} server records >= ${T.LARGE_SERVER} bytes follow (bulk graphics)${b > 0 ? ` with ${b} small client records (input)` : ''}`;
      }
      if (v === 2) return `server record of ${r.length} bytes (~${pt[from]} plaintext), its ${T.FINALIZATION_SERVER_RECORDS}th small record after Confirm Active, is the Font Map that ends the finalization (MS-RDPBCGR 1.3.1.1)${a > 0 ? `; ${a} server records >= ${T.LARGE_SERVER} bytes follow (graphics)` : ''}`;
      return `server record of ${r.length} bytes (~${pt[from]} plaintext) after the finalization: graphics updates${a > 1 ? ` (${a} server records >= ${T.LARGE_SERVER} bytes in the ${to - from} records from it)` : ''}`;
    }
  }
}

const scratchSteps = new ShapeSteps();

/**
 * inferTlsPhases with the plaintext estimates given (`pt[k]` = estimatePlaintext of `records[k]`
 * under the input's suite, version and encrypt-then-MAC) instead of recomputed. With `full` false,
 * the same steps (names, phases, confidences, times, order; same `reached` and `unexplainedFrom`)
 * but without their frames (an empty array) and reasons (''). The inference itself is
 * inferShapeSteps, which src/handshake/shape.ts calls for every new record without building steps.
 */
export function inferTlsShape(input: ShapeInput, pt: ArrayLike<number>, full: boolean): ShapeResult {
  const recs = input.records;
  const s = scratchSteps;
  inferShapeSteps(recs, recs.length, pt, input.selectedProtocol, input.cipherSuite, input.version, input.encryptThenMac ?? false, s);
  const steps: ShapeStep[] = [];
  for (let k = 0; k < s.count; k++) {
    const code = s.code[k]!;
    let frames = NO_FRAMES;
    if (full) {
      frames = [];
      for (let m = s.from[k]!; m < s.to[k]!; m++) frames.push(recs[m]!.frame);
    }
    steps.push({
      step: STEP_NAMES[code]!,
      phase: STEP_PHASES[code]!,
      inferred: true,
      confidence: s.confidence[k]!,
      frames,
      time: recs[s.from[k]!]!.time,
      reason: full ? shapeStepReason(s, k, recs, pt, input.selectedProtocol) : '',
    });
  }
  return { steps, reached: PHASE_ORDER[s.reachedIndex]!, unexplainedFrom: s.stoppedAt < 0 ? null : recs[s.stoppedAt]!.frame };
}

/** True when the negotiated version needs splitTls13Records before inferTlsPhases. */
export function needsTls13Split(version: number | null): boolean {
  return version !== null && version >= TLS1_3 && version <= 0x03ff;
}
