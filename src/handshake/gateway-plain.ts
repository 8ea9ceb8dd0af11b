// What a decrypted RD Gateway connection says (issue 14, step 2, first part): the plaintext of the
// outer TLS (decrypted by GatewayWatch with the key log's secrets) read as MS-TSGU's HTTP transport:
// the HTTP/1.1 heads of each side (RDG_OUT_DATA / RDG_IN_DATA, POST /KdcProxy, and the answers:
// 101, 200, 401 with its challenges, 403, 503), then, after a 101, WebSocket frames (RFC 6455, the
// client's unmasked) carrying MS-TSGU packets (2.2.10), or, on the legacy HTTP transport's two
// channels (2.2.3, 3.3.5.1: no upgrade, each its own TCP connection, related by RDG-Connection-Id),
// the packets themselves: the IN channel's in the chunks of the client's RDG_IN_DATA body, the OUT
// channel's after the random entity body that follows its 200. Every transport hands its packets to `packets()`.
// RPC over HTTP (RPC_IN_DATA / RPC_OUT_DATA, MS-RPCH) is recognised, not decoded. It keeps the
// gateway's answers and result codes and the target of CHANNEL_CREATE; the tunnelled RDP bytes
// (DATA packets, 2.2.10.6) are counted and handed, each direction a byte stream, to `onTunnelData`
// (GatewayWatch feeds them to the connection machine).
import type { Dir } from '../flow/types.js';
import { authChallenges, bodyLength, headerValues, isWebSocketUpgrade, readHttpHead } from '../rdp/http.js';
import { readChunkEnd, readChunkHead } from '../rdp/http-chunked.js';
import { H2_PREFACE, H2_SETTINGS, startsWithPreface } from '../rdp/http2.js';
import { GatewayH2Reader } from './gateway-h2.js';
import { PKT_TYPE_HANDSHAKE_RESPONSE, readTsguPacket, tsguFailed, tsguResultName } from '../rdp/tsgu.js';
import { readWebSocketFrame, unmaskInto, WS_OPCODE_BINARY, WS_OPCODE_CONTINUATION } from '../rdp/websocket.js';
import type { GatewayHttpExchange, GatewayTsguPacket } from './types.js';

export type { GatewayHttpExchange, GatewayTsguPacket };

/** Plaintext bytes kept per direction for framing (the gateway's exchange is a few KB; DATA packets are skipped). */
const MAX_HELD = 256 * 1024;
/**
 * The random entity body the gateway sends after the legacy OUT channel's 200 (MS-TSGU 3.3.5.1: "a random entity
 * body of limited size (100 bytes)", without an entity length; Windows Server 2019 sends ten bytes
 * AB CD AB CD ..., FreeRDP's rdg.c skips ten): at most this many bytes precede the first packet.
 */
export const LEGACY_RANDOM_ENTITY_MAX = 100;
/** HTTP_HANDSHAKE_RESPONSE_PACKET's size (MS-TSGU 2.2.10.11: header, error code, versions, extended auth). */
const HANDSHAKE_RESPONSE_LENGTH = 18;

/** What the decrypted connection showed. */
export interface GatewayPlain {
  http: GatewayHttpExchange[];
  /** MS-TSGU packets but DATA and KEEPALIVE, in order (the first 32). */
  packets: GatewayTsguPacket[];
  /** CHANNEL_CREATE's first resource and port (the target of the tunnel), untrusted text. */
  target: { host: string; port: number; frame: number } | null;
  /** The client's name in TUNNEL_AUTH (untrusted). */
  clientName: string | null;
  /** DATA packets each way: the tunnelled RDP connection's bytes. */
  data: { client: number; server: number; firstFrame: number | null };
  /** A framing problem that stopped the reading (with its frame), or null. */
  problem: string | null;
  /**
   * The gateway transport this connection carried (MS-TSGU 2.1): 'websocket' (the 101 upgrade,
   * 2.2.3.3), 'http' (the legacy HTTP transport: RDG_IN_DATA / RDG_OUT_DATA channels without the
   * upgrade, 2.2.3), 'rpc_over_http' (RPC_IN_DATA / RPC_OUT_DATA to /rpc/rpcproxy.dll, MS-RPCH:
   * recognised, not decoded), or null (not known yet: only the KDC proxy, or no answer).
   */
  transport?: 'websocket' | 'http' | 'rpc_over_http' | null;
  /** The legacy HTTP transport's channel this connection is: 'in' (RDG_IN_DATA, the client's packets) or 'out' (RDG_OUT_DATA, the gateway's). */
  channel?: 'in' | 'out' | null;
  /** RDG-Connection-Id (MS-TSGU 2.2.3.2.1), the GUID that relates the IN and OUT channels: untrusted text. */
  connectionId?: string | null;
}

