// Code-to-name tables of the RDP connection sequence (MS-RDPBCGR, T.125, MS-RDPELE), as data,
// looked up with result.ts codeName's "unknown (0x..)" fallback so an unknown value is shown, never dropped.
import { codeName } from './result.js';

/** MS-RDPBCGR 2.2.1.1.1 requestedProtocols / 2.2.1.2.1 selectedProtocol bits. PROTOCOL_RDP is 0 (no bit). */
export const PROTOCOL_RDP = 0x00000000;
export const PROTOCOL_SSL = 0x00000001;
export const PROTOCOL_HYBRID = 0x00000002;
export const PROTOCOL_RDSTLS = 0x00000004;
export const PROTOCOL_HYBRID_EX = 0x00000008;
export const PROTOCOL_RDSAAD = 0x00000010;

export const PROTOCOL_BITS: Readonly<Record<number, string>> = {
  [PROTOCOL_SSL]: 'SSL',
  [PROTOCOL_HYBRID]: 'HYBRID',
  [PROTOCOL_RDSTLS]: 'RDSTLS',
  [PROTOCOL_HYBRID_EX]: 'HYBRID_EX',
  [PROTOCOL_RDSAAD]: 'RDSAAD',
};

/** Names of the set protocol bits, e.g. 0x0b -> ["SSL", "HYBRID", "HYBRID_EX"]; 0 -> ["RDP"]; unknown bits as "unknown (0x..)". */
export function protocolNames(bits: number): string[] {
  const b = bits >>> 0;
  if (b === 0) return ['RDP'];
  const out: string[] = [];
  for (let i = 0; i < 32; i++) {
    const bit = (1 << i) >>> 0;
    if ((b & bit) !== 0) out.push(codeName(PROTOCOL_BITS, bit));
  }
  return out;
}

/** The single protocol a server selected (MS-RDPBCGR 2.2.1.2.1): "RDP", "SSL", ... or "unknown (0x..)". */
export function selectedProtocolName(p: number): string {
  return p === 0 ? 'RDP' : codeName(PROTOCOL_BITS, p >>> 0);
}

/** MS-RDPBCGR 2.2.1.2.2 RDP_NEG_FAILURE failureCode. */
export const FAILURE_CODES: Readonly<Record<number, string>> = {
  1: 'SSL_REQUIRED_BY_SERVER',
  2: 'SSL_NOT_ALLOWED_BY_SERVER',
  3: 'SSL_CERT_NOT_ON_SERVER',
  4: 'INCONSISTENT_FLAGS',
  5: 'HYBRID_REQUIRED_BY_SERVER',
  6: 'SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER',
};
export function failureCodeName(code: number): string {
  return codeName(FAILURE_CODES, code);
}

/** MS-RDPBCGR 2.2.1.1.1 RDP_NEG_REQ flags. */
export const NEG_REQ_FLAGS: Readonly<Record<number, string>> = {
  0x01: 'RESTRICTED_ADMIN_MODE_REQUIRED',
  0x02: 'REDIRECTED_AUTHENTICATION_MODE_REQUIRED',
  0x08: 'CORRELATION_INFO_PRESENT',
};
/** MS-RDPBCGR 2.2.1.2.1 RDP_NEG_RSP flags. */
export const NEG_RSP_FLAGS: Readonly<Record<number, string>> = {
  0x01: 'EXTENDED_CLIENT_DATA_SUPPORTED',
  0x02: 'DYNVC_GFX_PROTOCOL_SUPPORTED',
  0x04: 'NEGRSP_FLAG_RESERVED',
  0x08: 'RESTRICTED_ADMIN_MODE_SUPPORTED',
  0x10: 'REDIRECTED_AUTHENTICATION_MODE_SUPPORTED',
};

/**
 * The logon mode a client asks for in its RDP_NEG_REQ flags (MS-RDPBCGR 2.2.1.1.1): Restricted
 * Admin mode (mstsc /restrictedAdmin) or Remote Credential Guard (mstsc /remoteGuard, "redirected
 * authentication"); and whether the server's RDP_NEG_RSP flags (2.2.1.2.1) say it supports each.
 * The credentials themselves (MS-CSSP 2.2.1.2 TSCredentials: empty TSPasswordCreds for Restricted
 * Admin, TSRemoteGuardCreds for Remote Credential Guard) travel in authInfo, which CredSSP
 * encrypts with its own security context (MS-CSSP 3.1.5) even inside decrypted TLS: the X.224
 * flags are what a capture shows.
 */
