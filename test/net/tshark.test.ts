// Differential tests against tshark: the real captures under ../shared/captures (read in
// place, never copied) and synthetic captures of every link type written by the builder.
// Skipped, with the reason in the test name, when tshark or the captures are absent.
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as f from '../../fixtures/lib/frames.js';
import { DecodedPacket } from '../../src/net/packet.js';
import { decodePacket, decodeQuoted } from '../../src/net/decode.js';
import { srcText, dstText } from '../../src/net/addr.js';
import { checkIpChecksum, checkTransportChecksum } from '../../src/net/checksum.js';
import { hasTshark, pcapBytes, readRecords, sharedCaptures, tsharkFields } from './helpers.js';

const FIELDS = [
  'ip.src', 'ip.dst', 'ipv6.src', 'ipv6.dst',
  'tcp.srcport', 'tcp.dstport', 'udp.srcport', 'udp.dstport',
  'tcp.flags', 'tcp.seq_raw', 'tcp.len', 'tcp.seq', 'frame.protocols',
];
const TSHARK_OPTS = ['-o', 'ip.defragment:FALSE', '-o', 'ipv6.defragment:FALSE', '-o', 'tcp.desegment_tcp_streams:FALSE'];

type Row = Record<string, string[]>;

function push(row: Row, field: string, value: string | number): void {
  (row[field] ??= []).push(String(value));
}

/** One packet as tshark -E occurrence=a would list it: the outer layers, then the quoted packet of an ICMP error. */
function ourRow(p: DecodedPacket, inner: DecodedPacket): Row {
  const row: Row = {};
  const addIp = (q: DecodedPacket): void => {
    if (q.ipVersion === 4) {
      push(row, 'ip.src', srcText(q));
      push(row, 'ip.dst', dstText(q));
    } else if (q.ipVersion === 6) {
      push(row, 'ipv6.src', srcText(q));
      push(row, 'ipv6.dst', dstText(q));
    }
  };
  const addL4 = (q: DecodedPacket, quoted: boolean): void => {
    if (q.l4Off < 0 || q.ipEnd - q.l4Off < 4) return;
    if (q.ipProto === 6) {
      push(row, 'tcp.srcport', q.srcPort);
      push(row, 'tcp.dstport', q.dstPort);
      if (q.ipEnd - q.l4Off >= 8) push(row, 'tcp.seq_raw', q.seq);
      if (!quoted && q.tcpHdrLen >= 20) {
        push(row, 'tcp.flags', q.tcpFlags);
        push(row, 'tcp.len', q.payloadWireLen);
      }
    } else if (q.ipProto === 17) {
      push(row, 'udp.srcport', q.srcPort);
      push(row, 'udp.dstport', q.dstPort);
    }
  };
  addIp(p);
  addL4(p, false);
  if (p.quotedOff >= 0 && decodeQuoted(p, inner) !== undefined && inner.ipVersion !== 0) {
    addIp(inner);
    addL4(inner, true);
  }
  return row;
}

/**
 * tshark's row, in our units (flags as a byte). In an ICMP error tshark gives the quoted
 * sequence number as tcp.seq (no seq_raw) and may add flags / length, which we do not promise
 * from a quote. Tunnels (IP in IP, GRE, VXLAN, Geneve, GTP-U, Teredo) are not decoded by us:
 * for them only the outer layers (first occurrences) are compared.
 */
function theirRow(cols: string[], p: DecodedPacket): Row {
  const row: Row = {};
  const icmpError = p.quotedOff >= 0;
  const protocols = cols[FIELDS.indexOf('frame.protocols')] ?? '';
  const ipLayers = protocols.split(':').filter((x) => x === 'ip' || x === 'ipv6').length;
  const tunnel = !icmpError && ipLayers > 1;
  FIELDS.forEach((name, i) => {
    const v = cols[i] ?? '';
    if (v === '' || name === 'frame.protocols') return;
    let vals = v.split(',');
    if (name === 'tcp.flags') vals = vals.map((x) => String(parseInt(x, 16) & 0xff));
    if (name === 'tcp.seq') {
      if (!icmpError) return;
      name = 'tcp.seq_raw';
    }
    if (icmpError && (name === 'tcp.flags' || name === 'tcp.len')) return;
    if (tunnel) {
      if ((name.startsWith('tcp.') || name.startsWith('udp.')) && p.l4Off < 0) return;
      // Only the outer IP family: in 6in4 / 4in6 the other family's fields are the inner packet's.
      if (name.startsWith('ip.') && p.ipVersion !== 4) return;
      if (name.startsWith('ipv6.') && p.ipVersion !== 6) return;
      vals = vals.slice(0, 1);
    }
    row[name] = vals;
  });
  return row;
}