const SIDE = ['client', 'server'] as const;

type Mode = 'http' | 'body' | 'ws' | 'raw' | 'chunked' | 'random_entity' | 'opaque' | 'h2' | 'stop';

export class GatewayPlainReader {
  readonly out: GatewayPlain = { http: [], packets: [], target: null, clientName: null, data: { client: 0, server: 0, firstFrame: null }, problem: null, transport: null, channel: null, connectionId: null };
  private readonly held: [Buffer, Buffer] = [Buffer.alloc(0), Buffer.alloc(0)];
  /**
   * Per direction: 'http' reads heads; 'body' skips `bodyLeft` bytes; 'ws' WebSocket frames; 'raw'
   * MS-TSGU packets; 'chunked' MS-TSGU packets in the chunks of a chunked body (the legacy IN
   * channel); 'random_entity' the legacy OUT channel's random entity body before its packets; 'opaque' a body not read
   * (RPC over HTTP); 'stop'.
   */
  private readonly mode: [Mode, Mode] = ['http', 'http'];
  private readonly bodyLeft = [0, 0];
  /** Chunked bodies: data bytes left of the current chunk, or -1 when its closing CRLF is due. */
  private readonly chunkLeft = [0, 0];
  /** MS-TSGU bytes of packets split across chunks, per direction. */
  private readonly chunkPayload: [Buffer, Buffer] = [Buffer.alloc(0), Buffer.alloc(0)];
  /** After the client's HTTP/2 connection preface (RFC 7540 3.5): both directions are HTTP/2 frames. */
  private h2: GatewayH2Reader | null = null;
  /** MS-TSGU bytes of fragmented WebSocket messages, per direction. */
  private readonly wsPayload: [Buffer, Buffer] = [Buffer.alloc(0), Buffer.alloc(0)];

  /**
   * `onTunnelData`: the data bytes of each HTTP_DATA_PACKET (MS-TSGU 2.2.10.6), a copy, with the
   * direction and the outer frame whose record completed the packet. Whatever transport yields the
   * packets (WebSocket, the legacy channels) calls it from packets().
   */
  constructor(
    private readonly onTunnelData: ((dir: Dir, data: Buffer, frame: number) => void) | null = null,
    /** A CLOSE_CHANNEL or its response (MS-TSGU 2.2.10.3, 2.2.10.4) from side `dir`: that side ends the tunnelled connection. */
    private readonly onTunnelClose: ((dir: Dir, frame: number) => void) | null = null,
  ) {}

  /** Plaintext application data of one direction, in order. */
  push(dir: Dir, plain: Buffer, frame: number): void {
    if (this.mode[dir] === 'stop') return;
    const h = this.held[dir]!;
    this.held[dir] = h.length === 0 ? plain : Buffer.concat([h, plain]);
    if (this.held[dir]!.length > MAX_HELD) {
      this.stop(dir, `more than ${MAX_HELD} bytes of the ${SIDE[dir]}'s plaintext did not frame (frame ${frame})`);
      return;
    }
    this.frame(dir, frame);
    // The server's SETTINGS may have come before the client's preface: read them now.
    const o = (dir ^ 1) as Dir;
    if (this.h2 !== null && this.mode[o] === 'h2' && this.held[o]!.length > 0) this.frame(o, frame);
  }

