// The probe's own PDUs byte for byte, and the packets it reconstructs from socket events: decodable
// by our decoders with good checksums, in the order and with the sequence numbers TCP would use,
// and read by tshark as the same conversation (when tshark is installed).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DecodedPacket } from '../../src/net/packet.js';
import { decodePacket } from '../../src/net/decode.js';
import { checkIpChecksum, checkTransportChecksum } from '../../src/net/checksum.js';
import { decodeConnectionRequest } from '../../src/rdp/x224.js';
import { readTsRequest } from '../../src/rdp/credssp.js';
import { identifyNegoToken } from '../../src/rdp/ntlm.js';
import { connectionRequest, derComplete, ntlmNegotiate, tpktComplete, tsRequest } from '../../src/probe/messages.js';
import { connectionPackets, probeCapture, LINKTYPE_RAW, PROBE_APPLICATION, type WireConnection } from '../../src/probe/wire.js';
import { parseTarget } from '../../src/probe/run.js';
import { analyze } from '../../src/pipeline.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('X.224 Connection Request (MS-RDPBCGR 2.2.1.1)', () => {
  it('byte for byte, with the probe cookie and RDP_NEG_REQ', () => {
    const b = connectionRequest(0x0b);
    // TPKT 03 00 len; LI; CR e0; dst/src ref 0; class 0; cookie; RDP_NEG_REQ 01 00 0800 0b000000
    expect(hex(b)).toBe(
      '03000037' + '32' + 'e0' + '0000' + '0000' + '00' + Buffer.from('Cookie: mstshash=rdp-autopsy-probe\r\n', 'latin1').toString('hex') + '01000800' + '0b000000',
    );
    const d = decodeConnectionRequest(b, 0, b.length);
    expect(d.ok && d.value.cookie).toBe('rdp-autopsy-probe');
    expect(d.ok && d.value.negReq?.requestedProtocols).toBe(0x0b);
  });
  it('without RDP_NEG_REQ ("none")', () => {
    const b = connectionRequest(null);
    const d = decodeConnectionRequest(b, 0, b.length);
    expect(d.ok && d.value.negReq).toBe(null);
    expect(b.length).toBe(11 + 36);
  });
  it('tpktComplete: cut and whole', () => {
    const b = connectionRequest(1);
    expect(tpktComplete(b.subarray(0, 3))).toBe(null);
    expect(tpktComplete(b.subarray(0, 10))).toBe(b.length);
    expect(tpktComplete(Buffer.from('GET /'))).toBe(5);
  });
});

describe('CredSSP TSRequest with an NTLM NEGOTIATE (MS-CSSP 2.2.1, MS-NLMP 2.2.1.1)', () => {
  it('NEGOTIATE byte for byte', () => {
    // Signature, MessageType 1, NegotiateFlags, DomainNameFields (empty at 40), WorkstationFields (empty at 40), VERSION 10.0.0 rev 15
    expect(hex(ntlmNegotiate())).toBe('4e544c4d53535000' + '01000000' + '358288e2' + '0000' + '0000' + '28000000' + '0000' + '0000' + '28000000' + '0a00' + '0000' + '0000000f');
  });
  it('our own decoders read it back', () => {
    const t = tsRequest(6, ntlmNegotiate());
    expect(derComplete(t)).toBe(t.length);
    expect(derComplete(t.subarray(0, 1))).toBe(null);
    const r = readTsRequest(t, 0, t.length);
    expect(r.ok && r.value.version).toBe(6);
    const tok = r.ok ? r.value.negoTokens[0]! : null;
    expect(tok && identifyNegoToken(t, tok.off, tok.off + tok.length).name).toBe('NTLM NEGOTIATE');
  });
});

describe('parseTarget', () => {
  it.each([
    ['rdp.example', { host: 'rdp.example', port: 3389 }],
    ['rdp.example:3390', { host: 'rdp.example', port: 3390 }],
    ['10.0.0.5:33890', { host: '10.0.0.5', port: 33890 }],
    ['::1', { host: '::1', port: 3389 }],
    ['[2001:db8::5]:3390', { host: '2001:db8::5', port: 3390 }],
  ])('%s', (t, want) => expect(parseTarget(t)).toEqual(want));
  it.each(['', 'a:b:c:99999', 'host:0', 'host:65536', '[not-v6]:1', 'bad host', 'x;rm'])('refuses "%s" with a sentence', (t) => {
    expect(typeof parseTarget(t)).toBe('string');
  });
  it('never throws', () => {
    fc.assert(fc.property(fc.string({ maxLength: 80 }), (s) => {
      parseTarget(s);
    }));
  });
});

