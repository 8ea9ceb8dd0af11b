import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encryptedAlertShape,
  HandshakeDefragmenter,
  looksLikeTlsRecord,
  parseAlert,
  plaintextRange,
  protectedRecordLength,
  readHandshake,
  readTlsRecord,
  tls13AlertGuess,
  tlsRecordKind,
} from '../../src/rdp/tls.js';

const h = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

describe('readTlsRecord (RFC 5246 6.2.1)', () => {
  const alert = h('15 03 03 00 02 02 30'); // fatal unknown_ca

  it('reads a record header with absolute offsets', () => {
    const buf = new Uint8Array(3 + alert.length);
    buf.set(alert, 3);
    expect(readTlsRecord(buf, 3, buf.length)).toEqual({
      ok: true,
      value: { contentType: 21, version: 0x0303, length: 2, fragmentOff: 8, end: 10 },
      consumed: 7,
    });
  });

  it('is incomplete, never malformed, when cut at every byte boundary', () => {
    const hs = h('16 03 01 00 08 0e 00 00 00 14 00 00 0c');
    for (let cut = 0; cut < hs.length; cut++) {
      const r = readTlsRecord(hs, 0, cut);
      expect(r).toMatchObject({ ok: false, kind: 'incomplete' });
      if (!r.ok && r.kind === 'incomplete') expect(r.needed).toBe(cut < 5 ? 5 - cut : 13 - cut);
    }
    expect(readTlsRecord(hs, 0, hs.length).ok).toBe(true);
  });

  it('a 65535-byte record length is malformed with the size said, and nothing is allocated', () => {
    const r = readTlsRecord(h('17 03 03 ff ff'), 0, 5);
    expect(r).toEqual({ ok: false, kind: 'malformed', at: 3, reason: 'TLS record of 65535 bytes (limit 18432, RFC 5246 6.2.3)' });
    // The largest legal record is accepted (as incomplete until its bytes come).
    expect(readTlsRecord(h('17 03 03 48 00'), 0, 5)).toEqual({ ok: false, kind: 'incomplete', needed: 18432 });
    expect(readTlsRecord(h('17 03 03 48 01'), 0, 5)).toMatchObject({ ok: false, kind: 'malformed' });
  });

  it('names garbage at once: TPKT, SSLv2 hello, bad version', () => {
    expect(readTlsRecord(h('03 00 00 13 0e'), 0, 5)).toMatchObject({ kind: 'malformed', at: 0, reason: 'not a TLS record: content type 3 (a TPKT header?)' });
    expect(readTlsRecord(h('80 2e 01 03 01'), 0, 5)).toMatchObject({ kind: 'malformed', reason: 'not a TLS record: content type 128 (an SSLv2-style hello?)' });
    expect(readTlsRecord(h('16 02 00 00 01'), 0, 5)).toMatchObject({ kind: 'malformed', at: 1 });
    expect(readTlsRecord(h('16 03 05 00 01'), 0, 5)).toMatchObject({ kind: 'malformed', at: 1 });
    expect(readTlsRecord(h('03'), 0, 1)).toMatchObject({ kind: 'malformed', at: 0 });
  });

  it('looksLikeTlsRecord tells TLS from TPKT', () => {
    expect(looksLikeTlsRecord(h('16 03 01 00 a5'), 0, 5)).toBe(true);
    expect(looksLikeTlsRecord(h('17 03 03'), 0, 3)).toBe(true);
    expect(looksLikeTlsRecord(h('03 00 00 13 0e'), 0, 5)).toBe(false);
    expect(looksLikeTlsRecord(h('16 03'), 0, 2)).toBe(false);
    expect(looksLikeTlsRecord(h('19 03 03 00 01'), 0, 5)).toBe(false);
    expect(looksLikeTlsRecord(h('17 03 03 ff ff'), 0, 5)).toBe(false);
  });

  it('property: random bytes never throw, `at` stays in bounds, consumed fits', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(8), (b, pad) => {
        const buf = new Uint8Array(pad + b.length);
        buf.set(b, pad);
        const r = readTlsRecord(buf, pad, buf.length);
        if (r.ok) expect(pad + r.consumed).toBeLessThanOrEqual(buf.length);
        else if (r.kind === 'malformed') expect(r.at >= pad && r.at < buf.length).toBe(true);
        else expect(r.needed).toBeGreaterThan(0);
        looksLikeTlsRecord(buf, pad, buf.length);
        const hs = readHandshake(buf, pad, buf.length);
        if (hs.ok) expect(hs.value.end).toBeLessThanOrEqual(buf.length);
        else if (hs.kind === 'malformed') expect(hs.at >= pad && hs.at < buf.length).toBe(true);
        const a = parseAlert(buf, pad, buf.length);
        if (!a.ok && a.kind === 'malformed') expect(a.at).toBe(pad);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('readHandshake and HandshakeDefragmenter (RFC 5246 6.2.1, 7.4)', () => {
  it('a 16 MiB handshake length is malformed, not a 16 MiB wait', () => {
    expect(readHandshake(h('0b ff ff ff'), 0, 4)).toEqual({ ok: false, kind: 'malformed', at: 1, reason: 'TLS handshake message of 16777215 bytes (limit 262144)' });
  });

  it('reads ServerHelloDone and cuts', () => {
    expect(readHandshake(h('0e 00 00 00'), 0, 4)).toEqual({ ok: true, value: { msgType: 14, length: 0, bodyOff: 4, end: 4 }, consumed: 4 });
    expect(readHandshake(h('0b 00 00 05 01 02'), 0, 6)).toEqual({ ok: false, kind: 'incomplete', needed: 3 });
    expect(readHandshake(h('0b 00'), 0, 2)).toEqual({ ok: false, kind: 'incomplete', needed: 2 });
  });

  it('a message spanning three records, then two messages in one record', () => {
    const d = new HandshakeDefragmenter();
    const cert = h('0b 00 00 06 00 00 03 01 02 03');
    expect(d.push(cert, 0, 3, 10)).toBeNull();
    expect(d.next()).toEqual({ ok: false, kind: 'incomplete', needed: 1 });
    d.push(cert, 3, 7, 11);
    expect(d.next()).toMatchObject({ ok: false, kind: 'incomplete', needed: 3 });
    d.push(cert, 7, 10, 12);
    const m = d.next();
    expect(m.ok).toBe(true);
    if (!m.ok) return;
    expect(m.value.msgType).toBe(11);
    expect(Array.from(m.value.body)).toEqual([0, 0, 3, 1, 2, 3]);
    expect([m.value.firstFrame, m.value.lastFrame, m.value.streamOffset]).toEqual([10, 12, 0]);
    // ServerKeyExchange + ServerHelloDone in one record.
    const two = h('0c 00 00 02 aa bb 0e 00 00 00');
    d.push(two, 0, two.length, 13);
    const a = d.next();
    const b = d.next();
    expect(a.ok && [a.value.msgType, a.value.firstFrame, a.value.streamOffset]).toEqual([12, 13, 10]);
    expect(b.ok && [b.value.msgType, b.value.lastFrame, b.value.streamOffset]).toEqual([14, 13, 16]);
    expect(d.next()).toMatchObject({ ok: false, kind: 'incomplete' });
    expect(d.pending).toBe(0);
  });

  it('next(true) gives the same messages as next(), as views into its buffer (valid until the next push)', () => {
    const bytes = h('0b 00 00 06 00 00 03 01 02 03 0c 00 00 02 aa bb 0e 00 00 00');
    const copy = new HandshakeDefragmenter();
    const view = new HandshakeDefragmenter();
    for (const [from, to, frame] of [[0, 3, 1], [3, 12, 2], [12, 20, 3]] as const) {
      copy.push(bytes, from, to, frame, 100 + from);
      view.push(bytes, from, to, frame, 100 + from);
      for (;;) {
        const a = copy.next();
        const b = view.next(true);
        expect(b.ok).toBe(a.ok);
        if (!a.ok || !b.ok) {
          expect(b).toEqual(a);
          break;
        }
        expect({ ...b.value, bytes: Array.from(b.value.bytes), body: Array.from(b.value.body) }).toEqual({ ...a.value, bytes: Array.from(a.value.bytes), body: Array.from(a.value.body) });
        // The copy owns its bytes; the view shares the defragmenter's.
        expect(a.value.bytes.byteOffset).toBe(0);
        expect(b.value.bytes.buffer).not.toBe(a.value.bytes.buffer);
        expect(view.tcpOffset(b.value.streamOffset)).toBe(copy.tcpOffset(a.value.streamOffset));
      }
    }
    expect(view.pending).toBe(0);
  });

  it('is bounded: pending bytes beyond the cap are refused with the stream offset', () => {
    const d = new HandshakeDefragmenter(16);
    expect(d.push(h('0b 00 10 00 01 02 03 04'), 0, 8, 1)).toBeNull();
    expect(d.push(new Uint8Array(9), 0, 9, 2)).toMatchObject({ kind: 'malformed', at: 0 });
    expect(d.next()).toMatchObject({ ok: false, kind: 'incomplete' });
  });

  it('reports a 16 MiB message header at its stream offset', () => {
    const d = new HandshakeDefragmenter();
    d.push(h('0e 00 00 00 0b ff ff ff'), 0, 8, 5);
    expect(d.next()).toMatchObject({ ok: true, value: { msgType: 14 } });
    expect(d.next()).toEqual({ ok: false, kind: 'malformed', at: 5, reason: 'TLS handshake message of 16777215 bytes (limit 262144)' });
  });

  it('maps handshake-stream offsets to the TCP stream through the record each byte came from', () => {
    const d = new HandshakeDefragmenter();
    const msg = h('01 00 00 06 aa bb cc dd ee ff');
    // Three records: their fragments start at TCP offsets 48, 60 and 75 (after 5-byte record headers).
    d.push(msg, 0, 3, 1, 48);
    d.push(msg, 3, 7, 2, 60);
    expect(d.tcpOffset(0)).toBe(48);
    expect(d.tcpOffset(2)).toBe(50);
    expect(d.tcpOffset(3)).toBe(60);
    expect(d.tcpOffset(6)).toBe(63);
    expect(d.tcpOffset(7)).toBeNull(); // not pushed yet
    d.push(msg, 7, 10, 3, 75);
    const m = d.next();
    expect(m.ok).toBe(true);
    // Until the next call, the bytes of the message returned are still mapped.
    expect(d.tcpOffset(4 + 0)).toBe(61);
    expect(d.tcpOffset(4 + 5)).toBe(77);
    expect(d.next()).toMatchObject({ ok: false, kind: 'incomplete' });
    d.push(h('0e 00 00 00'), 0, 4, 4, 90);
    expect(d.next()).toMatchObject({ ok: true, value: { msgType: 14, streamOffset: 10 } });
    expect(d.tcpOffset(10)).toBe(90);
    expect(d.tcpOffset(1)).toBeNull(); // forgotten
  });

  it('maps a malformed length to the TCP stream; null without TCP offsets', () => {
    const d = new HandshakeDefragmenter();
    d.push(h('0e 00 00 00 0b ff ff ff'), 0, 8, 5, 1000);
    d.next();
    const bad = d.next();
    expect(bad).toMatchObject({ ok: false, kind: 'malformed', at: 5 });
    expect(!bad.ok && bad.kind === 'malformed' && d.tcpOffset(bad.at)).toBe(1005);
    const e = new HandshakeDefragmenter();
    e.push(h('0b ff ff ff'), 0, 4, 1);
    const f = e.next();
    expect(!f.ok && f.kind === 'malformed' && e.tcpOffset(f.at)).toBeNull();
  });

  it('property: under any split, every byte of every message maps to where its record put it', () => {
    const stream = h('01 00 00 03 aa bb cc 0b 00 00 00 0e 00 00 00 10 00 00 02 01 02');
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 10 }), fc.integer({ min: 0, max: 1000 }), (cuts, gap) => {
        const points = [...new Set(cuts)].sort((x, y) => x - y);
        const d = new HandshakeDefragmenter(64);
        // Fragment i starts at TCP offset hs + 5 * (i + 1) + gap (record headers and a prefix).
        const tcpOf: number[] = [];
        let prev = 0;
        let rec = 0;
        for (const c of [...points, stream.length]) {
          if (c > prev) {
            rec++;
            for (let i = prev; i < c; i++) tcpOf[i] = i + 5 * rec + gap;
            d.push(stream, prev, c, rec, prev + 5 * rec + gap);
          }
          prev = Math.max(prev, c);
          for (let m = d.next(); m.ok; m = d.next()) {
            for (let i = 0; i < m.value.bytes.length; i++) expect(d.tcpOffset(m.value.streamOffset + i)).toBe(tcpOf[m.value.streamOffset + i]);
          }
        }
      }),
    );
  });

  it('property: any split of a message stream yields the same messages', () => {
    const stream = h('01 00 00 03 aa bb cc 0b 00 00 00 0e 00 00 00 10 00 00 02 01 02');
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: stream.length }), { maxLength: 10 }), (cuts) => {
        const points = [...new Set(cuts)].sort((x, y) => x - y);
        const d = new HandshakeDefragmenter(64);
        let prev = 0;
        const types: number[] = [];
        for (const [i, c] of [...points, stream.length].entries()) {
          if (c > prev) d.push(stream, prev, c, i + 1);
          prev = Math.max(prev, c);
          for (let m = d.next(); m.ok; m = d.next()) types.push(m.value.msgType);
        }
        expect(types).toEqual([1, 11, 14, 16]);
      }),
    );
  });

  it('property: random bytes never throw', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 8 }), (chunks) => {
        const d = new HandshakeDefragmenter(128);
        for (const [i, c] of chunks.entries()) {
          d.push(c, 0, c.length, i);
          for (let k = 0; k < 5; k++) {
            const m = d.next();
            if (!m.ok) break;
          }
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('alerts (RFC 8446 6)', () => {
  it('parses clear alerts with RFC 8446 names', () => {
    expect(parseAlert(h('02 28'), 0, 2)).toEqual({ ok: true, value: { level: 2, levelName: 'fatal', description: 40, descriptionName: 'handshake_failure' }, consumed: 2 });
    expect(parseAlert(h('01 00'), 0, 2)).toMatchObject({ ok: true, value: { levelName: 'warning', descriptionName: 'close_notify' } });
    expect(parseAlert(h('02 2d'), 0, 2)).toMatchObject({ ok: true, value: { descriptionName: 'certificate_expired' } });
    expect(parseAlert(h('02 ee'), 0, 2)).toMatchObject({ ok: true, value: { descriptionName: 'unknown (0xee)' } });
    expect(parseAlert(h('7a 11'), 0, 2)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
    expect(parseAlert(h('02'), 0, 1)).toEqual({ ok: false, kind: 'incomplete', needed: 1 });
  });

  it('tlsRecordKind: by content type and position after ChangeCipherSpec', () => {
    expect(tlsRecordKind(22, 40, true)).toBe('encrypted_handshake'); // Finished by position
    expect(tlsRecordKind(22, 40, false)).toBe('handshake');
    expect(tlsRecordKind(21, 2, false)).toBe('alert');
    expect(tlsRecordKind(21, 26, true)).toBe('encrypted_alert');
    expect(tlsRecordKind(21, 26, false)).toBe('encrypted_alert');
    expect(tlsRecordKind(20, 1, false)).toBe('change_cipher_spec');
    expect(tlsRecordKind(23, 100, true)).toBe('application_data');
    expect(tlsRecordKind(24, 3, false)).toBe('heartbeat');
  });

  it.each([
    [26, 0xc030, 0x0303, true, 26], // ECDHE-RSA-AES256-GCM-SHA384, TLS 1.2 (nDPI rdp_over_tls frame 14)
    [32, 0x002f, 0x0301, true, 32], // AES128-SHA, TLS 1.0 (no explicit IV)
    [48, 0x002f, 0x0303, true, 48], // AES128-SHA, TLS 1.2 (16-byte IV)
    [64, 0x003c, 0x0303, true, 64], // AES128-SHA256: 2+32+1 -> 48, + IV
    [18, 0xcca8, 0x0303, true, 18], // ChaCha20-Poly1305: no explicit nonce
    [22, 0x0005, 0x0301, true, 22], // RC4-SHA: 2 + 20
    [19, 0x1301, 0x0304, true, 19], // TLS 1.3
    [64, 0x002f, 0x0301, true, 32], // CBC with extra padding
    [40, 0xc030, 0x0303, false, 26],
  ])('encryptedAlertShape(%i, 0x%s, 0x%s)', (len, suite, version, consistent, expected) => {
    const s = encryptedAlertShape(len, suite, version);
    expect(s.consistent).toBe(consistent);
    expect(s.expectedLength).toBe(expected);
    expect(s.reason).toMatch(new RegExp(`^${len} bytes`));
  });

  it('encryptedAlertShape with unknown suite uses the 18..64 band', () => {
    expect(encryptedAlertShape(26, null, null)).toMatchObject({ consistent: true, expectedLength: null });
    expect(encryptedAlertShape(300, 0x9999, 0x0303)).toMatchObject({ consistent: false });
  });

  it('tls13AlertGuess: only the last record before a close, of alert size', () => {
    expect(tls13AlertGuess(19, 0x1302, true)).toMatchObject({ likely: true, confidence: 0.7 });
    expect(tls13AlertGuess(19, 0x1302, false)).toMatchObject({ likely: false });
    expect(tls13AlertGuess(24, 0x1301, true)).toMatchObject({ likely: false, confidence: 0 });
    expect(tls13AlertGuess(11, 0x1305, true)).toMatchObject({ likely: true }); // CCM_8: 8-byte tag
  });
});

describe('record protection arithmetic (RFC 5246 6.2.3, RFC 8446 5.2)', () => {
  it('real RDP sizes: rdp-to-ssl TLS1.0 AES128-SHA, nDPI rdp.pcap 4-byte EUAR under AES256-GCM', () => {
    expect(protectedRecordLength(4, 0xc030, 0x0303)).toBe(28);
    expect(plaintextRange(28, 0xc030, 0x0303)).toEqual({ min: 4, max: 4 });
    expect(plaintextRange(32, 0x002f, 0x0301)).toEqual({ min: 0, max: 11 });
    expect(plaintextRange(33, 0x002f, 0x0301)).toBeNull(); // not a block multiple
    expect(plaintextRange(10, 0xc030, 0x0303)).toBeNull();
    expect(protectedRecordLength(1, 0x9999, 0x0303)).toBeNull();
  });

  it('encrypt_then_mac (RFC 7366) CBC sizes', () => {
    expect(protectedRecordLength(2, 0x002f, 0x0303, true)).toBe(52);
    expect(plaintextRange(52, 0x002f, 0x0303, true)).toEqual({ min: 0, max: 15 });
    expect(encryptedAlertShape(52, 0x002f, 0x0303, true)).toMatchObject({ consistent: true, reason: '52 bytes = one 2-byte alert under TLS_RSA_WITH_AES_128_CBC_SHA in TLS1.2 with encrypt_then_mac' });
    expect(protectedRecordLength(2, 0xc030, 0x0303, true)).toBe(26); // AEAD: no effect
  });

  it('property: plaintextRange inverts protectedRecordLength', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 16384 }),
        fc.constantFrom(0x002f, 0x0035, 0x003c, 0x000a, 0x0005, 0xc02f, 0xc030, 0xcca8, 0x1301, 0x1303),
        fc.constantFrom(0x0301, 0x0302, 0x0303, 0x0304),
        fc.boolean(),
        (pt, suite, version, etm) => {
          const len = protectedRecordLength(pt, suite, version, etm)!;
          const r = plaintextRange(len, suite, version, etm)!;
          expect(r.min <= pt && pt <= r.max).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
