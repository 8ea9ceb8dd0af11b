// Whatever the upstream stages hand over, the diagnosis never throws and keeps
// its own invariants (confidence in 0..1, sorted, frames positive and sorted).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LIKELY_CONFIDENCE, attemptLinks, diagnose, groupAttempts, headline, summarizeServers } from '../../src/diagnose/index.js';
import { causeShort } from '../../src/diagnose/catalogue.js';
import type { Finding } from '../../src/diagnose/types.js';
import type { ServerSummary } from '../../src/report/types.js';
import type { ConnectionRecord, DeathHow, Phase } from '../../src/handshake/types.js';
import { PHASES } from '../../src/handshake/types.js';
import { T0, died, input, makeCert, makeDns, makeFlow, makeNegotiation, makeRecord, makeTls } from './helpers.js';

const HOWS: DeathHow[] = ['no_answer', 'rst', 'fin', 'icmp_unreachable', 'negotiation_failure', 'tls_alert', 'encrypted_alert', 'disconnect_ultimatum', 'error_info', 'licensing_error', 'x224_disconnect', 'timeout', 'capture_ended'];
const clean = (s: string) => s.replace(/N/g, 'n').replace(/u/g, 'U');
const small = fc.integer({ min: 0, max: 50 });
const frame = fc.integer({ min: 1, max: 200 });
const optFrame = fc.option(frame, { nil: null });

const record = fc
  .record({
    outcome: fc.constantFrom('completed', 'failed', 'incomplete_capture' as const),
    reached: fc.constantFrom(...PHASES),
    diedPhase: fc.constantFrom(...PHASES),
    how: fc.constantFrom(...HOWS),
    by: fc.constantFrom('client', 'server', 'network' as const),
    diedFrame: optFrame,
    start: fc.double({ min: T0 - 1e6, max: T0 + 1e6, noNaN: true }),
    dur: fc.double({ min: 0, max: 1000, noNaN: true }),
    port: fc.integer({ min: 1, max: 65535 }),
    server: fc.constantFrom('10.0.0.5', '10.0.0.6', 'fe80::1'),
    syns: fc.array(frame, { maxLength: 4 }),
    synAcks: fc.array(frame, { maxLength: 2 }),
    rsts: fc.array(fc.record({ frame, time: fc.constant(T0), dir: fc.constantFrom(0, 1 as const), ttl: fc.integer({ min: 0, max: 255 }), answersSyn: fc.boolean() }), { maxLength: 2 }),
    ttl: fc.option(fc.integer({ min: 0, max: 255 }), { nil: null }),
    retx: fc.tuple(small, small),
    dup: fc.tuple(small, small),
    packets: fc.tuple(small, small),
    lost: fc.array(fc.record({ dir: fc.constantFrom(0, 1 as const), frame, retransmitFrames: fc.array(frame, { maxLength: 3 }), length: fc.integer({ min: 0, max: 9000 }), acked: fc.boolean() }), { maxLength: 3 }),
    icmp: fc.array(fc.record({ frame, time: fc.constant(T0), ipVersion: fc.constantFrom(4, 6 as const), from: fc.constant('10.0.0.1'), type: fc.integer({ min: 0, max: 255 }), code: fc.integer({ min: 0, max: 255 }), mtu: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: null }), quotedDir: fc.constantFrom(0, 1 as const) }), { maxLength: 2 }),
    failureCode: fc.option(fc.integer({ min: 0, max: 10 }), { nil: null }),
    requested: fc.option(fc.integer({ min: 0, max: 0xff }), { nil: null }),
    selected: fc.option(fc.integer({ min: 0, max: 0xff }), { nil: null }),
    hasNeg: fc.boolean(),
    hasTls: fc.boolean(),
    notAfter: fc.constantFrom('2025-01-01T00:00:00Z', '2030-01-01T00:00:00Z', 'garbage', ''),
    // (strings never spell the markers the explanation check looks for)
    subject: fc.string({ maxLength: 40 }).map(clean),
    sni: fc.option(fc.string({ maxLength: 20 }).map(clean), { nil: null }),
    alert: fc.option(fc.record({ frame, by: fc.constantFrom('client', 'server' as const), level: fc.constant('fatal'), description: fc.constantFrom('certificate_expired', 'unknown_ca', 'handshake_failure', 'internal_error', 'encrypted', 'weird'), code: fc.option(fc.integer({ min: 0, max: 255 }), { nil: null }), encrypted: fc.boolean() }), { nil: null }),
    appRecords: fc.record({ client: small, server: small }),
    errorCode: fc.option(fc.integer({ min: 0, max: 0x1100 }), { nil: null }),
  })
  .map((r): ConnectionRecord => {
    const flow = makeFlow(
      { client: { ip: '10.0.0.9', port: r.port }, server: { ip: r.server, port: 3389 }, ipVersion: r.server.includes(':') ? 6 : 4, start: r.start, end: r.start + r.dur, packets: r.packets, icmp: r.icmp },
      { synFrames: r.syns, synAckFrames: r.synAcks, rsts: r.rsts, ttl: [64, r.ttl], retransmissions: r.retx, dupAcks: r.dup, lostSegments: r.lost },
    );
    return makeRecord({
      flow,
      start: r.start,
      end: r.start + r.dur,
      outcome: r.outcome,
      reached: r.reached as Phase,
      died: r.outcome === 'completed' ? null : died({ phase: r.diedPhase, how: r.how, by: r.by, frame: r.diedFrame }),
      negotiation: r.hasNeg ? makeNegotiation({ failureCode: r.failureCode, requestedProtocols: r.requested, selectedProtocol: r.selected }) : null,
      tls: r.hasTls
        ? makeTls({ sni: r.sni, certificates: [makeCert({ notAfter: r.notAfter, subject: r.subject })], alerts: r.alert ? [r.alert] : [], appRecords: r.appRecords })
        : null,
      errorInfo: r.errorCode === null ? [] : [{ frame: 50, code: r.errorCode, name: `ERRINFO_${r.errorCode}`, description: '' }],
    });
  });

