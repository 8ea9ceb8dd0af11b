// Issue 12 pattern 8 end to end: the clear text around the encrypted part. A KRB-ERROR from the
// client's KDC (UDP port 88) seconds before a CredSSP failure is the evidence for nla_failed and
// names the reason; the routine KDC_ERR_PREAUTH_REQUIRED is not; RESTRICTED_ADMIN_MODE_REQUIRED is
// named in every report format.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import { renderText } from '../../src/report/text.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderHtml } from '../../src/report/html.js';
import { renderJson } from '../../src/report/json.js';

const FIX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'captures');
const manifest = existsSync(path.join(FIX, 'manifest.json'))
  ? (JSON.parse(readFileSync(path.join(FIX, 'manifest.json'), 'utf8')) as { scenarios: { name: string; expected: { keyFrames: Record<string, number> } }[] })
  : { scenarios: [] };
const keyFrames = (name: string) => manifest.scenarios.find((s) => s.name === name)!.expected.keyFrames;

describe.skipIf(!existsSync(FIX))('the clear text around CredSSP (issue 12 pattern 8)', () => {
  it('a KDC_ERR_PREAUTH_FAILED before the CredSSP failure: nla_failed, a wrong password, with the KRB-ERROR frame', async () => {
    const r = await analyze([{ kind: 'file', path: path.join(FIX, 'nla_failed_kerberos.pcap') }]);
    expect(r.connections).toHaveLength(1);
    const c = r.connections[0]!;
    const kf = keyFrames('nla_failed_kerberos');
    expect(c.outcome).toBe('failed');
    expect(c.reached).toBe('credssp');
    expect(c.died).toMatchObject({ phase: 'credssp', how: 'encrypted_alert', by: 'client', frame: kf.encryptedAlert });
    const top = c.findings[0]!;
    expect(top.cause).toBe('nla_failed');
    expect(top.confidence).toBeGreaterThanOrEqual(0.85);
    expect(top.frames).toContain(kf.krbError);
    expect(top.explanation).toMatch(new RegExp(`KRB-ERROR KDC_ERR_PREAUTH_FAILED \\(24\\) in frame ${kf.krbError}, \\d+ ms before the connection began, for alice@CORP.EXAMPLE`));
    expect(top.explanation).toMatch(/the password is wrong/);
    // The routine PREAUTH_REQUIRED of every AS exchange is no evidence.
    expect(top.explanation).not.toMatch(/PREAUTH_REQUIRED/);
    expect(top.remediation[0]).toMatch(/event 4771 with failure code 0x18/);
    expect(top.filter).toMatch(/kerberos\.error_code/);
    expect(r.summary.headline).toMatch(/the password is wrong .*KDC_ERR_PREAUTH_FAILED/);
  });

  it('RESTRICTED_ADMIN_MODE_REQUIRED is named in every report format', async () => {
    const r = await analyze([{ kind: 'file', path: path.join(FIX, 'nla_failed_kerberos.pcap') }]);
    expect(r.connections[0]!.negotiation!.requestFlags).toBe(0x01);
    for (const out of [renderText(r, { color: false }), renderMarkdown(r), renderHtml(r), renderJson(r)]) {
      expect(out).toMatch(/RESTRICTED(\\)?_ADMIN(\\)?_MODE(\\)?_REQUIRED/);
    }
    expect(renderText(r, { color: false })).toMatch(/Restricted Admin mode/);
  });

  it('a Restricted Admin session the server ends 3 s after its first graphics: failed in active, server_denied naming the logon mode', async () => {
    const r = await analyze([{ kind: 'file', path: path.join(FIX, 'restricted_admin_ended.pcap') }]);
    expect(r.connections).toHaveLength(1);
    const c = r.connections[0]!;
    const kf = keyFrames('restricted_admin_ended');
    expect(c.outcome).toBe('failed');
    expect(c.reached).toBe('active');
    expect(c.died).toMatchObject({ phase: 'active', how: 'fin', by: 'server', frame: kf.fin });
    // The first graphics: the frame that completed the first large server record after the session became active.
    const active = c.phases.find((p) => p.phase === 'active')!.frame;
    expect(c.died!.detail).toMatch(new RegExp(`^the server ended the session 3\\.\\d s after its first graphics \\(frame (\\d+); active since frame ${active}\\), before the client asked to leave$`));
    const graphics = Number(/first graphics \(frame (\d+)/.exec(c.died!.detail)![1]);
    expect(graphics).toBeGreaterThan(active);
    expect(graphics).toBeLessThan(kf.lastC2s!);
    const top = c.findings[0]!;
    expect(top.cause).toBe('server_denied');
    // Likely, not certain: the Set Error Info PDU is encrypted.
    expect(top.confidence).toBe(0.6);
    expect(top.confidenceReason).toMatch(/Set Error Info PDU is encrypted/);
    expect(top.frames).toEqual([kf.x224Request, c.phases.find((p) => p.phase === 'active')!.frame, kf.fin]);
    expect(top.explanation).toMatch(new RegExp(`asked for Restricted Admin mode \\(RDP_NEG_REQ flags RESTRICTED_ADMIN_MODE_REQUIRED in frame ${kf.x224Request}\\)`));
    expect(top.explanation).toContain(`; ${c.died!.detail}: it closed the connection (FIN) in frame ${kf.fin}. The likely reason is the logon mode`);
    expect(top.explanation).toMatch(/member of its local Administrators group/);
    expect(top.explanation).toMatch(/RDP_NEG_RSP said it supports the mode/);
    expect(top.remediation[0]).toMatch(/mstsc\.exe \/restrictedAdmin.*local Administrators group.*DisableRestrictedAdmin/);
    expect(r.summary.headline).toMatch(/Restricted Admin mode session seconds after it became active/);
    expect(c.negotiation!.logonMode).toEqual({ restrictedAdmin: true, remoteCredentialGuard: false, serverSupports: { restrictedAdmin: true, remoteCredentialGuard: true }, frame: kf.x224Request });
  });

  it('the same session without the logon mode stays completed: a server that ends an ordinary session is not judged by this', async () => {
    // completed_idle_logon: HYBRID, no RDP_NEG_REQ flags, the client leaves 4 s after the session became active.
    const r = await analyze([{ kind: 'file', path: path.join(FIX, 'completed_idle_logon.pcap') }]);
    expect(r.connections[0]!.outcome).toBe('completed');
    expect(r.connections[0]!.negotiation!.logonMode).toBeUndefined();
  });

  it('negotiation.logonMode is a structured JSON field, and every format names the mode with the server\'s answer', async () => {
    const r = await analyze([{ kind: 'file', path: path.join(FIX, 'nla_failed_kerberos.pcap') }]);
    const c = r.connections[0]!;
    const kf = keyFrames('nla_failed_kerberos');
    const json = JSON.parse(renderJson(r)) as { connections: { negotiation: { logonMode?: unknown } }[] };
    expect(json.connections[0]!.negotiation.logonMode).toEqual({ restrictedAdmin: true, remoteCredentialGuard: false, serverSupports: { restrictedAdmin: true, remoteCredentialGuard: true }, frame: kf.x224Request });
    expect(c.negotiation!.logonMode!.frame).toBe(c.negotiation!.requestFrame);
    expect(renderText(r, { color: false })).toMatch(/negotiation: .*flags RESTRICTED_ADMIN_MODE_REQUIRED \(Restricted Admin mode\)/);
    expect(renderMarkdown(r)).toMatch(/\| RDP\\_NEG\\_REQ flag \| RESTRICTED\\_ADMIN\\_MODE\\_REQUIRED \(Restricted Admin mode\) \|/);
    expect(renderHtml(r)).toMatch(/<th[^>]*>RDP_NEG_REQ flag<\/th>\s*<td[^>]*>RESTRICTED_ADMIN_MODE_REQUIRED \(Restricted Admin mode\)<\/td>/);
    // A server whose RDP_NEG_RSP does not offer the mode: every format says so (one wording, src/report/ladder.ts).
    c.negotiation!.logonMode!.serverSupports = { restrictedAdmin: false, remoteCredentialGuard: false };
    for (const out of [renderText(r, { color: false }), renderMarkdown(r), renderHtml(r)]) {
      expect(out).toMatch(/RESTRICTED(\\)?_ADMIN(\\)?_MODE(\\)?_REQUIRED \(Restricted Admin mode\), not offered by the server(&#39;|'|\\')s RDP(\\)?_NEG(\\)?_RSP/);
    }
  });

  it('a KDC_ERR_CLIENT_REVOKED over TCP port 88, split over two segments, is evidence for nla_failed as a UDP one is', async () => {
    const r = await analyze([{ kind: 'file', path: path.join(FIX, 'nla_failed_kerberos_tcp.pcap') }]);
    expect(r.connections).toHaveLength(1);
    const c = r.connections[0]!;
    const kf = keyFrames('nla_failed_kerberos_tcp');
    expect(c.outcome).toBe('failed');
    expect(c.reached).toBe('credssp');
    expect(c.died).toMatchObject({ phase: 'credssp', how: 'encrypted_alert', by: 'client', frame: kf.encryptedAlert });
    const top = c.findings[0]!;
    expect(top.cause).toBe('nla_failed');
    expect(top.confidence).toBeGreaterThanOrEqual(0.9);
    // The frame that completed the record (Wireshark shows the reassembled KRB-ERROR there), not the first piece.
    expect(kf.krbError).toBeGreaterThan(kf.krbErrorFirst!);
    expect(top.frames).toContain(kf.krbError);
    expect(top.frames).not.toContain(kf.krbErrorFirst);
    expect(top.explanation).toMatch(new RegExp(`KRB-ERROR KDC_ERR_CLIENT_REVOKED \\(18\\) in frame ${kf.krbError}, \\d+ ms before the connection began, for alice@CORP.EXAMPLE`));
    expect(top.explanation).toMatch(/the account is disabled, locked out or expired/);
    expect(top.remediation[0]).toMatch(/Unlock-ADAccount/);
    expect(r.summary.headline).toMatch(/KDC_ERR_CLIENT_REVOKED/);
  });
});
