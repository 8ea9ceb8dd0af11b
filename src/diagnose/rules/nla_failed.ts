// nla_failed: CredSSP (MS-CSSP 3.1.5) fails inside TLS: a TSRequest errorCode
// (MS-CSSP 2.2.1, an NTSTATUS), an Early User Authorization Result of
// ACCESS_DENIED (MS-RDPBCGR 2.2.10.2), or, without keys, a short encrypted
// exchange that the server ends.
import { AUTHZ_ACCESS_DENIED, PROTOCOL_HYBRID, PROTOCOL_HYBRID_EX } from '../codes.js';
import { appDataRecords, certDoubt, clientStoppedBeforeCredentials, closeWords, convFilter, hex32, isIpLiteral, laterCompletedAttempt, makeFinding, secondsText } from '../facts.js';
import type { DiagnosisInput, Finding, Rule } from '../types.js';
import type { ConnectionRecord, CredsspInfo, Died } from '../../handshake/types.js';
import type { KerberosErrorRef } from '../../flow/types.js';
import { credsspErrorMeaning } from '../../rdp/credssp.js';

/** A CredSSP exchange is a few round trips: more records than this and it is not "short". */
export const CREDSSP_MAX_RECORDS = 12;
/** A completed attempt from the same client to the same server this soon after is a retry of this one. */
export const RETRY_SECONDS = 120;

export const nlaFailed: Rule = {
  cause: 'nla_failed',
  check(conn, input) {
    const f = nlaFailedFromRecords.check(conn, input);
    return f === null ? null : withKdcError(conn, input, withIpSni(conn, f));
  },
};

/**
 * The client named the server by an IP address (its TLS SNI is an IP literal): Kerberos needs the
 * server's name (its service principal, TERMSRV/<name>), so CredSSP's SPNEGO falls back to NTLM
 * (MS-CSSP 3.1.5), which hosts often refuse (NTLM restricted by policy, accounts in Protected
 * Users). Said in every nla_failed finding of such a connection.
 */
function withIpSni(conn: ConnectionRecord, f: Finding): Finding {
  const sni = conn.tls?.sni ?? null;
  if (sni === null || !isIpLiteral(sni)) return f;
  return {
    ...f,
    explanation: `${f.explanation.replace(/\.$/, '')}; the client named the server by its IP address (SNI "${sni}"), so Kerberos cannot be used without a host name and CredSSP fell back to NTLM, which servers often refuse (connecting by the server's name lets Kerberos be used).`,
  };
}

