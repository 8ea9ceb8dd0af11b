// StreamBuf: pending bytes of one direction and the frame that carried each byte.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { StreamBuf } from '../../src/handshake/stream.js';

describe('StreamBuf', () => {
  it('credits a PDU to the frame of its last byte', () => {
    const s = new StreamBuf(1 << 20);
    s.append(Buffer.from([1, 2, 3]), 10, 1.0);
    s.append(Buffer.from([4, 5]), 11, 1.1);
    s.append(Buffer.from([6]), 12, 1.2);
    expect(s.available).toBe(6);
    expect(s.frameOfStart()).toBe(10);
    expect(s.frameOfEnd(3)).toBe(10);
    expect(s.frameOfEnd(4)).toBe(11);
    expect(s.frameOfEnd(6)).toBe(12);
    expect(s.timeOfEnd(5)).toBe(1.1);
    s.consume(4);
    expect(s.frameOfStart()).toBe(11);
    expect(s.frameOfEnd(1)).toBe(11);
    expect(s.frameOfEnd(2)).toBe(12);
    expect([...s.bytes.subarray(s.off, s.end)]).toEqual([5, 6]);
    expect(s.position).toBe(4);
  });

  it('refuses bytes past its budget and keeps what it had', () => {
    const s = new StreamBuf(5);
    expect(s.append(Buffer.from([1, 2, 3]), 1, 0)).toBe(true);
    expect(s.append(Buffer.from([4, 5, 6]), 2, 0)).toBe(false);
    expect(s.available).toBe(3);
  });

  it('never writes into a segment it was given', () => {
    const s = new StreamBuf(1 << 20);
    const a = Buffer.from([1, 2, 3]);
    s.append(a, 1, 0);
    s.consume(1);
    s.append(Buffer.from([9, 9]), 2, 0);
    expect([...a]).toEqual([1, 2, 3]);
    expect([...s.bytes.subarray(s.off, s.end)]).toEqual([2, 3, 9, 9]);
  });

  it('holds exactly the bytes appended and not consumed, with the right frames (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uint8Array({ minLength: 0, maxLength: 40 }), fc.nat(60)), { maxLength: 30 }), (ops) => {
        const s = new StreamBuf(1 << 20);
        const model: { b: number; frame: number }[] = [];
        let frame = 0;
        for (const [bytes, take] of ops) {
          frame++;
          s.append(Buffer.from(bytes), frame, frame);
          for (const b of bytes) model.push({ b, frame });
          const n = Math.min(take, s.available);
          if (n > 0) {
            expect(s.frameOfEnd(n)).toBe(model[n - 1]!.frame);
            s.consume(n);
            model.splice(0, n);
          }
          expect([...s.bytes.subarray(s.off, s.end)]).toEqual(model.map((m) => m.b));
          if (model.length > 0) expect(s.frameOfStart()).toBe(model[0]!.frame);
        }
      }),
    );
  });
});
