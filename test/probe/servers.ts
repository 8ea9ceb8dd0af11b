// Loopback servers that answer a probe as real RDP stacks do (MS-RDPBCGR 3.3.5.3.1 server-side
// negotiation; MS-CSSP 3.1.5 for the first CredSSP round trip). Listening on 127.0.0.1 / ::1 only.
import net from 'node:net';
import tls from 'node:tls';
import { generateKeyPairSync } from 'node:crypto';
import { createHmac } from 'node:crypto';
import forge from 'node-forge';
import { readTsRequest } from '../../src/rdp/credssp.js';
import { ntowfv2 } from '../../src/probe/nla.js';
import { derComplete } from '../../src/probe/messages.js';

export type Mode = 'negotiate' | 'tls_only' | 'nla_required' | 'rdp_only';

export interface FakeServerOpts {
  mode?: Mode;
  cert?: { key: string; cert: string };
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  /** 'silent': accepts TCP, never answers; 'reset_after_confirm': RST right after the Confirm. */
  behaviour?: 'normal' | 'silent' | 'reset_after_confirm';
  host?: '127.0.0.1' | '::1';
  /** Names the NTLM CHALLENGE gives (defaults: CORP, RDP-SRV01, corp.example, rdp-srv01.corp.example). */
  names?: { nbDomain: string; nbComputer: string; dnsDomain: string; dnsComputer: string };
  /** 'garbage': answers the X.224 request with bytes that are not a Confirm; 'flood': with an endless stream. */
  hostile?: 'garbage' | 'flood';
  /** The account an NLA logon is checked against (NTLMv2, MS-NLMP 3.3.2). */
  account?: { user: string; domain: string; password: string };
}

const PROTOCOL_SSL = 1;
const PROTOCOL_HYBRID = 2;
const PROTOCOL_HYBRID_EX = 8;

function confirm(neg: Buffer | null): Buffer {
  const li = 6 + (neg ? neg.length : 0);
  const b = Buffer.alloc(5 + li);
  b[0] = 3;
  b.writeUInt16BE(b.length, 2);
  b[4] = li;
  b[5] = 0xd0;
  b.writeUInt16BE(0x1234, 8); // SRC-REF
  if (neg) neg.copy(b, 11);
  return b;
}

function negRsp(type: 2 | 3, value: number): Buffer {
  const n = Buffer.alloc(8);
  n[0] = type;
  n[1] = type === 2 ? 0x1f : 0; // EXTENDED_CLIENT_DATA_SUPPORTED | DYNVC_GFX | ... as Windows sends
  n.writeUInt16LE(8, 2);
  n.writeUInt32LE(value, 4);
  return n;
}

/** The server's answer to requestedProtocols (null: no RDP_NEG_REQ), as Windows decides it. */
export function answerFor(mode: Mode, requested: number | null): { neg: Buffer | null; selected: number | null } {
  const r = requested ?? 0;
  if (mode === 'rdp_only') {
    if (requested === null) return { neg: null, selected: 0 };
    return { neg: negRsp(2, 0), selected: 0 };
  }
  if (mode === 'nla_required' && (r & PROTOCOL_HYBRID) === 0) return { neg: negRsp(3, 5), selected: null }; // HYBRID_REQUIRED_BY_SERVER
  if (mode === 'tls_only' && (r & (PROTOCOL_SSL | PROTOCOL_HYBRID)) === 0) return { neg: negRsp(3, 1), selected: null }; // SSL_REQUIRED_BY_SERVER
  if (requested === null) return { neg: null, selected: 0 };
  const sel = r & PROTOCOL_HYBRID_EX ? PROTOCOL_HYBRID_EX : r & PROTOCOL_HYBRID ? PROTOCOL_HYBRID : r & PROTOCOL_SSL ? PROTOCOL_SSL : 0;
  return { neg: negRsp(2, sel), selected: sel };
}

