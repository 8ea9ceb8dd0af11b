import { describe, expect, it } from 'vitest';
import { decodeLicensingPdu } from '../../src/rdp/licensing.js';
import { LICENSE_ERROR_CODES, LICENSE_MSG_TYPES, licenseErrorName, licenseMsgTypeName, licenseStateTransitionName } from '../../src/rdp/codes.js';
import { cat, expectIncompleteAtEveryCut, expectSurvivesRandomBytes, hex, le16, le32, ok } from './tpkt-helpers.js';

// MS-RDPBCGR 4.1.12 style: ERROR_ALERT, STATUS_VALID_CLIENT, ST_NO_TRANSITION, empty bbErrorInfo (flags 0x83: version 3, extended errors).
const VALID_CLIENT = hex('ff 83 10 00 07 00 00 00 02 00 00 00 04 00 00 00');

describe('Licensing PDUs (MS-RDPBCGR 2.2.1.12)', () => {
  it('decodes the "valid client" error alert that ends licensing without a license', () => {
    const v = ok(decodeLicensingPdu(VALID_CLIENT, 0, VALID_CLIENT.length));
    expect(v).toEqual({
      bMsgType: 0xff,
      msgName: 'ERROR_ALERT',
      flags: 0x83,
      version: 3,
      wMsgSize: 16,
      error: {
        dwErrorCode: 7,
        errorName: 'STATUS_VALID_CLIENT',
        dwStateTransition: 2,
        stateTransitionName: 'ST_NO_TRANSITION',
        errorInfoBlobType: 4,
        errorInfoBlobLen: 0,
      },
      end: 16,
    });
    expectIncompleteAtEveryCut(decodeLicensingPdu, VALID_CLIENT, 3);
  });
  it('decodes a preamble of every message type', () => {
    for (const t of Object.keys(LICENSE_MSG_TYPES).map(Number)) {
      const b = t === 0xff ? cat([t, 3], le16(12), le32(2), le32(1)) : cat([t, 3], le16(8), le32(0));
      const v = ok(decodeLicensingPdu(b, 0, b.length));
      expect(v.msgName).toBe(licenseMsgTypeName(t));
      expect(v.error === null).toBe(t !== 0xff);
    }
  });
  it('names every error code and state transition', () => {
    expect(Object.keys(LICENSE_ERROR_CODES).map(Number).map(licenseErrorName)).toEqual([
      'ERR_INVALID_SERVER_CERTIFICATE', 'ERR_NO_LICENSE', 'ERR_INVALID_MAC', 'ERR_INVALID_SCOPE', 'ERR_NO_LICENSE_SERVER',
      'STATUS_VALID_CLIENT', 'ERR_INVALID_CLIENT', 'ERR_INVALID_PRODUCTID', 'ERR_INVALID_MESSAGE_LEN',
    ]);
    expect([1, 2, 3, 4].map(licenseStateTransitionName)).toEqual(['ST_TOTAL_ABORT', 'ST_NO_TRANSITION', 'ST_RESET_PHASE_TO_START', 'ST_RESEND_LAST_MESSAGE']);
    expect(licenseErrorName(5)).toBe('unknown (0x00000005)');
  });
  it('rejects a size below the preamble and an error alert without its fields', () => {
    expect(decodeLicensingPdu(hex('01 03 03 00'), 0, 4)).toMatchObject({ ok: false, kind: 'malformed', at: 2 });
    expect(decodeLicensingPdu(hex('ff 03 08 00 00 00 00 00'), 0, 8)).toMatchObject({ ok: false, kind: 'malformed', at: 2 });
  });
  it('survives random bytes', () => {
    expectSurvivesRandomBytes(decodeLicensingPdu, [hex('ff 83'), hex('01 03')]);
  });
});
