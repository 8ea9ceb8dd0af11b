// Server Redirection (MS-RDPBCGR 2.2.13.1 RDP_SERVER_REDIRECTION_PACKET): byte-exact vectors, the
// incomplete / malformed paths, strings kept as untrusted text (never the password), and hostile input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeServerRedirection, MAX_REDIRECTION_TEXT, redirFlagNames } from '../../src/rdp/redirection.js';
import { serverRedirectionPacket } from '../../fixtures/lib/rdp-bytes.js';

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Flags SEC_REDIRECTION_PKT, Length 48, SessionID 3, RedirFlags LB_TARGET_NET_ADDRESS | LB_LOAD_BALANCE_INFO
// | LB_TARGET_FQDN (0x103); TargetNetAddress "1.2\0" (8 bytes), LoadBalanceInfo "ab\r\n", TargetFQDN "h\0", Pad.
const VECTOR = hex(`
  0004 3000 03000000 03010000
  08000000 31002e003200 0000
  04000000 6162 0d0a
  04000000 6800 0000
  0000000000000000`);

describe('decodeServerRedirection', () => {
  it('decodes a packet byte for byte', () => {
    const r = decodeServerRedirection(VECTOR, 0, VECTOR.length);
    expect(r).toEqual({
      ok: true,
      consumed: 48,
      value: {
        length: 48,
        sessionId: 3,
        redirFlags: 0x103,
        redirFlagNames: ['LB_TARGET_NET_ADDRESS', 'LB_LOAD_BALANCE_INFO', 'LB_TARGET_FQDN'],
        targetNetAddress: '1.2',
        loadBalanceInfo: 'ab\\x0d\\x0a',
        targetFqdn: 'h',
        targetNetBiosName: null,
        targetNetAddresses: [],
        noRedirect: false,
      },
    });
  });

  it('at an offset, and without the Pad some Windows versions leave out', () => {
    const noPad = VECTOR.subarray(0, 40);
    const buf = Buffer.concat([Buffer.from([0xee, 0xee]), noPad]);
    const r = decodeServerRedirection(buf, 2, buf.length);
    expect(r.ok && r.value.targetFqdn).toBe('h');
    expect(r.ok && r.consumed).toBe(40);
  });

  it('one byte short of a field is incomplete; a length past Length is malformed', () => {
    const r = decodeServerRedirection(VECTOR, 0, 35);
    expect(r).toMatchObject({ ok: false, kind: 'incomplete' });
    expect(decodeServerRedirection(VECTOR, 0, 11)).toEqual({ ok: false, kind: 'incomplete', needed: 1 });
    const bad = Buffer.from(VECTOR);
    bad.writeUInt32LE(0x1000, 24); // LoadBalanceInfoLength 4096
    expect(decodeServerRedirection(bad, 0, bad.length)).toMatchObject({ ok: false, kind: 'malformed', at: 24 });
  });

  it('refuses a Flags field other than SEC_REDIRECTION_PKT and a Length below 12', () => {
    const f = Buffer.from(VECTOR);
    f.writeUInt16LE(0x0408, 0);
    expect(decodeServerRedirection(f, 0, f.length)).toMatchObject({ ok: false, kind: 'malformed', at: 0, reason: expect.stringContaining('0x0408') });
    const l = Buffer.from(VECTOR);
    l.writeUInt16LE(8, 2);
    expect(decodeServerRedirection(l, 0, l.length)).toMatchObject({ ok: false, kind: 'malformed', at: 2 });
  });

  it('skips the user, domain and password (logon cookie) unread, and reads the address list after them', () => {
    const pkt = serverRedirectionPacket({
      sessionId: 7,
      userName: 'alice',
      domain: 'CORP',
      password: Buffer.from('SECRET-COOKIE', 'latin1'),
      targetNetBiosName: 'SRV',
      targetNetAddresses: ['10.0.0.1', 'fe80::1'],
      extraFlags: 0x80,
    });
    const r = decodeServerRedirection(pkt, 0, pkt.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({ sessionId: 7, targetNetBiosName: 'SRV', targetNetAddresses: ['10.0.0.1', 'fe80::1'], noRedirect: true, targetNetAddress: null, targetFqdn: null });
    expect(r.value.redirFlagNames).toEqual(['LB_USERNAME', 'LB_DOMAIN', 'LB_PASSWORD', 'LB_NOREDIRECT', 'LB_TARGET_NETBIOS_NAME', 'LB_TARGET_NET_ADDRESSES']);
    expect(JSON.stringify(r.value)).not.toMatch(/SECRET|alice|CORP/);
  });

  it('cuts a long string and shows control bytes and backslashes as \\xNN', () => {
    const pkt = serverRedirectionPacket({ sessionId: 1, targetFqdn: 'a'.repeat(1000), loadBalanceInfo: Buffer.from('x\\y\u0000<', 'latin1') });
    const r = decodeServerRedirection(pkt, 0, pkt.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.targetFqdn).toBe(`${'a'.repeat(MAX_REDIRECTION_TEXT)}…`);
    expect(r.value.loadBalanceInfo).toBe('x\\x5cy\\x00<');
  });

  it('names unknown flag bits', () => {
    expect(redirFlagNames(0x80000001)).toEqual(['LB_TARGET_NET_ADDRESS', 'unknown (0x80000000)']);
  });

  it('never throws on hostile bytes, and consumes no more than it was given', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 160 }), fc.integer({ min: 0, max: 0xffffffff }), (tail, flags) => {
        const b = Buffer.alloc(12 + tail.length);
        b.writeUInt16LE(0x0400, 0);
        b.writeUInt16LE(Math.min(0xffff, b.length + (tail[0] ?? 0)), 2);
        b.writeUInt32LE(flags >>> 0, 8);
        Buffer.from(tail).copy(b, 12);
        const r = decodeServerRedirection(b, 0, b.length);
        if (r.ok) expect(r.consumed).toBeLessThanOrEqual(b.length);
        else if (r.kind === 'malformed') expect(r.at).toBeLessThanOrEqual(b.length);
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 2000) },
    );
  });
});
