// The KDC proxy over HTTP/2 in the decrypted plaintext of a gateway connection (gateway-h2.ts via
// GatewayPlainReader): the client's preface, the server's SETTINGS even when they come first, a
// request header block split over HEADERS and CONTINUATION, the :status read as HTTP/1.1's status;
// hostile frames after the preface with fast-check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GatewayPlainReader } from '../../src/handshake/gateway-plain.js';
import { H2_PREFACE } from '../../src/rdp/http2.js';

const runs = Number(process.env.PROP_RUNS ?? 300);

function frame(type: number, flags: number, stream: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(payload.length, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream, 5);
  return Buffer.concat([h, payload]);
}
const lit = (s: string): Buffer => Buffer.concat([Buffer.from([s.length]), Buffer.from(s, 'latin1')]);
const SETTINGS = frame(4, 0, 0, Buffer.from([0, 1, 0, 0, 0x10, 0, 0, 3, 0, 0, 0, 100]));
const SETTINGS_ACK = frame(4, 1, 0, Buffer.alloc(0));
// :method POST (static 3), :scheme https (7), :path "/KdcProxy" (literal, indexed name 4, incremental indexing), content-type literal.
const REQUEST_BLOCK = Buffer.concat([Buffer.from([0x83, 0x87, 0x44]), lit('/KdcProxy'), Buffer.from([0x5f]), lit('application/kerberos')]);
// :status "503" (literal without indexing, indexed name 8), www-authenticate "Negotiate" (never indexed, indexed name 61: 0x1f 0x2e).
const RESPONSE_BLOCK = Buffer.concat([Buffer.from([0x08]), lit('503'), Buffer.from([0x1f, 0x2e]), lit('Negotiate')]);

describe('GatewayPlainReader on an h2 connection', () => {
  it('the server\'s SETTINGS before the preface wait; the request split over CONTINUATION; the 503 on its stream', () => {
    const r = new GatewayPlainReader();
    r.push(1, SETTINGS, 10);
    r.push(0, Buffer.concat([H2_PREFACE, SETTINGS, frame(1, 0, 1, REQUEST_BLOCK.subarray(0, 5))]), 11);
    r.push(0, Buffer.concat([frame(9, 4, 1, REQUEST_BLOCK.subarray(5)), frame(0, 1, 1, Buffer.alloc(20, 0x6a))]), 12);
    r.push(1, Buffer.concat([SETTINGS_ACK, frame(1, 5, 1, RESPONSE_BLOCK)]), 13);
    expect(r.out.problem).toBeNull();
    expect(r.out.http).toEqual([{ method: 'POST', target: '/KdcProxy', requestFrame: 12, status: 503, reason: null, responseFrame: 13, challenges: ['Negotiate'], authorization: null, webSocket: false, version: 'HTTP/2' }]);
  });

  it('a frame interrupting a header block stops the reading with a reason', () => {
    const r = new GatewayPlainReader();
    r.push(0, Buffer.concat([H2_PREFACE, frame(1, 0, 1, REQUEST_BLOCK.subarray(0, 5)), frame(0, 0, 1, Buffer.alloc(3))]), 7);
    expect(r.out.problem).toBe("the client's header block on stream 1 was interrupted by another frame at frame 7 (RFC 7540 6.10)");
  });

  it('never throws on hostile frames after the preface, and keeps its exchanges bounded', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(0, 1) as fc.Arbitrary<0 | 1>, fc.uint8Array({ maxLength: 120 })), { maxLength: 10 }), (parts) => {
        const r = new GatewayPlainReader();
        r.push(0, H2_PREFACE, 1);
        for (const [dir, b] of parts) r.push(dir, Buffer.from(b), 2);
        expect(r.out.http.length).toBeLessThanOrEqual(32);
        expect(r.out.packets).toEqual([]);
      }),
      { numRuns: runs },
    );
  });
});