export interface LogonMode {
  /** RESTRICTED_ADMIN_MODE_REQUIRED (0x01). */
  restrictedAdmin: boolean;
  /** REDIRECTED_AUTHENTICATION_MODE_REQUIRED (0x02). */
  remoteCredentialGuard: boolean;
  /**
   * RDP_NEG_RSP's RESTRICTED_ADMIN_MODE_SUPPORTED (0x08) and REDIRECTED_AUTHENTICATION_MODE_SUPPORTED
   * (0x10), or null when no RDP_NEG_RSP was seen.
   */
  serverSupports: { restrictedAdmin: boolean; remoteCredentialGuard: boolean } | null;
  /** The X.224 Connection Request that asked for it. */
  frame: number;
}

/** The logon modes by RDP_NEG_REQ flag: the spec's name and the name admins know (one source for every report). */
export const LOGON_MODES: readonly { flag: number; supported: number; key: 'restrictedAdmin' | 'remoteCredentialGuard'; name: string; words: string }[] = [
  { flag: 0x01, supported: 0x08, key: 'restrictedAdmin', name: 'RESTRICTED_ADMIN_MODE_REQUIRED', words: 'Restricted Admin mode' },
  { flag: 0x02, supported: 0x10, key: 'remoteCredentialGuard', name: 'REDIRECTED_AUTHENTICATION_MODE_REQUIRED', words: 'Remote Credential Guard' },
];

/** The logon mode asked for by RDP_NEG_REQ flags, or null when the client asked for neither. */
export function logonModeOf(requestFlags: number, frame: number): LogonMode | null {
  if ((requestFlags & 0x03) === 0) return null;
  return { restrictedAdmin: (requestFlags & 0x01) !== 0, remoteCredentialGuard: (requestFlags & 0x02) !== 0, serverSupports: null, frame };
}

/** A mode's RDP_NEG_RSP support bits read into it (MS-RDPBCGR 2.2.1.2.1). */
export function logonModeSupport(m: LogonMode, responseFlags: number): void {
  m.serverSupports = { restrictedAdmin: (responseFlags & 0x08) !== 0, remoteCredentialGuard: (responseFlags & 0x10) !== 0 };
}

/** "RESTRICTED_ADMIN_MODE_REQUIRED (Restricted Admin mode)" per mode asked for. */
export function logonModeNames(m: LogonMode | null | undefined): string[] {
  if (!m) return [];
  return LOGON_MODES.filter((x) => m[x.key]).map((x) => `${x.name} (${x.words})`);
}

/** "Restricted Admin mode" / "Remote Credential Guard" (the first asked for), or null. */
export function logonModeWords(m: LogonMode | null | undefined): string | null {
  if (!m) return null;
  return LOGON_MODES.find((x) => m[x.key])?.words ?? null;
}

/** Names of the set bits of a flags field, unknown bits as "unknown (0x..)". */
export function flagNames(table: Readonly<Record<number, string>>, flags: number, width = 8): string[] {
  const out: string[] = [];
  const f = flags >>> 0;
  for (let i = 0; i < 32; i++) {
    const bit = (1 << i) >>> 0;
    if ((f & bit) !== 0) out.push(codeName(table, bit, width));
  }
  return out;
}

/** T.125 section 7 part 1 (Result), used by Connect-Response, Attach-User and Channel-Join confirms. */
export const MCS_RESULTS: Readonly<Record<number, string>> = {
  0: 'rt-successful',
  1: 'rt-domain-merging',
  2: 'rt-domain-not-hierarchical',
  3: 'rt-no-such-channel',
  4: 'rt-no-such-domain',
  5: 'rt-no-such-user',
  6: 'rt-not-admitted',
  7: 'rt-other-user-id',
  8: 'rt-parameters-unacceptable',
  9: 'rt-token-not-available',
  10: 'rt-token-not-possessed',
  11: 'rt-too-many-channels',
  12: 'rt-too-many-tokens',
  13: 'rt-too-many-users',
  14: 'rt-unspecified-failure',
  15: 'rt-user-rejected',
};
export function mcsResultName(r: number): string {
  return codeName(MCS_RESULTS, r, 2);
}

