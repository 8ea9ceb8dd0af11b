// The ladder of one connection, shared by the text, Markdown and HTML writers: which timeline
// events to show (bounded), where the connection died, and small wording helpers.
import type { Party, Phase, TimelineEvent } from '../handshake/types.js';
import { PHASE_WORDS, isGatewayPhase, redirectionTarget } from '../handshake/types.js';
import { secondsText } from '../diagnose/facts.js';
import { timeInRange } from '../capture/types.js';
import type { Finding } from '../diagnose/types.js';
import { LOGON_MODES, logonModeWords } from '../rdp/codes.js';
import type { CaptureSummary, FileSetSummary, Report, ReportedConnection } from './types.js';

export type LadderRow =
  | { kind: 'event'; event: TimelineEvent; /** Seconds since the connection's first event. */ offset: number; death: boolean }
  | { kind: 'gap'; hidden: number }
  /** The death frame is not one of the timeline's events: marked after the last shown event. */
  | { kind: 'death'; frame: number | null };

/** Index of the timeline event that shows the death (the last event carrying died.frame), or -1. */
export function deathIndex(c: ReportedConnection): number {
  const f = c.died?.frame;
  if (f === undefined || f === null) return -1;
  // Read once: a kept record's timeline is decoded each time it is read (handshake/compact.ts).
  const tl = c.timeline;
  for (let i = tl.length - 1; i >= 0; i--) if (tl[i]!.frame === f) return i;
  return -1;
}

/**
 * The rows of a ladder with at most `max` events: the first events, then the ones around the
 * death (or the last ones), with a gap row where events are left out. The death row is always shown.
 */
export function ladderRows(c: ReportedConnection, max: number): LadderRow[] {
  const tl = c.timeline;
  const t0 = tl.length > 0 ? tl[0]!.time : c.start;
  const di = deathIndex(c);
  const keep = new Set<number>();
  if (tl.length <= max) {
    for (let i = 0; i < tl.length; i++) keep.add(i);
  } else {
    const tail = Math.max(1, Math.floor(max / 3));
    const head = Math.max(0, max - tail);
    for (let i = 0; i < head; i++) keep.add(i);
    // The tail window ends at the death (plus two events after it) or at the last event.
    const end = di >= 0 ? Math.min(tl.length - 1, di + 2) : tl.length - 1;
    for (let i = Math.max(0, end - tail + 1); i <= end; i++) keep.add(i);
    if (di >= 0) keep.add(di);
  }
  const rows: LadderRow[] = [];
  let hidden = 0;
  for (let i = 0; i < tl.length; i++) {
    if (!keep.has(i)) {
      hidden++;
      continue;
    }
    if (hidden > 0) rows.push({ kind: 'gap', hidden });
    hidden = 0;
    const e = tl[i]!;
    rows.push({ kind: 'event', event: e, offset: timeOffset(e.time, t0), death: i === di });
  }
  if (hidden > 0) rows.push({ kind: 'gap', hidden });
  if (c.died && di < 0) rows.push({ kind: 'death', frame: c.died.frame });
  return rows;
}

/** "+1.234s" from the connection's first event; a minute or more as people say it ("+11 h 16 min"). */
export function offsetText(seconds: number): string {
  // A time out of range (an extreme pcapng if_tsoffset / if_tsresol) is said to be, never printed
  // as a 19-digit number (issue 19); a time that went backwards keeps its sign.
  if (!(Math.abs(seconds) <= MAX_OFFSET_SECONDS)) return 'out of range';
  if (seconds < 0) return `-${(-seconds).toFixed(3)}s`;
  return seconds < 60 ? `+${seconds.toFixed(3)}s` : `+${secondsText(seconds)}`;
}

/** `t - t0`, or NaN (shown as "out of range") when either time is out of range. */
export function timeOffset(t: number, t0: number): number {
  return timeInRange(t) && timeInRange(t0) ? t - t0 : NaN;
}

/** Offsets beyond this (about 31 years) within one connection are out of range. */
export const MAX_OFFSET_SECONDS = 1e9;


const PARTY_WORDS: Record<Party, string> = { client: 'the client', server: 'the server', network: 'the network' };

/**
 * How a connection died as a plain sentence: "the server reset the connection during the TCP
 * handshake (frame 130)", "the SYN got no answer (frame 18)".
 */
