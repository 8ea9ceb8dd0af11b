// The flow stage: flow table, bounded TCP stream reassembly, per-flow TCP/UDP facts, DNS transactions.
export { FlowTable, type FlowTableOptions, type FlowTableStats } from './table.js';
export { StreamReassembler, type ReassemblySink, type HeldBudget } from './reassembly.js';
export { isX224ConnectionRequest } from './x224.js';
export { seqAdd, seqDiff } from './seq.js';
export * from './types.js';
