// Differential test: our report against tshark 4.0's dissection, connection by connection, on every
// capture of ../shared/captures (read in place, never copied) and on our own fixtures. Frame numbers
// must be equal; fields must be equal wherever both tools read the same bytes; where they
// legitimately differ, the difference is asserted explicitly with the reason next to it.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import { MAX_RSTS, MAX_SYN_FRAMES } from '../../src/flow/facts.js';
import type { ReportedConnection, Report } from '../../src/report/types.js';
import {
  PASS1_FIELDS,
  PASS2_FIELDS,
  all,
  certificateValidity,
  first,
  has,
  hasTshark,
  num,
  segments,
  tlsVersionName,
  tsharkRows,
  type Row,
  type Segment,
} from './tshark-view.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SHARED = path.resolve(repoRoot, '../shared/captures');
const sharedPresent = existsSync(path.join(SHARED, 'expected.json'));
const FIXTURES = path.join(repoRoot, 'fixtures');
const fixturesPresent = existsSync(path.join(FIXTURES, 'captures/manifest.json'));

if (!hasTshark) console.warn('[differential] skipped: /usr/bin/tshark is missing');
if (!sharedPresent) console.warn(`[differential] shared captures skipped: ${SHARED} is absent`);

interface Case {
  name: string;
  file: string;
  /** Extra RDP ports for our analysis. */
  rdpPorts: number[];
  /** Decode-as arguments tshark needs to see the RDP of this capture (e.g. SOCKS). */
  decodeAs: string[];
}

function sharedCases(): Case[] {
  if (!sharedPresent) return [];
  const expected = JSON.parse(readFileSync(path.join(SHARED, 'expected.json'), 'utf8')) as { file: string; tshark_decode_as: string | null }[];
  return expected.map((e) => ({
    name: `shared ${e.file}`,
    file: path.join(SHARED, e.file),
    rdpPorts: [],
    // "tshark -d tcp.port==42356,socks" -> ["-d", "tcp.port==42356,socks"]
    decodeAs: e.tshark_decode_as === null ? [] : e.tshark_decode_as.split(/\s+/).slice(1),
  }));
}

function fixtureCases(): Case[] {
  if (!fixturesPresent) return [];
  const m = JSON.parse(readFileSync(path.join(FIXTURES, 'captures/manifest.json'), 'utf8')) as { scenarios: { name: string; file: string; rdpPorts: number[] }[] };
  return m.scenarios.map((s) => ({ name: `fixture ${s.name}`, file: path.join(FIXTURES, s.file), rdpPorts: s.rdpPorts.filter((p) => p !== 3389), decodeAs: [] }));
}

interface TsharkView {
  pass1: Segment[];
  pass2: Map<number, Row>;
}

async function views(c: Case, report: Report): Promise<TsharkView> {
  // RDP on another port: tshark dissects TPKT only on 3389 unless told.
  const tpktArgs = c.rdpPorts.flatMap((p) => ['-d', `tcp.port==${p},tpkt`]);
  const pass1 = segments(await tsharkRows(c.file, PASS1_FIELDS, [...c.decodeAs, ...tpktArgs]));
  // Second pass: TLS on every server port our analysis saw a TCP connection on, unless the
  // capture needs another decode-as on that port (SOCKS: no TLS there).
  const decoded = new Set(c.decodeAs.filter((a) => a.startsWith('tcp.port==')).map((a) => Number(a.slice(10).split(',')[0])));
  const ports = new Set([3389, ...c.rdpPorts]);
  for (const x of report.connections) if (x.transport === 'tcp') ports.add(Number(x.server.slice(x.server.lastIndexOf(':') + 1)));
  const tlsArgs = [...ports].filter((p) => !decoded.has(p)).flatMap((p) => ['-d', `tcp.port==${p},tls`]);
  const pass2 = await tsharkRows(c.file, PASS2_FIELDS, [...c.decodeAs, ...tlsArgs]);
  return { pass1, pass2 };
}

