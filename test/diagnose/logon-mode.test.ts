// server_denied for a Restricted Admin / Remote Credential Guard session the server ended seconds
// after it became active (issue 12 pattern 8): the mode named, its needs and step, the server's
// RDP_NEG_RSP answer, and no such words for a session without a logon mode.
import { describe, expect, it } from 'vitest';
import { diagnoseConnection } from '../../src/diagnose/index.js';
import type { LogonMode } from '../../src/rdp/codes.js';
import { T0, died, ev, healthyTimeline, input, makeNegotiation, makeRecord } from './helpers.js';

function endedByServer(logonMode: LogonMode | undefined) {
  return makeRecord({
    outcome: 'failed',
    died: died({ phase: 'active', how: 'fin', by: 'server', frame: 61, detail: 'the server ended the session 2.5 s after it became active (frame 40), before the client asked to leave' }),
    negotiation: makeNegotiation(logonMode ? { requestFlags: (logonMode.restrictedAdmin ? 1 : 0) | (logonMode.remoteCredentialGuard ? 2 : 0), logonMode } : {}),
    timeline: [...healthyTimeline(), ev(61, 's2c', 'FIN', 'active', T0 + 0.4 + 2.5)],
  });
}

describe('server_denied: a session refused for its logon mode', () => {
  it('Remote Credential Guard the server does not offer: the mode, what it needs (Kerberos) and its step', () => {
    const c = endedByServer({ restrictedAdmin: false, remoteCredentialGuard: true, serverSupports: { restrictedAdmin: true, remoteCredentialGuard: false }, frame: 4 });
    const [f] = diagnoseConnection(c, input([c]));
    expect(f!.cause).toBe('server_denied');
    expect(f!.confidence).toBe(0.6);
    expect(f!.frames).toEqual([4, 40, 61]);
    expect(f!.explanation).toBe(
      'The client asked for Remote Credential Guard (RDP_NEG_REQ flags REDIRECTED_AUTHENTICATION_MODE_REQUIRED in frame 4); the server ended the session 2.5 s after it became active (frame 40), before the client asked to leave: it closed the connection (FIN) in frame 61. The likely reason is the logon mode: Remote Credential Guard logs the user on with Kerberos requests redirected to the client, and needs Kerberos (both machines in the same or trusting Active Directory domains, the host named rather than reached by its IP address) and a host that allows it (DisableRestrictedAdmin 0). The server\'s RDP_NEG_RSP did not offer the mode.',
    );
    expect(f!.remediation).toHaveLength(1);
    expect(f!.remediation[0]).toMatch(/^Remote Credential Guard \(`mstsc\.exe \/remoteGuard`\) works only with Kerberos/);
    expect(f!.summary).toBe('the server ended the Remote Credential Guard session seconds after it became active');
    // Without the handshake stage's words (a record from elsewhere), the times of the phases tell it.
    const bare = { ...c, died: { ...c.died!, detail: 'server closed' } };
    expect(diagnoseConnection(bare, input([bare]))[0]!.explanation).toMatch(/in frame 4\); the server ended the session 2\.5 s after it became active \(frame 40\), before the client asked to leave: it closed the connection \(FIN\) in frame 61\./);
  });

  it('without a logon mode the same end keeps the plain wording (the session is judged as before)', () => {
    const c = endedByServer(undefined);
    const [f] = diagnoseConnection(c, input([c]));
    expect(f!.cause).toBe('server_denied');
    expect(f!.explanation).not.toMatch(/logon mode|Restricted Admin|Remote Credential Guard/);
    expect(f!.confidence).toBeLessThan(0.6);
  });
});