/** An NTLM CHALLENGE (MS-NLMP 2.2.1.2) naming CORP\RDP-SRV01, Windows 10.0.20348, in a TSRequest version 6. */
export function challengeTsRequest(names: FakeServerOpts['names'] = { nbDomain: 'CORP', nbComputer: 'RDP-SRV01', dnsDomain: 'corp.example', dnsComputer: 'rdp-srv01.corp.example' }): Buffer {
  const u = (s: string): Buffer => Buffer.from(s, 'utf16le');
  const av = (id: number, v: Buffer): Buffer => {
    const h = Buffer.alloc(4);
    h.writeUInt16LE(id, 0);
    h.writeUInt16LE(v.length, 2);
    return Buffer.concat([h, v]);
  };
  const target = u(names.nbDomain);
  const info = Buffer.concat([av(2, u(names.nbDomain)), av(1, u(names.nbComputer)), av(4, u(names.dnsDomain)), av(3, u(names.dnsComputer)), av(0, Buffer.alloc(0))]);
  const h = Buffer.alloc(56);
  h.write('NTLMSSP\0', 0, 'latin1');
  h.writeUInt32LE(2, 8);
  h.writeUInt16LE(target.length, 12);
  h.writeUInt16LE(target.length, 14);
  h.writeUInt32LE(56, 16);
  h.writeUInt32LE(0xe28a8235, 20);
  Buffer.from('0123456789abcdef', 'hex').copy(h, 24);
  h.writeUInt16LE(info.length, 40);
  h.writeUInt16LE(info.length, 42);
  h.writeUInt32LE(56 + target.length, 44);
  h[48] = 10;
  h[49] = 0;
  h.writeUInt16LE(20348, 50);
  h[55] = 15;
  const msg = Buffer.concat([h, target, info]);
  const tlv = (tag: number, c: Buffer): Buffer => {
    const l = c.length < 0x80 ? Buffer.of(c.length) : c.length < 0x100 ? Buffer.of(0x81, c.length) : Buffer.of(0x82, c.length >> 8, c.length & 0xff);
    return Buffer.concat([Buffer.of(tag), l, c]);
  };
  return tlv(0x30, Buffer.concat([tlv(0xa0, tlv(0x02, Buffer.of(6))), tlv(0xa1, tlv(0x30, tlv(0x30, tlv(0xa0, tlv(0x04, msg)))))]));
}

/** The server's answer to AUTHENTICATE + pubKeyAuth: a pubKeyAuth when the NTLMv2 proof is right, else STATUS_LOGON_FAILURE. */
function logonAnswer(req: Buffer, account: FakeServerOpts['account']): Buffer {
  const ts = readTsRequest(req, 0, req.length);
  const tok = ts.ok ? ts.value.negoTokens[0] : undefined;
  let ok = false;
  if (tok && account) {
    const m = req.subarray(tok.off, tok.off + tok.length);
    const field = (i: number): Buffer => {
      const at = 12 + i * 8;
      return m.subarray(m.readUInt32LE(at + 4), m.readUInt32LE(at + 4) + m.readUInt16LE(at));
    };
    const nt = field(1);
    const user = field(3).toString('utf16le');
    const domain = field(2).toString('utf16le');
    const key = ntowfv2(account.password, user, domain);
    const proof = createHmac('md5', key).update(Buffer.from('0123456789abcdef', 'hex')).update(nt.subarray(16)).digest();
    ok = user.toUpperCase() === account.user.toUpperCase() && proof.equals(nt.subarray(0, 16));
  }
  const tlv = (tag: number, c: Buffer): Buffer => {
    const l = c.length < 0x80 ? Buffer.of(c.length) : Buffer.of(0x81, c.length);
    return Buffer.concat([Buffer.of(tag), l, c]);
  };
  const version = tlv(0xa0, tlv(0x02, Buffer.of(6)));
  // MS-CSSP 2.2.1: errorCode [4] INTEGER, the NTSTATUS as a signed 32-bit value (c000006d is negative).
  if (!ok) return tlv(0x30, Buffer.concat([version, tlv(0xa4, tlv(0x02, Buffer.from('c000006d', 'hex')))]));
  return tlv(0x30, Buffer.concat([version, tlv(0xa3, tlv(0x04, Buffer.alloc(48, 0x5a)))]));
}

export interface FakeServer {
  port: number;
  host: string;
  connections: number;
  close(): Promise<void>;
}

