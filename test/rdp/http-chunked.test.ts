// The RD Gateway's legacy HTTP transport (MS-TSGU 2.2.3, 3.3.5.1): the chunked transfer coding of
// the IN channel's RDG_IN_DATA body (RFC 9112 7.1), byte-exact, each vector cut one byte short;
// the plaintext reader on both channels (chunked, a huge Content-Length, the OUT channel's random entity body);
// hostile input with fast-check.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readChunkEnd, readChunkHead, CHUNK_LINE_MAX } from '../../src/rdp/http-chunked.js';
import { GatewayPlainReader, LEGACY_RANDOM_ENTITY_MAX } from '../../src/handshake/gateway-plain.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const runs = Number(process.env.PROP_RUNS ?? 300);

/** HTTP_PACKET_HEADER (MS-TSGU 2.2.10.9) and a body. */
function pkt(type: number, body: number[]): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(type, 0);
  h.writeUInt32LE(8 + body.length, 4);
  return Buffer.concat([h, Buffer.from(body)]);
}
const HANDSHAKE_REQUEST = pkt(1, [1, 0, 0, 0, 0, 0]);
const HANDSHAKE_RESPONSE = pkt(2, [0, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
const CHANNEL_RESPONSE_RAP = pkt(9, [0xda, 0x59, 0x07, 0x80, 0, 0, 0, 0]);
// CHANNEL_CREATE: 1 resource, 0 alternates, port 3389, protocol 3, "srv" as a length-prefixed UTF-16LE string with its NUL.
const CHANNEL_CREATE = pkt(8, [1, 0, 0x3d, 0x0d, 3, 0, 8, 0, 0x73, 0, 0x72, 0, 0x76, 0, 0, 0]);
const chunk = (p: Buffer): Buffer => Buffer.concat([b(`${p.length.toString(16).toUpperCase()}\r\n`), p, b('\r\n')]);

const IN_HEAD = b('RDG_IN_DATA /remoteDesktopGateway/ HTTP/1.1\r\nCache-Control: no-cache\r\nRDG-Connection-Id: {9a3f52c1-7d4e-4b8a-a1c6-0e2d4f6b8c10}\r\nTransfer-Encoding: chunked\r\nHost: rdg.corp.example\r\n\r\n');
const OUT_HEAD = b('RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\nCache-Control: no-cache\r\nRDG-Connection-Id: {9a3f52c1-7d4e-4b8a-a1c6-0e2d4f6b8c10}\r\nContent-Length: 0\r\nHost: rdg.corp.example\r\n\r\n');
const OK_NO_LENGTH = b('HTTP/1.1 200 OK\r\nServer: Microsoft-HTTPAPI/2.0\r\n\r\n');
const RANDOM_ENTITY = Buffer.from('abcdabcdabcdabcdabcd', 'hex');

describe('readChunkHead / readChunkEnd (RFC 9112 7.1)', () => {
  it('a chunk-size line: hex digits, an extension skipped, CRLF or a bare LF; cut one byte short it is incomplete', () => {
    expect(readChunkHead(b('E\r\n'), 0, 3)).toEqual({ ok: true, value: { size: 14 }, consumed: 3 });
    expect(readChunkHead(b('E\r\n'), 0, 2)).toEqual({ ok: false, kind: 'incomplete', needed: 1 });
    expect(readChunkHead(b('1a;name=value\r\n'), 0, 15)).toEqual({ ok: true, value: { size: 26 }, consumed: 15 });
    expect(readChunkHead(b('0\n'), 0, 2)).toEqual({ ok: true, value: { size: 0 }, consumed: 2 });
    expect(readChunkHead(b('xxE\r\n'), 2, 5)).toEqual({ ok: true, value: { size: 14 }, consumed: 3 });
  });

  it('refuses what is no size: not hex, more than 8 digits, a control byte, no LF within the line limit', () => {
    expect(readChunkHead(b('G\r\n'), 0, 3)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
    expect(readChunkHead(b('123456789\r\n'), 0, 11)).toMatchObject({ ok: false, kind: 'malformed' });
    expect(readChunkHead(b('1\x00\r\n'), 0, 4)).toMatchObject({ ok: false, kind: 'malformed', at: 1 });
    const long = Buffer.alloc(CHUNK_LINE_MAX, 0x31);
    expect(readChunkHead(long, 0, long.length)).toMatchObject({ ok: false, kind: 'malformed' });
    expect(readChunkHead(long, 0, long.length - 1)).toEqual({ ok: false, kind: 'incomplete', needed: 1 });
  });

  it('the CRLF after the data', () => {
    expect(readChunkEnd(b('\r\n'), 0, 2)).toEqual({ ok: true, value: null, consumed: 2 });
    expect(readChunkEnd(b('\r\n'), 0, 1)).toEqual({ ok: false, kind: 'incomplete', needed: 1 });
    expect(readChunkEnd(b('\n'), 0, 1)).toEqual({ ok: true, value: null, consumed: 1 });
    expect(readChunkEnd(b('ab'), 0, 2)).toMatchObject({ ok: false, kind: 'malformed', at: 0 });
  });

  it('never throws on hostile bytes, and a size it reads is what the line says', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), (bytes, o) => {
        const off = Math.min(o, bytes.length);
        const r = readChunkHead(bytes, off, bytes.length);
        if (r.ok) {
          expect(r.consumed).toBeGreaterThan(0);
          expect(off + r.consumed).toBeLessThanOrEqual(bytes.length);
          const line = Buffer.from(bytes.subarray(off, off + r.consumed)).toString('latin1');
          expect(parseInt(line.split(/[;\r\n \t]/)[0]!, 16)).toBe(r.value.size);
        }
        readChunkEnd(bytes, off, bytes.length);
      }),
      { numRuns: runs },
    );
  });
});