/** The segments of one connection: its two endpoints, from its first to its last frame. */
function connSegments(v: TsharkView, c: ReportedConnection): { all: Segment[]; c2s: Segment[]; s2c: Segment[] } {
  // Capture duplicates (exact copies of a frame, issue 18) are dropped as editcap -d would; tshark lists them.
  const copies = new Set(c.flow.captureDuplicateFrames.map(([copy]) => copy));
  const segs = v.pass1.filter(
    (s) =>
      !copies.has(s.frame) &&
      s.frame >= c.flow.firstFrame &&
      s.frame <= c.flow.lastFrame &&
      ((s.src === c.client && s.dst === c.server) || (s.src === c.server && s.dst === c.client)),
  );
  return { all: segs, c2s: segs.filter((s) => s.src === c.client), s2c: segs.filter((s) => s.src === c.server) };
}

function frames(segs: Segment[], pred: (r: Row) => boolean): number[] {
  return segs.filter((s) => pred(s.row)).map((s) => s.frame);
}

const COOKIE = 'Cookie: mstshash=';

/** How many facts were compared, so a run that silently compared nothing fails. */
const tally = { connections: 0, syn: 0, fin: 0, rst: 0, x224Requests: 0, x224Confirms: 0, cookies: 0, failureCodes: 0, mcs: 0, clientCores: 0, ultimatums: 0, clientHellos: 0, serverHellos: 0, certificates: 0, tls13: 0, alerts: 0, tsharkMalformed: 0 };