  private stop(dir: Dir, problem: string): void {
    this.mode[dir] = 'stop';
    this.held[dir] = Buffer.alloc(0);
    this.out.problem ??= problem;
  }

  private frame(dir: Dir, frame: number): void {
    let buf = this.held[dir]!;
    let off = 0;
    for (;;) {
      const mode = this.mode[dir];
      if (mode === 'stop' || off >= buf.length) break;
      if (mode === 'body') {
        const n = Math.min(this.bodyLeft[dir]!, buf.length - off);
        off += n;
        this.bodyLeft[dir]! -= n;
        if (this.bodyLeft[dir] === 0) this.mode[dir] = 'http';
        continue;
      }
      if (mode === 'h2') {
        const r = this.h2!.frames(dir, buf, off, buf.length, frame);
        off += r.used;
        if (r.problem !== null) this.stop(dir, r.problem);
        break;
      }
      if (mode === 'http' && this.out.http.length === 0) {
        // HTTP/2 (ALPN h2): the client's connection preface; the server's SETTINGS (RFC 7540 3.5) wait for it.
        const pre = dir === 0 ? startsWithPreface(buf, off, buf.length) : 'no';
        if (pre === 'prefix') break;
        if (pre === 'yes') {
          off += H2_PREFACE.length;
          this.h2 = new GatewayH2Reader(this.out);
          this.mode[0] = 'h2';
          this.mode[1] = 'h2';
          continue;
        }
        if (dir === 1 && this.h2 === null && buf.length - off >= 9 && buf[off + 3] === H2_SETTINGS && buf.readUInt32BE(off + 5) === 0) break;
      }
      if (mode === 'http') {
        const r = readHttpHead(buf, off, buf.length);
        if (!r.ok) {
          if (r.kind === 'malformed') {
            // Not an HTTP head where one was due: MS-TSGU packets after a 200 of the legacy channels.
            if (this.out.http.some((x) => x.status === 200)) this.mode[dir] = 'raw';
            else this.stop(dir, `the ${SIDE[dir]}'s plaintext at frame ${frame} is not HTTP: ${r.reason}`);
            continue;
          }
          break;
        }
        off += r.consumed;
        const head = r.value;
        if (head.kind === 'request') {
          const auth = head.headers.find(([k]) => k.toLowerCase() === 'authorization')?.[1] ?? null;
          this.out.http.push({ method: head.method, target: head.target, requestFrame: frame, status: null, reason: null, responseFrame: null, challenges: [], authorization: auth === null ? null : (auth.split(/\s+/)[0] ?? ''), webSocket: isWebSocketUpgrade(head) });
          const len = bodyLength(head);
          const method = head.method ?? '';
          if (method === 'RDG_IN_DATA' || method === 'RDG_OUT_DATA') {
            this.out.connectionId ??= headerValues(head, 'RDG-Connection-Id')[0] ?? null;
            if (!isWebSocketUpgrade(head)) this.out.channel ??= method === 'RDG_IN_DATA' ? 'in' : 'out';
          }
          if (method === 'RPC_IN_DATA' || method === 'RPC_OUT_DATA') {
            // MS-RPCH 2.1.2.1: the legacy RPC over HTTP transport (MS-TSGU 2.1); its RPC PDUs are not read.
            this.out.transport = 'rpc_over_http';
            if (len !== 0 && len !== null) this.mode[dir] = 'opaque';
          } else if (method === 'RDG_IN_DATA' && len === 'chunked') {
            // The legacy IN channel (MS-TSGU 2.2.3, 3.3.5.1): a chunk per MS-TSGU packet.
            this.out.transport = 'http';
            this.chunkLeft[dir] = 0;
            this.mode[dir] = 'chunked';
          } else if (method === 'RDG_IN_DATA' && len !== 0 && len !== null) {
            // ... or a huge Content-Length whose body is the packets, back to back (2.2.3.2).
            this.out.transport = 'http';
            this.mode[dir] = 'raw';
          } else if (typeof len === 'number' && len > 0) {
            this.bodyLeft[dir] = len;
            this.mode[dir] = 'body';
          }
        } else {
          let x = [...this.out.http].reverse().find((e) => e.status === null) ?? null;
          if (x === null) {
            x = { method: null, target: null, requestFrame: null, status: null, reason: null, responseFrame: null, challenges: [], authorization: null, webSocket: false };
            this.out.http.push(x);
          }
          x.status = head.status;
          x.reason = head.reason;
          x.responseFrame = frame;
          x.challenges = authChallenges(head).map((c) => c.scheme);
          if (head.status === 101 && isWebSocketUpgrade(head)) {
            x.webSocket = true;
            this.out.transport = 'websocket';
            this.mode[0] = 'ws';
            this.mode[1] = 'ws';
          } else if (head.status === 200 && x.method === 'RDG_OUT_DATA') {
            // The legacy out channel: a random entity body (MS-TSGU 3.3.5.1), then MS-TSGU packets.
            this.out.transport = 'http';
            this.mode[dir] = 'random_entity';
          } else if (x.method === 'RPC_OUT_DATA' || x.method === 'RPC_IN_DATA') {
            // MS-RPCH 2.1.2.1.4: the OUT channel's 200 announces a body of 128 KB to 2 GB of RPC PDUs.
            const len = bodyLength(head);
            if (head.status === 200 && len !== 0) this.mode[dir] = 'opaque';
            else if (typeof len === 'number' && len > 0) {
              this.bodyLeft[dir] = len;
              this.mode[dir] = 'body';
            }
          } else {
            const len = bodyLength(head);
            if (typeof len === 'number' && len > 0) {
              this.bodyLeft[dir] = len;
              this.mode[dir] = 'body';
            }
          }
        }
        continue;
      }
      if (mode === 'opaque') {
        off = buf.length;
        break;
      }
      if (mode === 'random_entity') {
        // MS-TSGU 3.3.5.1: the random entity body, then HTTP_HANDSHAKE_RESPONSE (2.2.10.11) as the first packet.
        const limit = Math.min(buf.length - 8, off + LEGACY_RANDOM_ENTITY_MAX);
        let at = -1;
        for (let i = off; i <= limit; i++) {
          if (buf[i] === PKT_TYPE_HANDSHAKE_RESPONSE && buf[i + 1] === 0 && buf[i + 2] === 0 && buf[i + 3] === 0 && buf.readUInt32LE(i + 4) === HANDSHAKE_RESPONSE_LENGTH) {
            at = i;
            break;
          }
        }
        if (at < 0) {
          if (buf.length - off >= LEGACY_RANDOM_ENTITY_MAX + 8) this.stop(dir, `no MS-TSGU handshake response within ${LEGACY_RANDOM_ENTITY_MAX} bytes of the OUT channel's 200 (frame ${frame})`);
          break;
        }
        off = at;
        this.mode[dir] = 'raw';
        continue;
      }
      if (mode === 'chunked') {
        const left = this.chunkLeft[dir]!;
        if (left === -1) {
          const r = readChunkEnd(buf, off, buf.length);
          if (!r.ok) {
            if (r.kind === 'malformed') this.stop(dir, `the ${SIDE[dir]}'s chunked body at frame ${frame}: ${r.reason}`);
            break;
          }
          off += r.consumed;
          this.chunkLeft[dir] = 0;
          continue;
        }
        if (left === 0) {
          const r = readChunkHead(buf, off, buf.length);
          if (!r.ok) {
            if (r.kind === 'malformed') this.stop(dir, `the ${SIDE[dir]}'s chunked body at frame ${frame}: ${r.reason}`);
            break;
          }
          if (r.value.size === 0) {
            // The last chunk (RFC 9112 7.1): its empty trailer section ends the body.
            const e = readChunkEnd(buf, off + r.consumed, buf.length);
            if (!e.ok) {
              if (e.kind === 'malformed') this.stop(dir, `the ${SIDE[dir]}'s chunked body at frame ${frame}: a trailer section is not read`);
              break;
            }
            off += r.consumed + e.consumed;
            this.mode[dir] = 'http';
            continue;
          }
          off += r.consumed;
          this.chunkLeft[dir] = r.value.size;
          continue;
        }
        const n = Math.min(left, buf.length - off);
        const w = this.chunkPayload[dir]!;
        const piece = buf.subarray(off, off + n);
        const all = w.length === 0 ? piece : Buffer.concat([w, piece]);
        const used = this.packets(dir, all, frame);
        this.chunkPayload[dir] = used >= all.length ? Buffer.alloc(0) : Buffer.from(all.subarray(used));
        off += n;
        this.chunkLeft[dir] = left - n === 0 ? -1 : left - n;
        continue;
      }
      if (mode === 'ws') {
        const r = readWebSocketFrame(buf, off, buf.length);
        if (!r.ok) {
          if (r.kind === 'malformed') this.stop(dir, `the ${SIDE[dir]}'s WebSocket frame at frame ${frame}: ${r.reason}`);
          break;
        }
        off += r.consumed;
        const f = r.value;
        if (f.opcode !== WS_OPCODE_BINARY && f.opcode !== WS_OPCODE_CONTINUATION) continue;
        const payload = Buffer.alloc(f.payloadLength);
        unmaskInto(buf, f, payload, 0);
        const w = this.wsPayload[dir]!;
        const all = w.length === 0 ? payload : Buffer.concat([w, payload]);
        const used = this.packets(dir, all, frame);
        this.wsPayload[dir] = all.subarray(used);
        continue;
      }
      // raw: MS-TSGU packets straight on the channel. A client's new request head where a packet is
      // due (the legacy IN channel's next RDG_IN_DATA after an NTLM 401) is HTTP again: no packet
      // type starts with "RDG_" (2.2.5.3.3 types are 1 to 0x11).
      if (dir === 0 && buf.length - off >= 4 && buf[off] === 0x52 && buf[off + 1] === 0x44 && buf[off + 2] === 0x47 && buf[off + 3] === 0x5f) {
        this.mode[dir] = 'http';
        continue;
      }
      const used = this.packets(dir, buf.subarray(off), frame);
      if (used === 0) break;
      off += used;
    }
    buf = buf.subarray(off);
    this.held[dir] = buf.length === 0 ? Buffer.alloc(0) : Buffer.from(buf);
  }

