// The BPF subset of `analyze --filter` (src/net/bpf.ts): the same verdict as tcpdump on every frame
// of the project's fixtures for a set of filters (tcpdump -r FILE -nn -tt FILTER: the timestamps of
// the frames it passes), parse errors that name the word, and hostile filter text that never throws
// anything but BpfError.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readCapture } from '../../src/capture/index.js';
import { DecodedPacket, decodePacket, isKnownLinkType } from '../../src/net/index.js';
import { BpfError, addressBytes, bpfMatches, parseBpf } from '../../src/net/bpf.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIX = path.join(repoRoot, 'fixtures/captures');
const hasTcpdump = spawnSync('tcpdump', ['--version']).status === 0;

/** Every third fixture (tcpdump runs once per file and filter), and those with ICMP, IPv6 and other ports. */
const NAMED = new Set(['port_blocked_icmp.pcap', 'rdp_unknown_port.pcap', 'dns_failure.pcap', 'rdp_on_other_port.pcap', 'cert_untrusted.pcap', 'completed_idle_several.pcapng']);
const FILES = readdirSync(FIX)
  .filter((f) => /\.(pcap|pcapng)$/.test(f))
  .sort()
  .filter((f, i) => i % 3 === 0 || NAMED.has(f))
  .map((f) => path.join(FIX, f));

const FILTERS = [
  'tcp',
  'udp',
  'icmp',
  'ip6',
  'port 3389',
  'tcp port 3389',
  'udp port 53',
  'src port 3389',
  'dst port 3389 and tcp',
  'host 10.20.0.15',
  'src host 192.168.10.25',
  'dst 10.20.0.16',
  'net 10.20.0.0/24',
  'net 192.168.0.0 mask 255.255.0.0',
  'not port 3389',
  'host 10.20.0.15 and (port 3389 or port 53)',
  '!tcp || udp',
  'portrange 3380-3400',
  'ip6 and host fd00:20::15',
  'net fd00::/16',
  'src net fd00:10::/32 and tcp',
];

/** The tcpdump timestamps ("sec.usec") of the frames our evaluator passes. */
async function ours(file: string, filter: string): Promise<string[]> {
  const node = parseBpf(filter);
  const pkt = new DecodedPacket();
  const out: string[] = [];
  await readCapture({ kind: 'file', path: file }, 0, {
    onFrame(v) {
      if (!isKnownLinkType(v.linkType)) return;
      decodePacket(v.buf, v.off, v.capLen, v.linkType, pkt);
      if (bpfMatches(node, pkt)) out.push(`${v.tsSec}.${String(Math.floor(v.tsNsec / 1000)).padStart(6, '0')}`);
    },
  });
  return out;
}

function tcpdump(file: string, filter: string): string[] | null {
  const r = spawnSync('tcpdump', ['-r', file, '-nn', '-tt', '-q', filter], { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) return null;
  return r.stdout
    .split('\n')
    .map((l) => /^(\d+\.\d{6}) /.exec(l)?.[1])
    .filter((x): x is string => x !== undefined);
}

describe.skipIf(!hasTcpdump)('--filter agrees with tcpdump on the fixtures', () => {
  for (const filter of FILTERS) {
    it(filter, async () => {
      let compared = 0;
      let passed = 0;
      for (const file of FILES) {
        const want = tcpdump(file, filter);
        if (want === null) continue; // a link type tcpdump cannot filter on
        const got = await ours(file, filter);
        expect(got, `${path.basename(file)}: ${filter}`).toEqual(want);
        compared++;
        passed += got.length;
      }
      expect(compared).toBeGreaterThan(15);
      // Each filter passes frames somewhere (the comparison is not all-empty).
      expect(passed).toBeGreaterThan(0);
    }, 120_000);
  }
});

describe('parseBpf', () => {
  it('names the word it does not support, and where', () => {
    expect(() => parseBpf('tcp[13] & 2 != 0')).toThrow(BpfError);
    expect(() => parseBpf('vlan 10')).toThrow(/"vlan" is not supported for files .* at character 1/);
    expect(() => parseBpf('host 10.0.0.1 and')).toThrow(/a primitive expected .* at character 18/);
    expect(() => parseBpf('(port 3389')).toThrow(/"\)" expected/);
    expect(() => parseBpf('port 70000')).toThrow(/a port number expected/);
    expect(() => parseBpf('')).toThrow(/empty/);
    expect(() => parseBpf('net 10.0.0.0/33')).toThrow(/prefix length 0..32/);
    expect(() => parseBpf('host 10.0.0.0/8')).toThrow(/needs "net"/);
  });

  it('reads the forms tcpdump users type', () => {
    expect(parseBpf('tcp port 3389')).toEqual({ op: 'port', dir: 'either', proto: 'tcp', lo: 3389, hi: 3389 });
    expect(parseBpf('not src net 10.1.0.0/16')).toEqual({ op: 'not', a: { op: 'net', dir: 'src', addr: Uint8Array.from([10, 1, 0, 0]), bits: 16 } });
    expect(parseBpf('a and b'.replace('a', 'tcp').replace('b', 'udp'))).toEqual({ op: 'and', a: { op: 'proto', proto: 'tcp' }, b: { op: 'proto', proto: 'udp' } });
  });

  it('addressBytes: IPv4, IPv6 with ::, an embedded IPv4 tail; null for anything else', () => {
    expect(addressBytes('10.20.0.15')).toEqual(Uint8Array.from([10, 20, 0, 15]));
    expect(addressBytes('fd00::15')).toEqual(Uint8Array.from([0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x15]));
    expect(addressBytes('::ffff:10.0.0.1')).toEqual(Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1]));
    expect(addressBytes('1::')).toEqual(Uint8Array.from([0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    expect(addressBytes('server.example')).toBeNull();
    expect(addressBytes('10.0.0.256')).toBeNull();
  });

  it('hostile text: parses or throws BpfError, never anything else', () => {
    const words = ['host', 'net', 'port', 'portrange', 'src', 'dst', 'tcp', 'udp', 'icmp', 'ip6', 'and', 'or', 'not', '(', ')', '!', '&&', '||', '10.0.0.1', 'fd00::1', '3389', '1-2', 'mask', '255.0.0.0', '/8', 'x'];
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.array(fc.constantFrom(...words), { maxLength: 12 }).map((w) => w.join(' '))), (text) => {
        try {
          const n = parseBpf(text);
          bpfMatches(n, new DecodedPacket());
        } catch (e) {
          if (!(e instanceof BpfError)) throw e;
        }
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 300) },
    );
  });
});
