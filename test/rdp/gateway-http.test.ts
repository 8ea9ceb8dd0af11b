// The RD Gateway's HTTP transport layers (MS-TSGU 2.2.3): HTTP/1.1 heads (RFC 9112) of the
// RDG_OUT_DATA upgrade, the 401 with its NTLM / Negotiate challenges, the KDC proxy's 503, and
// WebSocket frames (RFC 6455 5.2) with the client's masking. Byte-exact vectors, each cut one byte
// short; hostile input with fast-check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { authChallenges, bodyLength, headerValues, isWebSocketUpgrade, readHttpHead, HTTP_MAX_HEAD } from '../../src/rdp/http.js';
import { closeStatus, readWebSocketFrame, unmaskInto, WS_OPCODE_BINARY, WS_OPCODE_CLOSE } from '../../src/rdp/websocket.js';
import { readTsguPacket } from '../../src/rdp/tsgu.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

// mstsc's WebSocket upgrade of the out channel (MS-TSGU 2.2.3.3).
const RDG_OUT_DATA = b(
  'RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\n' +
    'Cache-Control: no-cache\r\n' +
    'Connection: Upgrade\r\n' +
    'Pragma: no-cache\r\n' +
    'Host: rdg.corp.example\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
    'Sec-WebSocket-Version: 13\r\n' +
    'Upgrade: websocket\r\n' +
    'RDG-Connection-Id: {5e7b1c52-1a3c-4c2e-9b6f-2f0d3b7c9a11}\r\n' +
    '\r\n',
);
const UNAUTHORIZED = b(
  'HTTP/1.1 401 Unauthorized\r\n' +
    'Content-Type: text/plain\r\n' +
    'Server: Microsoft-HTTPAPI/2.0\r\n' +
    'WWW-Authenticate: Negotiate\r\n' +
    'WWW-Authenticate: NTLM TlRMTVNTUAACAAAA\r\n' +
    'Content-Length: 0\r\n' +
    '\r\n',
);
const KDC_PROXY_503 = b('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n');
const SWITCHING = b('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n');

