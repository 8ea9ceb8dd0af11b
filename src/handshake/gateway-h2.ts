// An RD Gateway connection that speaks HTTP/2 (ALPN h2): in practice the KDC proxy's `POST
// /KdcProxy` (MS-KKDCP 2.2) from a client whose WinHTTP negotiated h2. Read after the client's
// connection preface (RFC 7540 3.5): each side's frames (4.1), the header blocks of HEADERS and
// CONTINUATION frames (6.2, 6.10) decoded with that direction's HPACK context (RFC 7541), and a
// request / response pair per stream kept as a GatewayHttpExchange, the way gateway-plain.ts keeps
// the HTTP/1.1 ones (so the KDC proxy's 503 reads the same on both). Bodies (DATA) are skipped.
import type { Dir } from '../flow/types.js';
import { authChallenges, type HttpHead } from '../rdp/http.js';
import { HpackDecoder } from '../rdp/hpack.js';
import { H2_CONTINUATION, H2_FLAG_END_HEADERS, H2_HEADERS, H2_MAX_FRAME, H2_SETTINGS, readH2Frame } from '../rdp/http2.js';
import type { GatewayHttpExchange } from './types.js';

/** SETTINGS_HEADER_TABLE_SIZE (RFC 7540 6.5.2). */
const SETTINGS_HEADER_TABLE_SIZE = 0x1;
/** Exchanges kept per connection (streams past it are not recorded). */
const MAX_EXCHANGES = 32;
/** A header block larger than this is refused (hostile input; real ones are a few hundred bytes). */
const MAX_BLOCK = 64 * 1024;

const SIDE = ['client', 'server'] as const;

export class GatewayH2Reader {
  /** Per direction: the HPACK context of the headers that side sends. */
  private readonly hpack: [HpackDecoder, HpackDecoder] = [new HpackDecoder(), new HpackDecoder()];
  /** A header block split over HEADERS and CONTINUATION frames, per direction. */
  private readonly pending: [{ stream: number; parts: Buffer[]; bytes: number } | null, { stream: number; parts: Buffer[]; bytes: number } | null] = [null, null];
  private readonly streams = new Map<number, GatewayHttpExchange>();

  /** `http`: the connection's exchange list, appended to in stream order of the requests. */
  constructor(private readonly out: { http: GatewayHttpExchange[] }) {}

  /**
   * Whole frames of one direction at buf[off, end); returns the bytes used, or a problem that stops
   * the reading (a frame that does not parse, a header block that does not decode: the HPACK
   * context is then lost, RFC 7540 4.3).
   */
  frames(dir: Dir, buf: Buffer, off: number, end: number, frame: number): { used: number; problem: string | null } {
    let p = off;
    while (p < end) {
      const r = readH2Frame(buf, p, end, H2_MAX_FRAME);
      if (!r.ok) {
        if (r.kind === 'incomplete') break;
        return { used: p - off, problem: `the ${SIDE[dir]}'s HTTP/2 frame at frame ${frame}: ${r.reason}` };
      }
      const f = r.value;
      p += r.consumed;
      if (f.type === H2_SETTINGS && (f.flags & 0x1) === 0) {
        // RFC 7540 6.5.1: 6-byte identifier / value pairs; the sender's table size bounds what the other side's encoder may use.
        for (let q = f.payloadOff; q + 6 <= f.payloadOff + f.length; q += 6) {
          if (((buf[q]! << 8) | buf[q + 1]!) === SETTINGS_HEADER_TABLE_SIZE) this.hpack[dir ^ 1]!.setLimit(buf.readUInt32BE(q + 2));
        }
        continue;
      }
      const pend = this.pending[dir];
      if (pend !== null && (f.type !== H2_CONTINUATION || f.streamId !== pend.stream)) {
        return { used: p - off, problem: `the ${SIDE[dir]}'s header block on stream ${pend.stream} was interrupted by another frame at frame ${frame} (RFC 7540 6.10)` };
      }
      if (f.type !== H2_HEADERS && f.type !== H2_CONTINUATION) continue;
      if (f.type === H2_CONTINUATION && pend === null) return { used: p - off, problem: `the ${SIDE[dir]}'s CONTINUATION frame without a HEADERS frame at frame ${frame}` };
      const piece = buf.subarray(f.fragmentOff, f.fragmentEnd);
      const cur = pend ?? { stream: f.streamId, parts: [], bytes: 0 };
      cur.parts.push(Buffer.from(piece));
      cur.bytes += piece.length;
      if (cur.bytes > MAX_BLOCK) return { used: p - off, problem: `the ${SIDE[dir]}'s header block on stream ${cur.stream} is larger than ${MAX_BLOCK} bytes` };
      if ((f.flags & H2_FLAG_END_HEADERS) === 0) {
        this.pending[dir] = cur;
        continue;
      }
      this.pending[dir] = null;
      const blockBuf = cur.parts.length === 1 ? cur.parts[0]! : Buffer.concat(cur.parts);
      const d = this.hpack[dir]!.decodeBlock(blockBuf, 0, blockBuf.length);
      if (!d.ok) return { used: p - off, problem: `the ${SIDE[dir]}'s header block on stream ${cur.stream} at frame ${frame}: ${d.kind === 'malformed' ? d.reason : 'truncated'}` };
      this.fields(dir, cur.stream, d.value, frame);
    }
    return { used: p - off, problem: null };
  }

  /** A decoded header list: a request (":method") or a response (":status", 1xx informational ones skipped, RFC 7540 8.1). */
  private fields(dir: Dir, stream: number, list: [string, string][], frame: number): void {
    const get = (n: string): string | null => list.find(([k]) => k === n)?.[1] ?? null;
    if (dir === 0) {
      const method = get(':method');
      if (method === null || this.streams.has(stream) || this.out.http.length >= MAX_EXCHANGES) return;
      const auth = get('authorization');
      const x: GatewayHttpExchange = {
        method,
        target: get(':path'),
        requestFrame: frame,
        status: null,
        reason: null,
        responseFrame: null,
        challenges: [],
        authorization: auth === null ? null : (auth.split(/\s+/)[0] ?? ''),
        webSocket: false,
        version: 'HTTP/2',
      };
      this.streams.set(stream, x);
      this.out.http.push(x);
      return;
    }
    const status = get(':status');
    if (status === null || !/^\d{3}$/.test(status) || status.startsWith('1')) return;
    let x = this.streams.get(stream);
    if (x === undefined) {
      if (this.out.http.length >= MAX_EXCHANGES) return;
      x = { method: null, target: null, requestFrame: null, status: null, reason: null, responseFrame: null, challenges: [], authorization: null, webSocket: false, version: 'HTTP/2' };
      this.streams.set(stream, x);
      this.out.http.push(x);
    }
    if (x.status !== null) return;
    x.status = Number(status);
    x.responseFrame = frame;
    // HTTP/2 has no reason phrase (RFC 7540 8.1.2.4); the challenges as HTTP/1.1 gives them.
    const head: HttpHead = { kind: 'response', method: null, target: null, version: 'HTTP/2', status: x.status, reason: null, headers: list.filter(([k]) => !k.startsWith(':')) };
    x.challenges = authChallenges(head).map((c) => c.scheme);
  }
}
