// How a connection ended: outcome, incompleteReason and died, decided from what the state
// machine saw (../shared/design.md "Phases of a connection"). Pure: no state, no I/O.
// Never guesses: when the capture stops before the connection could have been judged, the
// outcome is incomplete_capture and says why.
import type { Died, DeathHow, Outcome, Party, Phase } from './types.js';
import { PHASE_WORDS, phaseIndex } from './types.js';

/** A client's usual wait for an answer before it gives up (mstsc, FreeRDP: 15-30 s). */
export const CLIENT_TIMEOUT_S = 20;
/**
 * A client closing after waiting this long for the X.224 Connection Confirm gave up on a silent
 * server (clients in real captures give up there after about 10 s); a server's answer after the close does not change that.
 */
export const CONFIRM_GIVE_UP_S = 10;
/**
 * A server that ends a Restricted Admin / Remote Credential Guard session this soon after its first
 * graphics (or, when none was seen, after it became active), without the client leaving first,
 * refused the logon (issue 12 pattern 8): the user saw the first graphics, then was thrown out.
 */
export const LOGON_MODE_END_S = 10;
/** Windows' initial SYN retransmission timeout: a SYN unanswered this long after a retry is not answered. */
export const SYN_RETRY_WAIT_S = 3;
/** Windows gives a SYN up after two retransmissions (3 + 6 + 12 s). */
export const SYN_GIVE_UP_S = 21;

export interface Ref {
  frame: number;
  time: number;
}

export interface CloseRef extends Ref {
  kind: 'fin' | 'rst';
  /** 0 client -> server, 1 server -> client. */
  dir: 0 | 1;
}

export interface ProtocolEnd extends Died {
  time: number;
  /** True when the end is a normal close in the active phase (DPU user-requested, logoff ERRINFO, close_notify). */
  normal: boolean;
}

export interface EndInput {
  reached: Phase;
  /** No SYN and no X.224 Connection Request were seen: the capture began after the start. */
  startedLate: boolean;
  syns: Ref[];
  synAck: Ref | null;
  /** FINs and RSTs in frame order. */
  closes: CloseRef[];
  /** ICMP errors about the flow (first one). */
  icmp: (Ref & { type: number; code: number; from: string }) | null;
  /** First protocol-level ending (RDP_NEG_FAILURE, alert, DPU, Set Error Info, licensing error, X.224 DR). */
  protocolEnd: ProtocolEnd | null;
  /** Last payload-carrying segment per direction. */
  lastData: [Ref | null, Ref | null];
  /** lastData as it was when the first FIN or RST was seen (null: as lastData): who was waiting for whom at the close. */
  lastDataAtClose?: [Ref | null, Ref | null] | null;
  captureEnd: number;
  /** Segments retransmitted and never acknowledged, or keep-alives unanswered, before the end. */
  lostBeforeEnd: boolean;
  /**
   * Per direction, the last hole in its sequence space that no segment ever filled (bytes that never
   * reached the capture point), by the segment that came after it; null when none.
   */
  missing?: [MissingRef | null, MissingRef | null];
  /**
   * Per side: the last segment that acknowledged new data of the other side (an ACK is an answer at
   * the TCP level), or null. Optional: absent means not known.
   */
  dataAcks?: [Ref | null, Ref | null];
  /** Per direction: the last frame before which bytes were missing (a missing sequence unit is a gap, not silence). Optional. */
  gaps?: [Ref | null, Ref | null];
  /** The client asked for Restricted Admin mode or Remote Credential Guard (MS-RDPBCGR 2.2.1.1.1). Optional. */
  logonMode?: boolean;
  /** The frame that proved the active phase (the server's finalization answers, or a decoded update). Optional. */
  activeAt?: Ref | null;
  /** The active phase's first large server record or Update (the first graphics), or null. Optional. */
  graphicsAt?: Ref | null;
  /**
   * The server sent a Server Redirection PDU (MS-RDPBCGR 2.2.13.1, not LB_NOREDIRECT): the client is
   * to reconnect elsewhere, so the close that follows is this connection's normal end. Optional.
   */
  redirected?: boolean;
}

export interface MissingRef extends Ref {
  bytes: number;
}

export interface Ending {
  outcome: Outcome;
  incompleteReason: 'started_late' | 'ended_early' | null;
  died: Died | null;
}

const PARTY: [Party, Party] = ['client', 'server'];

