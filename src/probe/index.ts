// `probe`: diagnose a server from the client's side (issue 20). The probe's connections are
// recorded (src/probe/conn.ts), turned into a capture (src/probe/wire.ts), and that capture goes
// through the same pipeline as `analyze`, so the report's connections, ladders and frame numbers are
// those of the capture `--capture` writes. The verdict comes from the probe's rules
// (src/probe/judge.ts) over its answers; `analyze` of a probe capture finds the cookie and reaches
// the same verdict through probeResultFromRecords.
import { analyze } from '../pipeline.js';
import { groupAttempts, summarizeServers, LIKELY_CONFIDENCE } from '../diagnose/index.js';
import type { Finding } from '../diagnose/types.js';
import type { ConnectionRecord } from '../handshake/types.js';
import type { Report, ReportedConnection } from '../report/types.js';
import type { ProbeResult } from '../report/probe.js';
import { judgeProbe } from './judge.js';
import { isProbeCapture, probeResultFromRecords } from './records.js';
import { runProbe, type ProbeOptions } from './run.js';
import { probeCapture } from './wire.js';

export { isProbeCapture, probeResultFromRecords } from './records.js';
export { judgeProbe } from './judge.js';
export { runProbe, parseTarget } from './run.js';

export interface ProbeOutcome {
  report: Report;
  /** The probe's traffic as pcapng (reconstructed packets, TLS key log in a DSB). */
  capture: Buffer;
  result: ProbeResult;
}

/** As the records spell an endpoint (src/flow/types.ts endpointText: IPv6 without brackets). */
function endpoint(ip: string, port: number): string {
  return `${ip}:${port}`;
}

/** Runs the probe; a string is a one-line usage error (a target that is not HOST[:PORT]). */
export async function probe(target: string, opts: ProbeOptions & { captureName?: string }): Promise<ProbeOutcome | string> {
  const run = await runProbe(target, opts);
  if (typeof run === 'string') return run;
  const r = run.result;
  const names = r.dns && r.address ? [{ ip: r.address, names: [r.dns.name] }] : [];
  const capture = probeCapture(run.connections, run.keyLog, names);
  const base = await analyze([{ kind: 'buffer', name: opts.captureName ?? `probe of ${target}`, data: capture }], { rdpPorts: [r.port], jobs: 1 });
  // The probe's connection ids (c1.. in the order opened) -> the records (by client endpoint).
  const byClient = new Map<string, ConnectionRecord>();
  for (const c of base.connections) byClient.set(c.client, c);
  const idMap = new Map<string, ConnectionRecord>();
  run.connections.forEach((w, i) => {
    const rec = byClient.get(endpoint(w.clientIp, w.clientPort));
    if (rec) idMap.set(`c${i + 1}`, rec);
  });
  // Steps name records by their report ids from here on.
  for (const s of [...r.x224, ...r.tls, ...(r.credssp ? [r.credssp] : []), ...(r.logon ? [r.logon] : [])]) s.connectionId = s.connectionId === null ? null : (idMap.get(s.connectionId)?.id ?? s.connectionId);
  const byId = new Map(base.connections.map((c) => [c.id, c]));
  const findings = judgeProbe(r, (id) => (id === null ? null : byId.get(id) ?? null));
  return { report: probeReport(base, r, findings), capture, result: r };
}

/**
 * `analyze` of a probe capture: the same verdict as the probe that wrote it. Null when the report
 * holds no probe connection.
 */
export function reinterpretProbeCapture(base: Report): Report | null {
  if (!isProbeCapture(base.connections)) return null;
  const r = probeResultFromRecords(base.connections);
  if (!r) return null;
  const byId = new Map(base.connections.map((c) => [c.id, c]));
  const findings = judgeProbe(r, (id) => (id === null ? null : byId.get(id) ?? null));
  return probeReport(base, r, findings);
}

