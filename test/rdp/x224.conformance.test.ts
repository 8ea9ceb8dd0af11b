// Conformance against the real captures of ../shared/captures (read in place, never copied):
// a tiny capture walker written here (classic pcap + a minimal pcapng, Ethernet / VLAN / NULL,
// IPv4 / IPv6, TCP / UDP) feeds our X.224, MCS / GCC and RDPEUDP decoders, and their answers are
// compared with expected.json (tshark 4.0 and the source projects' view of each connection).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readTpkt } from '../../src/rdp/tpkt.js';
import { decodeConnectionConfirm, decodeConnectionRequest, decodeDataHeader, type X224ConnectionConfirm, type X224ConnectionRequest } from '../../src/rdp/x224.js';
import { decodeConnectInitial, decodeConnectResponse } from '../../src/rdp/mcs.js';
import { type ClientData, type ServerData, decodeConferenceCreateRequest, decodeConferenceCreateResponse } from '../../src/rdp/gcc.js';
import { decodeRdpudpSyn, looksLikeRdpudpSyn } from '../../src/rdp/rdpeudp.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CAPTURES = path.resolve(repoRoot, '../shared/captures');
const present = existsSync(path.join(CAPTURES, 'expected.json'));

interface Packet {
  frame: number;
  src: string;
  dst: string;
  proto: 'tcp' | 'udp';
  seq: number;
  payload: Uint8Array;
}

/** Frames of a classic pcap (either byte order) or a little-endian pcapng (SHB / IDB / EPB). */
function* frames(file: Buffer): Generator<{ frame: number; link: number; data: Uint8Array }> {
  const magic = file.readUInt32LE(0);
  let n = 0;
  if (magic === 0x0a0d0d0a) {
    const links: number[] = [];
    let p = 0;
    while (p + 12 <= file.length) {
      const type = file.readUInt32LE(p);
      const len = file.readUInt32LE(p + 4);
      if (len < 12 || p + len > file.length) break;
      if (type === 1) links.push(file.readUInt16LE(p + 8));
      else if (type === 6) {
        const cap = file.readUInt32LE(p + 20);
        yield { frame: ++n, link: links[file.readUInt32LE(p + 8)] ?? 1, data: file.subarray(p + 28, p + 28 + cap) };
      } else if (type === 3) {
        n++;
      }
      p += len;
    }
    return;
  }
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const u32 = (o: number): number => (le ? file.readUInt32LE(o) : file.readUInt32BE(o));
  const link = u32(20) & 0x0fffffff;
  let p = 24;
  while (p + 16 <= file.length) {
    const cap = u32(p + 8);
    if (p + 16 + cap > file.length) break;
    yield { frame: ++n, link, data: file.subarray(p + 16, p + 16 + cap) };
    p += 16 + cap;
  }
}

function ip6(b: Uint8Array, o: number): string {
  const g: string[] = [];
  for (let i = 0; i < 16; i += 2) g.push(((b[o + i] << 8) | b[o + i + 1]).toString(16));
  const s = g.join(':');
  return s === '0:0:0:0:0:0:0:1' ? '::1' : s;
}

function decodePacket(frame: number, link: number, d: Uint8Array): Packet | null {
  let p = 0;
  let et = 0;
  if (link === 1) {
    et = (d[12] << 8) | d[13];
    p = 14;
    while ((et === 0x8100 || et === 0x88a8) && p + 4 <= d.length) {
      et = (d[p + 2] << 8) | d[p + 3];
      p += 4;
    }
  } else if (link === 0) {
    const fam = d[0] | (d[1] << 8) | (d[2] << 16) | (d[3] << 24);
    et = fam === 2 ? 0x0800 : 0x86dd;
    p = 4;
  } else return null;
  let proto: number;
  let src: string;
  let dst: string;
  let l4: number;
  let ipEnd: number;
  if (et === 0x0800) {
    const ihl = (d[p] & 0x0f) * 4;
    proto = d[p + 9];
    src = `${d[p + 12]}.${d[p + 13]}.${d[p + 14]}.${d[p + 15]}`;
    dst = `${d[p + 16]}.${d[p + 17]}.${d[p + 18]}.${d[p + 19]}`;
    l4 = p + ihl;
    ipEnd = Math.min(d.length, p + ((d[p + 2] << 8) | d[p + 3]));
  } else if (et === 0x86dd) {
    proto = d[p + 6];
    src = ip6(d, p + 8);
    dst = ip6(d, p + 24);
    l4 = p + 40;
    ipEnd = Math.min(d.length, l4 + ((d[p + 4] << 8) | d[p + 5]));
  } else return null;
  const sp = (d[l4] << 8) | d[l4 + 1];
  const dp = (d[l4 + 2] << 8) | d[l4 + 3];
  if (proto === 6) {
    const seq = ((d[l4 + 4] << 24) | (d[l4 + 5] << 16) | (d[l4 + 6] << 8) | d[l4 + 7]) >>> 0;
    const hl = (d[l4 + 12] >> 4) * 4;
    return { frame, src: `${src}:${sp}`, dst: `${dst}:${dp}`, proto: 'tcp', seq, payload: d.subarray(l4 + hl, ipEnd) };
  }
  if (proto === 17) return { frame, src: `${src}:${sp}`, dst: `${dst}:${dp}`, proto: 'udp', seq: 0, payload: d.subarray(l4 + 8, ipEnd) };
  return null;
}

