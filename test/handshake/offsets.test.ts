// Warnings name the frame and the byte offset in that direction's TCP stream (src/handshake/types.ts
// Warning): exact offsets for each kind of damage, through gaps, skipped prefixes and TLS records.
import { describe, expect, it } from 'vitest';
import { Conn } from './harness.js';
import * as T from './tls-bytes.js';
import * as R from '../../fixtures/lib/rdp-bytes.js';
import type { ConnectionRecord, Warning } from '../../src/handshake/types.js';

/** TPKT 4 + CR 7 + "Cookie: mstshash=alice\r\n" 24 + RDP_NEG_REQ 8. */
const CR = R.x224ConnectionRequest({ cookie: 'alice', neg: { requestedProtocols: 3 } });
/** TPKT 4 + CC 7 + RDP_NEG_RSP 8. */
const CC = R.x224ConnectionConfirm({ type: 'rsp', selectedProtocol: 1 });

function negotiated(): Conn {
  const c = new Conn();
  c.handshake();
  c.send(0, CR);
  c.send(1, CC);
  return c;
}

function only(rec: ConnectionRecord, re: RegExp): Warning {
  const w = rec.warnings.filter((x) => re.test(x.message));
  expect(w, JSON.stringify(rec.warnings)).toHaveLength(1);
  return w[0]!;
}

