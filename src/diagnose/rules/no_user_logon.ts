// no_user_logon: a session that worked, read whole from decrypted TLS, in which no user logged on.
// The server tells the client that a user's logon completed with a Save Session Info PDU of
// infoType INFOTYPE_LOGON, INFOTYPE_LOGON_LONG or INFOTYPE_LOGON_PLAINNOTIFY (MS-RDPBCGR 2.2.10.1,
// 2.2.10.1.1; sent once the logon finishes, 3.3.5.10). A completed session without one stayed at
// the Windows logon screen, or a logon started there did not finish. A warning about a connection
// that completed, never an attempt's cause; told only when that absence means something: the
// server's whole decrypted stream was read (no decoding stop, no reassembly cut, every record
// authenticated) and the active phase was decoded, not inferred.
import type { ConnectionRecord } from '../../handshake/types.js';
import { convFilter, makeFinding, plural, secondsText } from '../facts.js';
import type { Rule } from '../types.js';

/** MS-RDPBCGR 2.2.5.1.1: the user logged off, so a logon happened (our decoders missed its notification). */
const ERRINFO_LOGOFF_BY_USER = 0x0000000c;
/** The finding when the session's end is in the capture. */
const ENDED_CONFIDENCE = 0.9;
/** The capture ended while the session still ran: the logon may have come after. */
const RUNNING_CONFIDENCE = 0.6;

/** How the session ended, in words, with its frame; null when the capture ended while it still ran. */
function sessionEnd(conn: ConnectionRecord): { words: string; frame: number } | null {
  const ends: { words: string; frame: number }[] = [];
  const info = conn.errorInfo.find((e) => e.code !== 0);
  if (info) ends.push({ words: `the server ended it with Set Error Info ${info.name} in frame ${info.frame}`, frame: info.frame });
  const dpu = conn.mcs?.disconnectUltimatum ?? null;
  if (dpu) ends.push({ words: `the ${dpu.by} ended it with a Disconnect Provider Ultimatum (${dpu.reasonName}) in frame ${dpu.frame}`, frame: dpu.frame });
  const tcp = conn.flow.tcp;
  const close = tcp ? [...tcp.fins.map((f) => ({ ...f, kind: 'FIN' })), ...tcp.rsts.map((r) => ({ ...r, kind: 'RST' }))].sort((a, b) => a.frame - b.frame)[0] : undefined;
  if (close) ends.push({ words: `the ${close.dir === 0 ? 'client' : 'server'} closed the connection (${close.kind}) in frame ${close.frame}`, frame: close.frame });
  ends.sort((a, b) => a.frame - b.frame);
  return ends[0] ?? null;
}

export const noUserLogon: Rule = {
  cause: 'no_user_logon',
  check(conn) {
    if (conn.outcome !== 'completed' || conn.reached !== 'active' || conn.mcs?.logon !== undefined) return null;
    const d = conn.tls?.decryption;
    // Only where the share data was read, all of it: the absence of a PDU proves nothing elsewhere.
    if (d === undefined || d.status !== 'decrypted' || d.records.server === 0 || d.decodeStopped !== undefined) return null;
    if (conn.flow.gapBytes[1] > 0 || conn.flow.cutBytes[1] > 0) return null;
    const active = conn.phases.find((p) => p.phase === 'active');
    if (active === undefined || active.inferred) return null;
    if (conn.errorInfo.some((e) => e.code === ERRINFO_LOGOFF_BY_USER)) return null;
    const demand = conn.phases.find((p) => p.phase === 'capabilities');
    const end = sessionEnd(conn);
    const lasted = secondsText(Math.max(0, (end ? (conn.timeline.find((e) => e.frame === end.frame)?.time ?? conn.end) : conn.end) - active.time));
    const how = end ? `; ${end.words}` : `; the capture ended while the session still ran`;
    return makeFinding('no_user_logon', {
      confidence: end ? ENDED_CONFIDENCE : RUNNING_CONFIDENCE,
      confidenceReason: end
        ? 'A logon notification inside a bulk-compressed share PDU, which is not decoded, would not be seen.'
        : 'The capture ended while the session still ran: the logon may have completed after it.',
      frames: [demand?.frame, active.frame, end?.frame, conn.mcs?.clientInfoFrame],
      explanation: `The session reached the active phase (${demand ? `Demand Active in frame ${demand.frame}, ` : ''}active from frame ${active.frame}) and ran ${lasted}, but in ${plural(d.records.server, 'decrypted server record')} the server sent no Save Session Info logon notification (MS-RDPBCGR 2.2.10.1.1): no user logged on${how}.`,
      filter: `${convFilter(conn)} && (rdp.pduType2 == 0x26 || rdp.pduType.type == 1)`,
      summary: 'the session ran, but no user logged on (no Save Session Info)',
      steps: conn.security === 'credssp' ? ['logonEvents'] : ['logonEvents', 'requireNla'],
    });
  },
};
