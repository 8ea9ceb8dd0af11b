// Issue 17, "wrong facts in summaries": reports that stay true and speak to the admin. A certificate
// that is not valid yet is its own case (clocks first); no report names the project's own documents.
import { describe, expect, it } from 'vitest';
import { renderText } from '../../src/report/text.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderHtml } from '../../src/report/html.js';
import { fixtureReport, scenarios } from './helpers.js';

describe('cert_not_yet_valid on its fixture capture', () => {
  it('is told apart from an expired certificate, with the clocks checked first', async () => {
    const r = await fixtureReport('captures/cert_not_yet_valid.pcapng');
    const c = r.connections.find((x) => x.outcome === 'failed')!;
    expect(c.died).toMatchObject({ phase: 'tls', how: 'encrypted_alert', by: 'client' });
    const f = c.findings[0]!;
    expect(f.cause).toBe('cert_not_yet_valid');
    expect(f.explanation).toContain('not valid before 2026-06-01');
    expect(f.explanation).toMatch(/clock/);
    expect(f.remediation[0]).toMatch(/clocks of both machines|both machines/);
    expect(f.remediation[0]).toContain('w32tm');
    const text = renderText(r, { color: false });
    expect(text).not.toMatch(/expired/);
    expect(text).not.toContain('delete it if it has expired');
    expect(r.summary.headline).toContain("the server's certificate is not valid before 2026-06-01");
  });
});

describe('no report names the project\'s own documents', () => {
  it.each(scenarios().map((s) => s.file))('%s', async (file) => {
    const r = await fixtureReport(file);
    for (const out of [renderText(r, { color: false }), renderMarkdown(r), renderHtml(r), JSON.stringify(r)]) expect(out).not.toMatch(/\bseeds?\b/i);
  });
});

describe('plain words for people', () => {
  it('durations as people say them', async () => {
    const { secondsText } = await import('../../src/diagnose/facts.js');
    expect(secondsText(0.25)).toBe('250 ms');
    expect(secondsText(2.5)).toBe('2.5 s');
    expect(secondsText(42)).toBe('42 s');
    expect(secondsText(185)).toBe('3 min 5 s');
    expect(secondsText(120)).toBe('2 min');
    expect(secondsText(11 * 3600 + 16 * 60 + 13)).toBe('11 h 16 min');
    expect(secondsText(40608773)).toBe('470 d');
    expect(secondsText(40608773 + 3 * 3600)).toBe('470 d 3 h');
  });
  it('the ladder offsets of a long connection', async () => {
    const { offsetText } = await import('../../src/report/ladder.js');
    expect(offsetText(1.2345)).toBe('+1.234s');
    expect(offsetText(40608)).toBe('+11 h 17 min');
  });
  it('"frame 18", "frames 18, 19"', async () => {
    const { framesText } = await import('../../src/diagnose/facts.js');
    expect(framesText([18])).toBe('frame 18');
    expect(framesText([18, 19])).toBe('frames 18, 19');
  });
  it('how a connection died, as a sentence', async () => {
    const { deathText } = await import('../../src/report/ladder.js');
    const r = await fixtureReport('captures/cert_expired.pcapng');
    const c = r.connections[0]!;
    const say = (d: NonNullable<typeof c.died>) => deathText({ ...c, died: d });
    expect(say({ phase: 'tcp', how: 'rst', by: 'server', frame: 130, detail: '' })).toBe('the server reset the connection during the TCP handshake (frame 130)');
    expect(say({ phase: 'tcp', how: 'no_answer', by: 'network', frame: 18, detail: '' })).toBe('the SYN got no answer (frame 18)');
    expect(say({ phase: 'x224', how: 'negotiation_failure', by: 'server', frame: 5, detail: '' })).toBe('the server refused the RDP negotiation (RDP_NEG_FAILURE) (frame 5)');
    expect(say({ phase: 'credssp', how: 'fin', by: 'client', frame: null, detail: '' })).toBe('the client closed the connection during NLA (CredSSP)');
    // cert_expired: both Finished seen (frame 9 ends the handshake), the client's alert in frame 10.
    const est = c.tls!.establishedFrame!;
    expect(say({ phase: 'tls', how: 'encrypted_alert', by: 'client', frame: est + 1, detail: '' })).toBe(`the client sent an encrypted TLS alert right after the TLS handshake (frame ${est + 1})`);
    expect(say({ phase: 'tls', how: 'rst', by: 'server', frame: est, detail: '' })).toBe(`the server reset the connection during the TLS handshake (frame ${est})`);
    expect(deathText({ ...c, tls: { ...c.tls!, establishedFrame: null }, died: { phase: 'tls', how: 'tls_alert', by: 'server', frame: 7, detail: '' } })).toBe('the server sent a TLS alert during the TLS handshake (frame 7)');
    for (const how of ['no_answer', 'rst', 'fin', 'icmp_unreachable', 'negotiation_failure', 'tls_alert', 'encrypted_alert', 'disconnect_ultimatum', 'error_info', 'licensing_error', 'x224_disconnect', 'timeout', 'capture_ended'] as const) {
      const t = say({ phase: 'mcs', how, by: 'server', frame: 1, detail: '' });
      expect(t).not.toMatch(/[a-z]_[a-z]| by server | in phase /);
    }
  });
});
