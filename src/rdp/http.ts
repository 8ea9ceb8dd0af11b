// HTTP/1.1 message heads (RFC 9112 2-5) of an RD Gateway's HTTP transport (MS-TSGU 2.2.3): the
// client's RDG_OUT_DATA / RDG_IN_DATA requests (with the WebSocket upgrade current clients ask for,
// RFC 6455 4.1), the gateway's answers (101, 200, 401 with WWW-Authenticate NTLM / Negotiate,
// 403, 500, 503 and their reasons), and the KDC proxy's POST /KdcProxy (MS-KKDCP 2.2). A pure
// decoder of the head only: the body is the caller's (Content-Length, chunked, or the raw
// MS-TSGU packets that follow an upgrade). Header values are untrusted text.
import { done, incomplete, malformed, type Decoded } from './result.js';

/** A head larger than this is refused (IIS / HTTP.sys accept 16 KiB of request headers by default). */
export const HTTP_MAX_HEAD = 16 * 1024;

export interface HttpHead {
  kind: 'request' | 'response';
  /** Requests: "RDG_OUT_DATA", "RDG_IN_DATA", "POST", "GET" ...; responses: null. */
  method: string | null;
  /** Requests: the request-target ("/remoteDesktopGateway/", "/KdcProxy"); responses: null. */
  target: string | null;
  /** "HTTP/1.1" */
  version: string;
  /** Responses: the status code and reason phrase; requests: null. */
  status: number | null;
  reason: string | null;
  /** Header fields in order, names as sent (compare them case-insensitively). */
  headers: [string, string][];
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The head at buf[off, end), up to and including its empty line (CRLF CRLF; a bare LF is accepted
 * as RFC 9112 2.2 allows). Incomplete until the empty line is there; malformed past HTTP_MAX_HEAD
 * or when the start line or a field line does not parse (`at`: offset of that line).
 */
export function readHttpHead(buf: Uint8Array, off: number, end: number): Decoded<HttpHead> {
  const limit = Math.min(end, off + HTTP_MAX_HEAD);
  // Find the empty line.
  let stop = -1;
  for (let i = off; i < limit; i++) {
    if (buf[i] !== 0x0a) continue;
    if (i + 1 < end && buf[i + 1] === 0x0a) {
      stop = i + 2;
      break;
    }
    if (i + 2 < end && buf[i + 1] === 0x0d && buf[i + 2] === 0x0a) {
      stop = i + 3;
      break;
    }
  }
  if (stop < 0) {
    if (end - off >= HTTP_MAX_HEAD) return malformed(0, `no end of the HTTP head within ${HTTP_MAX_HEAD} bytes`);
    // The first bytes must look like HTTP already: a method token or "HTTP/".
    const first = latin1(buf, off, Math.min(end, off + 16));
    if (first.length > 0 && !/^(?:HTTP\/[\d.]*|[!#$%&'*+.^_`|~0-9A-Za-z-]*)(?: |$)/.test(first)) return malformed(0, 'not an HTTP start line');
    return incomplete(1);
  }
  const lines: { text: string; at: number }[] = [];
  let s = off;
  for (let i = off; i < stop; i++) {
    if (buf[i] !== 0x0a) continue;
    const e = i > s && buf[i - 1] === 0x0d ? i - 1 : i;
    lines.push({ text: latin1(buf, s, e), at: s - off });
    s = i + 1;
  }
  // The last line is the empty one.
  lines.pop();
  const start = lines.shift();
  if (start === undefined) return malformed(0, 'empty HTTP start line');
  let head: HttpHead;
  const resp = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(start.text);
  if (resp !== null) {
    head = { kind: 'response', method: null, target: null, version: resp[1]!, status: Number(resp[2]), reason: resp[3] ?? '', headers: [] };
  } else {
    const req = /^(\S+) (\S+) (HTTP\/\d\.\d)$/.exec(start.text);
    if (req === null || !TOKEN.test(req[1]!)) return malformed(start.at, `not an HTTP start line: ${JSON.stringify(start.text.slice(0, 80))}`);
    head = { kind: 'request', method: req[1]!, target: req[2]!, version: req[3]!, status: null, reason: null, headers: [] };
  }
  for (const l of lines) {
    const colon = l.text.indexOf(':');
    // RFC 9112 5.2: obsolete line folding is refused (a proxy would replace it by a space).
    if (colon <= 0 || !TOKEN.test(l.text.slice(0, colon))) return malformed(l.at, `not an HTTP field line: ${JSON.stringify(l.text.slice(0, 80))}`);
    head.headers.push([l.text.slice(0, colon), l.text.slice(colon + 1).trim()]);
  }
  return done(head, stop - off);
}

function latin1(buf: Uint8Array, s: number, e: number): string {
  let out = '';
  for (let i = s; i < e; i++) out += String.fromCharCode(buf[i]!);
  return out;
}

/** The values of one header field (case-insensitive name), in order. */
export function headerValues(h: HttpHead, name: string): string[] {
  const n = name.toLowerCase();
  return h.headers.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
}

/** The authentication schemes a 401 offers (RFC 9110 11.6.1 WWW-Authenticate): "Negotiate", "NTLM", "Basic" ... and a token if one came with it. */
export function authChallenges(h: HttpHead): { scheme: string; token: string | null }[] {
  const out: { scheme: string; token: string | null }[] = [];
  for (const v of headerValues(h, 'WWW-Authenticate')) {
    // Several challenges may share one field, comma-separated; NTLM / Negotiate carry a base64 token.
    for (const part of v.split(/,\s*(?=[A-Za-z][\w-]*(?:\s|$))/)) {
      const m = /^([A-Za-z][\w-]*)(?:\s+(\S.*))?$/.exec(part.trim());
      if (m !== null) out.push({ scheme: m[1]!, token: m[2] ?? null });
    }
  }
  return out;
}

/** The WebSocket upgrade asked for (RFC 6455 4.1) or granted (101, RFC 6455 4.2.2). */
export function isWebSocketUpgrade(h: HttpHead): boolean {
  const upgrade = headerValues(h, 'Upgrade').some((v) => v.toLowerCase().split(/\s*,\s*/).includes('websocket'));
  return upgrade && (h.kind === 'request' || h.status === 101);
}

/** The body's framing (RFC 9112 6.3): chunked, a Content-Length, or neither (null). */
export function bodyLength(h: HttpHead): number | 'chunked' | null {
  if (headerValues(h, 'Transfer-Encoding').some((v) => v.toLowerCase().split(/\s*,\s*/).includes('chunked'))) return 'chunked';
  const cl = headerValues(h, 'Content-Length');
  if (cl.length === 0 || !/^\d{1,10}$/.test(cl[0]!)) return null;
  return Number(cl[0]);
}