  /** Whole MS-TSGU packets in b; returns the bytes used. */
  private packets(dir: Dir, b: Buffer, frame: number): number {
    let off = 0;
    while (off < b.length) {
      const r = readTsguPacket(b, off, b.length);
      if (!r.ok) {
        if (r.kind === 'malformed') {
          this.stop(dir, `the ${SIDE[dir]}'s MS-TSGU packet at frame ${frame}: ${r.reason}`);
          return b.length;
        }
        break;
      }
      off += r.consumed;
      const p = r.value;
      if (p.type === 'data') {
        if (dir === 0) this.out.data.client++;
        else this.out.data.server++;
        this.out.data.firstFrame ??= frame;
        if (this.onTunnelData !== null && p.dataLength > 0) this.onTunnelData(dir, Buffer.from(b.subarray(p.dataOff, p.dataOff + p.dataLength)), frame);
        continue;
      }
      if (p.type === 'keepalive') continue;
      if (p.type === 'close_channel' || p.type === 'close_channel_response') this.onTunnelClose?.(dir, frame);
      if (p.type === 'channel_create' && this.out.target === null && p.resources[0] !== undefined) this.out.target = { host: p.resources[0], port: p.port, frame };
      if (p.type === 'tunnel_auth') this.out.clientName ??= p.clientName;
      const code =
        p.type === 'handshake_response' || p.type === 'extended_auth' || p.type === 'tunnel_auth_response' || p.type === 'channel_response'
          ? p.errorCode
          : p.type === 'tunnel_response' || p.type === 'close_channel' || p.type === 'close_channel_response'
            ? p.statusCode
            : null;
      if (this.out.packets.length < 32) this.out.packets.push({ frame, by: SIDE[dir], type: p.type, code, codeName: code === null ? null : tsguResultName(code), failed: code !== null && tsguFailed(code) });
    }
    return off;
  }
}