/** Pass 1: TCP flags, X.224 negotiation, MCS, client core data, Disconnect Provider Ultimatum. */
function comparePass1(v: TsharkView, c: ReportedConnection): void {
  const what = `${c.id} ${c.client} -> ${c.server}`;
  const s = connSegments(v, c);
  const flag = (r: Row, f: string): boolean => first(r, f) === '1';
  const tcp = c.flow.tcp!;

  // TCP (RFC 9293 3.1). Every SYN from the client and SYN/ACK from the server, in frame order.
  expect(tcp.synFrames, `${what}: SYN frames`).toEqual(frames(s.c2s, (r) => flag(r, 'tcp.flags.syn') && !flag(r, 'tcp.flags.ack')).slice(0, MAX_SYN_FRAMES));
  expect(tcp.synAckFrames, `${what}: SYN/ACK frames`).toEqual(frames(s.s2c, (r) => flag(r, 'tcp.flags.syn') && flag(r, 'tcp.flags.ack')).slice(0, MAX_SYN_FRAMES));
  // FIN: tshark lists every FIN segment; we keep the first FIN of each direction (a retransmitted
  // FIN is the same close, TcpFacts.fins).
  const fins = s.all
    .filter((x) => flag(x.row, 'tcp.flags.fin'))
    .filter((x, i, arr) => arr.findIndex((y) => y.src === x.src) === i)
    .map((x) => ({ dir: x.src === c.client ? 0 : 1, frame: x.frame }));
  expect(tcp.fins.map((f) => ({ dir: f.dir, frame: f.frame })), `${what}: FIN frames`).toEqual(fins);
  // RST: the connection ends at its first RST, so every RST within its frames is that one.
  const rsts = s.all.filter((x) => flag(x.row, 'tcp.flags.reset')).map((x) => ({ dir: x.src === c.client ? 0 : 1, frame: x.frame }));
  expect(tcp.rsts.map((r) => ({ dir: r.dir, frame: r.frame })), `${what}: RST frames`).toEqual(rsts.slice(0, MAX_RSTS));
  tally.connections++;
  tally.syn += tcp.synFrames.length;
  tally.fin += fins.length;
  tally.rst += rsts.length;


  // X.224 Connection Request / Confirm (X.224 13.3, 13.4; MS-RDPBCGR 2.2.1.1, 2.2.1.2).
  const cr = s.c2s.find((x) => has(x.row, 'cotp.type', '0x0e'));
  const cc = s.s2c.find((x) => has(x.row, 'cotp.type', '0x0d'));
  const n = c.negotiation;
  if (cr) tally.x224Requests++;
  if (cc) tally.x224Confirms++;
  expect(n?.requestFrame ?? null, `${what}: X.224 request frame`).toBe(cr?.frame ?? null);
  expect(n?.confirmFrame ?? null, `${what}: X.224 confirm frame`).toBe(cc?.frame ?? null);
  if (cr) {
    const line = first(cr.row, 'rdp.rt_cookie');
    if (line === null) {
      expect(n!.cookie, `${what}: cookie`).toBeNull();
      expect(n!.routingToken, `${what}: routing token`).toBeNull();
    } else if (line.startsWith(COOKIE)) {
      // Ours is the user hint alone; tshark's the whole line without its CR LF.
      expect(n!.cookie, `${what}: cookie`).toBe(line.slice(COOKIE.length));
      tally.cookies++;
    } else {
      expect(n!.routingToken, `${what}: routing token`).toBe(line);
    }
    expect(n!.requestedProtocols, `${what}: requestedProtocols`).toBe(num(first(cr.row, 'rdp.negReq.requestedProtocols')));
  }
  if (cc) {
    // tshark names the RDP_NEG_RSP's selectedProtocol rdp.negReq.selectedProtocol.
    expect(n!.selectedProtocol, `${what}: selectedProtocol`).toBe(num(first(cc.row, 'rdp.negReq.selectedProtocol')));
    expect(n!.failureCode, `${what}: failureCode`).toBe(num(first(cc.row, 'rdp.negFailure.failureCode')));
    if (n!.failureCode !== null) tally.failureCodes++;
  }

  // Known difference: a connection we decrypted (a Decryption Secrets Block in the capture) has its
  // MCS PDUs inside TLS, which this pass (no TLS decode-as) does not dissect; test/differential/keylog.test.ts
  // compares them with tshark's decryption of the same records.
  if (c.tls?.decryption !== undefined && c.tls.decryption.records.client + c.tls.decryption.records.server > 0) return;

  // MCS Connect Initial / Response (T.125 11.1, 11.2; MS-RDPBCGR 2.2.1.3, 2.2.1.4).
  const ci = s.c2s.find((x) => has(x.row, 't125.ConnectMCSPDU', '101'));
  const cresp = s.s2c.find((x) => has(x.row, 't125.ConnectMCSPDU', '102'));
  expect(c.mcs?.connectInitialFrame ?? null, `${what}: MCS Connect Initial frame`).toBe(ci?.frame ?? null);
  expect(c.mcs?.connectResponseFrame ?? null, `${what}: MCS Connect Response frame`).toBe(cresp?.frame ?? null);
  if (ci) tally.mcs++;
  if (ci && first(ci.row, 'rdp.client.name') !== null) {
    // TS_UD_CS_CORE (MS-RDPBCGR 2.2.1.3.2).
    const core = c.mcs!.client!;
    expect(core.clientName, `${what}: clientName`).toBe(first(ci.row, 'rdp.client.name'));
    expect(core.clientBuild, `${what}: clientBuild`).toBe(num(first(ci.row, 'rdp.client.build')));
    expect(core.desktopWidth, `${what}: desktopWidth`).toBe(num(first(ci.row, 'rdp.desktop.width')));
    expect(core.desktopHeight, `${what}: desktopHeight`).toBe(num(first(ci.row, 'rdp.desktop.height')));
    expect(core.keyboardLayout, `${what}: keyboardLayout`).toBe(num(first(ci.row, 'rdp.keyboardLayout')));
    tally.clientCores++;
    // Known difference: MS-RDPBCGR 2.2.1.3.2 stores the major version in the high 2 bytes of
    // `version` (0x00080004: major 8, minor 4); tshark 4.0 reads the low 2 bytes as major.
    expect([core.versionMajor, core.versionMinor], `${what}: version (tshark swaps major/minor)`).toEqual([
      num(first(ci.row, 'rdp.version.minor')),
      num(first(ci.row, 'rdp.version.major')),
    ]);
  }

  // Disconnect Provider Ultimatum (T.125 10.2; DomainMCSPDU choice 8) and its reason.
  const dpu = s.all.find((x) => has(x.row, 't124.DomainMCSPDU', '8'));
  if (dpu) {
    expect(c.mcs?.disconnectUltimatum, `${what}: Disconnect Provider Ultimatum`).toEqual({
      frame: dpu.frame,
      by: dpu.src === c.client ? 'client' : 'server',
      reason: num(first(dpu.row, 't124.reason')),
      reasonName: expect.any(String),
    });
    tally.ultimatums++;
  } else {
    expect(c.mcs?.disconnectUltimatum ?? null, `${what}: no Disconnect Provider Ultimatum`).toBeNull();
  }
}

