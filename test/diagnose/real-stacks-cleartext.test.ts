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
});