/** T.125 section 7 part 1 (Reason), carried by Disconnect-Provider-Ultimatum. */
export const MCS_REASONS: Readonly<Record<number, string>> = {
  0: 'rn-domain-disconnected',
  1: 'rn-provider-initiated',
  2: 'rn-token-purged',
  3: 'rn-user-requested',
  4: 'rn-channel-purged',
};
export function mcsReasonName(r: number): string {
  return codeName(MCS_REASONS, r, 2);
}

/** MS-RDPBCGR 2.2.1.4.3 encryptionMethod (and 2.2.1.3.3 encryptionMethods bits). */
export const ENCRYPTION_METHODS: Readonly<Record<number, string>> = {
  0x00000000: 'ENCRYPTION_METHOD_NONE',
  0x00000001: 'ENCRYPTION_METHOD_40BIT',
  0x00000002: 'ENCRYPTION_METHOD_128BIT',
  0x00000008: 'ENCRYPTION_METHOD_56BIT',
  0x00000010: 'ENCRYPTION_METHOD_FIPS',
};
export function encryptionMethodName(m: number): string {
  return codeName(ENCRYPTION_METHODS, m >>> 0);
}

/** MS-RDPBCGR 2.2.1.4.3 encryptionLevel. */
export const ENCRYPTION_LEVELS: Readonly<Record<number, string>> = {
  0: 'ENCRYPTION_LEVEL_NONE',
  1: 'ENCRYPTION_LEVEL_LOW',
  2: 'ENCRYPTION_LEVEL_CLIENT_COMPATIBLE',
  3: 'ENCRYPTION_LEVEL_HIGH',
  4: 'ENCRYPTION_LEVEL_FIPS',
};
export function encryptionLevelName(l: number): string {
  return codeName(ENCRYPTION_LEVELS, l >>> 0);
}

/** MS-RDPBCGR 2.2.1.12.1.1 (MS-RDPELE 2.2.2) licensing preamble bMsgType. */
export const LICENSE_MSG_TYPES: Readonly<Record<number, string>> = {
  0x01: 'LICENSE_REQUEST',
  0x02: 'PLATFORM_CHALLENGE',
  0x03: 'NEW_LICENSE',
  0x04: 'UPGRADE_LICENSE',
  0x12: 'LICENSE_INFO',
  0x13: 'NEW_LICENSE_REQUEST',
  0x15: 'PLATFORM_CHALLENGE_RESPONSE',
  0xff: 'ERROR_ALERT',
};
export function licenseMsgTypeName(t: number): string {
  return codeName(LICENSE_MSG_TYPES, t, 2);
}

/** MS-RDPBCGR 2.2.1.12.1.3 dwErrorCode. */
export const LICENSE_ERROR_CODES: Readonly<Record<number, string>> = {
  0x01: 'ERR_INVALID_SERVER_CERTIFICATE',
  0x02: 'ERR_NO_LICENSE',
  0x03: 'ERR_INVALID_MAC',
  0x04: 'ERR_INVALID_SCOPE',
  0x06: 'ERR_NO_LICENSE_SERVER',
  0x07: 'STATUS_VALID_CLIENT',
  0x08: 'ERR_INVALID_CLIENT',
  0x0b: 'ERR_INVALID_PRODUCTID',
  0x0c: 'ERR_INVALID_MESSAGE_LEN',
};
export function licenseErrorName(c: number): string {
  return codeName(LICENSE_ERROR_CODES, c >>> 0);
}

/** MS-RDPBCGR 2.2.1.12.1.3 dwStateTransition. */
export const LICENSE_STATE_TRANSITIONS: Readonly<Record<number, string>> = {
  1: 'ST_TOTAL_ABORT',
  2: 'ST_NO_TRANSITION',
  3: 'ST_RESET_PHASE_TO_START',
  4: 'ST_RESEND_LAST_MESSAGE',
};
export function licenseStateTransitionName(s: number): string {
  return codeName(LICENSE_STATE_TRANSITIONS, s >>> 0);
}