export function decideEnding(e: EndInput): Ending {
  if (e.startedLate) {
    return { outcome: 'incomplete_capture', incompleteReason: 'started_late', died: null };
  }
  // MS-RDPBCGR 3.1.5.2: a redirected client disconnects and connects to the target; nothing failed here.
  if (e.redirected) return { outcome: 'completed', incompleteReason: null, died: null };
  const active = phaseIndex(e.reached) >= phaseIndex('active');
  const close = e.closes[0] ?? null;
  const pe = e.protocolEnd;

  if (active) {
    if (pe && !pe.normal) return failed(pe);
    if (close && close.kind === 'rst' && e.lostBeforeEnd) {
      return failed({
        phase: 'active',
        how: 'rst',
        by: PARTY[close.dir],
        frame: close.frame,
        detail: `${PARTY[close.dir]} reset the session after segments went unanswered`,
      });
    }
    const refused = logonModeRefused(e);
    if (refused) return failed(refused);
    return { outcome: 'completed', incompleteReason: null, died: null };
  }

  // ---- TCP handshake never completed (no SYN/ACK).
  if (e.synAck === null && e.syns.length > 0 && e.lastData[0] === null && e.lastData[1] === null) {
    const lastSyn = e.syns[e.syns.length - 1]!;
    const rst = e.closes.find((c) => c.kind === 'rst' && c.dir === 1);
    if (rst) {
      return failed({ phase: 'tcp', how: 'rst', by: 'server', frame: rst.frame, detail: `RST answered the SYN` });
    }
    if (e.icmp) {
      return failed({
        phase: 'tcp',
        how: 'icmp_unreachable',
        by: 'network',
        frame: e.icmp.frame,
        detail: `ICMP type ${e.icmp.type} code ${e.icmp.code} from ${e.icmp.from} answered the SYN`,
      });
    }
    const waited = e.captureEnd - e.syns[0]!.time;
    const afterLast = e.captureEnd - lastSyn.time;
    if (waited >= SYN_GIVE_UP_S || (e.syns.length > 1 && afterLast >= SYN_RETRY_WAIT_S)) {
      return failed({
        phase: 'tcp',
        how: 'no_answer',
        by: 'network',
        frame: lastSyn.frame,
        detail: `${e.syns.length} SYN${e.syns.length > 1 ? 's' : ''} never answered (capture ran ${fmt(afterLast)} s past the last one)`,
      });
    }
    return endedEarly('tcp', lastSyn, e.captureEnd);
  }

  // ---- A protocol-level ending, unless a close came clearly before it.
  if (pe && (close === null || pe.frame === null || pe.frame <= close.frame || pe.time <= close.time)) {
    return failed(pe);
  }

  const phase = e.reached === 'none' ? 'tcp' : e.reached;
  if (close) {
    // The side that closed had been waiting for the other past a client's timeout: the other went silent
    // (an answer that came only after the close does not count).
    const waited = waitedFor(e, close.dir, close.time, phase === 'x224' && close.dir === 0 ? CONFIRM_GIVE_UP_S : CLIENT_TIMEOUT_S);
    if (waited) {
      const other = PARTY[1 - close.dir]!;
      const ack = ackedAfter(e, (1 - close.dir) as 0 | 1, waited, close.frame);
      return failed({
        phase,
        how: 'timeout',
        by: other,
        frame: waited.frame,
        detail: `${ack ? `${other} acknowledged frame ${waited.frame} (TCP ACK in frame ${ack.frame}) but sent no reply` : `${other} did not answer frame ${waited.frame}`} for ${fmt(close.time - waited.time)} s; ${PARTY[close.dir]} ${close.kind === 'rst' ? 'reset' : 'closed'} the connection at frame ${close.frame}`,
      });
    }
    const how: DeathHow = close.kind;
    return failed({
      phase,
      how,
      by: PARTY[close.dir],
      frame: close.frame,
      detail: `${PARTY[close.dir]} ${close.kind === 'rst' ? 'reset' : 'closed'} the connection ${PHASE_WORDS[phase]}`,
    });
  }
  if (e.icmp) {
    return failed({
      phase,
      how: 'icmp_unreachable',
      by: 'network',
      frame: e.icmp.frame,
      detail: `ICMP type ${e.icmp.type} code ${e.icmp.code} from ${e.icmp.from}`,
    });
  }
  // ---- Nothing ended it: either a side went silent for longer than a client waits, or the capture stopped.
  const silent = silentSide(e);
  // The side expected to speak was still waiting for the other side's bytes that never arrived: the
  // silence is the network's (loss before the capture point), not that side's.
  const hole = e.missing?.[silent.dir === 0 ? 1 : 0] ?? null;
  if (hole !== null && e.captureEnd - silent.since.time >= CLIENT_TIMEOUT_S) {
    const other = PARTY[silent.dir === 0 ? 1 : 0]!;
    return failed({
      phase,
      how: 'timeout',
      by: 'network',
      frame: hole.frame,
      detail: `${hole.bytes} bytes of the ${other}'s data never arrived (a gap before frame ${hole.frame}), and no more data came for ${fmt(e.captureEnd - silent.since.time)} s (the capture ran on)`,
    });
  }
  // Bytes of the silent side the capture missed are a gap, not silence: it may have answered.
  if (e.captureEnd - silent.since.time >= CLIENT_TIMEOUT_S && !gapAfter(e, silent.dir, silent.since)) {
    const ack = ackedAfter(e, silent.dir, silent.since);
    return failed({
      phase,
      how: 'timeout',
      by: PARTY[silent.dir],
      frame: silent.since.frame,
      detail: ack
        ? `${PARTY[silent.dir]} acknowledged frame ${silent.since.frame} (TCP ACK in frame ${ack.frame}) but sent no reply for ${fmt(e.captureEnd - silent.since.time)} s (the capture ran on)`
        : `${PARTY[silent.dir]} sent nothing for ${fmt(e.captureEnd - silent.since.time)} s after frame ${silent.since.frame} (the capture ran on)`,
    });
  }
  return endedEarly(phase, silent.since, e.captureEnd);
}

