// server_denied: the server ends a connection that got past authentication:
// Set Error Info PDU (MS-RDPBCGR 2.2.5.1.1), a licensing ERROR_ALERT other than
// STATUS_VALID_CLIENT (MS-RDPBCGR 2.2.1.12.1.3), a Disconnect Provider Ultimatum
// (T.125 11.15), or a close after CredSSP / MCS / licensing.
import { LICENSE_ERROR_ALERT, STATUS_VALID_CLIENT, isDenialErrorInfo } from '../codes.js';
import { closeWords, convFilter, framesFilter, hex32, makeFinding, reachedAtLeast, secondsText } from '../facts.js';
import { LOGON_MODES, PROTOCOL_HYBRID, PROTOCOL_HYBRID_EX } from '../../rdp/codes.js';
import { causeSteps, type StepId } from '../catalogue.js';
import type { Finding, Rule } from '../types.js';
import { PHASE_WORDS, type ConnectionRecord } from '../../handshake/types.js';
import { standardSecurityRefusedAtMcs } from './security_layer_mismatch.js';

export const serverDenied: Rule = {
  cause: 'server_denied',
  check(conn) {
    if (conn.outcome === 'completed') return null;
    const filter = convFilter(conn);
    const infos = conn.errorInfo.filter((e) => e.code !== 0);
    const denial = infos.find((e) => isDenialErrorInfo(e.code));
    const info = denial ?? infos[0];
    if (info) {
      return makeFinding('server_denied', {
        confidence: denial ? 0.92 : 0.75,
        confidenceReason: denial
          ? 'The server names the reason; the account or policy behind it is in the host\'s logs.'
          : 'The server named why it ended the session, which is not a refusal of the user as such.',
        frames: [info.frame, conn.died?.frame],
        explanation: `The server sent a Set Error Info PDU in frame ${info.frame} with ${info.name} (${hex32(info.code)})${info.description ? `: ${info.description.charAt(0).toLowerCase()}${info.description.slice(1).replace(/\.$/, '')}` : ''}.`,
        filter: `${filter} && ${`frame.number == ${info.frame}`}`,
        summary: `the server ended the connection with ${info.name}`,
        steps: info.code >= 0x100 && info.code <= 0x10b ? ['restartBoth', 'stuckSessions'] : undefined,
      });
    }
    const lic = conn.licensing.find((l) => l.by === 'server' && l.msgType === LICENSE_ERROR_ALERT && l.errorCode !== null && l.errorCode !== STATUS_VALID_CLIENT);
    if (lic) {
      return makeFinding('server_denied', {
        confidence: 0.85,
        confidenceReason: 'The licensing error names the failure; the state of the licence server is only visible on the host.',
        frames: [lic.frame, conn.died?.frame],
        explanation: `The server sent a licensing error in frame ${lic.frame}: ${lic.errorName ?? hex32(lic.errorCode ?? 0)}${lic.errorCode !== null ? ` (${hex32(lic.errorCode)})` : ''}.`,
        filter: `${filter} && frame.number == ${lic.frame}`,
        summary: `licensing failed (${lic.errorName ?? hex32(lic.errorCode ?? 0)})`,
        // A licensing error (MS-RDPBCGR 2.2.1.12.1.3) is about the host's RD licensing, not a stuck session.
        steps: ['rdLicensing'],
      });
    }
    // A TLS-only server refusing Standard RDP Security at the Connect Initial: security_layer_mismatch.
    if (standardSecurityRefusedAtMcs(conn)) return null;
    const ult = conn.mcs?.disconnectUltimatum;
    if (ult && ult.by === 'server') {
      return makeFinding('server_denied', {
        confidence: 0.65,
        confidenceReason: 'A Disconnect Provider Ultimatum says the server ended the connection, not why; the Set Error Info PDU (if any) was not visible.',
        frames: [ult.frame],
        explanation: `The server sent an MCS Disconnect Provider Ultimatum (${ult.reasonName}) in frame ${ult.frame} ${PHASE_WORDS[conn.died?.phase ?? conn.reached]}.`,
        filter: `${filter} && frame.number == ${ult.frame}`,
        summary: `the server disconnected ${PHASE_WORDS[conn.died?.phase ?? conn.reached]} (${ult.reasonName})`,
        steps: stepsThatFit(conn),
      });
    }
    const d = conn.died;
    if (!d || d.by !== 'server' || (d.how !== 'fin' && d.how !== 'rst' && d.how !== 'encrypted_alert')) return null;
    const refused = logonModeRefused(conn);
    if (refused) return refused;
    if (!reachedAtLeast(conn, 'mcs') || (d.phase !== 'mcs' && !reachedAtLeast(conn, 'licensing'))) return null;
    const authenticated = conn.security === 'credssp';
    const inferred = conn.phases.some((p) => p.phase === conn.reached && p.inferred);
    return makeFinding('server_denied', {
      confidence: authenticated ? 0.55 : 0.45,
      confidenceReason: `${inferred ? 'The phase is inferred from encrypted record sizes. ' : ''}Without keys the Set Error Info PDU (if any) is encrypted, so the server's reason is not visible; its TerminalServices logs have it.`,
      frames: [conn.phases.find((p) => p.phase === conn.reached)?.frame, d.frame],
      explanation: `After ${authenticated ? 'NLA authentication succeeded and ' : ''}the connection reached ${conn.reached}, the server ${closeWords(d.how)} in frame ${d.frame ?? '?'}.`,
      filter: `${filter} && (tcp.flags.fin == 1 || tcp.flags.reset == 1)`,
      summary: `the server ended the connection after ${authenticated ? 'authentication' : conn.reached}`,
      steps: stepsThatFit(conn),
    });
  },
};