/** MS-RDPBCGR 2.2.8.1.1.1.1 Share Control Header pduType (low nibble). */
export const PDU_TYPES: Readonly<Record<number, string>> = {
  1: 'PDUTYPE_DEMANDACTIVEPDU',
  3: 'PDUTYPE_CONFIRMACTIVEPDU',
  6: 'PDUTYPE_DEACTIVATEALLPDU',
  7: 'PDUTYPE_DATAPDU',
  10: 'PDUTYPE_SERVER_REDIR_PKT',
};
export function pduTypeName(t: number): string {
  return codeName(PDU_TYPES, t, 2);
}

/** MS-RDPBCGR 2.2.8.1.1.1.2 Share Data Header pduType2. */
export const PDU_TYPES2: Readonly<Record<number, string>> = {
  2: 'PDUTYPE2_UPDATE',
  20: 'PDUTYPE2_CONTROL',
  27: 'PDUTYPE2_POINTER',
  28: 'PDUTYPE2_INPUT',
  31: 'PDUTYPE2_SYNCHRONIZE',
  33: 'PDUTYPE2_REFRESH_RECT',
  34: 'PDUTYPE2_PLAY_SOUND',
  35: 'PDUTYPE2_SUPPRESS_OUTPUT',
  36: 'PDUTYPE2_SHUTDOWN_REQUEST',
  37: 'PDUTYPE2_SHUTDOWN_DENIED',
  38: 'PDUTYPE2_SAVE_SESSION_INFO',
  39: 'PDUTYPE2_FONTLIST',
  40: 'PDUTYPE2_FONTMAP',
  41: 'PDUTYPE2_SET_KEYBOARD_INDICATORS',
  43: 'PDUTYPE2_BITMAPCACHE_PERSISTENT_LIST',
  44: 'PDUTYPE2_BITMAPCACHE_ERROR_PDU',
  45: 'PDUTYPE2_SET_KEYBOARD_IME_STATUS',
  46: 'PDUTYPE2_OFFSCRCACHE_ERROR_PDU',
  47: 'PDUTYPE2_SET_ERROR_INFO_PDU',
  48: 'PDUTYPE2_DRAWNINEGRID_ERROR_PDU',
  49: 'PDUTYPE2_DRAWGDIPLUS_ERROR_PDU',
  50: 'PDUTYPE2_ARC_STATUS_PDU',
  54: 'PDUTYPE2_STATUS_INFO_PDU',
  55: 'PDUTYPE2_MONITOR_LAYOUT_PDU',
};
export function pduType2Name(t: number): string {
  return codeName(PDU_TYPES2, t, 2);
}

/** MS-RDPBCGR 2.2.1.15.1 Control PDU action. */
export const CONTROL_ACTIONS: Readonly<Record<number, string>> = {
  0x0001: 'CTRLACTION_REQUEST_CONTROL',
  0x0002: 'CTRLACTION_GRANTED_CONTROL',
  0x0003: 'CTRLACTION_DETACH',
  0x0004: 'CTRLACTION_COOPERATE',
};
export function controlActionName(a: number): string {
  return codeName(CONTROL_ACTIONS, a, 4);
}

/** MS-RDPBCGR 2.2.10.1.1 Save Session Info infoType. */
export const SAVE_SESSION_INFO_TYPES: Readonly<Record<number, string>> = {
  0: 'INFOTYPE_LOGON',
  1: 'INFOTYPE_LOGON_LONG',
  2: 'INFOTYPE_LOGON_PLAINNOTIFY',
  3: 'INFOTYPE_LOGON_EXTENDED_INFO',
};
export function saveSessionInfoTypeName(t: number): string {
  return codeName(SAVE_SESSION_INFO_TYPES, t >>> 0);
}

