// Hostile input: random bytes after each prefix of a connection never make the state machine throw,
// and it always produces a record.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Conn } from './harness.js';
import * as tls from './tls-bytes.js';
import * as rdp from '../../fixtures/lib/rdp-bytes.js';

const PREFIXES: [0 | 1, Buffer][][] = [
  [],
  [[0, rdp.x224ConnectionRequest({ cookie: 'x', neg: { requestedProtocols: 3 } })]],
  [
    [0, rdp.x224ConnectionRequest({ cookie: 'x', neg: { requestedProtocols: 3 } })],
    [1, rdp.x224ConnectionConfirm({ type: 'rsp', selectedProtocol: 2 })],
  ],
  [
    [0, rdp.x224ConnectionRequest({ neg: { requestedProtocols: 0 } })],
    [1, rdp.x224ConnectionConfirm({ type: 'rsp', selectedProtocol: 0 })],
  ],
  [
    [0, rdp.x224ConnectionRequest({ neg: { requestedProtocols: 1 } })],
    [1, rdp.x224ConnectionConfirm({ type: 'rsp', selectedProtocol: 1 })],
    [0, tls.clientHello()],
  ],
];

/** Chunks that look like the start of real PDUs, so the decoders go deep before they fail. */
const HEADS = [Buffer.from([0x03, 0x00]), Buffer.from([0x16, 0x03, 0x03]), Buffer.from([0x17, 0x03, 0x03]), Buffer.from([0x15, 0x03, 0x01]), Buffer.from([0x00]), Buffer.alloc(0)];

describe('hostile bytes', () => {
  it('never throws, always ends with a record', () => {
    fc.assert(
      fc.property(
        fc.nat(PREFIXES.length - 1),
        fc.array(fc.tuple(fc.constantFrom<0 | 1>(0, 1), fc.nat(HEADS.length - 1), fc.uint8Array({ maxLength: 300 })), { maxLength: 12 }),
        fc.boolean(),
        (p, chunks, handshake) => {
          const c = new Conn();
          if (handshake) c.handshake();
          for (const [d, b] of PREFIXES[p]!) c.send(d, b);
          for (const [d, h, b] of chunks) c.send(d, Buffer.concat([HEADS[h]!, Buffer.from(b)]));
          const r = c.end();
          expect(r.id).toBe('c1');
          expect(['completed', 'failed', 'incomplete_capture']).toContain(r.outcome);
          expect(r.timeline.length).toBeLessThanOrEqual(201);
        },
      ),
      { numRuns: 400 },
    );
  });
});
