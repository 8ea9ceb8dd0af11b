// What a decrypted RD Gateway connection says (issue 14, step 2, first part): the plaintext of the
// outer TLS (decrypted by GatewayWatch with the key log's secrets) read as MS-TSGU's HTTP transport:
// the HTTP/1.1 heads of each side (RDG_OUT_DATA / RDG_IN_DATA, POST /KdcProxy, and the answers:
// 101, 200, 401 with its challenges, 403, 503), then, after a 101, WebSocket frames (RFC 6455, the
// client's unmasked) carrying MS-TSGU packets (2.2.10), or, on the legacy channels, the packets
// themselves. It keeps the gateway's answers and result codes and the target of CHANNEL_CREATE;
// the tunnelled RDP bytes (DATA packets, 2.2.10.6) are counted and handed, each direction a byte
// stream, to `onTunnelData` (GatewayWatch feeds them to the connection machine).
import type { Dir } from '../flow/types.js';
import { authChallenges, bodyLength, isWebSocketUpgrade, readHttpHead } from '../rdp/http.js';
import { readTsguPacket, tsguFailed, tsguResultName } from '../rdp/tsgu.js';
import { readWebSocketFrame, unmaskInto, WS_OPCODE_BINARY, WS_OPCODE_CONTINUATION } from '../rdp/websocket.js';

/** Plaintext bytes kept per direction for framing (the gateway's exchange is a few KB; DATA packets are skipped). */
const MAX_HELD = 256 * 1024;

export interface GatewayHttpExchange {
  /** The request's method and target ("RDG_OUT_DATA /remoteDesktopGateway/"), null when only the answer was seen. */
  method: string | null;
  target: string | null;
  requestFrame: number | null;
  status: number | null;
  reason: string | null;
  responseFrame: number | null;
  /** WWW-Authenticate schemes of a 401 ("Negotiate", "NTLM"). */
  challenges: string[];
  /** The request carried an Authorization header (its scheme). */
  authorization: string | null;
  webSocket: boolean;
}

export interface GatewayTsguPacket {
  frame: number;
  by: 'client' | 'server';
  /** "handshake_response", "channel_create" ... (tsgu.ts TsguPacket type). */
  type: string;
  /** The result code of a response or close, and its name. */
  code: number | null;
  codeName: string | null;
  failed: boolean;
}

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
}

const SIDE = ['client', 'server'] as const;

export class GatewayPlainReader {
  readonly out: GatewayPlain = { http: [], packets: [], target: null, clientName: null, data: { client: 0, server: 0, firstFrame: null }, problem: null };
  private readonly held: [Buffer, Buffer] = [Buffer.alloc(0), Buffer.alloc(0)];
  /** Per direction: 'http' reads heads; 'body' skips `bodyLeft` bytes; 'ws' WebSocket frames; 'raw' MS-TSGU packets; 'stop'. */
  private readonly mode: ['http' | 'body' | 'ws' | 'raw' | 'stop', 'http' | 'body' | 'ws' | 'raw' | 'stop'] = ['http', 'http'];
  private readonly bodyLeft = [0, 0];
  /** MS-TSGU bytes of fragmented WebSocket messages, per direction. */
  private readonly wsPayload: [Buffer, Buffer] = [Buffer.alloc(0), Buffer.alloc(0)];

  /**
   * `onTunnelData`: the data bytes of each HTTP_DATA_PACKET (MS-TSGU 2.2.10.6), a copy, with the
   * direction and the outer frame whose record completed the packet. Whatever transport yields the
   * packets (WebSocket, the legacy channels) calls it from packets().
   */
  constructor(private readonly onTunnelData: ((dir: Dir, data: Buffer, frame: number) => void) | null = null) {}

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
          // RDG_IN_DATA announces a huge body (or chunked): what follows are MS-TSGU packets (2.2.3.2).
          if (head.method === 'RDG_IN_DATA' && len !== 0 && len !== null) this.mode[dir] = 'raw';
          else if (typeof len === 'number' && len > 0) {
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
            this.mode[0] = 'ws';
            this.mode[1] = 'ws';
          } else if (head.status === 200 && x.method === 'RDG_OUT_DATA') {
            // The legacy out channel: a seed body (MS-TSGU 3.3.5.1), then MS-TSGU packets.
            this.mode[dir] = 'raw';
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
      // raw: MS-TSGU packets straight on the channel.
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
