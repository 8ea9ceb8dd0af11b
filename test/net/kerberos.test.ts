// KRB-ERROR (RFC 4120 5.9.1) decoder: a byte-exact vector (checked with `openssl asn1parse`), its
// TCP record form (7.2.2), every prefix incomplete, damaged bytes malformed with their offset, and
// hostile input never throwing (fast-check).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { decodeKrbError, decodeKrbErrorMessage, krbErrorName, looksLikeKrbError } from '../../src/net/kerberos.js';
import { krbError, tcpRecord } from '../../fixtures/lib/kerberos-bytes.js';

// KDC_ERR_PREAUTH_FAILED for alice@CORP.EXAMPLE, sname krbtgt/CORP.EXAMPLE, stime 20260310090001Z, susec 5000.
const VECTOR = Buffer.from(
  '7e8181307fa003020105a10302011ea411180f32303236303331303039303030315aa50402021388a603020118a70e1b0c434f52502e4558414d504c45' +
    'a8123010a003020101a10930071b05616c696365a90e1b0c434f52502e4558414d504c45aa21301fa003020102a11830161b066b72627467741b0c434f52502e4558414d504c45',
  'hex',
);

describe('decodeKrbError', () => {
  it('decodes every field of a KRB-ERROR', () => {
    const r = decodeKrbError(VECTOR, 0, VECTOR.length);
    expect(r).toEqual({
      ok: true,
      consumed: 132,
      value: {
        pvno: 5,
        msgType: 30,
        ctime: null,
        stime: '20260310090001Z',
        errorCode: 24,
        crealm: 'CORP.EXAMPLE',
        cname: { nameType: 1, nameString: ['alice'] },
        realm: 'CORP.EXAMPLE',
        sname: { nameType: 2, nameString: ['krbtgt', 'CORP.EXAMPLE'] },
        eText: null,
        eDataLength: null,
      },
    });
    expect(krbErrorName(24)).toBe('KDC_ERR_PREAUTH_FAILED');
    expect(krbErrorName(6)).toBe('KDC_ERR_C_PRINCIPAL_UNKNOWN');
    expect(krbErrorName(18)).toBe('KDC_ERR_CLIENT_REVOKED');
    expect(krbErrorName(37)).toBe('KRB_AP_ERR_SKEW');
    expect(krbErrorName(99)).toBe('unknown (99)');
  });

  it('reads it at an offset, and in the TCP record form', () => {
    const padded = Buffer.concat([Buffer.from([9, 9, 9]), VECTOR, Buffer.from([1])]);
    const r = decodeKrbError(padded, 3, VECTOR.length + 1);
    expect(r.ok && r.value.errorCode).toBe(24);
    expect(r.ok && r.consumed).toBe(132);
    const tcp = Buffer.from([0, 0, 0, 132, ...VECTOR]);
    const t = decodeKrbErrorMessage(tcp, 0, tcp.length, true);
    expect(t.ok && t.consumed).toBe(136);
    expect(t.ok && t.value.cname).toEqual({ nameType: 1, nameString: ['alice'] });
    expect(looksLikeKrbError(tcp, 0, tcp.length, true)).toBe(true);
    expect(looksLikeKrbError(VECTOR, 0, VECTOR.length, false)).toBe(true);
    expect(looksLikeKrbError(tcp, 0, tcp.length, false)).toBe(false);
  });

  it('every prefix is incomplete (the record mark of a TCP one too)', () => {
    for (let n = 0; n < VECTOR.length; n++) {
      const r = decodeKrbError(VECTOR, 0, n);
      expect(r.ok, `prefix ${n}`).toBe(false);
      expect(!r.ok && r.kind, `prefix ${n}`).toBe('incomplete');
    }
    const tcp = Buffer.from([0, 0, 0, 132, ...VECTOR]);
    const t = decodeKrbErrorMessage(tcp, 0, 100, true);
    expect(t).toEqual({ ok: false, kind: 'incomplete', needed: 36 });
  });

  it('damage is malformed, with the offset where it is', () => {
    const notErr = Buffer.from(VECTOR);
    notErr[0] = 0x6b; // AS-REP
    expect(decodeKrbError(notErr, 0, notErr.length)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
    const pvno = Buffer.from(VECTOR);
    pvno[9] = 4;
    expect(decodeKrbError(pvno, 0, pvno.length)).toMatchObject({ ok: false, kind: 'malformed', reason: 'pvno 4 (expected 5)' });
    const indefinite = Buffer.from(VECTOR);
    indefinite[4] = 0x80;
    expect(decodeKrbError(indefinite, 0, indefinite.length)).toMatchObject({ ok: false, kind: 'malformed', at: 4 });
    const order = Buffer.from(VECTOR);
    order[10] = 0xa0; // msg-type written as a second [0]
    expect(decodeKrbError(order, 0, order.length)).toMatchObject({ ok: false, kind: 'malformed', at: 10 });
    const mark = Buffer.from([0x80, 0, 0, 132, ...VECTOR]);
    expect(decodeKrbErrorMessage(mark, 0, mark.length, true)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
  });

  it('the builder and the decoder agree on optional fields (ctime absent, e-text, e-data)', () => {
    const b = krbError({ errorCode: 37, stime: 1_773_133_201_000_000, realm: 'CORP.EXAMPLE', sname: ['TERMSRV', 'rdp-srv01.corp.example'], eText: 'clock skew', eData: Buffer.alloc(300, 1) });
    const r = decodeKrbError(b, 0, b.length);
    expect(r.ok && r.value).toMatchObject({ errorCode: 37, crealm: null, cname: null, eText: 'clock skew', eDataLength: 300, sname: { nameString: ['TERMSRV', 'rdp-srv01.corp.example'] } });
    expect(r.ok && r.consumed).toBe(b.length);
  });

  it('never throws on hostile bytes, and what it accepts stays inside the input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.boolean(), (bytes, tcp) => {
        const buf = Buffer.from(bytes);
        const r = decodeKrbErrorMessage(buf, 0, buf.length, tcp);
        if (r.ok) expect(r.consumed).toBeLessThanOrEqual(buf.length);
        else if (r.kind === 'incomplete') expect(r.needed).toBeGreaterThan(0);
        else expect(r.at).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 3000 },
    );
    // Mutations of the valid vector: never a throw, never a read past the end.
    fc.assert(
      fc.property(fc.integer({ min: 0, max: VECTOR.length - 1 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 1, max: VECTOR.length }), (i, v, n) => {
        const buf = Buffer.from(VECTOR);
        buf[i] = v;
        const r = decodeKrbError(buf, 0, n);
        if (r.ok) expect(r.consumed).toBeLessThanOrEqual(n);
      }),
      { numRuns: 3000 },
    );
  });

  it('round-trips what the builder writes for any code, names and times', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: -2147483648, max: 2147483647 }),
        fc.stringMatching(/^[A-Za-z0-9.$-]{1,40}$/),
        fc.stringMatching(/^[A-Z.]{1,30}$/),
        (code, cname, realm) => {
          const b = tcpRecord(krbError({ errorCode: code, stime: 1_773_133_201_000_000, crealm: realm, cname, realm, sname: ['krbtgt', realm] }));
          const r = decodeKrbErrorMessage(b, 0, b.length, true);
          expect(r.ok).toBe(true);
          expect(r.ok && r.value).toMatchObject({ errorCode: code, crealm: realm, cname: { nameString: [cname] }, realm });
        },
      ),
      { numRuns: 500 },
    );
  });
});
