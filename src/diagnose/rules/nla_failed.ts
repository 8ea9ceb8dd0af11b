// nla_failed: CredSSP (MS-CSSP 3.1.5) fails inside TLS: a TSRequest errorCode
// (MS-CSSP 2.2.1, an NTSTATUS), an Early User Authorization Result of
// ACCESS_DENIED (MS-RDPBCGR 2.2.10.2), or, without keys, a short encrypted
// exchange that the server ends.
import { AUTHZ_ACCESS_DENIED, PROTOCOL_HYBRID, PROTOCOL_HYBRID_EX } from '../codes.js';
import { certDoubt, clientStoppedBeforeCredentials, closeWords, convFilter, hex32, laterCompletedAttempt, makeFinding, secondsText } from '../facts.js';
import type { Finding, Rule } from '../types.js';
import type { ConnectionRecord, CredsspInfo, Died } from '../../handshake/types.js';
import { credsspErrorMeaning } from '../../rdp/credssp.js';

/** A CredSSP exchange is a few round trips: more records than this and it is not "short". */
export const CREDSSP_MAX_RECORDS = 12;
/** A completed attempt from the same client to the same server this soon after is a retry of this one. */
export const RETRY_SECONDS = 120;

export const nlaFailed: Rule = {
  cause: 'nla_failed',
  check(conn, input) {
    if (conn.outcome === 'completed') return null;
    const neg = conn.negotiation;
    const nlaSelected = conn.security === 'credssp' || (neg?.selectedProtocol != null && (neg.selectedProtocol & (PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX)) !== 0);
    if (!nlaSelected) return null;
    const cs = conn.credssp;
    const tls = conn.tls;
    const filter = `${convFilter(conn)} && (tls.app_data || tls.alert_message || tcp.flags.fin == 1 || tcp.flags.reset == 1)`;
    const d = conn.died;

    if (cs && cs.errorCode !== null && cs.errorCode !== 0) {
      const name = cs.errorName ?? hex32(cs.errorCode);
      const meaning = credsspErrorMeaning(cs.errorCode);
      return makeFinding('nla_failed', {
        confidence: 0.95,
        confidenceReason: 'The error code is read from the TSRequest; the host\'s Security log (event 4625) names the account and the logon failure in full.',
        frames: [...cs.frames, d?.frame],
        explanation: `The server's TSRequest reported errorCode ${name} (${hex32(cs.errorCode)})${cs.frames.length ? ` in frame ${cs.frames[cs.frames.length - 1]}` : ''}${meaning !== null ? `: ${meaning}` : ''}, ending Network Level Authentication${d ? `, and the ${d.by} ${closeWords(d.how)} in frame ${d.frame ?? '?'}` : ''}.`,
        filter,
        summary: `NLA authentication failed (${name}${meaning !== null ? `: ${meaning}` : ''})`,
      });
    }
    if (cs && cs.kerberosError !== undefined) {
      // RFC 4120 5.9.1: the server's Kerberos answer was an error (clock skew, a wrong principal, expired credentials ...).
      const k = cs.kerberosError;
      return makeFinding('nla_failed', {
        confidence: 0.85,
        confidenceReason: 'The Kerberos error is read from the decrypted exchange; SPNEGO may still fall back to NTLM, and the KDC\'s and host\'s logs say which account and why.',
        frames: [...cs.frames, d?.frame],
        explanation: `Kerberos inside CredSSP answered with KRB-ERROR ${k.name} (${k.code}) in frame ${k.frame}, and Network Level Authentication did not complete${d ? `: the ${d.by} ${closeWords(d.how)} in frame ${d.frame ?? '?'}` : ''}.`,
        filter,
        summary: `NLA Kerberos authentication failed (${k.name})`,
      });
    }
    if (cs && cs.earlyUserAuthResult === AUTHZ_ACCESS_DENIED) {
      return makeFinding('nla_failed', {
        confidence: 0.9,
        confidenceReason: 'ACCESS_DENIED says the user is not allowed in, not why (credentials accepted but no remote logon right, or a policy).',
        frames: [...cs.frames, d?.frame],
        explanation: `After CredSSP the server sent the Early User Authorization Result ACCESS_DENIED (${hex32(AUTHZ_ACCESS_DENIED)})${cs.frames.length ? ` in frame ${cs.frames[cs.frames.length - 1]}` : ''}: the user is not authorised to log on.`,
        filter,
        summary: 'the server denied the user at NLA (Early User Authorization Result ACCESS_DENIED)',
      });
    }
    if (cs && cs.visible && cs.clientVersion !== undefined && d && d.phase === 'credssp') return decodedEnd(cs, cs.clientVersion, d, filter);
    if (!d || !tls || tls.establishedFrame === null) return null;
    if (d.phase !== 'credssp' && !(d.phase === 'tls' && tls.appRecords.client >= 1 && tls.appRecords.server >= 1)) return null;
    const records = tls.appRecords.client + tls.appRecords.server;
    if (records > CREDSSP_MAX_RECORDS) return null;
    const shape = `${tls.appRecords.client} client and ${tls.appRecords.server} server encrypted records`;
    if (d.by === 'server' && (d.how === 'fin' || d.how === 'rst' || d.how === 'encrypted_alert')) {
      return makeFinding('nla_failed', {
        confidence: 0.6,
        confidenceReason:
          'CredSSP is encrypted without a key log: the phase is inferred from the records\' sizes and the error code cannot be read; a server dropping the connection at this point most often rejected the credentials or the CredSSP version.',
        frames: [tls.establishedFrame, ...(cs?.frames ?? []), d.frame],
        explanation: `After the TLS handshake (frame ${tls.establishedFrame}) a short CredSSP exchange (${shape}) ended with the server: it ${closeWords(d.how)} in frame ${d.frame ?? '?'}.`,
        filter,
        summary: 'the server ended NLA (CredSSP) authentication',
        confirmExtra: 'A TLS key log lets the capture show the TSRequest errorCode.',
      });
    }
    const pause = clientStoppedBeforeCredentials(conn);
    if (pause) {
      // MS-CSSP 3.1.5: after NEGOTIATE / CHALLENGE and AUTHENTICATE the server answers with pubKeyAuth
      // and the client goes on with its credentials; stopping here means the server's answer was an
      // error, unless that answer is proof-sized or the client had its own reason to stop (the certificate).
      const serverFin = conn.flow.tcp?.fins.find((f) => f.dir === 1) ?? null;
      const doubt = certDoubt(conn);
      const retry = laterCompletedAttempt(conn, input, RETRY_SECONDS);
      let confidence = serverFin ? 0.6 : 0.55;
      const reasons = [
        'CredSSP is encrypted without a key log: the client stopped after the server\'s answer to its AUTHENTICATE message, where a successful exchange goes on with the client\'s credentials.',
      ];
      if (pause.errorSized) {
        confidence += 0.1;
        reasons.push(
          `The server's answer (${pause.answer!.length} bytes, frame ${pause.answer!.frame}) is far smaller than its CHALLENGE (${pause.challenge!.length} bytes): the size of a TSRequest that carries only an errorCode.`,
        );
      } else if (pause.proofSized) {
        confidence = 0.25;
        reasons.push(
          `The server's answer (${pause.answer!.length} bytes, frame ${pause.answer!.frame}) is as large as its CHALLENGE (${pause.challenge!.length} bytes): the size of a public-key proof, which the server sends when authentication succeeded, not of an error.`,
        );
      } else {
        reasons.push('So the server most likely answered with an error; the client refusing the server\'s public-key proof looks the same.');
      }
      if (doubt && !pause.errorSized) {
        confidence -= 0.15;
        reasons.push(`The client also checks the server's identity at this point, and ${doubt}: it may have stopped to ask the user about it.`);
      }
      if (retry) {
        confidence -= 0.1;
        reasons.push(`The next attempt (${retry.id}) completed ${secondsText(Math.max(0, retry.start - conn.end))} later.`);
      }
      return makeFinding('nla_failed', {
        confidence: Math.max(0.15, confidence),
        confidenceReason: reasons.join(' '),
        frames: [tls.establishedFrame, pause.answer?.frame, d.frame, serverFin?.frame],
        explanation: `After the TLS handshake (frame ${tls.establishedFrame}) the CredSSP exchange stopped after ${shape}: the client ${closeWords(d.how)} in frame ${d.frame ?? '?'} instead of sending its credentials${serverFin ? `, and the server closed in frame ${serverFin.frame}` : ''}.`,
        filter,
        summary: 'NLA (CredSSP) authentication failed',
        confirmExtra: 'A TLS key log lets the capture show the TSRequest errorCode.',
      });
    }
    if (d.by === 'client' && tls.appRecords.server >= 1) {
      return makeFinding('nla_failed', {
        confidence: 0.4,
        confidenceReason:
          'The client left in the middle of CredSSP: a CredSSP version / encryption oracle policy on the client, a cancelled credential prompt, or an authentication error the client saw; the encrypted records cannot tell which.',
        frames: [tls.establishedFrame, d.frame],
        explanation: `After the TLS handshake (frame ${tls.establishedFrame}) and a short CredSSP exchange (${shape}), the client ${closeWords(d.how)} in frame ${d.frame ?? '?'}.`,
        filter,
        summary: 'NLA (CredSSP) authentication did not complete',
      });
    }
    return null;
  },
};