/**
 * Known difference: under Standard RDP Security tshark dissects encrypted payloads (Client Info,
 * fast-path updates) as clear text and marks them Malformed. We do not read encrypted bytes, so such
 * frames come after the Security Exchange and carry no warning of ours. Any other frame tshark calls
 * malformed inside an RDP connection is a finding.
 */
function compareMalformed(v: TsharkView, c: ReportedConnection): void {
  const what = `${c.id} ${c.client} -> ${c.server}`;
  for (const x of connSegments(v, c).all.filter((y) => all(y.row, '_ws.malformed').length > 0)) {
    expect(c.security, `${what}: frame ${x.frame} malformed for tshark only under Standard RDP Security`).toBe('rdp');
    expect(x.frame, `${what}: frame ${x.frame} malformed for tshark comes after the Security Exchange`).toBeGreaterThan(c.mcs?.securityExchangeFrame ?? Infinity);
    expect(c.warnings.filter((w) => w.frame === x.frame), `${what}: no warning of ours on frame ${x.frame}`).toEqual([]);
    tally.tsharkMalformed++;
  }
}

const ALERT_LEVEL: Record<string, string> = { '1': 'warning', '2': 'fatal' };

/** Pass 2 (TLS decode-as): handshake frames, version, cipher suites, SNI, certificate dates, plaintext alerts. */
function comparePass2(v: TsharkView, c: ReportedConnection): void {
  const what = `${c.id} ${c.client} -> ${c.server}`;
  const s = connSegments(v, c);
  const row = (x: Segment): Row | undefined => v.pass2.get(x.frame);
  const hs = (x: Segment, t: string): boolean => has(row(x), 'tls.handshake.type', t);
  const ch = s.c2s.find((x) => hs(x, '1'));
  const sh = s.s2c.find((x) => hs(x, '2'));
  const cert = s.s2c.find((x) => hs(x, '11'));
  const tls = c.tls;
  expect(tls?.clientHelloFrame ?? null, `${what}: ClientHello frame`).toBe(ch?.frame ?? null);
  expect(tls?.serverHelloFrame ?? null, `${what}: ServerHello frame`).toBe(sh?.frame ?? null);
  if (tls === null) return;

  if (ch) {
    const r = row(ch)!;
    // RFC 8446 4.1.2 / RFC 5246 7.4.1.2: the list the client offered, in its order.
    expect(tls.clientCipherSuites, `${what}: client cipher suites`).toEqual(all(r, 'tls.handshake.ciphersuite').map((x) => num(x)));
    // RFC 6066 3.
    expect(tls.sni, `${what}: SNI`).toBe(first(r, 'tls.handshake.extensions_server_name'));
  }
  if (sh) {
    const r = row(sh)!;
    // TLS 1.3 puts the version in supported_versions (RFC 8446 4.2.1); the legacy field says 1.2.
    const sv = first(r, 'tls.handshake.extensions.supported_version');
    const hv = all(r, 'tls.handshake.version');
    // The ServerHello's version is the first handshake version in its frame (a Certificate carries none).
    expect(tls.version, `${what}: version`).toBe(tlsVersionName(num(sv ?? hv[0] ?? null)!));
    expect(tls.cipherSuite, `${what}: cipher suite`).toBe(num(first(r, 'tls.handshake.ciphersuite')));
  }
  if (tls.version === 'TLS1.3' && !tls.certificateEncrypted) {
    // The TLS 1.3 flight decrypted by both tools (a Decryption Secrets Block in the capture): the
    // Certificate is read by both, in the same frame, with the same dates.
    expect(tls.decryption?.status, `${what}: TLS 1.3 certificate read only when decrypted`).toMatch(/^(decrypted|partial)$/);
    expect(tls.certificateFrame, `${what}: Certificate frame (decrypted)`).toBe(cert?.frame ?? null);
    expect(
      tls.certificates.map((x) => ({ notBefore: x.notBefore, notAfter: x.notAfter })),
      `${what}: decrypted certificate validity (RFC 5280 4.1.2.5)`,
    ).toEqual(certificateValidity(row(cert!)!));
    tally.tls13++;
  } else if (tls.version === 'TLS1.3') {
    // RFC 8446 4.4.2: the Certificate is encrypted; tshark cannot show it. Ours points at the first
    // record of the server's encrypted flight (EncryptedExtensions ... Finished, RFC 8446 2), which
    // tshark shows as an application_data record (opaque_type 23) of a server frame.
    expect(cert, `${what}: TLS 1.3 certificate not visible to tshark`).toBeUndefined();
    expect(tls.certificateEncrypted, `${what}: certificateEncrypted`).toBe(true);
    expect(tls.certificates, `${what}: no certificate read`).toEqual([]);
    const flight = s.s2c.find((x) => x.frame >= sh!.frame && has(row(x), 'tls.record.opaque_type', '23'));
    expect(tls.certificateFrame, `${what}: first encrypted server handshake record`).toBe(flight?.frame ?? null);
    tally.tls13++;
  } else {
    expect(tls.certificateFrame, `${what}: Certificate frame`).toBe(cert?.frame ?? null);
    if (cert) {
      const validity = certificateValidity(row(cert)!);
      expect(
        tls.certificates.map((x) => ({ notBefore: x.notBefore, notAfter: x.notAfter })),
        `${what}: certificate validity (RFC 5280 4.1.2.5)`,
      ).toEqual(validity);
      tally.certificates += validity.length;
    }
  }

  // Alerts in the clear (RFC 8446 6): frame, sender, level, description. An encrypted alert has no
  // readable level or description in tshark either, unless both tools decrypted it (a Decryption
  // Secrets Block in the capture: tshark reads it by itself): then both read its level and description.
  const plain = s.all
    .filter((x) => all(row(x), 'tls.alert_message.desc').length > 0)
    .flatMap((x) => {
      const descs = all(row(x), 'tls.alert_message.desc');
      const levels = all(row(x), 'tls.alert_message.level');
      return descs.map((d, i) => ({
        frame: x.frame,
        by: x.src === c.client ? 'client' : 'server',
        level: ALERT_LEVEL[levels[i] ?? ''] ?? levels[i] ?? null,
        code: num(d),
      }));
    });
  expect(
    tls.alerts.filter((a) => a.code !== null).map((a) => ({ frame: a.frame, by: a.by, level: a.level, code: a.code })),
    `${what}: plaintext alerts`,
  ).toEqual(plain);
  tally.alerts += plain.length;
  if (ch) tally.clientHellos++;
  if (sh) tally.serverHellos++;
}

