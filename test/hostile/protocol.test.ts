// Hostile protocol bytes end to end, through `analyze` and through the built command line: each
// capture holds one TCP connection whose payloads are chosen to lie (lengths past their
// containers, lengths of 2^31, 16 MiB, 64 KiB, no terminators, noise, a 1 GB sequence jump).
// Each must end without a crash or a stack trace, keep what was read before the damage, and
// name the frame and the byte offset (position in that direction's TCP stream) of the damage.
import { beforeAll, describe, expect, it } from 'vitest';
import * as R from '../../fixtures/lib/rdp-bytes.js';
import * as T from '../handshake/tls-bytes.js';
import type { ReportedConnection, Report } from '../../src/report/types.js';
import type { Warning } from '../../src/handshake/types.js';
import { analyzeBuffer, buildCli, cli, connection, expectNoStack, noise, only, writeTmp, x224, type Built, type Step } from './build.js';

/** Client stream bytes of x224()'s Connection Request: TPKT 4 + CR 7 + "Cookie: mstshash=alice\r\n" 24 + RDP_NEG_REQ 8. */
const CR_LEN = 43;
/** Server stream bytes of the Confirm: TPKT 4 + CC 7 + RDP_NEG_RSP 8. */
const CC_LEN = 19;

interface Damage {
  /** Which step's first segment the warning must name. */
  step: number;
  /** The byte offset must lie in [lo, hi): the start of the lying unit up to its lying field. */
  lo: number;
  hi: number;
  /** Text the warning must contain. */
  says: RegExp;
}

interface HostileCase {
  name: string;
  steps: Step[];
  damage: Damage[];
  /** What was read before the damage, still in the report. */
  kept: (c: ReportedConnection, b: Built) => void;
}

const negotiated = (c: ReportedConnection, b: Built): void => {
  expect(c.negotiation?.requestFrame).toBe(b.stepFrames[0]);
  expect(c.negotiation?.confirmFrame).toBe(b.stepFrames[1]);
  expect(c.negotiation?.cookie).toBe('alice');
};

function connectInitialWithCoreLength(len: number): { pdu: Buffer; coreLengthAt: number } {
  const pdu = Buffer.from(R.mcsConnectInitial({ core: { desktopWidth: 1024, desktopHeight: 768, clientBuild: 2600, clientName: 'WKS' }, encryptionMethods: 3, channels: ['rdpdr'] }));
  // The client data blocks follow the h221 key "Duca" and a 2-byte PER length (MS-RDPBCGR 4.1.3).
  const core = pdu.indexOf('Duca', 0, 'latin1') + 4 + 2;
  expect(pdu.readUInt16LE(core)).toBe(0xc001); // CS_CORE (2.2.1.3.2)
  pdu.writeUInt16LE(len, core + 2);
  return { pdu, coreLengthAt: core + 2 };
}

const gcc = connectInitialWithCoreLength(0xfff0);

/** A ClientHello whose cipher_suites vector announces 65535 bytes (RFC 8446 4.1.2: <2..2^16-2>). */
function helloAnnouncing65535(): Buffer {
  const body = Buffer.from(T.clientHelloBody());
  body.writeUInt16BE(0xffff, 35); // after legacy_version 2, random 32, legacy_session_id <0>
  return T.record(22, T.handshake(1, body), 0x0301);
}

/** "TPKT length N" for N in 0..6: RFC 1006 6 needs at least 7 (header 4 + X.224 LI, code, ...). */
const tpktLengths: HostileCase[] = [0, 1, 2, 3, 4, 5, 6].map((n) => ({
  name: `TPKT length ${n} in front of a Connection Request`,
  steps: [{ from: 'client', data: Buffer.concat([Buffer.from([3, 0, 0, n]), R.x224ConnectionRequest({ cookie: 'alice' }).subarray(4)]) }],
  damage: [{ step: 0, lo: 0, hi: 4, says: /X\.224|TPKT/ }],
  kept: (c, b) => {
    expect(c.flow.tcp?.synFrames).toEqual([1]);
    expect(c.negotiation?.requestFrame ?? null).toBeNull();
    expect(b.stepFrames).toHaveLength(1);
  },
}));

