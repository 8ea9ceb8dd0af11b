// standard_rdp_security: a session that worked over Standard RDP Security (MS-RDPBCGR 5.3): RC4
// (or FIPS 3DES) keys from the clear-text Security Exchange, a server proven by nothing but a
// proprietary certificate (2.2.1.4.3.1.1) whose key is public, or no encryption at all
// (ENCRYPTION_METHOD_NONE). A warning about a connection that completed, never an attempt's cause.
import { encryptionMethodName } from '../../rdp/codes.js';
import { PROTOCOL_RDP } from '../codes.js';
import { convFilter, makeFinding } from '../facts.js';
import type { Rule } from '../types.js';

const ENCRYPTION_METHOD_NONE = 0;
const ENCRYPTION_METHOD_FIPS = 0x10;

export const standardRdpSecurity: Rule = {
  cause: 'standard_rdp_security',
  check(conn) {
    if (conn.outcome !== 'completed' || conn.security !== 'rdp') return null;
    const neg = conn.negotiation;
    const mcs = conn.mcs;
    const method = mcs?.server?.encryptionMethod ?? null;
    // The frame the sentence names is the one cited: a legacy Connection Request (no RDP_NEG_REQ,
    // MS-RDPBCGR 2.2.1.1) is the evidence, its Connection Confirm carries no RDP_NEG_RSP.
    const legacy = neg?.selectedProtocol !== PROTOCOL_RDP && (neg?.requestedProtocols === null || neg?.requestedProtocols === undefined);
    const negFrame = neg?.selectedProtocol === PROTOCOL_RDP ? neg.confirmFrame : legacy ? neg?.requestFrame : (neg?.confirmFrame ?? neg?.requestFrame);
    const how =
      neg?.selectedProtocol === PROTOCOL_RDP
        ? `the server selected PROTOCOL_RDP in the Connection Confirm (frame ${neg.confirmFrame ?? '?'})`
        : neg?.requestedProtocols === null || neg?.requestedProtocols === undefined
          ? `the client offered no RDP_NEG_REQ (frame ${neg?.requestFrame ?? '?'}), so no TLS`
          : `no TLS layer was negotiated (frame ${neg.confirmFrame ?? neg.requestFrame ?? '?'})`;
    const cipher =
      method === null
        ? 'the encryption the MCS Connect Response chose is not in the capture'
        : method === ENCRYPTION_METHOD_NONE
          ? `the MCS Connect Response (frame ${mcs!.connectResponseFrame ?? '?'}) chose ENCRYPTION_METHOD_NONE: nothing is encrypted, the password typed at the logon screen included`
          : `the MCS Connect Response (frame ${mcs!.connectResponseFrame ?? '?'}) chose ${encryptionMethodName(method)}${method === ENCRYPTION_METHOD_FIPS ? ' (3DES)' : ' (RC4)'}, with keys from a clear-text Security Exchange${mcs!.securityExchangeFrame !== null ? ` (frame ${mcs!.securityExchangeFrame})` : ''}`;
    return makeFinding('standard_rdp_security', {
      confidence: 1,
      confidenceReason: null,
      frames: [negFrame, mcs?.connectResponseFrame, mcs?.securityExchangeFrame],
      explanation: `The session worked, over Standard RDP Security: ${how}, and ${cipher}; the server's identity was not verified.`,
      filter: `${convFilter(conn)} && (${legacy ? 'cotp.type == 0x0e' : 'rdp.negReq.selectedProtocol'} || rdp.encryptionMethod || rdp.securityExchangePDU)`,
      summary: 'the session ran over Standard RDP Security (RC4, server not authenticated)',
      // A client that sent no RDP_NEG_REQ cannot negotiate TLS at all (RDP 5.x and older): nothing
      // "made TLS fail" on the host, the client is what must change first.
      steps: legacy ? ['updateClient'] : undefined,
    });
  },
};