/**
 * The catalogue's steps that fit what the connection shows: the NLA policy only when NLA was asked
 * for or used (a client offering only TLS or Standard RDP Security, as FreeRDP's /sec:rdp against
 * xrdp, was not ended over NLA: a host requiring it answers the Connection Request with
 * HYBRID_REQUIRED_BY_SERVER, MS-RDPBCGR 2.2.1.2.2), the RD licensing step only once licensing was
 * reached (an end before it is not about licences).
 */
function stepsThatFit(conn: ConnectionRecord): StepId[] | undefined {
  const requested = conn.negotiation?.requestedProtocols ?? null;
  const nla = conn.security === 'credssp' || (requested !== null && (requested & (PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX)) !== 0);
  const licensing = reachedAtLeast(conn, 'licensing');
  if (nla && licensing) return undefined;
  return causeSteps('server_denied').filter((s) => (s !== 'nlaPolicy' || nla) && (s !== 'rdLicensing' || licensing));
}

/**
 * What to do per logon mode (Microsoft's documentation of Restricted Admin mode and Remote
 * Credential Guard; `mstsc.exe /restrictedAdmin` is also a step of the field guides).
 */
const MODE_STEPS: Record<'restrictedAdmin' | 'remoteCredentialGuard', string> = {
  restrictedAdmin:
    'Restricted Admin mode (`mstsc.exe /restrictedAdmin`) needs the account to be a member of the local Administrators group on the host, and the host to allow the mode: HKLM\\System\\CurrentControlSet\\Control\\Lsa\\DisableRestrictedAdmin set to 0 (REG_DWORD). Check both, or connect once without /restrictedAdmin to see whether the mode is what the host refuses.',
  remoteCredentialGuard:
    'Remote Credential Guard (`mstsc.exe /remoteGuard`) works only with Kerberos: the client and the host in the same or trusting Active Directory domains, the host reached by its name (not its IP address), Windows 10 1607 / Windows Server 2016 or later on both, and the host allowing it (HKLM\\System\\CurrentControlSet\\Control\\Lsa\\DisableRestrictedAdmin set to 0). Connect once without /remoteGuard to see whether the mode is what the host refuses.',
};

/**
 * What each logon mode asks of the host, for the explanation (Microsoft's documentation of
 * Restricted Admin mode and Remote Credential Guard).
 */
const MODE_NEEDS: Record<'restrictedAdmin' | 'remoteCredentialGuard', string> = {
  restrictedAdmin:
    'in Restricted Admin mode the host logs the user on without receiving their credentials, and only accepts an account that is a member of its local Administrators group, on a host where the mode is allowed (DisableRestrictedAdmin 0)',
  remoteCredentialGuard:
    'Remote Credential Guard logs the user on with Kerberos requests redirected to the client, and needs Kerberos (both machines in the same or trusting Active Directory domains, the host named rather than reached by its IP address) and a host that allows it (DisableRestrictedAdmin 0)',
};

/**
 * A Restricted Admin / Remote Credential Guard session the server ended within seconds of becoming
 * active (src/handshake/ending.ts logonModeRefused): the logon mode is the likely reason (issue 12
 * pattern 8). Without keys the Set Error Info PDU is encrypted, hence a moderate confidence.
 */
function logonModeRefused(conn: ConnectionRecord): Finding | null {
  const m = conn.negotiation?.logonMode;
  const d = conn.died;
  if (!m || !d || d.phase !== 'active' || d.by !== 'server') return null;
  const mode = LOGON_MODES.find((x) => m[x.key])!;
  const active = conn.phases.find((p) => p.phase === 'active') ?? null;
  // The handshake stage's words for this end (src/handshake/ending.ts logonModeRefused): how long after the first graphics.
  const when = /^the server ended the session .+ before the client asked to leave$/.test(d.detail) ? d.detail : null;
  const endTime = d.frame !== null ? conn.timeline.find((e) => e.frame === d.frame)?.time : undefined;
  const after = active && endTime !== undefined ? `${secondsText(Math.max(0, endTime - active.time))} after` : 'seconds after';
  const story = when ?? `the server ended the session ${after} it became active${active ? ` (frame ${active.frame})` : ''}, before the client asked to leave`;
  const offered = m.serverSupports === null ? '' : m.serverSupports[mode.key] ? ' The server\'s RDP_NEG_RSP said it supports the mode, so the refusal came at the logon itself.' : ' The server\'s RDP_NEG_RSP did not offer the mode.';
  const f = makeFinding('server_denied', {
    confidence: 0.6,
    confidenceReason:
      'Without keys the Set Error Info PDU is encrypted, so the server\'s own reason is not visible: a host that ends a session seconds after showing it, when the client asked for this logon mode, most often refuses the mode for this account or host, but its TerminalServices and Security logs say so.',
    frames: [m.frame, active?.frame, d.frame],
    explanation: `The client asked for ${mode.words} (RDP_NEG_REQ flags ${mode.name} in frame ${m.frame}); ${story}: it ${closeWords(d.how)} in frame ${d.frame ?? '?'}. The likely reason is the logon mode: ${MODE_NEEDS[mode.key]}.${offered}`,
    filter: `${convFilter(conn)} && (${framesFilter([m.frame, active?.frame, d.frame])} || tcp.flags.fin == 1 || tcp.flags.reset == 1)`,
    summary: `the server ended the ${mode.words} session seconds after it became active`,
    steps: [],
    confirmExtra:
      'In the host\'s Security log, a failed logon (event 4625) or a logon of type 10 followed at once by a logoff names the account; `reg query HKLM\\System\\CurrentControlSet\\Control\\Lsa /v DisableRestrictedAdmin` shows whether the mode is allowed.',
  });
  return { ...f, remediation: [MODE_STEPS[mode.key]] };
}
