// decodePacket's shortcut for Ethernet / IPv4 / TCP without options (decode.ts, decodeEthernetIpv4Tcp,
// issue 16) fills the packet exactly as the general decoders do: on well-formed frames of every size,
// and on the same frames with header bytes changed at random and cut short (the shortcut must step
// aside for each of them: options, fragments, other protocols, lengths that do not hold the headers).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as f from '../../fixtures/lib/frames.js';
import { decodePacket, decodePacketGeneral } from '../../src/net/decode.js';
import { DecodedPacket } from '../../src/net/packet.js';

function fields(p: DecodedPacket): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(p)) if (k !== 'buf') o[k] = v;
  return o;
}

function frame(payloadLen: number, seq: number, ack: number, flags: number, id: number, ttl: number, sport: number, withOptions: boolean): Buffer {
  const ip = { src: '10.1.2.3', dst: '192.168.7.9', ttl, id };
  const options = withOptions ? f.tcpOptions({ mss: 1460 }) : undefined;
  const seg = f.tcp(Buffer.alloc(payloadLen, 0x41), { srcPort: sport, dstPort: 3389, seq, ack, flags, window: 64240, options }, ip);
  return f.ethernet(f.ipPacket(seg, 6, ip));
}

const input = fc.record({
  payloadLen: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1460 })),
  seq: fc.integer({ min: 0, max: 0xffffffff }),
  ack: fc.integer({ min: 0, max: 0xffffffff }),
  flags: fc.integer({ min: 0, max: 255 }),
  id: fc.integer({ min: 0, max: 0xffff }),
  ttl: fc.integer({ min: 0, max: 255 }),
  sport: fc.integer({ min: 0, max: 0xffff }),
  withOptions: fc.boolean(),
  // Header bytes changed (offset in the first 60 bytes, new value), and how much of the frame is captured.
  changes: fc.array(fc.tuple(fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
  // The IP total length set to a small value (-1: as built): 0 is offload, below 40 the headers do not fit.
  ipLen: fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 80 }) }),
  cut: fc.oneof({ weight: 3, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 80 }) }),
  // The frame at an offset in a larger buffer (as the capture reader hands it), with bytes after it.
  at: fc.integer({ min: 0, max: 20 }),
});

describe('decodePacket: the Ethernet / IPv4 / TCP shortcut', () => {
  it('fills every field as the general decoders do, also on damaged and cut frames', () => {
    const a = new DecodedPacket();
    const b = new DecodedPacket();
    fc.assert(
      fc.property(input, (x) => {
        const fr = frame(x.payloadLen, x.seq, x.ack, x.flags, x.id, x.ttl, x.sport, x.withOptions);
        if (x.ipLen >= 0) fr.writeUInt16BE(x.ipLen, 16);
        for (const [at, v] of x.changes) if (at < fr.length) fr[at] = v;
        const capLen = x.cut >= 0 ? Math.min(x.cut, fr.length) : fr.length;
        const buf = Buffer.concat([Buffer.alloc(x.at, 0xee), fr, Buffer.alloc(7, 0xdd)]);
        decodePacket(buf, x.at, capLen, 1, a);
        decodePacketGeneral(buf, x.at, capLen, 1, b);
        expect(fields(a)).toEqual(fields(b));
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 500), ...(process.env.PROP_SEED ? { seed: Number(process.env.PROP_SEED) } : {}) },
    );
  });

  it('decodes an offloaded segment (IP total length 0) and a frame with Ethernet padding the same way', () => {
    const a = new DecodedPacket();
    const b = new DecodedPacket();
    const offloaded = frame(100, 1, 2, 0x18, 5, 64, 50000, false);
    offloaded[16] = 0;
    offloaded[17] = 0;
    const padded = f.padEthernet(frame(0, 1, 2, 0x10, 5, 64, 50000, false));
    for (const fr of [offloaded, padded]) {
      decodePacket(fr, 0, fr.length, 1, a);
      decodePacketGeneral(fr, 0, fr.length, 1, b);
      expect(fields(a)).toEqual(fields(b));
      expect(a.error).toBe(null);
    }
    expect(a.payloadLen).toBe(0); // the padding is not payload
  });
});