/** Which probe connections the server failed (the others ended where the probe meant to end them). */
function failedConnections(r: ProbeResult): Map<string, string> {
  const failed = new Map<string, string>();
  for (const s of r.x224) {
    if (s.connectionId === null) continue;
    if (s.outcome !== 'selected' && s.outcome !== 'confirm_without_negotiation') failed.set(s.connectionId, s.detail);
  }
  const anyHandshake = r.tls.some((t) => t.outcome === 'handshake');
  for (const t of r.tls) {
    if (t.connectionId === null || t.outcome === 'handshake' || t.outcome === 'not_tried') continue;
    // A version offered alone and refused with an alert, by a server that takes another one, is the
    // answer the probe asked for (a server without TLS 1.0 is healthy): the TLS table shows it.
    if (t.offered !== 'default' && t.outcome === 'alert' && anyHandshake) continue;
    failed.set(t.connectionId, t.detail);
  }
  const cs = r.credssp;
  if (cs?.connectionId && (cs.outcome === 'error_code' || cs.outcome === 'reset' || cs.outcome === 'closed' || cs.outcome === 'no_answer')) failed.set(cs.connectionId, cs.detail);
  const lg = r.logon;
  if (lg?.connectionId && (lg.outcome === 'error_code' || lg.outcome === 'reset' || lg.outcome === 'closed' || lg.outcome === 'no_answer')) failed.set(lg.connectionId, lg.detail);
  return failed;
}

function probeHeadline(r: ProbeResult, findings: Finding[]): string {
  const a = r.address ?? r.host;
  const server = r.dns ? `${r.host} (${a.includes(':') ? `[${a}]` : a}:${r.port})` : a.includes(':') ? `[${a}]:${r.port}` : `${a}:${r.port}`;
  const likely = findings.filter((f) => f.confidence >= LIKELY_CONFIDENCE);
  if (likely.length === 0) {
    const accepted = r.x224.filter((s) => s.outcome === 'selected').map((s) => `${s.set} -> ${s.selectedProtocolName}`);
    const versions = [...new Set(r.tls.filter((t) => t.outcome === 'handshake').map((t) => t.version))].join(', ');
    const notes = findings.map((f) => `possibly ${f.summary ?? f.cause}`);
    return `Probe of ${server}: no problem found${accepted.length ? ` (accepts ${accepted.join(', ')}${versions ? `; TLS ${versions}` : ''})` : ''}${notes.length ? `; ${notes.join('; ')}` : ''}.`;
  }
  return `Probe of ${server}: ${likely.map((f) => f.summary ?? f.cause).join('; ')}.`;
}

/** The report of a probe: the capture's connections told as probe steps, the probe's findings, the matrix. */
export function probeReport(base: Report, r: ProbeResult, findings: Finding[]): Report {
  const failed = failedConnections(r);
  const perConn = new Map<string, Finding[]>();
  const connections: ReportedConnection[] = base.connections.map((c) => {
    const why = failed.get(c.id);
    if (why === undefined && c.negotiation !== null) {
      // The probe ended this connection itself, where it meant to: a step that worked.
      const done: ReportedConnection = { ...c, outcome: 'completed', died: null, findings: [] };
      perConn.set(c.id, []);
      return done;
    }
    const frames = new Set(c.timeline.map((e) => e.frame));
    const mine = findings.filter((f) => f.frames.some((x) => frames.has(x)));
    perConn.set(c.id, mine);
    return { ...c, outcome: c.outcome === 'incomplete_capture' && why !== undefined ? 'failed' : c.outcome === 'completed' ? 'failed' : c.outcome, findings: mine };
  });
  const completed = connections.filter((c) => c.outcome === 'completed').length;
  const failedN = connections.filter((c) => c.outcome === 'failed').length;
  return {
    ...base,
    connections,
    captureFindings: findings,
    groups: groupAttempts(connections, perConn),
    servers: summarizeServers(connections, perConn),
    summary: {
      connections: connections.length,
      completed,
      failed: failedN,
      incompleteCapture: connections.length - completed - failedN,
      preAuthentication: 0,
      headline: probeHeadline(r, findings),
    },
    probe: r,
  };
}

/** Exit code of a probe (README "Exit codes"): 1 when a finding is at least likely, else 0. */
export function probeExitCode(report: Report): number {
  return report.captureFindings.some((f) => f.confidence >= LIKELY_CONFIDENCE) ? 1 : 0;
}
