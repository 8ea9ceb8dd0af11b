import { describe, expect, it } from 'vitest';
import {
  ENCRYPTION_LEVELS,
  domainMcsPduName,
  encryptionLevelName,
  encryptionMethodName,
  gccBlockTypeName,
  mcsReasonName,
  protocolNames,
  selectedProtocolName,
} from '../../src/rdp/codes.js';

describe('code tables', () => {
  it('protocol names for combinations, RDP for none', () => {
    expect(protocolNames(0)).toEqual(['RDP']);
    expect(protocolNames(3)).toEqual(['SSL', 'HYBRID']);
    expect(protocolNames(0x0b)).toEqual(['SSL', 'HYBRID', 'HYBRID_EX']);
    expect(protocolNames(0x80000001)).toEqual(['SSL', 'unknown (0x80000000)']);
    expect(selectedProtocolName(0)).toBe('RDP');
    expect(selectedProtocolName(8)).toBe('HYBRID_EX');
    expect(selectedProtocolName(0x10)).toBe('RDSAAD');
    expect(selectedProtocolName(3)).toBe('unknown (0x00000003)');
  });
  it('encryption method and level', () => {
    expect([0, 1, 2, 8, 0x10].map(encryptionMethodName)).toEqual([
      'ENCRYPTION_METHOD_NONE', 'ENCRYPTION_METHOD_40BIT', 'ENCRYPTION_METHOD_128BIT', 'ENCRYPTION_METHOD_56BIT', 'ENCRYPTION_METHOD_FIPS',
    ]);
    expect(Object.keys(ENCRYPTION_LEVELS).map(Number).map(encryptionLevelName)).toHaveLength(5);
    expect(encryptionLevelName(5)).toBe('unknown (0x00000005)');
  });
  it('MCS reasons, domain PDUs, GCC blocks', () => {
    expect([0, 1, 2, 3, 4].map(mcsReasonName)).toEqual(['rn-domain-disconnected', 'rn-provider-initiated', 'rn-token-purged', 'rn-user-requested', 'rn-channel-purged']);
    expect(mcsReasonName(5)).toBe('unknown (0x05)');
    expect(domainMcsPduName(26)).toBe('sendDataIndication');
    expect(gccBlockTypeName(0xc001)).toBe('CS_CORE');
    expect(gccBlockTypeName(0x0c02)).toBe('SC_SECURITY');
    expect(gccBlockTypeName(0xc0ff)).toBe('unknown (0xc0ff)');
  });
});
