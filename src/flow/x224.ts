// Recognising an RDP connection attempt on any port from the first bytes of a
// TCP payload, without decoding it (that is the rdp stage's job).

/**
 * Whether buf[off .. off+len) starts with a TPKT header (RFC 1006 6: version 3,
 * reserved 0, length >= 11) carrying an X.224 Connection Request TPDU (X.224
 * 13.3: CR code 0xE0 in the high nibble; its fixed part makes LI >= 6 and fits
 * the TPKT length). MS-RDPBCGR 2.2.1.1.
 */
export function isX224ConnectionRequest(buf: Buffer, off: number, len: number): boolean {
  if (len < 11) return false;
  if (buf[off] !== 3 || buf[off + 1] !== 0) return false;
  const tpktLen = (buf[off + 2]! << 8) | buf[off + 3]!;
  if (tpktLen < 11) return false;
  const li = buf[off + 4]!;
  if (li < 6 || li + 5 > tpktLen) return false;
  return (buf[off + 5]! & 0xf0) === 0xe0;
}
