// Numeric hashing of a packet's endpoints, so that a packet is matched to a
// tracked flow (or found not to be one) without building a string key.
import type { DecodedPacket } from '../net/packet.js';

/** 32-bit hash of one endpoint: address bytes buf[off .. off+len) and a port. */
export function endpointHash(buf: Buffer, off: number, len: number, port: number): number {
  let h = (0x9e3779b9 ^ port) | 0;
  for (let i = 0; i < len; i++) h = Math.imul(h ^ buf[off + i]!, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/** Address length of the packet's IP version. */
export function addrLen(p: DecodedPacket): number {
  return p.ipVersion === 6 ? 16 : 4;
}

/**
 * Direction-independent hash of (proto, endpoint a, endpoint b), kept within
 * small-integer range (a V8 Smi, so a Map lookup allocates nothing).
 */
export function tupleHash(srcHash: number, dstHash: number, proto: number): number {
  let h = ((srcHash + dstHash) | 0) ^ Math.imul(proto, 0x27d4eb2d);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  h ^= h >>> 12;
  return h & 0x3fffffff;
}

/** Whether buf[aOff..aOff+len) equals key[0..len). */
export function sameBytes(buf: Buffer, off: number, key: ArrayLike<number>, len: number): boolean {
  for (let i = 0; i < len; i++) if (buf[off + i] !== key[i]) return false;
  return true;
}