function conn(clientIp: string, serverIp: string): WireConnection {
  const t = 1_765_000_000_000_000;
  return {
    clientIp,
    clientPort: 50000,
    serverIp,
    serverPort: 3389,
    events: [
      { t, kind: 'syn' },
      { t: t + 100, kind: 'synack' },
      { t: t + 200, kind: 'data', from: 'client', bytes: connectionRequest(1) },
      { t: t + 300, kind: 'data', from: 'server', bytes: Buffer.alloc(3000, 0x16) },
      { t: t + 400, kind: 'fin', from: 'client' },
      { t: t + 500, kind: 'fin', from: 'server' },
    ],
  };
}

describe('reconstructed packets (RFC 9293)', () => {
  it.each([
    ['IPv4', '127.0.0.1', '127.0.0.2'],
    ['IPv6', '::1', '2001:db8::7'],
  ])('%s: checksums good, sequence numbers continuous, MSS-sized segments', (_n, c, s) => {
    const pk = connectionPackets(conn(c, s), 1);
    const p = new DecodedPacket();
    const seqs: { from: number; seq: number; len: number; flags: number; ack: number }[] = [];
    for (const x of pk) {
      decodePacket(x.data, 0, x.data.length, LINKTYPE_RAW, p);
      expect(checkTransportChecksum(p)).toBe(true);
      if (p.ipVersion === 4) expect(checkIpChecksum(p)).toBe(true);
      seqs.push({ from: p.srcPort, seq: x.data.readUInt32BE((p.ipVersion === 4 ? 20 : 40) + 4), len: p.payloadLen, flags: p.tcpFlags, ack: x.data.readUInt32BE((p.ipVersion === 4 ? 20 : 40) + 8) });
    }
    // SYN, SYN/ACK, ACK, CR, ACK, 3 server segments (1460+1460+80), ACK, FIN, ACK, FIN, ACK
    expect(seqs.map((x) => x.len)).toEqual([0, 0, 0, 47 + 8, 0, 1460, 1460, 80, 0, 0, 0, 0, 0]);
    const client = seqs.filter((x) => x.from === 50000);
    const server = seqs.filter((x) => x.from === 3389);
    // The client's data starts right after its SYN; the server's FIN follows its last byte.
    expect(client[2]!.seq).toBe((client[0]!.seq + 1) >>> 0);
    expect(server.at(-2)!.seq).toBe((server[0]!.seq + 1 + 3000) >>> 0);
  });

  it('a refused connect is SYN then RST/ACK acknowledging it', () => {
    const t = 1_765_000_000_000_000;
    const pk = connectionPackets({ clientIp: '127.0.0.1', clientPort: 49152, serverIp: '127.0.0.1', serverPort: 1, events: [{ t, kind: 'syn' }, { t: t + 50, kind: 'refused' }] }, 3);
    const p = new DecodedPacket();
    decodePacket(pk[1]!.data, 0, pk[1]!.data.length, LINKTYPE_RAW, p);
    expect(p.tcpFlags & 0x14).toBe(0x14);
    expect(pk[1]!.data.readUInt32BE(28)).toBe((pk[0]!.data.readUInt32BE(24) + 1) >>> 0);
  });

  it('the capture: SHB says the packets are reconstructed, the key log is in a DSB, analyze reads one connection', async () => {
    const cap = probeCapture([conn('127.0.0.1', '127.0.0.2')], 'CLIENT_RANDOM 00 11\n', [{ ip: '127.0.0.2', names: ['rdp.example'] }]);
    expect(cap.includes(Buffer.from(PROBE_APPLICATION, 'utf8'))).toBe(true);
    expect(cap.includes(Buffer.from('TLSK', 'latin1').reverse())).toBe(true); // 0x544c534b little-endian
    const r = await analyze([{ kind: 'buffer', name: 'p', data: cap }], { jobs: 1 });
    expect(r.connections).toHaveLength(1);
    expect(r.connections[0]!.negotiation?.cookie).toBe('rdp-autopsy-probe');
    expect(r.capture.stats.badChecksums).toBe(0);
  });

  it('tshark reads the same conversation', (ctx) => {
    try {
      execFileSync('tshark', ['-v'], { stdio: 'ignore' });
    } catch {
      ctx.skip('tshark is not installed');
      return;
    }
    const dir = mkdtempSync(path.join(tmpdir(), 'probe-wire-'));
    try {
      const f = path.join(dir, 'p.pcapng');
      writeFileSync(f, probeCapture([conn('127.0.0.1', '127.0.0.2')], '', []));
      const out = execFileSync('tshark', ['-r', f, '-T', 'fields', '-e', 'tcp.len', '-e', 'tcp.analysis.flags', '-e', 'rdp.neg_type', '-o', 'tcp.check_checksum:TRUE'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const lines = out.trim().split('\n');
      expect(lines).toHaveLength(13);
      // No retransmission, lost-segment or bad-checksum analysis flags on any packet.
      expect(lines.every((l) => (l.split('\t')[1] ?? '') === '')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