const CASES: HostileCase[] = [
  {
    name: 'TLS record header announcing 65535 bytes (RFC 8446 5.1: at most 2^14 + 2048) after a valid X.224 exchange',
    steps: [...x224(), { from: 'client', data: Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0xff, 0xff]), Buffer.alloc(200, 0x41)]) }],
    damage: [{ step: 2, lo: CR_LEN, hi: CR_LEN + 5, says: /16 03 01 ff ff|TLS/ }],
    kept: negotiated,
  },
  {
    name: 'TLS handshake message announcing 16 MiB (24-bit length 0xffffff) after a valid X.224 exchange',
    steps: [...x224(), { from: 'client', data: T.record(22, Buffer.concat([Buffer.from([1, 0xff, 0xff, 0xff]), Buffer.alloc(200, 0x42)]), 0x0301) }],
    damage: [{ step: 2, lo: CR_LEN, hi: CR_LEN + 9, says: /16777215/ }],
    kept: (c, b) => {
      negotiated(c, b);
      expect(c.tls?.clientHelloFrame ?? null).toBeNull();
    },
  },
  {
    name: 'BER length 2^31 in an MCS Connect Initial (T.125 11.1, X.690 8.1.3)',
    steps: [...x224(R.PROTOCOL_RDP), { from: 'client', data: R.x224Data(Buffer.concat([Buffer.from([0x7f, 0x65, 0x84, 0x80, 0, 0, 0]), Buffer.alloc(64, 0x04)])) }],
    // TPKT 4 + X.224 DT 3 + tag 7f 65: the length octets start at CR_LEN + 9.
    damage: [{ step: 2, lo: CR_LEN + 9, hi: CR_LEN + 10, says: /2147483648/ }],
    kept: (c, b) => {
      expect(c.negotiation?.requestFrame).toBe(b.stepFrames[0]);
      expect(c.negotiation?.selectedProtocol).toBe(R.PROTOCOL_RDP);
    },
  },
  {
    name: 'GCC client data block length past its container (MS-RDPBCGR 2.2.1.3.1)',
    steps: [...x224(R.PROTOCOL_RDP), { from: 'client', data: gcc.pdu }],
    damage: [{ step: 2, lo: CR_LEN + gcc.coreLengthAt - 2, hi: CR_LEN + gcc.coreLengthAt + 2, says: /GCC|CS_CORE|block/ }],
    kept: (c, b) => {
      negotiated(c, b);
      expect(c.mcs?.connectInitialFrame).toBe(b.stepFrames[2]);
    },
  },
  {
    name: 'X.224 Connection Request whose length indicator runs past the TPKT (X.224 13.3.1)',
    steps: [
      (() => {
        const cr = Buffer.from(R.x224ConnectionRequest({ cookie: 'alice', neg: { requestedProtocols: 3 } }));
        cr[4] = 200;
        return { from: 'client' as const, data: cr };
      })(),
      { from: 'server', data: R.x224ConnectionConfirm({ type: 'rsp', selectedProtocol: 1 }) },
    ],
    damage: [{ step: 0, lo: 0, hi: 5, says: /X\.224|Connection Request/ }],
    kept: (c, b) => {
      // The server's side is still read.
      expect(c.negotiation?.confirmFrame).toBe(b.stepFrames[1]);
    },
  },
  ...tpktLengths,
  {
    name: 'a 10 KB cookie without CR LF (MS-RDPBCGR 2.2.1.1: terminated by 0x0D0A)',
    steps: [
      { from: 'client', data: R.tpkt(Buffer.concat([Buffer.from([0xfe, 0xe0, 0, 0, 0, 0, 0]), Buffer.from('Cookie: mstshash=' + 'A'.repeat(10240), 'latin1')])) },
      { from: 'server', data: R.x224ConnectionConfirm({ type: 'rsp', selectedProtocol: 1 }) },
    ],
    damage: [{ step: 0, lo: 11, hi: 11 + 17 + 1, says: /cookie/i }],
    kept: (c, b) => {
      expect(c.negotiation?.requestFrame).toBe(b.stepFrames[0]);
      expect(c.negotiation?.confirmFrame).toBe(b.stepFrames[1]);
      // Whatever is kept of the hint is bounded by the bytes sent and made of them.
      expect(c.negotiation?.cookie ?? '').toMatch(/^A{0,10240}$/);
    },
  },
  {
    name: 'ClientHello whose cipher_suites vector announces 65535 bytes',
    steps: [...x224(), { from: 'client', data: helloAnnouncing65535() }],
    damage: [{ step: 2, lo: CR_LEN, hi: CR_LEN + 5 + 4 + 38, says: /^ClientHello: cipher_suites length 65535$/ }],
    kept: (c, b) => {
      negotiated(c, b);
      expect(c.tls?.clientHelloFrame).toBe(b.stepFrames[2]);
    },
  },
  {
    name: 'random bytes after the Confirm, both directions',
    steps: [...x224(), { from: 'server', data: noise(3000) }, { from: 'client', data: noise(3000, 7) }],
    damage: [
      { step: 2, lo: CC_LEN, hi: CC_LEN + 1, says: /not TPKT, TLS or fast-path/ },
      { step: 3, lo: CR_LEN, hi: CR_LEN + 1, says: /not TPKT, TLS or fast-path/ },
    ],
    kept: negotiated,
  },
];

/** The warning naming a damage: same frame, matching text. */
function warningFor(c: ReportedConnection, b: Built, d: Damage): Warning | undefined {
  return c.warnings.find((w) => w.frame === b.firstFrames[d.step] && d.says.test(w.message)) ?? c.warnings.find((w) => w.frame === b.stepFrames[d.step] && d.says.test(w.message));
}