describe('the diagnosis on arbitrary records', () => {
  it('never throws and keeps its invariants', () => {
    fc.assert(
      fc.property(fc.array(record, { minLength: 1, maxLength: 6 }), fc.boolean(), (generated, withDns) => {
        const conns = generated.map((c, i) => ({ ...c, id: `c${i + 1}` }));
        const inp = input(conns, { dns: withDns ? [makeDns({ rcode: 3, addresses: [] }), makeDns({ addresses: ['10.0.0.6'] })] : [] });
        const findings = diagnose(inp);
        for (const c of conns) {
          const list = findings.get(c.id)!;
          if (c.outcome === 'completed') expect(list).toEqual([]);
          for (let i = 0; i < list.length; i++) {
            const f = list[i]!;
            expect(f.confidence).toBeGreaterThanOrEqual(0);
            expect(f.confidence).toBeLessThanOrEqual(1);
            if (i > 0) expect(list[i - 1]!.confidence).toBeGreaterThanOrEqual(f.confidence);
            if (c.outcome === 'incomplete_capture') expect(f.confidence).toBeLessThanOrEqual(0.3);
            expect(f.frames.every((x, j) => x > 0 && (j === 0 || f.frames[j - 1]! < x))).toBe(true);
            expect(f.explanation).not.toMatch(/undefined|NaN/);
            // a failed retry's findings are consequences of its root failure, whose finding carries the steps
            if (f.consequenceOf === undefined || f.consequenceOf === null) expect(f.remediation.length).toBeGreaterThan(0);
            else expect(conns.some((o) => o.id === f.consequenceOf && o.outcome === 'failed')).toBe(true);
          }
        }
        const groups = groupAttempts(conns, findings);
        expect(groups.flatMap((g) => g.connectionIds).sort()).toEqual(conns.map((c) => c.id).sort());
        const servers = summarizeServers(conns, findings);
        expect(servers.reduce((n, s) => n + s.attempts, 0)).toBe(conns.length);
        expect(headline(conns, findings)).toMatch(/\.$/);
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 400), ...(process.env.PROP_SEED ? { seed: Number(process.env.PROP_SEED) } : {}) },
    );
  });
});

describe('summarizeServers against its former per-server filters', () => {
  // The former implementation (a list per server, a filter per outcome), kept here as the reference
  // for the one-pass counting; server keys were ordered with localeCompare (keys written as the
  // reports write them: IPv6 in brackets).
  function former(connections: ConnectionRecord[], findings: Map<string, Finding[]>): ServerSummary[] {
    const key = (c: ConnectionRecord): string => (c.flow.server.ip.includes(':') ? `[${c.flow.server.ip}]:${c.flow.server.port}` : `${c.flow.server.ip}:${c.flow.server.port}`);
    const links = attemptLinks(connections);
    const byServer = new Map<string, ConnectionRecord[]>();
    for (const c of connections) byServer.set(key(c), [...(byServer.get(key(c)) ?? []), c]);
    const out: ServerSummary[] = [];
    for (const [server, conns] of byServer) {
      // A pre-authentication connection is not an attempt; a failed retry is counted as one.
      const preAuth = conns.filter((c) => links.get(c.id)?.role === 'pre_authentication').length;
      const attempts = conns.filter((c) => links.get(c.id)?.role !== 'pre_authentication');
      const completedConns = attempts.filter((c) => c.outcome === 'completed');
      const completed = completedConns.length;
      const weak = completedConns.filter((c) => findings.get(c.id)?.some((f) => f.cause === 'standard_rdp_security')).length;
      const failedConns = attempts.filter((c) => c.outcome === 'failed');
      const incomplete = attempts.filter((c) => c.outcome === 'incomplete_capture').length;
      const counts = new Map<string, number>();
      for (const c of failedConns) {
        const f = findings.get(c.id)?.[0] ?? null;
        const k =
          links.get(c.id)?.role === 'retry'
            ? "the client's own retry after a failure"
            : f && f.confidence >= LIKELY_CONFIDENCE
              ? causeShort(f.cause)
              : 'failed with no clear cause';
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      const lines = [...counts.entries()].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n} ${k}`);
      if (completed) lines.push(`${completed} completed${weak ? ` (${weak === completed ? '' : `${weak} `}over weak Standard RDP Security)` : ''}`);
      if (incomplete) lines.push(`${incomplete} only partly captured`);
      if (preAuth) lines.push(`${preAuth} NLA pre-authentication connection${preAuth === 1 ? '' : 's'} (not counted as attempts)`);
      out.push({ server, attempts: attempts.length, completed, failed: failedConns.length, incomplete, lines });
    }
    return out.sort((a, b) => b.attempts - a.attempts || a.server.localeCompare(b.server));
  }

  it('gives the same summaries, in the same order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(record, fc.constantFrom(3389, 3390), fc.constantFrom('10.0.0.5', '10.0.0.50', '10.0.1.5', 'fe80::1', 'fe80::a')), { minLength: 1, maxLength: 12 }), (generated) => {
        const conns = generated.map(([c, port, ip], i) => ({ ...c, id: `c${i + 1}`, flow: { ...c.flow, server: { ip, port } } }));
        const findings = diagnose(input(conns));
        expect(summarizeServers(conns, findings)).toEqual(former(conns, findings));
      }),
      { numRuns: Number(process.env.PROP_RUNS ?? 400), ...(process.env.PROP_SEED ? { seed: Number(process.env.PROP_SEED) } : {}) },
    );
  });
});
