// Issue 18, captures from the field: a capture that starts after the X.224 exchange, and a
// decrypted (plaintext) dump of a session that negotiated TLS. End to end on the fixture captures,
// and on the machine directly for the first bytes it recognises.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import { renderText } from '../../src/report/text.js';
import { Conn } from '../handshake/harness.js';
import * as R from '../../fixtures/lib/rdp-bytes.js';

const FIX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/captures');
const has = (f: string): boolean => existsSync(path.join(FIX, f));

async function run(file: string) {
  return analyze([{ kind: 'file', path: path.join(FIX, file) }], { rdpPorts: [3389] });
}

describe.skipIf(!has('field_late_start_tls.pcap'))('a capture that starts after the X.224 exchange (field_late_start_tls)', () => {
  it('decodes the TLS handshake from the first ClientHello, still incomplete_capture (started late), X.224 facts unknown', async () => {
    const r = await run('field_late_start_tls.pcap');
    expect(r.connections).toHaveLength(1);
    const c = r.connections[0]!;
    expect(c.outcome).toBe('incomplete_capture');
    expect(c.incompleteReason).toBe('started_late');
    expect(c.reached).toBe('tls');
    expect(c.died).toBeNull();
    expect(c.negotiation).toBeNull();
    expect(c.tls?.version).toBe('TLS1.2');
    expect(c.tls?.cipherSuiteName).toMatch(/^TLS_/);
    expect(c.tls?.sni).toBe('rdp-srv01.corp.example');
    expect(c.tls?.clientHelloFrame).toBe(1);
    expect(c.tls?.certificates.length).toBeGreaterThan(0);
    expect(c.tls?.alerts.length).toBeGreaterThan(0);
    // The expired certificate is told, at the capped confidence of a partly captured connection.
    expect(c.findings[0]?.cause).toBe('cert_expired');
    expect(c.findings[0]?.confidence).toBeLessThanOrEqual(0.3);
    expect(c.warnings.map((w) => w.message).join('\n')).toMatch(/capture starts after the X\.224 exchange.*ClientHello.*unknown/);
    expect(c.warnings.some((w) => /not an X\.224 Connection Request/.test(w.message))).toBe(false);
    const text = renderText(r, { color: false });
    expect(text).toMatch(/incomplete capture \(started late\) \(reached tls, TLS1\.2\)/);
    expect(text).toMatch(/Cause: cert_expired \(30%\)/);
  });
});

describe.skipIf(!has('field_clear_dump.pcap'))('a decrypted or plaintext dump (field_clear_dump)', () => {
  it('decodes the clear TPKT and fast-path PDUs after a Confirm that selected SSL, through a reactivation, to Set Error Info', async () => {
    const r = await run('field_clear_dump.pcap');
    const c = r.connections[0]!;
    expect(c.outcome).toBe('completed');
    expect(c.reached).toBe('active');
    expect(c.findings).toEqual([]);
    expect(c.phases.find((p) => p.phase === 'mcs')?.inferred).toBe(false);
    expect(c.phases.find((p) => p.phase === 'capabilities')?.inferred).toBe(false);
    const events = c.timeline.map((e) => e.event);
    expect(events).toContain('Clear RDP stream');
    expect(events).toContain('Fast-Path Update');
    expect(events).toContain('Fast-Path Input');
    expect(events).toContain('Deactivate All');
    expect(events).toContain('Demand Active (reactivation)');
    expect(events).toContain('MCS Disconnect Provider Ultimatum');
    expect(c.errorInfo.map((e) => e.name)).toEqual(['ERRINFO_LOGOFF_BY_USER']);
    const warnings = c.warnings.map((w) => w.message).join('\n');
    expect(warnings).toMatch(/in the clear although SSL was selected/);
    expect(warnings).not.toMatch(/not TPKT, TLS or fast-path/);
  });
});

describe('the first bytes that show a late start (machine)', () => {
  it('a flow without SYN whose first client bytes are an MCS PDU in TPKT is decoded from there', () => {
    const c = new Conn();
    c.send(0, R.mcsErectDomainRequest());
    c.send(0, R.mcsAttachUserRequest());
    c.send(1, R.mcsAttachUserConfirm(1007));
    const rec = c.end();
    expect(rec.outcome).toBe('incomplete_capture');
    expect(rec.incompleteReason).toBe('started_late');
    expect(rec.reached).toBe('mcs');
    expect(rec.mcs?.attachUserConfirmFrame).toBe(3);
    expect(rec.warnings[0]?.message).toMatch(/TPKT PDUs \(X\.224 Data\)/);
  });

  it('a flow without SYN whose first bytes are fast-path PDUs is decoded as fast-path', () => {
    const c = new Conn();
    c.send(1, Buffer.concat([R.fastPathPdu(0, Buffer.alloc(1200, 7)), R.fastPathPdu(0, Buffer.alloc(300, 8))]));
    c.send(0, R.fastPathPdu(3, Buffer.alloc(14, 1)));
    const rec = c.end();
    expect(rec.outcome).toBe('incomplete_capture');
    expect(rec.reached).toBe('active');
    expect(rec.timeline.map((e) => e.event)).toContain('Fast-Path Input');
  });

  it('stray bytes that only look like a fast-path header are not taken for RDP', () => {
    const c = new Conn();
    c.send(0, Buffer.from('0405aa0b0c0d0e0f10111213141516', 'hex'));
    const rec = c.end();
    expect(rec.reached).toBe('none');
    expect(rec.warnings.some((w) => /X\.224 exchange/.test(w.message))).toBe(false);
  });

  it('with a SYN seen, TLS bytes first are not a late start', () => {
    const c = new Conn();
    c.handshake();
    c.send(0, Buffer.from('16030100050100000100', 'hex'));
    const rec = c.end();
    expect(rec.incompleteReason).not.toBe('started_late');
    expect(rec.warnings.some((w) => /X\.224 exchange/.test(w.message))).toBe(false);
  });
});
