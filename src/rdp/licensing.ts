// Licensing PDUs (MS-RDPBCGR 2.2.1.12, MS-RDPELE 2.2.2): the preamble and the Licensing Error
// Message. The decoder starts at the preamble (after the basic security header that carries
// SEC_LICENSE_PKT; see security.ts classifySendData).
import { type Decoded, done, incomplete, malformed } from './result.js';
import { licenseErrorName, licenseMsgTypeName, licenseStateTransitionName } from './codes.js';
import { u16le, u32le } from './tpkt.js';

export const LICENSE_REQUEST = 0x01;
export const PLATFORM_CHALLENGE = 0x02;
export const NEW_LICENSE = 0x03;
export const UPGRADE_LICENSE = 0x04;
export const LICENSE_INFO = 0x12;
export const NEW_LICENSE_REQUEST = 0x13;
export const PLATFORM_CHALLENGE_RESPONSE = 0x15;
export const ERROR_ALERT = 0xff;
/** Preamble flags: bit 7 EXTENDED_ERROR_MSG_SUPPORTED, low nibble the licensing protocol version. */
export const EXTENDED_ERROR_MSG_SUPPORTED = 0x80;

/** MS-RDPBCGR 2.2.1.12.1.3 Licensing Error Message. */
export interface LicenseErrorMessage {
  dwErrorCode: number;
  errorName: string;
  dwStateTransition: number;
  stateTransitionName: string;
  /** bbErrorInfo (LICENSE_BINARY_BLOB) type and length. */
  errorInfoBlobType: number | null;
  errorInfoBlobLen: number | null;
}

/** MS-RDPBCGR 2.2.1.12.1.1 Licensing Preamble, with the error message decoded for ERROR_ALERT. */
export interface LicensingPdu {
  bMsgType: number;
  msgName: string;
  flags: number;
  /** flags & 0x0f (PREAMBLE_VERSION_2_0 = 2, PREAMBLE_VERSION_3_0 = 3). */
  version: number;
  /** wMsgSize: the whole licensing message, preamble included. */
  wMsgSize: number;
  error: LicenseErrorMessage | null;
  end: number;
}

export function decodeLicensingPdu(buf: Uint8Array, off: number, end: number): Decoded<LicensingPdu> {
  if (off + 4 > end) return incomplete(off + 4 - end);
  const bMsgType = buf[off];
  const flags = buf[off + 1];
  const wMsgSize = u16le(buf, off + 2);
  if (wMsgSize < 4) return malformed(off + 2, `licensing wMsgSize ${wMsgSize} is below 4`);
  if (off + wMsgSize > end) return incomplete(off + wMsgSize - end);
  const r: LicensingPdu = {
    bMsgType,
    msgName: licenseMsgTypeName(bMsgType),
    flags,
    version: flags & 0x0f,
    wMsgSize,
    error: null,
    end: off + wMsgSize,
  };
  if (bMsgType === ERROR_ALERT) {
    if (wMsgSize < 12) return malformed(off + 2, `ERROR_ALERT wMsgSize ${wMsgSize} is below 12`);
    const code = u32le(buf, off + 4);
    const st = u32le(buf, off + 8);
    const hasBlob = wMsgSize >= 16;
    r.error = {
      dwErrorCode: code,
      errorName: licenseErrorName(code),
      dwStateTransition: st,
      stateTransitionName: licenseStateTransitionName(st),
      errorInfoBlobType: hasBlob ? u16le(buf, off + 12) : null,
      errorInfoBlobLen: hasBlob ? u16le(buf, off + 14) : null,
    };
  }
  return done(r, wMsgSize);
}
