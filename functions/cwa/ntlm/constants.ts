// Wire constants of NTLMSSP ([MS-NLMP] §2.2): the signature, message types, negotiate flags (§2.2.2.5)
// and AV_PAIR ids (§2.2.2.1).

export const SIGNATURE = Buffer.from('NTLMSSP\0', 'latin1');

export const MessageType = { negotiate: 1, challenge: 2, authenticate: 3 } as const;

export const NegotiateFlag = {
  unicode: 0x0000_0001,
  oem: 0x0000_0002,
  requestTarget: 0x0000_0004,
  sign: 0x0000_0010,
  seal: 0x0000_0020,
  lmKey: 0x0000_0080,
  ntlm: 0x0000_0200,
  anonymous: 0x0000_0800,
  oemDomainSupplied: 0x0000_1000,
  oemWorkstationSupplied: 0x0000_2000,
  alwaysSign: 0x0000_8000,
  targetTypeDomain: 0x0001_0000,
  targetTypeServer: 0x0002_0000,
  extendedSessionSecurity: 0x0008_0000,
  identify: 0x0010_0000,
  requestNonNtSessionKey: 0x0040_0000,
  targetInfo: 0x0080_0000,
  version: 0x0200_0000,
  negotiate128: 0x2000_0000,
  keyExchange: 0x4000_0000,
  negotiate56: 0x8000_0000,
} as const;

export const AvId = {
  eol: 0,
  nbComputerName: 1,
  nbDomainName: 2,
  dnsComputerName: 3,
  dnsDomainName: 4,
  dnsTreeName: 5,
  flags: 6,
  timestamp: 7,
  singleHost: 8,
  targetName: 9,
  channelBindings: 10,
} as const;

/** Windows Server 2008 R2 (6.1 build 7601, NTLM revision 15): what the CWA 2007 R2 hosts ran. */
export const DEFAULT_VERSION = Buffer.from('0601b11d0000000f', 'hex');