function compare(file: string, linkFilter?: (lt: number) => boolean): string[] {
  const recs = readRecords(file);
  const rows = tsharkFields(file, FIELDS, TSHARK_OPTS);
  const mismatches: string[] = [];
  if (rows.length !== recs.length) mismatches.push(`${path.basename(file)}: tshark ${rows.length} frames, we read ${recs.length}`);
  const p = new DecodedPacket();
  const inner = new DecodedPacket();
  for (let i = 0; i < Math.min(rows.length, recs.length); i++) {
    const rec = recs[i]!;
    if (linkFilter && !linkFilter(rec.linkType)) continue;
    decodePacket(rec.data, 0, rec.data.length, rec.linkType, p);
    const ours = ourRow(p, inner);
    const theirs = theirRow(rows[i]!, p);
    const a = JSON.stringify(ours, Object.keys(ours).sort());
    const b = JSON.stringify(theirs, Object.keys(theirs).sort());
    if (a !== b) mismatches.push(`${path.basename(file)} frame ${rec.frame}: ours ${a} tshark ${b}`);
  }
  return mismatches;
}

const CHECKSUM_FIELDS = ['ip.checksum.status', 'tcp.checksum.status', 'udp.checksum.status', 'icmp.checksum.status', 'icmpv6.checksum.status'];
const CHECKSUM_OPTS = ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', ...TSHARK_OPTS];

/**
 * Our checksum verdicts against tshark's (status 0 bad, 1 good, 2 not verified), outer
 * layers only; frames either side cannot verify are skipped. Returns [mismatches, frames compared].
 */
function compareChecksums(file: string): [string[], number] {
  const recs = readRecords(file);
  const rows = tsharkFields(file, CHECKSUM_FIELDS, CHECKSUM_OPTS);
  const mismatches: string[] = [];
  let compared = 0;
  const p = new DecodedPacket();
  for (let i = 0; i < Math.min(rows.length, recs.length); i++) {
    const rec = recs[i]!;
    decodePacket(rec.data, 0, rec.data.length, rec.linkType, p);
    const first = (col: number): string => (rows[i]![col] ?? '').split(',')[0] ?? '';
    const verdict = (v: boolean | null): string => (v === null ? '' : v ? '1' : '0');
    const ip = verdict(checkIpChecksum(p));
    const l4 = verdict(checkTransportChecksum(p));
    const theirIp = first(0);
    const theirL4 = p.ipProto === 6 ? first(1) : p.ipProto === 17 ? first(2) : p.ipProto === 1 ? first(3) : p.ipProto === 58 ? first(4) : '';
    if (ip !== '' && (theirIp === '0' || theirIp === '1')) {
      compared++;
      if (ip !== theirIp) mismatches.push(`${path.basename(file)} frame ${rec.frame}: IP checksum ours ${ip} tshark ${theirIp}`);
    }
    if (l4 !== '' && (theirL4 === '0' || theirL4 === '1')) {
      compared++;
      if (l4 !== theirL4) mismatches.push(`${path.basename(file)} frame ${rec.frame}: protocol ${p.ipProto} checksum ours ${l4} tshark ${theirL4}`);
    }
  }
  return [mismatches, compared];
}

function captureFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...captureFiles(full));
    else if (/\.(pcap|pcapng|cap)$/.test(name)) out.push(full);
  }
  return out.sort();
}

const haveShared = existsSync(sharedCaptures);

describe.skipIf(!hasTshark || !haveShared)(
  `real captures vs tshark${!hasTshark ? ' (skipped: no tshark)' : !haveShared ? ` (skipped: ${sharedCaptures} absent)` : ''}`,
  () => {
    const files = haveShared ? captureFiles(sharedCaptures) : [];
    it('finds captures to compare', () => {
      expect(files.length).toBeGreaterThan(0);
    });
    for (const file of files) {
      it(path.relative(sharedCaptures, file), () => {
        const mismatches = compare(file);
        expect(mismatches.slice(0, 5)).toEqual([]);
      });
    }
    it('checksum verdicts agree with tshark on every capture', () => {
      let total = 0;
      for (const file of files) {
        const [mismatches, compared] = compareChecksums(file);
        expect(mismatches.slice(0, 5)).toEqual([]);
        total += compared;
      }
      expect(total).toBeGreaterThan(1000);
    });
  },
);