describe('hostile protocol bytes through analyze', () => {
  for (const k of CASES) {
    describe(k.name, () => {
      let b: Built;
      let report: Report;
      beforeAll(async () => {
        b = connection(k.steps);
        report = await analyzeBuffer(b.pcap);
      });

      it('ends in a report that keeps what was read before the damage', () => {
        const c = only(report);
        expect(report.capture.damage).toEqual([]);
        k.kept(c, b);
        // The TCP ending after the damage is still seen (the client's FIN closes it).
        expect(c.flow.tcp?.fins.length).toBeGreaterThan(0);
      });

      it('warns naming the frame of the damage', () => {
        const c = only(report);
        for (const d of k.damage) expect(warningFor(c, b, d), `${JSON.stringify(c.warnings)}`).toBeDefined();
      });

      it('the warning names the byte offset in the stream', () => {
        const c = only(report);
        for (const d of k.damage) {
          const w = warningFor(c, b, d);
          expect(w?.offset, JSON.stringify(w)).not.toBeNull();
          expect(w!.offset!).toBeGreaterThanOrEqual(d.lo);
          expect(w!.offset!).toBeLessThan(d.hi);
        }
      });
    });
  }

  it('a ClientHello with 32767 cipher suites over four records is read whole, bounded by its 64 KiB', async () => {
    const suites = Array.from({ length: 32767 }, (_, i) => i);
    const msg = T.handshake(1, T.clientHelloBody({ suites }));
    const records: Buffer[] = [];
    for (let o = 0; o < msg.length; o += 16384) records.push(T.record(22, msg.subarray(o, o + 16384), 0x0301));
    expect(records).toHaveLength(5);
    const b = connection([...x224(), { from: 'client', data: Buffer.concat(records) }]);
    const c = only(await analyzeBuffer(b.pcap));
    expect(c.warnings).toEqual([]);
    // RFC 8701: the eight GREASE values 0x0a0a .. 0x7a7a below 32767 are not cipher suites.
    expect(c.tls?.clientCipherSuites).toEqual(suites.filter((s) => (s & 0x0f0f) !== 0x0a0a || s >> 8 !== (s & 0xff)));
    expect(c.tls?.clientHelloFrame).toBe(b.stepFrames[2]);
  });
});

describe('a TCP stream with a 1 GB sequence jump', () => {
  let b: Built;
  let report: Report;
  beforeAll(async () => {
    b = connection(x224(), {
      session: (s) => [s.segment('client', s.now + 1000, { flags: 0x18, payload: T.clientHello(), seq: (0x1a2b3c4d + 1 + CR_LEN + 0x40000000) >>> 0 })],
    });
    report = await analyzeBuffer(b.pcap);
  });

  it('keeps the X.224 exchange and allocates nothing from the jump', () => {
    const c = only(report);
    negotiated(c, b);
    expect(c.tls?.clientHelloFrame ?? null).toBeNull();
    expect(process.memoryUsage().rss).toBeLessThan(1 << 30);
  });

  // A segment 2^30 bytes ahead lies outside any receive window (RFC 7323 2.3: at most 65535 << 14):
  // not data of this stream, so neither a gap nor cut bytes, but said, with its frame.
  it('warns naming the frame of the jump and where the stream was', () => {
    const c = only(report);
    const w = c.warnings.find((x) => x.frame === b.extraFrames[0]);
    expect(w, JSON.stringify(c.warnings)).toBeDefined();
    expect(w!.offset).toBe(CR_LEN);
    expect(w!.message).toMatch(/^client's segment of \d+ bytes is 1073741824 bytes ahead of the next expected sequence number, outside any TCP receive window/);
    expect(c.timeline.some((e) => e.frame === b.extraFrames[0] && e.event === 'Sequence jump')).toBe(true);
  });

  it('counts the jump as no gap and no cut bytes', () => {
    const c = only(report);
    expect(c.flow.gapBytes).toEqual([0, 0]);
    expect(c.flow.cutBytes).toEqual([0, 0]);
    expect(report.capture.stats.cutBytes).toBe(0);
    // The segments after the jump are not taken for retransmissions of it.
    expect(c.flow.tcp?.retransmissions).toEqual([0, 0]);
  });
});

describe('hostile protocol bytes through the built command line', () => {
  beforeAll(() => buildCli(), 180_000);

  for (const k of CASES) {
    it(k.name, () => {
      const b = connection(k.steps);
      const file = writeTmp(`${k.name.replace(/[^a-z0-9]+/gi, '_').slice(0, 60)}.pcap`, b.pcap);
      const text = cli(['analyze', '--no-color', file]);
      expectNoStack(text);
      expect(text.stderr).toBe('');
      expect([0, 1]).toContain(text.code);
      expect(text.stdout.length).toBeGreaterThan(0);
      const json = cli(['analyze', '--format', 'json', file]);
      expectNoStack(json);
      expect(json.code).toBe(text.code);
      const r = JSON.parse(json.stdout) as Report;
      const c = r.connections.find((x) => x.transport === 'tcp')!;
      for (const d of k.damage) expect(warningFor(c, b, d)).toBeDefined();
    });
  }
});