/** Runs of consecutive same-direction TCP payload (duplicates dropped by sequence number), each with its first frame. */
function tcpRuns(pkts: Packet[], client: string, server: string): { c2s: boolean; frame: number; bytes: Uint8Array }[] {
  const runs: { c2s: boolean; frame: number; parts: Uint8Array[] }[] = [];
  const next = new Map<boolean, number>();
  for (const k of pkts) {
    if (k.proto !== 'tcp' || k.payload.length === 0) continue;
    const c2s = k.src === client && k.dst === server;
    if (!c2s && !(k.src === server && k.dst === client)) continue;
    const exp = next.get(c2s);
    if (exp !== undefined && ((k.seq - exp) | 0) < 0) continue; // retransmission / duplicate
    next.set(c2s, (k.seq + k.payload.length) >>> 0);
    const last = runs[runs.length - 1];
    if (last && last.c2s === c2s) last.parts.push(k.payload);
    else runs.push({ c2s, frame: k.frame, parts: [k.payload] });
  }
  return runs.map((r) => ({ c2s: r.c2s, frame: r.frame, bytes: Buffer.concat(r.parts) }));
}

interface Seen {
  cr: X224ConnectionRequest | null;
  cc: X224ConnectionConfirm | null;
  client: ClientData | null;
  server: ServerData | null;
}

/** Walks the TPKT PDUs at the start of each run (stopping at the first non-TPKT byte, e.g. TLS). */
function walk(runs: { c2s: boolean; bytes: Uint8Array }[]): Seen {
  const s: Seen = { cr: null, cc: null, client: null, server: null };
  for (const r of runs) {
    const b = r.bytes;
    let p = 0;
    while (p < b.length) {
      const t = readTpkt(b, p, b.length);
      if (!t.ok) break;
      const code = b[p + 5] & 0xf0;
      if (code === 0xe0 && r.c2s && !s.cr) {
        const v = decodeConnectionRequest(b, p, b.length);
        expect(v.ok).toBe(true);
        if (v.ok) s.cr = v.value;
      } else if (code === 0xd0 && !r.c2s && !s.cc) {
        const v = decodeConnectionConfirm(b, p, b.length);
        expect(v.ok).toBe(true);
        if (v.ok) s.cc = v.value;
      } else if (code === 0xf0) {
        const h = decodeDataHeader(b, p, b.length);
        if (h.ok && b[h.value.payloadOff] === 0x7f && b[h.value.payloadOff + 1] === 0x65 && !s.client) {
          const ci = decodeConnectInitial(b, h.value.payloadOff, h.value.end);
          expect(ci.ok).toBe(true);
          if (ci.ok) {
            const g = decodeConferenceCreateRequest(b, ci.value.userDataOff, ci.value.userDataOff + ci.value.userDataLength);
            expect(g.ok).toBe(true);
            if (g.ok) s.client = g.value.clientData;
          }
        } else if (h.ok && b[h.value.payloadOff] === 0x7f && b[h.value.payloadOff + 1] === 0x66 && !s.server) {
          const cr = decodeConnectResponse(b, h.value.payloadOff, h.value.end);
          expect(cr.ok).toBe(true);
          if (cr.ok && cr.value.userDataOff !== null) {
            const g = decodeConferenceCreateResponse(b, cr.value.userDataOff, cr.value.userDataOff + cr.value.userDataLength!);
            expect(g.ok).toBe(true);
            if (g.ok) s.server = g.value.serverData;
          }
        }
      }
      p = t.value.end;
    }
  }
  return s;
}

const hexOrNull = (s: string | null | undefined): number | null | 'absent' =>
  s == null ? null : s.startsWith('absent') ? 'absent' : parseInt(s.slice(2, 10), 16);

interface ExpectedConn {
  transport: string;
  client: string;
  server: string;
  cookie: string | null;
  requested_protocols: string | null;
  selected_protocol: string | null;
  failure_code: string | null;
  client_core: Record<string, string> | null;
  rdpudp_synex_version?: string;
  frames: Record<string, number>;
}
interface ExpectedFile {
  file: string;
  connections: ExpectedConn[];
}