describe.skipIf(!hasTshark)(`builder captures of every link type vs tshark${hasTshark ? '' : ' (skipped: no tshark)'}`, () => {
  const ip4 = { src: '192.0.2.1', dst: '198.51.100.7', ttl: 60 };
  const ip6 = { src: '2001:db8::1', dst: 'fe80::3389', ttl: 60 };
  const opts = f.tcpOptions({ mss: 1460, wscale: 8, sackPermitted: true, timestamps: [123, 456] });
  const tcp4 = f.ipv4(f.tcp(Buffer.from('hello rdp'), { srcPort: 50123, dstPort: 3389, seq: 0xfffffff0, ack: 77, flags: 0x18, options: opts }, ip4), 6, ip4);
  const tcp6 = f.ipv6(f.tcp(Buffer.alloc(0), { srcPort: 50124, dstPort: 3389, seq: 5, ack: 0, flags: 0x02, options: opts }, ip6), 6, ip6);
  const udp4 = f.ipv4(f.udp(f.dnsQuery(5, 'rdp.example.com', 1), 5353, 53, ip4), 17, ip4);
  const ext6 = f.ipv6(f.tcp(Buffer.from('x'), { srcPort: 1, dstPort: 3389, seq: 9, ack: 9, flags: 0x11 }, ip6), 6, ip6, {
    extHeaders: [{ type: 0, body: Buffer.alloc(6) }, { type: 60, body: Buffer.alloc(14) }, { type: 43, body: Buffer.from([0, 0, 0, 0, 0, 0]) }],
  });
  const icmp4 = f.ipv4(f.icmpv4(3, 4, f.mtuRest(1400), tcp4.subarray(0, 28)), 1, { src: '203.0.113.1', dst: '192.0.2.1' });
  const router6 = { src: '2001:db8:ff::1', dst: '2001:db8::1' };
  const icmp6 = f.ipv6(f.icmpv6(2, 0, f.mtuRest(1280, true), tcp6, router6), 58, router6);
  const frag4 = f.ipv4(Buffer.alloc(24, 1), 6, ip4, { fragOffset: 1480 });
  const ip4s = [tcp4, udp4, icmp4, frag4];
  const ip6s = [tcp6, ext6, icmp6];
  const all = [...ip4s, ...ip6s];
  // 802.11 QoS data frame to the DS (IEEE 802.11-2020 9.3.2.1) + LLC/SNAP (RFC 1042).
  const wlan = (ipPkt: Buffer, etherType: number): Buffer => {
    const h = Buffer.from('88010000' + '020000000002' + '020000000001' + '020000000003' + '0000' + '0000' + 'aaaa03000000' + '0000', 'hex');
    h.writeUInt16BE(etherType, h.length - 2);
    return Buffer.concat([h, ipPkt]);
  };
  // Radiotap: version 0, length 17, present TSFT | Flags, TSFT, flags 0.
  const RADIOTAP = Buffer.from('0000110003000000' + '0102030405060708' + '00', 'hex');
  const cases: [string, number, Buffer[]][] = [
    ['ethernet', 1, [...all.map((x) => f.ethernet(x)), f.padEthernet(f.ethernet(f.ipv4(f.tcp(Buffer.alloc(0), { srcPort: 3389, dstPort: 50123, seq: 1, ack: 2, flags: 0x10 }, ip4), 6, ip4)))]],
    ['ethernet-vlan', 1, [f.ethernet(tcp4, { vlan: [10] }), f.ethernet(tcp6, { vlan: [10, 20] }), f.ethernet(icmp4, { vlan: [1, 2, 3] })]],
    ['sll', 113, [...ip4s.map((x) => f.sll(x, 0x0800)), ...ip6s.map((x) => f.sll(x, 0x86dd))]],
    ['sll2', 276, [...ip4s.map((x) => f.sll2(x, 0x0800)), ...ip6s.map((x) => f.sll2(x, 0x86dd))]],
    ['null-le', 0, [...ip4s.map((x) => f.nullLoopback(x, 2, true)), ...ip6s.map((x) => f.nullLoopback(x, 30, true))]],
    ['null-be-24', 0, [...ip4s.map((x) => f.nullLoopback(x, 2, false)), ...ip6s.map((x) => f.nullLoopback(x, 24, false))]],
    ['loop', 108, [...ip4s.map((x) => f.nullLoopback(x, 2, false)), ...ip6s.map((x) => f.nullLoopback(x, 28, false))]],
    ['raw', 101, all],
    ['ipv4', 228, ip4s],
    ['ipv6', 229, ip6s],
    ['ieee802.11', 105, [...ip4s.map((x) => wlan(x, 0x0800)), ...ip6s.map((x) => wlan(x, 0x86dd))]],
    ['radiotap', 127, [...ip4s.map((x) => Buffer.concat([RADIOTAP, wlan(x, 0x0800)])), ...ip6s.map((x) => Buffer.concat([RADIOTAP, wlan(x, 0x86dd)]))]],
    ['raw-dlt12', 12, all],
    ['raw-dlt14', 14, all],
    ['ppp', 9, [...ip4s.map((x) => Buffer.concat([Buffer.from([0xff, 0x03, 0x00, 0x21]), x])), ...ip6s.map((x) => Buffer.concat([Buffer.from([0xff, 0x03, 0x00, 0x57]), x]))]],
  ];
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rdp-autopsy-net-'));
  for (const [name, lt, frames] of cases) {
    it(`${name} (LINKTYPE ${lt})`, () => {
      const file = path.join(dir, `${name}.pcap`);
      writeFileSync(file, pcapBytes(lt, frames));
      try {
        expect(compare(file)).toEqual([]);
        // The builder's checksums, verified by tshark (and our verdicts agree).
        const [mismatches, compared] = compareChecksums(file);
        expect(mismatches).toEqual([]);
        expect(compared).toBeGreaterThanOrEqual(frames.length - 1); // a non-first fragment has only its IP checksum
        const bad = tsharkFields(file, CHECKSUM_FIELDS, CHECKSUM_OPTS).flat().join(',').split(',').filter((x) => x === '0');
        expect(bad).toEqual([]);
      } finally {
        rmSync(file, { force: true });
      }
    });
  }
});