export function deathText(c: ReportedConnection): string {
  const d = c.died;
  if (!d) return '';
  const who = PARTY_WORDS[d.by] ?? d.by;
  // A death in the TLS phase after both Finished messages (the handshake done, nothing of the next
  // phase seen yet: a client refusing the certificate, a server closing before CredSSP) is not
  // "during" the handshake.
  const established = c.tls?.establishedFrame ?? null;
  const when =
    d.phase === 'tls' && established !== null && d.frame !== null && d.frame > established
      ? 'right after the TLS handshake'
      : (PHASE_WORDS[d.phase] ?? `in phase ${d.phase}`);
  let what: string;
  switch (d.how) {
    case 'no_answer':
      what = d.phase === 'tcp' || d.phase === 'none' ? 'the SYN got no answer' : `${d.by === 'network' ? 'a request' : `${who}'s request`} got no answer ${when}`;
      break;
    case 'rst':
      what = `${who} reset the connection ${when}`;
      break;
    case 'fin':
      what = `${who} closed the connection ${when}`;
      break;
    case 'icmp_unreachable':
      what = `an ICMP "unreachable" answered ${d.phase === 'tcp' || d.phase === 'none' ? 'the SYN' : `the connection ${when}`}`;
      break;
    case 'negotiation_failure':
      what = `${who} refused the RDP negotiation (RDP_NEG_FAILURE)`;
      break;
    case 'tls_alert':
      what = `${who} sent a TLS alert ${when}`;
      break;
    case 'encrypted_alert':
      what = `${who} sent an encrypted TLS alert ${when}`;
      break;
    case 'disconnect_ultimatum':
      what = `${who} ended the connection with an MCS Disconnect Provider Ultimatum ${when}`;
      break;
    case 'error_info':
      what = `${who} ended the connection with a Set Error Info PDU ${when}`;
      break;
    case 'licensing_error':
      what = `${who} sent a licensing error`;
      break;
    case 'x224_disconnect':
      what = `${who} sent an X.224 Disconnect Request ${when}`;
      break;
    case 'timeout':
      what = `${who === 'the network' ? 'the connection' : who} went silent ${when} (time-out)`;
      break;
    case 'capture_ended':
      what = `the capture ended ${when}`;
      break;
    case 'gateway_refusal':
      what = `the RD Gateway refused the connection ${when}`;
      break;
    default:
      what = `${String(d.how).replace(/_/g, ' ')} by ${d.by} ${when}`;
  }
  return `${what}${d.frame !== null ? ` (frame ${d.frame})` : ''}`;
}

/**
 * A connection tunnelled through an RD Gateway (ConnectionRecord.gateway): the gateway, the target
 * and both ladders, outer (the TCP handshake and the gateway phases) then inner (the tunnelled RDP
 * phases), as label / value pairs every writer shows with its own escaping. Empty for a direct connection.
 */