describe('readHttpHead (RFC 9112)', () => {
  it('the RDG_OUT_DATA upgrade request: method, target, headers, the WebSocket upgrade', () => {
    const r = readHttpHead(RDG_OUT_DATA, 0, RDG_OUT_DATA.length);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.consumed).toBe(RDG_OUT_DATA.length);
    expect(r.value).toMatchObject({ kind: 'request', method: 'RDG_OUT_DATA', target: '/remoteDesktopGateway/', version: 'HTTP/1.1', status: null });
    expect(headerValues(r.value, 'host')).toEqual(['rdg.corp.example']);
    expect(isWebSocketUpgrade(r.value)).toBe(true);
    expect(readHttpHead(RDG_OUT_DATA, 0, RDG_OUT_DATA.length - 1)).toEqual({ ok: false, kind: 'incomplete', needed: 1 });
  });

  it('the 401: status, reason, both challenges with the NTLM token, its empty body', () => {
    const r = readHttpHead(UNAUTHORIZED, 0, UNAUTHORIZED.length);
    expect(r.ok && r.value).toMatchObject({ kind: 'response', status: 401, reason: 'Unauthorized' });
    if (!r.ok) return;
    expect(authChallenges(r.value)).toEqual([{ scheme: 'Negotiate', token: null }, { scheme: 'NTLM', token: 'TlRMTVNTUAACAAAA' }]);
    expect(bodyLength(r.value)).toBe(0);
    expect(readHttpHead(UNAUTHORIZED, 0, UNAUTHORIZED.length - 1)).toEqual({ ok: false, kind: 'incomplete', needed: 1 });
  });

  it('the KDC proxy 503 and the 101 that switches to WebSocket', () => {
    expect(readHttpHead(KDC_PROXY_503, 0, KDC_PROXY_503.length)).toMatchObject({ ok: true, value: { status: 503, reason: 'Service Unavailable' }, consumed: KDC_PROXY_503.length });
    const s = readHttpHead(SWITCHING, 0, SWITCHING.length);
    expect(s.ok && isWebSocketUpgrade(s.value)).toBe(true);
  });

  it('the head ends at its empty line: the MS-TSGU bytes after an upgrade are the caller\'s', () => {
    const after = Buffer.concat([SWITCHING, Buffer.from('0d00000008000000', 'hex')]);
    const r = readHttpHead(after, 0, after.length);
    expect(r.ok && r.consumed).toBe(SWITCHING.length);
  });

  it('chunked bodies (the legacy RDG_IN_DATA) and a bad start line or field line', () => {
    const chunked = b('RDG_IN_DATA /remoteDesktopGateway/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n');
    const r = readHttpHead(chunked, 0, chunked.length);
    expect(r.ok && bodyLength(r.value)).toBe('chunked');
    expect(readHttpHead(b('\x16\x03\x01\x02\x00'), 0, 5)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
    expect(readHttpHead(b('GET / HTTP/1.1\r\nno colon here\r\n\r\n'), 0, 34)).toEqual({ ok: false, kind: 'malformed', at: 16, reason: 'not an HTTP field line: "no colon here"' });
    const huge = Buffer.alloc(HTTP_MAX_HEAD + 10, 0x41);
    expect(readHttpHead(huge, 0, huge.length)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
  });
});

// RFC 6455 5.7 examples, and an MS-TSGU keep-alive in a masked client frame.
const HELLO_UNMASKED = Buffer.from('810548656c6c6f', 'hex');
const HELLO_MASKED = Buffer.from('818537fa213d7f9f4d5158', 'hex');
const KEEPALIVE_MASKED = (() => {
  const key = [0x11, 0x22, 0x33, 0x44];
  const payload = Buffer.from('0d00000008000000', 'hex');
  return Buffer.concat([Buffer.from([0x82, 0x88, ...key]), Buffer.from(payload.map((x, i) => x ^ key[i & 3]!))]);
})();

describe('readWebSocketFrame (RFC 6455 5.2)', () => {
  it('RFC 6455 5.7: an unmasked and a masked text frame "Hello"', () => {
    for (const f of [HELLO_UNMASKED, HELLO_MASKED]) {
      const r = readWebSocketFrame(f, 0, f.length);
      expect(r.ok).toBe(true);
      if (!r.ok) return;
      expect(r.consumed).toBe(f.length);
      const out = new Uint8Array(r.value.payloadLength);
      unmaskInto(f, r.value, out, 0);
      expect(Buffer.from(out).toString()).toBe('Hello');
      expect(readWebSocketFrame(f, 0, f.length - 1)).toEqual({ ok: false, kind: 'incomplete', needed: 1 });
    }
  });

  it('a masked binary frame carrying an MS-TSGU keep-alive unmasks to it', () => {
    const r = readWebSocketFrame(KEEPALIVE_MASKED, 0, KEEPALIVE_MASKED.length);
    expect(r.ok && r.value).toMatchObject({ fin: true, opcode: WS_OPCODE_BINARY, masked: true, maskingKey: 0x11223344, payloadOff: 6, payloadLength: 8 });
    if (!r.ok) return;
    const out = new Uint8Array(8);
    unmaskInto(KEEPALIVE_MASKED, r.value, out, 0);
    expect(readTsguPacket(out, 0, 8)).toEqual({ ok: true, value: { type: 'keepalive' }, consumed: 8 });
  });

  it('16- and 64-bit lengths, close status, reserved opcodes and oversized control frames', () => {
    const mid = Buffer.concat([Buffer.from([0x82, 126, 0x01, 0x00]), Buffer.alloc(256, 7)]);
    expect(readWebSocketFrame(mid, 0, mid.length)).toMatchObject({ ok: true, value: { payloadOff: 4, payloadLength: 256 }, consumed: 260 });
    const big = Buffer.concat([Buffer.from([0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0]), Buffer.alloc(65536)]);
    expect(readWebSocketFrame(big, 0, big.length)).toMatchObject({ ok: true, value: { payloadOff: 10, payloadLength: 65536 } });
    expect(readWebSocketFrame(Buffer.from([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1]), 0, 10)).toMatchObject({ ok: false, kind: 'malformed', at: 2 });
    const close = Buffer.from([0x88, 0x02, 0x03, 0xe8]);
    const c = readWebSocketFrame(close, 0, 4);
    expect(c.ok && c.value.opcode).toBe(WS_OPCODE_CLOSE);
    if (c.ok) expect(closeStatus(close, c.value)).toBe(1000);
    expect(readWebSocketFrame(Buffer.from([0x83, 0x00]), 0, 2)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
    expect(readWebSocketFrame(Buffer.from([0x09, 0x00]), 0, 2)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
    expect(readWebSocketFrame(Buffer.from([0x89, 126, 0, 200]), 0, 4)).toMatchObject({ ok: false, kind: 'malformed', at: 1 });
  });
});

describe('hostile input', () => {
  const runs = Number(process.env.PROP_RUNS ?? 300);
  it('frames: never throw; ok stays within end; malformed points into the header', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
        const r = readWebSocketFrame(bytes, 0, bytes.length);
        if (r.ok) {
          expect(r.consumed).toBeLessThanOrEqual(bytes.length);
          expect(r.value.payloadOff + r.value.payloadLength).toBe(r.consumed);
          const out = new Uint8Array(r.value.payloadLength);
          expect(unmaskInto(bytes, r.value, out, 0)).toBe(r.value.payloadLength);
        } else if (r.kind === 'malformed') expect(r.at).toBeLessThan(10);
        else expect(r.needed).toBeGreaterThan(0);
      }),
      { numRuns: runs },
    );
  });

  it('heads: never throw; ok consumes up to its empty line', () => {
    const line = fc.stringMatching(/^[ -~]{0,30}$/);
    fc.assert(
      fc.property(fc.array(line, { maxLength: 6 }), fc.boolean(), (lines, crlf) => {
        const nl = crlf ? '\r\n' : '\n';
        const text = Buffer.from(lines.join(nl) + nl + nl, 'latin1');
        const r = readHttpHead(text, 0, text.length);
        if (r.ok) {
          expect(r.consumed).toBeLessThanOrEqual(text.length);
          expect(text.subarray(r.consumed - 1, r.consumed).toString()).toBe('\n');
        } else if (r.kind === 'malformed') expect(r.at).toBeLessThan(text.length);
      }),
      { numRuns: runs },
    );
  });
});