export async function startServer(o: FakeServerOpts = {}): Promise<FakeServer> {
  const mode = o.mode ?? 'negotiate';
  const host = o.host ?? '127.0.0.1';
  const sockets = new Set<net.Socket>();
  const state = { connections: 0 };
  const server = net.createServer((sock) => {
    state.connections++;
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    if (o.behaviour === 'silent') return;
    let buf = Buffer.alloc(0);
    const onData = (d: Buffer): void => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 4 || buf.length < buf.readUInt16BE(2)) return;
      sock.off('data', onData);
      const pdu = buf.subarray(0, buf.readUInt16BE(2));
      // RDP_NEG_REQ: the last 8 bytes of the CR when its type byte is 1.
      const hasNeg = pdu.length >= 19 && pdu[pdu.length - 8] === 1 && pdu.readUInt16LE(pdu.length - 6) === 8;
      const requested = hasNeg ? pdu.readUInt32LE(pdu.length - 4) : null;
      if (o.hostile === 'garbage') {
        sock.end(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
        return;
      }
      if (o.hostile === 'flood') {
        const chunk = Buffer.alloc(64 * 1024, 0x41);
        const pump = (): void => {
          while (!sock.destroyed && sock.write(chunk));
          if (!sock.destroyed) sock.once('drain', pump);
        };
        sock.write(Buffer.from([3, 0, 0xff, 0xff])); // a TPKT header announcing 65535 bytes
        pump();
        return;
      }
      const a = answerFor(mode, requested);
      sock.write(confirm(a.neg));
      if (o.behaviour === 'reset_after_confirm') {
        setTimeout(() => sock.resetAndDestroy(), 5);
        return;
      }
      if (a.selected === null) {
        // Windows closes right after an RDP_NEG_FAILURE.
        sock.end();
        return;
      }
      if (a.selected === 0) return; // Standard RDP Security: waits for MCS Connect Initial
      if (!o.cert) {
        sock.destroy();
        return;
      }
      const ts = new tls.TLSSocket(sock, {
        isServer: true,
        key: o.cert.key,
        cert: o.cert.cert,
        minVersion: o.minVersion ?? 'TLSv1',
        maxVersion: o.maxVersion ?? 'TLSv1.3',
        ciphers: 'DEFAULT:@SECLEVEL=0',
      });
      ts.on('error', () => sock.destroy());
      if (a.selected & (PROTOCOL_HYBRID | PROTOCOL_HYBRID_EX)) {
        let cs = Buffer.alloc(0);
        let round = 0;
        ts.on('data', (d: Buffer) => {
          cs = Buffer.concat([cs, d]);
          const n = derComplete(cs);
          if (n === null || n > cs.length) return;
          const msg = cs.subarray(0, n);
          cs = cs.subarray(n);
          round++;
          if (round === 1) ts.write(challengeTsRequest(o.names));
          else ts.write(logonAnswer(msg, o.account));
        });
      } else {
        ts.on('data', () => undefined);
      }
      ts.on('end', () => ts.end());
    };
    sock.on('data', onData);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    host,
    get connections() {
      return state.connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port on loopback that nothing listens on (bound, then closed). */
export async function closedPort(host = '127.0.0.1'): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, host, () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const keys = new Map<number, string>();
function keyPem(bits: number): string {
  let k = keys.get(bits);
  if (!k) {
    k = generateKeyPairSync('rsa', { modulusLength: bits, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs1', format: 'pem' } }).privateKey;
    keys.set(bits, k);
  }
  return k;
}

/** A self-signed certificate minted with node-forge (RFC 5280), dates relative to now. */
export function mintCert(o: { cn: string; san?: string[]; notBeforeDays: number; notAfterDays: number; bits?: number; sha1?: boolean }): { key: string; cert: string } {
  const key = keyPem(o.bits ?? 2048);
  const priv = forge.pki.privateKeyFromPem(key) as forge.pki.rsa.PrivateKey;
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(priv.n, priv.e);
  cert.serialNumber = '01' + Math.floor(Math.random() * 1e8).toString(16);
  const day = 86400_000;
  cert.validity.notBefore = new Date(Date.now() + o.notBeforeDays * day);
  cert.validity.notAfter = new Date(Date.now() + o.notAfterDays * day);
  const subject = [{ name: 'commonName', value: o.cn }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  const ext: object[] = [{ name: 'keyUsage', keyEncipherment: true, digitalSignature: true }, { name: 'extKeyUsage', serverAuth: true }];
  if (o.san && o.san.length > 0) ext.push({ name: 'subjectAltName', altNames: o.san.map((v) => (net.isIP(v) ? { type: 7, ip: v } : { type: 2, value: v })) });
  cert.setExtensions(ext);
  cert.sign(priv, o.sha1 ? forge.md.sha1.create() : forge.md.sha256.create());
  return { key, cert: forge.pki.certificateToPem(cert) };
}