/** Every SYN to an RDP port and every X.224 Connection Request tshark saw belongs to one of our connections. */
function compareCoverage(v: TsharkView, report: Report, rdpPorts: number[]): void {
  const ports = new Set([3389, ...rdpPorts].map(String));
  const tcp = report.connections.filter((c) => c.transport === 'tcp');
  const owner = (s: Segment): ReportedConnection | undefined =>
    tcp.find((c) => s.frame >= c.flow.firstFrame && s.frame <= c.flow.lastFrame && ((s.src === c.client && s.dst === c.server) || (s.src === c.server && s.dst === c.client)));
  // Capture duplicates are dropped (issue 18), and probes (health checks, scans) are set apart from the connections.
  const copies = new Set(tcp.flatMap((c) => c.flow.captureDuplicateFrames.map(([copy]) => copy)));
  const probed = (s: Segment): boolean => report.probes.some((p) => s.src.startsWith(p.client.includes(':') ? `[${p.client}]:` : `${p.client}:`) && p.targets.includes(s.dst));
  for (const s of v.pass1) {
    const syn = first(s.row, 'tcp.flags.syn') === '1' && first(s.row, 'tcp.flags.ack') === '0';
    const dport = s.dst.slice(s.dst.lastIndexOf(':') + 1);
    if (syn && ports.has(dport) && !copies.has(s.frame) && !probed(s)) expect(owner(s), `frame ${s.frame}: SYN to ${s.dst} belongs to a connection`).toBeDefined();
    const rdpCr = has(s.row, 'cotp.type', '0x0e') && (ports.has(dport) || first(s.row, 'rdp.rt_cookie') !== null || first(s.row, 'rdp.negReq.requestedProtocols') !== null);
    if (rdpCr) expect(owner(s)?.negotiation?.requestFrame, `frame ${s.frame}: X.224 Connection Request belongs to a connection`).toBe(s.frame);
  }
}

