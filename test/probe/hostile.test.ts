// A probe meets servers it cannot trust: bytes that are not RDP, a flood, names with control
// characters and markup in the NTLM CHALLENGE. It never crashes, stays bounded, and every report
// format escapes what the server said.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { probe } from '../../src/probe/index.js';
import { challengeFields, subjectPublicKey } from '../../src/probe/nla.js';
import { renderText } from '../../src/report/text.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderHtml } from '../../src/report/html.js';
import { MAX_SERVER_BYTES } from '../../src/probe/conn.js';
import { mintCert, startServer } from './servers.js';

const cert = mintCert({ cn: 'rdp-srv01.corp.example', san: ['127.0.0.1'], notBeforeDays: -30, notAfterDays: 300 });

describe('probe against hostile servers (loopback)', () => {
  it('bytes that are not a Connection Confirm: malformed, said with the byte offset; no crash', async () => {
    const s = await startServer({ hostile: 'garbage' });
    try {
      const out = await probe(`127.0.0.1:${s.port}`, { timeoutMs: 1000 });
      if (typeof out === 'string') throw new Error(out);
      expect(out.result.x224[0]!.outcome).toBe('malformed');
      expect(out.result.x224[0]!.detail).toMatch(/at byte \d+/);
      expect(out.report.captureFindings[0]?.cause).toBe('server_unresponsive');
    } finally {
      await s.close();
    }
  }, 30_000);

  it(`a flood: the probe and its capture stay bounded (at most ${MAX_SERVER_BYTES} bytes kept per connection)`, async () => {
    const s = await startServer({ hostile: 'flood' });
    try {
      const before = process.memoryUsage().rss;
      const out = await probe(`127.0.0.1:${s.port}`, { timeoutMs: 1000 });
      if (typeof out === 'string') throw new Error(out);
      expect(out.capture.length).toBeLessThan(6 * (MAX_SERVER_BYTES + 256 * 1024) * 1.2);
      expect(process.memoryUsage().rss - before).toBeLessThan(400 * 1024 * 1024);
      expect(out.result.x224.every((x) => x.outcome !== 'selected')).toBe(true);
    } finally {
      await s.close();
    }
  }, 60_000);

  it('names with control characters and markup in the CHALLENGE are escaped in every format', async () => {
    const s = await startServer({ mode: 'negotiate', cert, names: { nbDomain: 'EV\x1b[31mIL', nbComputer: '<script>x</script>', dnsDomain: '| md |', dnsComputer: 'a\nb' } });
    try {
      const out = await probe(`127.0.0.1:${s.port}`, { timeoutMs: 1000 });
      if (typeof out === 'string') throw new Error(out);
      expect(out.result.credssp?.nbComputer).toBe('<script>x</script>');
      const text = renderText(out.report, { color: false });
      expect(text).not.toContain('\x1b[31m');
      const html = renderHtml(out.report);
      expect(html).not.toContain('<script>x</script>');
      expect(html).toContain('&lt;script&gt;');
      const md = renderMarkdown(out.report);
      expect(md).not.toContain('<script>x</script>');
    } finally {
      await s.close();
    }
  }, 30_000);
});

describe('decoders of the server answers on hostile bytes', () => {
  it('challengeFields and subjectPublicKey never throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (b, sig) => {
        const buf = Buffer.from(b);
        if (sig && buf.length >= 12) {
          buf.write('NTLMSSP\0', 0, 'latin1');
          buf.writeUInt32LE(2, 8);
        }
        const f = challengeFields(buf);
        if (f) expect(f.serverChallenge.length).toBe(8);
        subjectPublicKey(buf);
      }),
    );
  });
});
