// The capture stage: sources and formats -> frame views.
export * from './types.js';
export { CaptureParser, MAX_WARNINGS, MAX_NAME_RECORDS, MAX_SECRETS_BYTES } from './parser.js';
export { readCapture, readCaptureStream, sourceName, DEFAULT_CHUNK_SIZE, type ReadOptions } from './source.js';
export { MAX_CAP_LEN, decodePcapHeader, type PcapHeader } from './pcap.js';
export { MAX_BLOCK_LEN, splitTimestamp, tsUnits, formatIpv6, type TsUnits, type TsOut } from './pcapng.js';
