// Attacker-chosen text in a capture (the cookie, the SNI, a certificate's subject) carrying
// markup, quotes, ESC and NUL: kept exactly in the JSON report, and never written raw into a
// terminal (text), a Markdown or an HTML report.
import { beforeAll, describe, expect, it } from 'vitest';
import * as R from '../../fixtures/lib/rdp-bytes.js';
import * as T from '../handshake/tls-bytes.js';
import { mintRsa } from '../rdp/x509-mint.js';
import type { Report } from '../../src/report/types.js';
import { analyzeBuffer, buildCli, cli, connection, expectNoStack, only, writeTmp, type Built } from './build.js';

const EVIL = `<script>alert("x")</script>'\x1b[31mRED\x1b]0;title\x07\x00NUL`;

function build(): Built {
  const cert = Buffer.from(mintRsa(1024, 'sha256', { subject: [{ name: 'commonName', value: EVIL }] }).der);
  return connection([
    { from: 'client', data: R.x224ConnectionRequest({ cookie: EVIL, neg: { requestedProtocols: R.PROTOCOL_SSL } }) },
    { from: 'server', data: R.x224ConnectionConfirm({ type: 'rsp', selectedProtocol: R.PROTOCOL_SSL }) },
    { from: 'client', data: T.clientHello({ sni: EVIL }) },
    { from: 'server', data: T.serverFlight([cert]) },
    { from: 'client', data: T.alert(2, 48) }, // fatal unknown_ca (RFC 8446 6.2)
  ]);
}

describe('markup, quotes, ESC and NUL in the cookie, the SNI and the certificate subject', () => {
  const b = build();

  it('analyze keeps the exact text (the JSON report is the faithful record)', async () => {
    const c = only(await analyzeBuffer(b.pcap));
    expect(c.negotiation?.cookie).toBe(EVIL);
    expect(c.tls?.sni).toBe(EVIL);
    const subject = c.tls?.certificates[0]?.subject ?? '';
    for (const part of ['script', 'alert', 'RED', '\x1b', '\x00']) expect(subject).toContain(part);
    expect(c.tls?.alerts[0]).toMatchObject({ description: 'unknown_ca', encrypted: false });
  });

  describe('command line', () => {
    let file: string;
    beforeAll(() => {
      buildCli();
      file = writeTmp('evil.pcap', b.pcap);
    }, 180_000);

    it('json: parses, and the text round-trips exactly', () => {
      const r = cli(['analyze', '--format', 'json', file]);
      expectNoStack(r);
      expect(r.code).toBe(1);
      const j = JSON.parse(r.stdout) as Report;
      expect(j.connections[0]!.negotiation?.cookie).toBe(EVIL);
      expect(j.connections[0]!.tls?.sni).toBe(EVIL);
    });

    for (const format of ['text', 'md', 'html']) {
      it(`${format}: no raw ESC, BEL or NUL reaches the output`, () => {
        const r = cli(['analyze', '--no-color', '--format', format, file]);
        expectNoStack(r);
        expect(r.code).toBe(1);
        expect(r.stdout).toContain('RED');
        // A terminal would obey ESC / OSC sequences; NUL truncates in many viewers.
        expect(r.stdout).not.toMatch(/[\x00\x07\x1b]/);
      });
    }

    for (const format of ['md', 'html']) {
      it(`${format}: the markup is escaped, never live`, () => {
        const r = cli(['analyze', '--no-color', '--format', format, file]);
        expect(r.stdout).not.toContain('<script>');
        expect(r.stdout).not.toContain('</script>');
      });
    }
  });
});