/**
 * Bugs found by this test in files this test's author does not own (reported for routing); each
 * test named here states the right behaviour and is expected to fail until fixed.
 */
const KNOWN_BUGS: Record<string, string> = {
  // (server_denied's clear Client Info of filler bytes: fixed, a real TS_INFO_PACKET since the fixture rebuild.)
};

function runCases(cases: Case[]): void {
  for (const k of cases) {
    let memo: Promise<{ report: Report; v: TsharkView }> | null = null;
    const load = (): Promise<{ report: Report; v: TsharkView }> =>
      (memo ??= (async () => {
        const report = await analyze([{ kind: 'file', path: k.file }], { rdpPorts: k.rdpPorts });
        return { report, v: await views(k, report) };
      })());
    // A connection tunnelled through an RD Gateway is read from MS-TSGU DATA packets inside the
    // gateway's TLS, which tshark does not decode: its frames are compared with tshark's decrypted
    // bytes in test/pipeline.gateway-tunnel.test.ts and test/pipeline.gateway-transports.test.ts.
    const tcp = (r: Report): ReportedConnection[] => r.connections.filter((c) => c.transport === 'tcp' && c.flow.tcp !== null && c.gateway === undefined);
    const test = (name: string, fn: () => Promise<void>): void => {
      if (KNOWN_BUGS[name] !== undefined) it.fails(name, fn);
      else it(name, fn);
    };
    test(`${k.name}: fields and frames`, async () => {
      const { report, v } = await load();
      compareCoverage(v, report, k.rdpPorts);
      for (const c of tcp(report)) {
        comparePass1(v, c);
        comparePass2(v, c);
      }
    });
    test(`${k.name}: frames tshark marks malformed`, async () => {
      const { report, v } = await load();
      for (const c of tcp(report)) compareMalformed(v, c);
    });
  }
}

describe.skipIf(!hasTshark || !sharedPresent)(`tshark 4.0 vs our report on ${SHARED}`, () => {
  runCases(sharedCases());
});

describe.skipIf(!hasTshark || !fixturesPresent)('tshark 4.0 vs our report on our fixtures', () => {
  runCases([...fixtureCases(), ...(existsSync(path.join(FIXTURES, 'sample.pcapng')) && !fixtureCases().some((c) => c.file.endsWith('sample.pcapng')) ? [{ name: 'fixture sample.pcapng', file: path.join(FIXTURES, 'sample.pcapng'), rdpPorts: [], decodeAs: [] }] : [])]);
});

describe.skipIf(!hasTshark || !fixturesPresent)('the differential runs compared something', () => {
  // Runs after the cases above (vitest runs a file's tests in order): every kind of fact was
  // compared at least once, so a tshark field renamed or an empty run cannot pass silently.
  it('every kind of fact was compared', () => {
    for (const [k, n] of Object.entries(tally)) {
      // Only the real Standard RDP Security captures of ../shared/captures have frames tshark calls malformed.
      if (k === 'tsharkMalformed' && !sharedPresent) continue;
      expect(n, k).toBeGreaterThan(0);
    }
  });
});
