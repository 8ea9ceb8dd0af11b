// rdp-autopsy as a library: the same pipeline as the command line, for embedding.
export { analyze, createAnalyzer, MAX_DNS, MAX_RECORDS, TOOL_VERSION, type AnalyzeOptions, type Analyzer } from './pipeline.js';
export { renderJson } from './report/json.js';
export { renderText, type TextOptions } from './report/text.js';
export { ConnectionMachine, type MachineOptions } from './handshake/machine.js';
export { decideEnding, CLIENT_TIMEOUT_S, SYN_GIVE_UP_S, SYN_RETRY_WAIT_S } from './handshake/ending.js';
export { CaptureInputError, type CaptureSource } from './capture/types.js';
export type * from './handshake/types.js';
export type * from './report/types.js';
export type { Finding, CauseId } from './diagnose/types.js';