describe.skipIf(!present)('conformance with ../shared/captures (expected.json)', () => {
  const expected: ExpectedFile[] = present ? JSON.parse(readFileSync(path.join(CAPTURES, 'expected.json'), 'utf8')) : [];
  const cache = new Map<string, Packet[]>();
  const packets = (file: string): Packet[] => {
    let v = cache.get(file);
    if (!v) {
      v = [];
      for (const f of frames(readFileSync(path.join(CAPTURES, file)))) {
        const k = decodePacket(f.frame, f.link, f.data);
        if (k) v.push(k);
      }
      cache.set(file, v);
    }
    return v;
  };

  for (const ef of expected) {
    for (const c of ef.connections) {
      if (c.transport === 'tcp' && c.frames.x224_request === undefined && c.frames.x224_confirm === undefined) continue;
      if (c.transport === 'udp' && !c.rdpudp_synex_version) continue;
      it(`${ef.file} ${c.client} -> ${c.server}`, () => {
        const pk = packets(ef.file);
        if (c.transport === 'udp') {
          const syn = pk.find((k) => k.proto === 'udp' && k.src === c.client && k.dst === c.server && looksLikeRdpudpSyn(k.payload, 0, k.payload.length));
          expect(syn, 'client SYN datagram').toBeDefined();
          const v = decodeRdpudpSyn(syn!.payload, 0, syn!.payload.length);
          if (!v.ok) throw new Error(JSON.stringify(v));
          expect(v.value.udpVersion).toBe(parseInt(c.rdpudp_synex_version!, 16));
          return;
        }
        const s = walk(tcpRuns(pk, c.client, c.server));
        if (ef.file.endsWith('rdp-invalid-length.pcap')) {
          // The client's first segment is not TPKT; the server's confirm has a negotiation length of 0.
          expect(s.cr).toBeNull();
          expect(s.cc?.negRsp).toBeNull();
          expect(s.cc?.negotiationError?.reason).toMatch(/^RDP_Negotiation_Response:length/);
          return;
        }
        expect(s.cr, 'X.224 Connection Request').not.toBeNull();
        expect(s.cr!.cookieLine).toBe(c.cookie);
        const rq = hexOrNull(c.requested_protocols);
        if (rq === 'absent') expect(s.cr!.negReq).toBeNull();
        else if (rq !== null) expect(s.cr!.negReq?.requestedProtocols).toBe(rq);
        if (c.frames.x224_confirm !== undefined) {
          expect(s.cc, 'X.224 Connection Confirm').not.toBeNull();
          const sel = hexOrNull(c.selected_protocol);
          if (sel === 'absent') expect(s.cc!.negRsp).toBeNull();
          else if (sel !== null) expect(s.cc!.negRsp?.selectedProtocol).toBe(sel);
          const fc = hexOrNull(c.failure_code);
          if (fc !== null && fc !== 'absent') expect(s.cc!.negFailure?.failureCode).toBe(fc);
          else expect(s.cc!.negFailure).toBeNull();
        }
        const cc = c.client_core;
        if (cc) {
          const core = s.client?.core;
          expect(core, 'client core data').toBeTruthy();
          expect(String(core!.clientBuild)).toBe(cc['client.build']);
          expect(core!.clientName).toBe(cc['client.name']);
          expect(String(core!.desktopWidth)).toBe(cc['desktop.width']);
          expect(String(core!.desktopHeight)).toBe(cc['desktop.height']);
          expect(String(core!.keyboardLayout)).toBe(cc['keyboardLayout']);
          // tshark names the low half of `version` "major" (4) and the high half "minor" (8); MS-RDPBCGR 2.2.1.3.2 the reverse.
          expect(String(core!.versionMinor)).toBe(cc['version.major']);
          expect(String(core!.versionMajor)).toBe(cc['version.minor']);
          if (cc['client.digProductId']) expect(core!.clientDigProductId!.startsWith(cc['client.digProductId'])).toBe(true);
          if (cc['highColorDepth']) expect(core!.highColorDepth).toBe(parseInt(cc['highColorDepth'], 16));
          if (cc['name']) expect(s.client!.channels!.map((x) => x.name).join('|')).toBe(cc['name']);
          if (cc['encryptionMethods']) expect(s.client!.security!.encryptionMethods).toBe(Buffer.from(cc['encryptionMethods'], 'hex').readUInt32LE(0));
          if (cc['encryptionMethod']) {
            const sec = s.server?.security;
            expect(sec, 'server security data').toBeTruthy();
            expect(sec!.encryptionMethod).toBe(parseInt(cc['encryptionMethod'], 16));
            expect(sec!.encryptionLevel).toBe(parseInt(cc['encryptionLevel'], 16));
            expect(String(sec!.serverCertLen)).toBe(cc['serverCertLen']);
            expect(sec!.certificateError).toBeNull();
            expect(sec!.serverCertificate?.type).toMatch(/proprietary|x509/);
          }
          if (cc['client.requestedProtocols'] && s.server?.core?.clientRequestedProtocols != null) {
            expect(s.server.core.clientRequestedProtocols).toBe(parseInt(cc['client.requestedProtocols'], 16));
          }
        }
      });
    }
  }
});