export function gatewayFacts(c: ReportedConnection): [string, string][] {
  const gw = c.gateway;
  if (gw === undefined) return [];
  const rung = (p: { phase: Phase; frame: number; inferred: boolean }): string => `${p.phase} (frame ${p.frame}${p.inferred ? ', inferred' : ''})`;
  const outer = c.phases.filter((p) => p.phase === 'tcp' || isGatewayPhase(p.phase));
  const inner = c.phases.filter((p) => p.phase !== 'tcp' && p.phase !== 'none' && !isGatewayPhase(p.phase));
  const died = c.died !== null ? ` (died in ${c.died.phase})` : '';
  return [
    ['RD Gateway', `${gw.gateway}${gw.sni !== null ? ` (SNI "${gw.sni}")` : ''}${gw.channels !== undefined && gw.channels.length > 0 ? `, the legacy HTTP transport's ${gw.channels.map(channelText).join(' and ')}` : gw.sighting !== null ? `, connection ${gw.sighting} of the gateway section` : ''}`],
    ['Target', gw.target !== null ? `"${gw.target.host}" port ${gw.target.port} (CHANNEL_CREATE, frame ${gw.target.frame})` : 'not named: the attempt ended before CHANNEL_CREATE'],
    ['Gateway ladder', `${outer.map(rung).join(' > ') || 'none'}${c.died !== null && isGatewayPhase(c.died.phase) ? died : ''}`],
    ['RDP ladder (tunnelled)', `${inner.map(rung).join(' > ') || 'not started'}${c.died !== null && inner.some((p) => p.phase === c.died!.phase) ? died : ''}`],
  ];
}

/** One of a legacy tunnel's two outer connections (GatewayTunnel.channels, MS-TSGU 3.3.5.1). */
function channelText(ch: { channel: 'in' | 'out'; client: string; firstFrame: number; lastFrame: number; sighting: string | null }): string {
  const which = ch.channel === 'in' ? 'IN channel (the client\'s packets' : 'OUT channel (the gateway\'s packets';
  return `${which}, from ${ch.client}, frames ${ch.firstFrame}-${ch.lastFrame}${ch.sighting !== null ? `, connection ${ch.sighting} of the gateway section` : ''})`;
}

export function topFinding(c: ReportedConnection): Finding | null {
  return c.findings[0] ?? null;
}

export function percent(confidence: number): string {
  return `${Math.round(confidence * 100)}%`;
}

/**
 * The logon modes the client asked for in its RDP_NEG_REQ flags (MS-RDPBCGR 2.2.1.1.1), by their
 * spec names and the names admins know them by (negotiation.logonMode, named by src/rdp/codes.ts).
 */
export function logonModes(c: ReportedConnection): string[] {
  const m = c.negotiation?.logonMode;
  if (!m) return [];
  const s = m.serverSupports;
  // MS-RDPBCGR 2.2.1.2.1: the server's RDP_NEG_RSP says whether it supports the mode.
  return LOGON_MODES.filter((x) => m[x.key]).map((x) => `${x.name} (${x.words})${s === null ? '' : s[x.key] ? '' : ', not offered by the server\'s RDP_NEG_RSP'}`);
}

/**
 * A UDP side channel reported on its own has no TCP phase to have reached: say how far its
 * RDPEUDP handshake (MS-RDPEUDP 3.1.5.1.1: client SYN, server SYN+ACK) went instead.
 */
export function rdpeudpText(c: ReportedConnection): string {
  const sc = c.sideChannels[0];
  if (!sc) return 'RDPEUDP';
  if (sc.synFrame === null) return sc.answered ? 'RDPEUDP, no SYN seen, the server sent datagrams' : 'RDPEUDP, no SYN seen';
  if (sc.synAckFrame !== null) return `RDPEUDP SYN in frame ${sc.synFrame}, SYN+ACK in frame ${sc.synAckFrame}`;
  return sc.answered ? `RDPEUDP SYN in frame ${sc.synFrame}, the server sent datagrams` : `RDPEUDP SYN in frame ${sc.synFrame}, never answered`;
}

/** What a connection reached, for a table cell: the phase, or for a UDP flow of its own its RDPEUDP handshake. */
export function reachedText(c: ReportedConnection): string {
  return c.transport === 'udp' ? rdpeudpText(c) : c.reached;
}

/** The clause "it reached <phase>" of an incomplete connection's sentence (a UDP flow: what its RDPEUDP handshake shows). */
export function reachedClause(c: ReportedConnection): string {
  return c.transport === 'udp' ? `it shows ${rdpeudpText(c)}` : `it reached ${c.reached}`;
}

/** One line per connection: the outcome in words (with the logon mode the client asked for, if any). */
export function outcomeText(c: ReportedConnection): string {
  const mode = logonModeWords(c.negotiation?.logonMode);
  return outcomeWords(c) + (mode !== null ? ` (${mode})` : '');
}

function outcomeWords(c: ReportedConnection): string {
  if (c.attempt?.role === 'pre_authentication') return `NLA pre-authentication for ${c.attempt.of}`;
  const redirect = c.mcs?.redirection;
  if (c.outcome === 'completed' && redirect !== undefined && !redirect.noRedirect) return `completed: redirected to ${redirectionTarget(redirect)}`;
  if (c.outcome === 'completed') return 'completed';
  if (c.outcome === 'failed') return `failed in ${c.died?.phase ?? c.reached}`;
  return `incomplete capture (${c.incompleteReason === 'started_late' ? 'started late' : c.incompleteReason === 'ended_early' ? 'ended early' : 'unknown'})`;
}

/** Event label with its detail, as one line. */
export function eventLabel(e: TimelineEvent): string {
  return `${e.event}${e.inferred ? ' (inferred)' : ''}${e.decrypted ? ' (decrypted)' : ''}`;
}

/** The label of a finding as the writers show it: a weakness, a consequence of another connection's failure, or a cause. */
export function findingLabel(f: Finding): string {
  if (f.severity === 'warning') return 'Warning';
  if (f.consequenceOf !== undefined) return `Consequence of ${f.consequenceOf}`;
  return 'Cause';
}

/** A finding's cause id as the attempts tables show it ("nla_mismatch (consequence of c1)"). */
export function findingTag(f: Finding): string {
  if (f.severity === 'warning') return `${f.cause} (warning)`;
  if (f.consequenceOf !== undefined) return `${f.cause} (consequence of ${f.consequenceOf})`;
  return f.cause;
}

/**
 * Connections grouped for the writers: failed first (in report order), then the others; mstsc's NLA
 * pre-authentication connections apart (part of the attempt after them, not failures).
 */
export function partition(report: Report): {
  failed: ReportedConnection[];
  incomplete: ReportedConnection[];
  completed: ReportedConnection[];
  preAuthentication: ReportedConnection[];
} {
  const failed: ReportedConnection[] = [];
  const incomplete: ReportedConnection[] = [];
  const completed: ReportedConnection[] = [];
  const preAuthentication: ReportedConnection[] = [];
  for (const c of report.connections) {
    if (c.attempt?.role === 'pre_authentication') preAuthentication.push(c);
    else if (c.outcome === 'failed') failed.push(c);
    else if (c.outcome === 'incomplete_capture') incomplete.push(c);
    else completed.push(c);
  }
  return { failed, incomplete, completed, preAuthentication };
}

/** Capture time span as "start .. end", or "" when unknown. */
export function timeSpan(report: Report): string {
  const c = report.capture;
  return c.start !== null ? `${c.start} .. ${c.end ?? '?'}` : '';
}

/** The heading every writer gives Report.probes (issue 18: health checks and scans are not RDP clients). */
export const PROBES_TITLE = 'Probes (not RDP clients, not counted as attempts)';

/** The heading every writer gives Report.gateways. */
export const GATEWAYS_TITLE = 'RD Gateway (HTTPS)';

/** The heading every writer gives Report.captureFindings. */
export const CAPTURE_FINDINGS_TITLE = 'Findings not tied to one connection';

/** The file set a connection was read from (its fileIndex is one of the set's pieces), or null. */
function fileSetOf(report: Report, c: ReportedConnection): FileSetSummary | null {
  for (const s of report.capture.fileSets ?? []) if (s.files.includes(c.fileIndex)) return s;
  return null;
}

/**
 * The sentence on checksums the analysis did not verify (the count-only path: packets after a
 * connection's handshake was decided are counted, their checksums not summed), or null when every
 * packet of the RDP flows was verified.
 */
export function checksumNote(capture: CaptureSummary): string | null {
  const st = capture.stats;
  const n = st.checksumsNotVerified ?? 0;
  if (n === 0) return null;
  return `Checksums: verified on the handshakes' packets (${st.badChecksums} bad); ${n} packet${n === 1 ? '' : 's'} after a connection's handshake was decided ${n === 1 ? 'was' : 'were'} counted, not verified`;
}

/** Plain sentences on the file sets read as one capture (none without a set). */
export function fileSetLines(capture: CaptureSummary): string[] {
  const files = capture.files;
  return (capture.fileSets ?? []).map((s) => {
    const pieces = s.files.map((i, k) => `${files[i]?.file ?? `file ${i + 1}`} from frame ${s.firstFrames[k]}`);
    return `Read as one capture (the ${s.files.length} pieces of a ring buffer or split capture${s.reordered ? ', in the order of their first timestamps, not the order given' : ''}); frame numbers run on across the pieces as \`mergecap -a\` of them in this order numbers them: ${pieces.join(', ')}.`;
  });
}

/**
 * Where a file-set connection's frames are: "frames 35-90: out_00000.pcap frames 35-40, out_00001.pcap
 * its frames 1-40 (frames 41-80), ...", or null for a connection of a single file.
 */
export function fileSetNote(report: Report, c: ReportedConnection): string | null {
  const s = fileSetOf(report, c);
  if (s === null) return null;
  const first = c.flow.firstFrame;
  const last = c.flow.lastFrame;
  const parts: string[] = [];
  for (let k = 0; k < s.files.length; k++) {
    const lo = s.firstFrames[k]!;
    const hi = k + 1 < s.files.length ? s.firstFrames[k + 1]! - 1 : Infinity;
    const a = Math.max(first, lo);
    const b = Math.min(last, hi);
    if (a > b) continue;
    const name = report.capture.files[s.files[k]!]?.file ?? `file ${s.files[k]! + 1}`;
    const local = (f: number): number => f - lo + 1;
    parts.push(lo === 1 ? `${name} frames ${a}-${b}` : `${name} its frames ${local(a)}-${local(b)} (frames ${a}-${b})`);
  }
  return `frames ${first}-${last} of the file set: ${parts.join(', ')}`;
}