/** MS-RDPBCGR 2.2.1.3.1 User Data Header types (client 0xC0xx, server 0x0Cxx). */
export const GCC_BLOCK_TYPES: Readonly<Record<number, string>> = {
  0xc001: 'CS_CORE',
  0xc002: 'CS_SECURITY',
  0xc003: 'CS_NET',
  0xc004: 'CS_CLUSTER',
  0xc005: 'CS_MONITOR',
  0xc006: 'CS_MCS_MSGCHANNEL',
  0xc008: 'CS_MONITOR_EX',
  0xc00a: 'CS_MULTITRANSPORT',
  0x0c01: 'SC_CORE',
  0x0c02: 'SC_SECURITY',
  0x0c03: 'SC_NET',
  0x0c04: 'SC_MCS_MSGCHANNEL',
  0x0c08: 'SC_MULTITRANSPORT',
};
export function gccBlockTypeName(t: number): string {
  return codeName(GCC_BLOCK_TYPES, t, 4);
}

/** T.125 section 7 part 10 DomainMCSPDU choice index. */
export const DOMAIN_MCS_PDUS: Readonly<Record<number, string>> = {
  0: 'plumbDomainIndication',
  1: 'erectDomainRequest',
  2: 'mergeChannelsRequest',
  3: 'mergeChannelsConfirm',
  4: 'purgeChannelsIndication',
  5: 'mergeTokensRequest',
  6: 'mergeTokensConfirm',
  7: 'purgeTokensIndication',
  8: 'disconnectProviderUltimatum',
  9: 'rejectMCSPDUUltimatum',
  10: 'attachUserRequest',
  11: 'attachUserConfirm',
  12: 'detachUserRequest',
  13: 'detachUserIndication',
  14: 'channelJoinRequest',
  15: 'channelJoinConfirm',
  16: 'channelLeaveRequest',
  17: 'channelConveneRequest',
  18: 'channelConveneConfirm',
  19: 'channelDisbandRequest',
  20: 'channelDisbandIndication',
  21: 'channelAdmitRequest',
  22: 'channelAdmitIndication',
  23: 'channelExpelRequest',
  24: 'channelExpelIndication',
  25: 'sendDataRequest',
  26: 'sendDataIndication',
  27: 'uniformSendDataRequest',
  28: 'uniformSendDataIndication',
  29: 'tokenGrabRequest',
  30: 'tokenGrabConfirm',
  31: 'tokenInhibitRequest',
  32: 'tokenInhibitConfirm',
  33: 'tokenGiveRequest',
  34: 'tokenGiveIndication',
  35: 'tokenGiveResponse',
  36: 'tokenGiveConfirm',
  37: 'tokenPleaseRequest',
  38: 'tokenPleaseIndication',
  39: 'tokenReleaseRequest',
  40: 'tokenReleaseConfirm',
  41: 'tokenTestRequest',
  42: 'tokenTestConfirm',
};
export function domainMcsPduName(choice: number): string {
  return codeName(DOMAIN_MCS_PDUS, choice, 2);
}

/** MS-RDPEUDP 2.2.2.1 RDPUDP_FEC_HEADER uFlags. */
export const RDPUDP_FLAGS: Readonly<Record<number, string>> = {
  0x0001: 'RDPUDP_FLAG_SYN',
  0x0002: 'RDPUDP_FLAG_FIN',
  0x0004: 'RDPUDP_FLAG_ACK',
  0x0008: 'RDPUDP_FLAG_DATA',
  0x0010: 'RDPUDP_FLAG_FEC',
  0x0020: 'RDPUDP_FLAG_CN',
  0x0040: 'RDPUDP_FLAG_CWR',
  0x0080: 'RDPUDP_FLAG_SACK_OPTION',
  0x0100: 'RDPUDP_FLAG_AOA',
  0x0200: 'RDPUDP_FLAG_SYNLOSSY',
  0x0400: 'RDPUDP_FLAG_ACKDELAYED',
  0x0800: 'RDPUDP_FLAG_CORRELATION_ID',
  0x1000: 'RDPUDP_FLAG_SYNEX',
};

/** MS-RDPEUDP 2.2.2.9 RDPUDP_SYNDATAEX_PAYLOAD uUdpVer. */
export const RDPUDP_VERSIONS: Readonly<Record<number, string>> = {
  0x0001: 'RDPUDP_PROTOCOL_VERSION_1',
  0x0002: 'RDPUDP_PROTOCOL_VERSION_2',
  0x0101: 'RDPUDP_PROTOCOL_VERSION_3',
};
export function rdpudpVersionName(v: number): string {
  return codeName(RDPUDP_VERSIONS, v, 4);
}