/** MS-CSSP 3.1.5.1.1 (CVE-2018-0886): clients and servers with the fix speak TSRequest version 5 or 6 and send a clientNonce. */
const CREDSSP_FIXED_VERSION = 5;

/**
 * CredSSP read from decrypted TLS, without an errorCode: the exchange is known message by message,
 * so what is said is what was read (who stopped after which message), and a version pair where one
 * side has the CVE-2018-0886 fix and the other not is the "encryption oracle remediation" refusal.
 */
function decodedEnd(cs: CredsspInfo, clientVersion: number, d: Died, filter: string): Finding | null {
  const server = cs.version ?? clientVersion;
  const last = cs.frames[cs.frames.length - 1];
  const tokens = cs.tokens.length > 0 ? ` (negoTokens ${cs.tokens.join(', ')})` : '';
  const oracle = (clientVersion >= CREDSSP_FIXED_VERSION) !== (server >= CREDSSP_FIXED_VERSION);
  if (oracle) {
    const old = clientVersion < server ? 'client' : 'server';
    return makeFinding('nla_failed', {
      confidence: 0.85,
      confidenceReason: 'The TSRequest versions are read from the decrypted exchange; the "Encryption Oracle Remediation" policy on the patched side decides whether it refuses the unpatched one.',
      frames: [...cs.frames, d.frame],
      explanation: `The decrypted CredSSP exchange shows TSRequest version ${clientVersion} from the client and ${server} from the server: the ${old} lacks the CredSSP update of CVE-2018-0886 (versions 5 and 6 carry it), and the ${d.by} ${closeWords(d.how)} in frame ${d.frame ?? '?'} before the credentials were sent.`,
      filter,
      summary: `CredSSP version mismatch (client ${clientVersion}, server ${server}): encryption oracle remediation`,
      confirmExtra: 'Install the CredSSP update on the unpatched side; the "Encryption Oracle Remediation" policy (Computer Configuration > Administrative Templates > System > Credentials Delegation) on the patched side is what refuses it.',
    });
  }
  return makeFinding('nla_failed', {
    confidence: 0.7,
    confidenceReason: 'The CredSSP messages are read from the decrypted exchange, but no errorCode was sent: the reason is in the host\'s Security log.',
    frames: [...cs.frames, d.frame],
    explanation: `The decrypted CredSSP exchange${tokens} ended${last !== undefined ? ` after frame ${last}` : ''} before the connection went on to MCS: the ${d.by} ${closeWords(d.how)} in frame ${d.frame ?? '?'}, and no TSRequest carried an errorCode.`,
    filter,
    summary: 'NLA (CredSSP) authentication did not complete',
  });
}