describe('GatewayPlainReader on the legacy HTTP transport', () => {
  it('the IN channel: the chunked RDG_IN_DATA body read as MS-TSGU packets, however the records cut it', () => {
    const wire = Buffer.concat([IN_HEAD, chunk(HANDSHAKE_REQUEST), chunk(CHANNEL_CREATE), b('0\r\n\r\n')]);
    for (const cut of [1, 3, 7, wire.length]) {
      const r = new GatewayPlainReader();
      for (let i = 0; i < wire.length; i += cut) r.push(0, wire.subarray(i, i + cut), 100 + i);
      expect(r.out.problem, `cut ${cut}`).toBeNull();
      expect(r.out.packets.map((p) => p.type)).toEqual(['handshake_request', 'channel_create']);
      expect(r.out).toMatchObject({ transport: 'http', channel: 'in', connectionId: '{9a3f52c1-7d4e-4b8a-a1c6-0e2d4f6b8c10}', target: { host: 'srv', port: 3389 } });
    }
  });

  it('a packet split across two chunks is put back together', () => {
    const r = new GatewayPlainReader();
    r.push(0, Buffer.concat([IN_HEAD, chunk(CHANNEL_CREATE.subarray(0, 5)), chunk(CHANNEL_CREATE.subarray(5))]), 5);
    expect(r.out.problem).toBeNull();
    expect(r.out.target).toEqual({ host: 'srv', port: 3389, frame: 5 });
  });

  it('the IN channel with a huge Content-Length: the body is the packets back to back', () => {
    const r = new GatewayPlainReader();
    const head = b('RDG_IN_DATA /remoteDesktopGateway/ HTTP/1.1\r\nRDG-Connection-Id: {x}\r\nContent-Length: 1073741824\r\n\r\n');
    r.push(0, Buffer.concat([head, HANDSHAKE_REQUEST, CHANNEL_CREATE]), 9);
    expect(r.out.packets.map((p) => p.type)).toEqual(['handshake_request', 'channel_create']);
    expect(r.out).toMatchObject({ transport: 'http', channel: 'in', connectionId: '{x}' });
  });

  it('a huge Content-Length on an unauthenticated RDG_IN_DATA: after the 401, the next request head is HTTP again', () => {
    const r = new GatewayPlainReader();
    const head = (auth: string) => b(`RDG_IN_DATA /remoteDesktopGateway/ HTTP/1.1\r\nRDG-Connection-Id: {x}\r\n${auth}Content-Length: 1073741824\r\n\r\n`);
    r.push(0, head(''), 1);
    r.push(1, b('HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n'), 2);
    r.push(0, Buffer.concat([head('Authorization: NTLM TlRMTVNTUAAB\r\n'), HANDSHAKE_REQUEST]), 3);
    expect(r.out.problem).toBeNull();
    expect(r.out.http.map((x) => [x.method, x.status, x.authorization])).toEqual([
      ['RDG_IN_DATA', 401, null],
      ['RDG_IN_DATA', null, 'NTLM'],
    ]);
    expect(r.out.packets.map((p) => p.type)).toEqual(['handshake_request']);
  });

  it('the OUT channel: the random entity body after the 200 is skipped (ten bytes, or none), then the packets', () => {
    for (const entity of [RANDOM_ENTITY, Buffer.alloc(0), Buffer.alloc(LEGACY_RANDOM_ENTITY_MAX, 0x5a)]) {
      const r = new GatewayPlainReader();
      r.push(0, OUT_HEAD, 1);
      r.push(1, OK_NO_LENGTH, 2);
      r.push(1, entity, 2);
      r.push(1, Buffer.concat([HANDSHAKE_RESPONSE, CHANNEL_RESPONSE_RAP]), 3);
      expect(r.out.problem).toBeNull();
      expect(r.out).toMatchObject({ transport: 'http', channel: 'out' });
      expect(r.out.packets.map((p) => [p.type, p.codeName, p.frame])).toEqual([
        ['handshake_response', 'S_OK', 3],
        ['channel_response', 'E_PROXY_RAP_ACCESSDENIED', 3],
      ]);
    }
  });

  it('the OUT channel: more than the random entity body allows before a handshake response stops the reading with a reason', () => {
    const r = new GatewayPlainReader();
    r.push(0, OUT_HEAD, 1);
    r.push(1, Buffer.concat([OK_NO_LENGTH, Buffer.alloc(LEGACY_RANDOM_ENTITY_MAX + 8, 0x11)]), 2);
    expect(r.out.problem).toMatch(/no MS-TSGU handshake response within 100 bytes of the OUT channel's 200 \(frame 2\)/);
  });

  it('RPC over HTTP is recognised and its RPC PDUs are not read', () => {
    const r = new GatewayPlainReader();
    r.push(0, Buffer.concat([b('RPC_IN_DATA /rpc/rpcproxy.dll?rdg.corp.example:3388 HTTP/1.1\r\nContent-Length: 1073741824\r\n\r\n'), Buffer.from([5, 0, 0x14, 3, 0x10, 0, 0, 0])]), 4);
    r.push(1, b('HTTP/1.1 200 Success\r\nContent-Type: application/rpc\r\nContent-Length: 1073741824\r\n\r\n'), 5);
    r.push(1, Buffer.alloc(64, 0xee), 6);
    expect(r.out).toMatchObject({ transport: 'rpc_over_http', problem: null, packets: [] });
    expect(r.out.http.map((x) => [x.method, x.status])).toEqual([['RPC_IN_DATA', 200]]);
  });

  it('never throws on hostile bodies after a legacy head, and keeps its lists bounded', () => {
    fc.assert(
      fc.property(fc.constantFrom(IN_HEAD, Buffer.concat([OUT_HEAD])), fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 8 }), (head, parts) => {
        const r = new GatewayPlainReader();
        r.push(0, head, 1);
        if (head === IN_HEAD) for (const p of parts) r.push(0, Buffer.from(p), 2);
        else {
          r.push(1, OK_NO_LENGTH, 2);
          for (const p of parts) r.push(1, Buffer.from(p), 3);
        }
        expect(r.out.packets.length).toBeLessThanOrEqual(32);
        expect(r.out.channel).toBe(head === IN_HEAD ? 'in' : 'out');
      }),
      { numRuns: runs },
    );
  });
});