describe('byte offsets of warnings', () => {
  it('the X.224 exchange used in these tests is 43 and 19 bytes', () => {
    expect([CR.length, CC.length]).toEqual([43, 19]);
  });

  it('bytes that are not TPKT, TLS or fast-path: the stream position, in the frame carrying it', () => {
    const c = negotiated();
    const fs = c.send(1, Buffer.from('\xee\x01\x02\x03garbage', 'latin1'));
    const fc = c.send(0, Buffer.from('\xee\x05\x06\x07garbage', 'latin1'));
    const rec = c.end();
    const ws = rec.warnings.filter((w) => /not TPKT, TLS or fast-path/.test(w.message));
    expect(ws.map((w) => [w.frame, w.offset])).toEqual([
      [fs, 19],
      [fc, 43],
    ]);
  });

  it('a TLS record header announcing 65535 bytes: its first byte', () => {
    const c = negotiated();
    const f = c.send(0, Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff]), Buffer.alloc(50)]));
    expect(only(c.end(), /16 03 01 ff ff/)).toMatchObject({ frame: f, offset: 43 });
  });

  it('counts the bytes of a gap: noise after 100 missing bytes is at 43 + 100', () => {
    const c = negotiated();
    const g = c.gap(0, 100);
    const f = c.send(0, Buffer.from('\xee\xee\xee\xee', 'latin1'));
    const rec = c.end();
    expect(only(rec, /bytes of the client's stream are missing/)).toMatchObject({ frame: g, offset: 43 });
    expect(only(rec, /not TPKT, TLS or fast-path/)).toMatchObject({ frame: f, offset: 143 });
  });

  it('a gap in the middle of a PDU: the gap starts after the bytes received', () => {
    const c = negotiated();
    c.send(0, T.clientHello().subarray(0, 10));
    const g = c.gap(0, 7);
    expect(only(c.end(), /missing/)).toMatchObject({ frame: g, offset: 53 });
  });

  it('counts the bytes the flow table skipped before the first reassembled one', () => {
    const c = new Conn();
    c.facts.skippedPrefix[0] = 12;
    const f = c.send(0, Buffer.concat([Buffer.alloc(12, 0x41), CR]));
    c.send(1, CC);
    c.send(0, Buffer.from('\xee\xee', 'latin1'));
    const rec = c.end();
    expect(only(rec, /skipped \(a proxy exchange\?\)/)).toMatchObject({ frame: f, offset: 12 });
    expect(only(rec, /not TPKT, TLS or fast-path/).offset).toBe(12 + 12 + 43);
  });

  it('the per-connection budget: the first byte not kept', () => {
    const c = new Conn({ byteBudget: 60 });
    c.handshake();
    c.send(0, CR);
    c.send(1, CC);
    const f = c.send(0, T.clientHello());
    expect(only(c.end(), /budget of 60 bytes/)).toMatchObject({ frame: f, offset: 43 });
  });

  describe('first bytes that are not an X.224 Connection Request: where the check failed', () => {
    const body = CR.subarray(4);
    const cases: [string, Buffer, number][] = [
      ...[0, 1, 2, 3, 4, 5, 6, 10].map((n): [string, Buffer, number] => [`TPKT length ${n} (RFC 1006 6)`, Buffer.concat([Buffer.from([3, 0, 0, n]), body]), 2]),
      ['TPKT reserved octet 1', Buffer.concat([Buffer.from([3, 1]), CR.subarray(2)]), 1],
      ['length indicator 200 past the TPKT (X.224 13.3.1)', Buffer.from(CR.map((b, i) => (i === 4 ? 200 : b))), 4],
      ['length indicator 5 (below 6)', Buffer.from(CR.map((b, i) => (i === 4 ? 5 : b))), 4],
      ['a Data TPDU code (0xf0) instead of 0xe0', Buffer.from(CR.map((b, i) => (i === 5 ? 0xf0 : b))), 5],
    ];
    for (const [name, bytes, at] of cases) {
      it(name, () => {
        const c = new Conn();
        c.handshake();
        const f = c.send(0, bytes);
        expect(only(c.end(), /client's first bytes are not an X\.224 Connection Request/)).toMatchObject({ frame: f, offset: at });
      });
    }

    it('the server: a TPKT length too short for a Confirm, at the length', () => {
      const c = new Conn();
      c.handshake();
      c.send(0, CR);
      const f = c.send(1, Buffer.concat([Buffer.from([3, 0, 0, 6]), CC.subarray(4)]));
      expect(only(c.end(), /server's first bytes are not an X\.224 Connection Confirm/)).toMatchObject({ frame: f, offset: 2 });
    });

    it('the server: a first PDU that is a Data TPDU, at its code', () => {
      const c = new Conn();
      c.handshake();
      c.send(0, CR);
      const f = c.send(1, R.x224Data(Buffer.from([1, 2, 3])));
      expect(only(c.end(), /server's first PDU is an X\.224 DT TPDU/)).toMatchObject({ frame: f, offset: 5 });
    });
  });

  describe('TLS handshake messages: offsets in the TCP stream, not in the handshake stream', () => {
    it('a 16 MiB handshake message: its length field, 43 + 5 + 1', () => {
      const c = negotiated();
      const f = c.send(0, T.record(22, Buffer.concat([Buffer.from([1, 0xff, 0xff, 0xff]), Buffer.alloc(100)]), 0x0301));
      expect(only(c.end(), /16777215/)).toMatchObject({ frame: f, offset: 49 });
    });

    it('a 16 MiB message after a complete one in an earlier record: past both records headers', () => {
      const c = negotiated();
      const hello = T.handshake(1, T.clientHelloBody());
      c.send(0, T.record(22, hello, 0x0301));
      const f = c.send(0, T.record(22, Buffer.concat([Buffer.from([11, 0xff, 0xff, 0xff]), Buffer.alloc(20)]), 0x0303));
      expect(only(c.end(), /16777215/)).toMatchObject({ frame: f, offset: 43 + 5 + hello.length + 5 + 1 });
    });

    it('ClientHello cipher_suites length 65535: the length field, 43 + 5 + 4 + 35', () => {
      const body = Buffer.from(T.clientHelloBody());
      body.writeUInt16BE(0xffff, 35);
      const c = negotiated();
      const f = c.send(0, T.record(22, T.handshake(1, body), 0x0301));
      const rec = c.end();
      expect(only(rec, /^ClientHello: cipher_suites length 65535$/)).toMatchObject({ frame: f, offset: 87 });
      expect(rec.tls?.clientHelloFrame).toBe(f);
    });

    it('the same ClientHello split over two records at byte 20 of its body: the second record header counts', () => {
      const body = Buffer.from(T.clientHelloBody());
      body.writeUInt16BE(0xffff, 35);
      const msg = T.handshake(1, body);
      const c = negotiated();
      c.send(0, T.record(22, msg.subarray(0, 24), 0x0301));
      const f = c.send(0, T.record(22, msg.subarray(24), 0x0301));
      // 43 + record header 5 + 24 bytes + record header 5 + (4 + 35 - 24).
      expect(only(c.end(), /cipher_suites length 65535/)).toMatchObject({ frame: f, offset: 43 + 5 + 24 + 5 + 15 });
    });

    it('a ServerHello too short to read: an offset inside the server stream', () => {
      const c = negotiated();
      const f = c.send(1, T.record(22, T.handshake(2, Buffer.from([3, 3, 0])), 0x0303));
      const w = only(c.end(), /^ServerHello: /);
      expect(w.frame).toBe(f);
      expect(w.offset).toBeGreaterThanOrEqual(19 + 5 + 4);
      expect(w.offset).toBeLessThanOrEqual(19 + 5 + 4 + 3);
    });

    it('a Certificate whose list length lies: the list length field, 19 + 5 + 4', () => {
      const c = negotiated();
      const f = c.send(1, T.record(22, T.handshake(11, Buffer.from([0, 0, 9, 0, 0, 1, 0x30])), 0x0303));
      expect(only(c.end(), /^Certificate: certificate_list length 9/)).toMatchObject({ frame: f, offset: 28 });
    });
  });

  describe('segments outside any receive window', () => {
    it('warns once per direction with the first frame and the stream position; counts the rest', () => {
      const c = negotiated();
      const f1 = c.next();
      c.m.onOutOfWindow(0, 0x40000000, 517, f1, c.time);
      const f2 = c.next();
      c.m.onOutOfWindow(0, -0x50000000, 100, f2, c.time);
      const f3 = c.next();
      c.m.onOutOfWindow(1, 0x7fff0000, 10, f3, c.time);
      const rec = c.end();
      const ws = rec.warnings.filter((w) => /outside any TCP receive window/.test(w.message));
      expect(ws.map((w) => [w.frame, w.offset])).toEqual([
        [f1, 43],
        [f3, 19],
      ]);
      expect(ws[0]!.message).toBe(
        "client's segment of 517 bytes is 1073741824 bytes ahead of the next expected sequence number, outside any TCP receive window (RFC 7323 2.3): a jump in the stream, not data of it; ignored (2 such segments in all, 617 bytes)",
      );
      expect(ws[1]!.message).not.toMatch(/in all/);
      expect(rec.timeline.filter((e) => e.event === 'Sequence jump').map((e) => [e.frame, e.direction])).toEqual([
        [f1, 'c2s'],
        [f3, 's2c'],
      ]);
    });
  });
});
