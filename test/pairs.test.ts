import { describe, expect, it } from 'vitest';
import { PairIndex } from '../src/pairs.js';
import type { SideChannel } from '../src/handshake/types.js';

describe('PairIndex', () => {
  it('keeps the latest list per client -> server pair, and forgets a pair only for its latest list', () => {
    const p = new PairIndex();
    const a: SideChannel[] = [];
    const b: SideChannel[] = [];
    const c: SideChannel[] = [];
    const d: SideChannel[] = [];
    p.set('10.0.0.1', '10.0.0.9', a);
    p.set('10.0.0.1', '10.0.0.8', b);
    p.set('10.0.0.2', '10.0.0.9', c);
    expect(p.size).toBe(3);
    expect(p.get('10.0.0.1', '10.0.0.9')).toBe(a);
    expect(p.get('10.0.0.1', '10.0.0.8')).toBe(b);
    expect(p.get('10.0.0.2', '10.0.0.9')).toBe(c);
    expect(p.get('10.0.0.9', '10.0.0.1')).toBeNull();
    expect(p.get('10.0.0.2', '10.0.0.8')).toBeNull();
    // A later connection between the same pair replaces the list; the earlier one no longer forgets it.
    p.set('10.0.0.1', '10.0.0.9', d);
    expect(p.size).toBe(3);
    p.forget('10.0.0.1', '10.0.0.9', a);
    expect(p.get('10.0.0.1', '10.0.0.9')).toBe(d);
    // Forgetting the head, the tail, and the last pair of a client.
    p.forget('10.0.0.1', '10.0.0.8', b);
    expect(p.get('10.0.0.1', '10.0.0.8')).toBeNull();
    expect(p.get('10.0.0.1', '10.0.0.9')).toBe(d);
    p.set('10.0.0.1', '10.0.0.7', b);
    p.forget('10.0.0.1', '10.0.0.9', d);
    expect(p.get('10.0.0.1', '10.0.0.9')).toBeNull();
    expect(p.get('10.0.0.1', '10.0.0.7')).toBe(b);
    p.forget('10.0.0.1', '10.0.0.7', b);
    p.forget('10.0.0.2', '10.0.0.9', c);
    p.forget('10.0.0.3', '10.0.0.9', c);
    expect(p.size).toBe(0);
  });

  it('compares addresses by their text, not by string identity', () => {
    const p = new PairIndex();
    const a: SideChannel[] = [];
    p.set(['10', '0', '0', '1'].join('.'), '::1', a);
    expect(p.get('10.0.0.1', ['', '', '1'].join(':'))).toBe(a);
  });
});