/**
 * A Restricted Admin / Remote Credential Guard session the server ended (its close_notify, FIN or
 * reset coming first) within LOGON_MODE_END_S of its first graphics (else of becoming active), the
 * client not having left first: the server refused the logon it had just shown (a normal-looking
 * end is no proof of a normal one here; the diagnosis names the mode as the likely reason).
 */
function logonModeRefused(e: EndInput): Died | null {
  if (e.logonMode !== true || !e.activeAt) return null;
  const pe = e.protocolEnd;
  const close = e.closes[0] ?? null;
  let end: { frame: number | null; time: number; how: DeathHow } | null = null;
  if (pe && (close === null || pe.frame === null || pe.frame <= close.frame)) {
    if (pe.by !== 'server') return null;
    end = { frame: pe.frame, time: pe.time, how: pe.how };
  } else if (close) {
    if (close.dir !== 1) return null;
    end = { frame: close.frame, time: close.time, how: close.kind };
  }
  if (end === null) return null;
  const g = e.graphicsAt && e.graphicsAt.frame >= e.activeAt.frame && e.graphicsAt.time <= end.time ? e.graphicsAt : null;
  const from = g ?? e.activeAt;
  const after = end.time - from.time;
  if (after < 0 || after > LOGON_MODE_END_S) return null;
  const since = g ? `its first graphics (frame ${g.frame}; active since frame ${e.activeAt.frame})` : `it became active (frame ${e.activeAt.frame})`;
  return {
    phase: 'active',
    how: end.how,
    by: 'server',
    frame: end.frame,
    detail: `the server ended the session ${fmt(after)} s after ${since}, before the client asked to leave`,
  };
}

/** The capture stopped while the connection was in `phase`: the last frame seen is all there is. */
function endedEarly(phase: Phase, last: Ref, captureEnd: number): Ending {
  return {
    outcome: 'incomplete_capture',
    incompleteReason: 'ended_early',
    died: {
      phase,
      how: 'capture_ended',
      by: 'network',
      frame: last.frame,
      detail: `the capture stops ${fmt(Math.max(0, captureEnd - last.time))} s after frame ${last.frame}, during phase ${phase}: it cannot show how the attempt ended`,
    },
  };
}

function failed(d: Died | ProtocolEnd): Ending {
  return {
    outcome: 'failed',
    incompleteReason: null,
    died: { phase: d.phase, how: d.how, by: d.by, frame: d.frame, detail: d.detail },
  };
}

/**
 * The side expected to speak next, and since when: the other side of the last data sent, or,
 * before any data, the client (it speaks first: the X.224 Connection Request).
 */
function silentSide(e: EndInput, atClose = false): { dir: 0 | 1; since: Ref } {
  const [c, s] = atClose && e.lastDataAtClose ? e.lastDataAtClose : e.lastData;
  if (c === null && s === null) {
    const since = e.synAck ?? e.syns[e.syns.length - 1] ?? { frame: 0, time: e.captureEnd };
    return { dir: 0, since };
  }
  if (s === null || (c !== null && c.frame > s.frame)) return { dir: 1, since: c! };
  return { dir: 0, since: s };
}

/** When side `dir` closed at `time` after waiting at least `wait` s for the other: the unanswered frame. */
function waitedFor(e: EndInput, dir: 0 | 1, time: number, wait: number): Ref | null {
  const silent = silentSide(e, true);
  if (silent.dir === dir) return null; // the closer is the one expected to speak
  // The capture missed bytes of the side said to be silent: a gap, not silence.
  if (gapAfter(e, silent.dir, silent.since)) return null;
  return time - silent.since.time >= wait ? silent.since : null;
}

/** Whether the capture missed bytes of side `dir` after `since` (it may have answered then). */
function gapAfter(e: EndInput, dir: 0 | 1, since: Ref): boolean {
  const g = e.gaps?.[dir] ?? null;
  return g !== null && g.frame > since.frame;
}

/** The TCP ACK with which side `dir` acknowledged data after `since` (and before frame `before`), or null (then it truly did not answer). */
function ackedAfter(e: EndInput, dir: 0 | 1, since: Ref, before = Infinity): Ref | null {
  const a = e.dataAcks?.[dir] ?? null;
  return a !== null && a.frame > since.frame && a.frame < before ? a : null;
}

function fmt(s: number): string {
  return s >= 10 ? s.toFixed(0) : s.toFixed(1);
}