/** What the encrypted CredSSP exchange (or its decoded TSRequest) shows. */
const nlaFailedFromRecords: Rule = {
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
      // Records the client sent after the server's end are not part of the exchange it ended: counted
      // apart (when the timeline holds every record, as it does for an exchange this short).
      const recs = appDataRecords(conn);
      const endAt = d.frame;
      const late = endAt !== null && recs.length === records ? recs.filter((r) => r.frame > endAt && r.dir === 'c2s') : [];
      const lateServer = endAt !== null && recs.length === records ? recs.filter((r) => r.frame > endAt && r.dir === 's2c').length : 0;
      const exchanged =
        late.length === 0 && lateServer === 0 ? shape : `${tls.appRecords.client - late.length} client and ${tls.appRecords.server - lateServer} server encrypted records`;
      const afterwards =
        late.length === 0 ? '' : `; the client sent ${late.length === 1 ? 'one more record' : `${late.length} more records`} after it (frame${late.length === 1 ? '' : 's'} ${late.map((r) => r.frame).join(', ')})`;
      return makeFinding('nla_failed', {
        confidence: 0.6,
        confidenceReason:
          'CredSSP is encrypted without a key log: the phase is inferred from the records\' sizes and the error code cannot be read; a server dropping the connection at this point most often rejected the credentials or the CredSSP version.',
        frames: [tls.establishedFrame, ...(cs?.frames ?? []), d.frame],
        explanation: `After the TLS handshake (frame ${tls.establishedFrame}) a short CredSSP exchange (${exchanged}) ended with the server: it ${closeWords(d.how)} in frame ${d.frame ?? '?'}${afterwards}.`,
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

/** A KRB-ERROR this long before the connection began (the ticket for the server is asked for first) still counts. */
export const KDC_LOOKBACK_SECONDS = 30;

/** What a KRB-ERROR code (RFC 4120 7.5.9) means for the user, and what to do; `decisive` when it is why NLA failed. */
const KDC_MEANING: Record<number, { meaning: string; step: string; decisive: boolean }> = {
  24: {
    meaning: 'the password is wrong (the KDC refused the pre-authentication)',
    step: 'Have the user type the password again, or reset it; repeated failures lock the account out. The domain controller logs the failure as Security event 4771 with failure code 0x18.',
    decisive: true,
  },
  6: {
    meaning: 'the user name is not known in that realm',
    step: "Check the user name and its domain (DOMAIN\\user or user@domain) in the client's saved credentials; the domain controller logs Security event 4768 with result code 0x6.",
    decisive: true,
  },
  18: {
    meaning: 'the account is disabled, locked out or expired (its credentials are revoked)',
    step: 'Unlock or enable the account in Active Directory Users and Computers (or `Unlock-ADAccount <user>` in PowerShell), or wait for the lockout to end; the domain controller logs Security event 4768 or 4771 with code 0x12.',
    decisive: true,
  },
  1: {
    meaning: 'the account has expired',
    step: "Extend the account's expiry date in Active Directory (Account tab, \"Account expires\").",
    decisive: true,
  },
  23: {
    meaning: 'the password has expired',
    step: 'Have the user change the password first (on a domain machine: Ctrl+Alt+Del > Change a password); with NLA an expired password cannot be changed at the remote logon screen.',
    decisive: true,
  },
  12: {
    meaning: 'a policy forbids this logon (logon hours, the computers the account may log on to, or an authentication policy)',
    step: 'Check the account\'s logon hours and "Log On To" computers in Active Directory, and any authentication policy or Protected Users membership that restricts it.',
    decisive: true,
  },
  37: {
    meaning: 'the clocks of the client and the domain controller differ by more than Kerberos allows (5 minutes by default)',
    step: 'Correct the client\'s clock (time zone and time source; `w32tm /resync` on a domain member) so that it is within 5 minutes of the domain controller.',
    decisive: true,
  },
  7: {
    meaning: 'the KDC knows no service principal for the name the client used, so Kerberos could not be used and CredSSP fell back to NTLM',
    step: "Connect by the server's DNS name (the name of its TERMSRV service principal) rather than an alias or an IP address; `setspn -L <server>` lists its principals.",
    decisive: false,
  },
};

/** Codes every healthy exchange may carry: the first AS-REQ without pre-authentication, a UDP answer too big. */
const KDC_ROUTINE = new Set([0, 25, 52]);

/**
 * Kerberos is clear text (RFC 4120): a KRB-ERROR that the client's KDC sent it just before the
 * CredSSP exchange failed says why the authentication failed (wrong password, unknown or locked
 * account, an expired password, clocks too far apart). The finding names it, cites its frame, and
 * leads with the step that fits the code.
 */
function withKdcError(conn: ConnectionRecord, input: DiagnosisInput, f: Finding): Finding {
  const list = input.kerberos;
  if (!list || list.length === 0) return f;
  const client = conn.flow.client.ip;
  let hit: KerberosErrorRef | null = null;
  for (const k of list) {
    if (k.client !== client || k.fileIndex !== conn.fileIndex || KDC_ROUTINE.has(k.errorCode)) continue;
    if (k.time < conn.start - KDC_LOOKBACK_SECONDS || k.time > conn.end) continue;
    if (hit === null || KDC_MEANING[k.errorCode]?.decisive || !KDC_MEANING[hit.errorCode]?.decisive) hit = k;
  }
  if (hit === null) return f;
  const m = KDC_MEANING[hit.errorCode] ?? {
    meaning: `the KDC refused the request (${hit.errorName})`,
    step: 'Look the error up in the domain controller\'s Security log (events 4768, 4769 and 4771) at the time of the attempt.',
    decisive: false,
  };
  const who = hit.cname !== null ? `${hit.cname}${hit.crealm !== null ? `@${hit.crealm}` : ''}` : 'the client';
  const when = secondsText(Math.abs(conn.start - hit.time));
  const before = hit.time <= conn.start ? `${when} before the connection began` : `${when} into the connection`;
  const sentence = `The domain controller ${hit.kdc} answered the client's Kerberos request with KRB-ERROR ${hit.errorName} (${hit.errorCode}) in frame ${hit.frame}, ${before}, for ${who} (service ${hit.sname}@${hit.realm}${hit.eText ? `, "${hit.eText}"` : ''}), meaning ${m.meaning}`;
  const rest = f.explanation.charAt(0).toLowerCase() + f.explanation.slice(1);
  return {
    ...f,
    confidence: m.decisive ? Math.max(f.confidence, 0.9) : f.confidence,
    confidenceReason: m.decisive
      ? `The KDC's answer is in clear text and names the reason; that this was the authentication CredSSP then used is inferred from the time (${before}) and the client's address.`
      : f.confidenceReason,
    frames: [...new Set([hit.frame, ...f.frames])].sort((a, b) => a - b),
    explanation: `${sentence}; then ${rest}`,
    remediation: [m.step, ...f.remediation],
    filter: `(${f.filter}) || (kerberos.error_code && ${conn.flow.ipVersion === 6 ? 'ipv6.addr' : 'ip.addr'}==${client})`,
    summary: `NLA failed: ${m.meaning} (${hit.errorName})`,
  };
}
