import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseServerHello, readHandshake } from '../../src/rdp/tls.js';
import { type AppRecord, inferTlsPhases, isCredsspErrorSized, PROTOCOL_HYBRID, PROTOCOL_HYBRID_EX, PROTOCOL_SSL, splitTls13Records } from '../../src/rdp/tls-shape.js';
import { phaseIndex } from '../../src/handshake/types.js';
import { tlsRecordsOfPcap } from './tls-pcap.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const captures = path.resolve(repoRoot, '../shared/captures');

/** "c80 s336 ..." -> records with frames 1.. */
function recs(spec: string): AppRecord[] {
  return spec.trim().split(/\s+/).map((t, i) => ({ dir: t[0] === 'c' ? 'c2s' : 's2c', length: Number(t.slice(1)), frame: i + 1, time: i / 100 }));
}
const GCM = { cipherSuite: 0xc030, version: 0x0303 };
const names = (spec: string, proto: number | null, suite: { cipherSuite: number | null; version: number | null } = GCM) =>
  inferTlsPhases({ records: recs(spec), selectedProtocol: proto, ...suite }).steps.map((s) => `${s.step}@${s.frames.join(',')}`);

describe('inferTlsPhases (record shapes)', () => {
  it('HYBRID_EX CredSSP then the 4-byte Early User Authorization Result (nDPI rdp.pcap sizes)', () => {
    const r = inferTlsPhases({ records: recs('c81 s286 c567 s83 c100 s28'), selectedProtocol: PROTOCOL_HYBRID_EX, ...GCM });
    expect(r.steps.map((s) => s.step)).toEqual(['credssp', 'early_user_authorization_result']);
    expect(r.steps[0]!.frames).toEqual([1, 2, 3, 4, 5]);
    expect(r.steps[1]).toMatchObject({ frames: [6], phase: 'credssp', inferred: true, confidence: 0.8 });
    expect(r.reached).toBe('credssp');
  });

  it('a 4-byte-sized server record is not an EUAR under plain HYBRID', () => {
    expect(names('c81 s286 c567 s83 c100 s28', PROTOCOL_HYBRID)).toEqual(['credssp@1,2,3,4,5,6']);
  });

  it('HYBRID: CredSSP ends where the client sends two records and the second is Connect-Initial-sized', () => {
    expect(names('c80 s336 c928 s336 c160 c464 s144', PROTOCOL_HYBRID, { cipherSuite: 0x002f, version: 0x0301 })).toEqual([
      'credssp@1,2,3,4,5',
      'mcs_connect_initial@6',
      'mcs_connect_response@7',
    ]);
  });

  it('small client records after a server alert stay CredSSP (nDPI rdp_over_tls sizes)', () => {
    const r = inferTlsPhases({ records: recs('c81 s215 c633 c61 c33'), selectedProtocol: PROTOCOL_HYBRID, ...GCM });
    expect(r.steps.map((s) => s.step)).toEqual(['credssp']);
    expect(r.reached).toBe('credssp');
  });

  it('SSL (no CredSSP): the full sequence to active, every step inferred with confidence < 1', () => {
    const spec = 'c500 s130 c36 c32 s35 c36 s39 c36 s39 c420 s60 s480 c640 s60 c50 c54 c54 s50 s50 s2000 s3000 s4000 c40';
    const r = inferTlsPhases({ records: recs(spec), selectedProtocol: PROTOCOL_SSL, ...GCM });
    expect(r.steps.map((s) => `${s.step}@${s.frames.join(',')}`)).toEqual([
      'mcs_connect_initial@1',
      'mcs_connect_response@2',
      'mcs_erect_domain_attach_user@3,4,5',
      'mcs_channel_join@6,7,8,9',
      'client_info@10',
      'licensing@11',
      'demand_active@12',
      'confirm_active@13',
      'finalization@14,15,16,17,18,19',
      'active@20,21,22,23',
    ]);
    expect(r.reached).toBe('active');
    expect(r.steps.every((s) => s.inferred && s.confidence > 0 && s.confidence < 1)).toBe(true);
    expect(r.steps.find((s) => s.step === 'active')!.confidence).toBe(0.8);
    expect(r.unexplainedFrom).toBeNull();
  });

  it("the server's four finalization answers make the connection active without any large record (MS-RDPBCGR 1.3.1.1)", () => {
    // Client Sync / Cooperate / Request Control / Font List (59-63 bytes under AES-GCM), server Sync / Cooperate / Granted / Font Map,
    // then an idle logon screen's few hundred bytes and the client's TLS 1.2 close (not an app-data record).
    const spec = 'c500 s130 c36 c32 s35 c36 s39 c420 s60 s480 c640 c61 c63 s59 s63 c63 s63 c59 s59 s236 c38 s120';
    const r = inferTlsPhases({ records: recs(spec), selectedProtocol: PROTOCOL_SSL, ...GCM });
    expect(r.steps.map((s) => `${s.step}@${s.frames.join(',')}`).slice(-3)).toEqual(['confirm_active@11', 'finalization@12,13,14,15,16,17,18,19', 'active@19,20,21,22']);
    const active = r.steps[r.steps.length - 1]!;
    expect(active).toMatchObject({ phase: 'active', inferred: true, confidence: 0.7 });
    expect(active.reason).toMatch(/Font Map that ends the finalization/);
    expect(r.reached).toBe('active');
  });

  it('the finalization is not active before the server answered four times', () => {
    // Only Synchronize and Control Cooperate came back (or the server's Set Error Info and Disconnect Provider Ultimatum).
    const spec = 'c500 s130 c36 c32 s35 c36 s39 c420 s60 s480 c640 c61 c63 s59 s63 c63 c59';
    const r = inferTlsPhases({ records: recs(spec), selectedProtocol: PROTOCOL_SSL, ...GCM });
    expect(r.reached).toBe('finalization');
    // Four small server records before the client sent three of its own are not the answers either.
    const early = 'c500 s130 c36 c32 s35 c36 s39 c420 s60 s480 c640 c61 c63 s59 s63 s59 s63';
    expect(inferTlsPhases({ records: recs(early), selectedProtocol: PROTOCOL_SSL, ...GCM }).reached).toBe('finalization');
  });

  it('a licensing client message (followed by server records) is not taken for Confirm Active', () => {
    const spec = 'c500 s130 c36 c32 s35 c420 s560 c384 s64 s464 c608 c64 c64';
    expect(names(spec, PROTOCOL_SSL)).toContain('licensing@7,8,9');
    expect(names(spec, PROTOCOL_SSL)).toContain('demand_active@10');
  });

  it('an unrecognised start is reported, and bulk server data still reads as active (lower confidence)', () => {
    const r = inferTlsPhases({ records: recs('s100 c20 s1500 s1500 s1500'), selectedProtocol: PROTOCOL_SSL, ...GCM });
    expect(r.unexplainedFrom).toBe(1);
    expect(r.steps).toMatchObject([{ step: 'active', confidence: 0.5, frames: [3, 4, 5] }]);
  });

  it('a Demand Active smaller than its template: licensing, then the bulk stream is active (with input records)', () => {
    // Client Info, then s82 (licensing) s116 (a 92-byte "Demand Active"), Confirm Active, finalization, bulk.
    const spec = 'c500 s130 c36 c32 s35 c36 s39 c410 s82 s116 c486 c60 s78 s6024 s2424 c52 s6024 c40 s2424 c52';
    const r = inferTlsPhases({ records: recs(spec), selectedProtocol: PROTOCOL_SSL, ...GCM });
    expect(r.steps.map((s) => `${s.step}@${s.frames[0]}`)).toEqual([
      'mcs_connect_initial@1',
      'mcs_connect_response@2',
      'mcs_erect_domain_attach_user@3',
      'mcs_channel_join@6',
      'client_info@8',
      'licensing@9',
      'active@14',
    ]);
    const active = r.steps[r.steps.length - 1]!;
    expect(active.confidence).toBe(0.6);
    expect(active.reason).toMatch(/4 server records >= 1000 bytes follow .* with 3 small client records \(input\)/);
    expect(r.steps.find((s) => s.step === 'licensing')!.frames).toEqual([9, 10, 11, 12, 13]);
    expect(r.reached).toBe('active');
  });

  it('two large server records are not a sustained stream: licensing only', () => {
    const r = inferTlsPhases({ records: recs('c500 s130 c36 c32 s35 c410 s82 s116 c486 s6024 s2424'), selectedProtocol: PROTOCOL_SSL, ...GCM });
    expect(r.reached).toBe('licensing');
    expect(r.steps.some((s) => s.step === 'active')).toBe(false);
  });

  it('HYBRID: an errorCode-sized server TSRequest (MS-CSSP 2.2.1) ends CredSSP with an error step', () => {
    const r = inferTlsPhases({ records: recs('c82 s300 c646 s45'), selectedProtocol: PROTOCOL_HYBRID, cipherSuite: 0xc02f, version: 0x0303 });
    expect(r.steps.map((s) => `${s.step}@${s.frames.join(',')}`)).toEqual(['credssp@1,2,3', 'credssp_error@4']);
    expect(r.steps[1]).toMatchObject({ phase: 'credssp', confidence: 0.6 });
    expect(r.steps[1]!.reason).toContain('~21 plaintext');
    expect(r.reached).toBe('credssp');
    // Whatever follows an error reply is left unexplained, not read as MCS.
    const more = inferTlsPhases({ records: recs('c82 s300 c646 s45 c464 s144'), selectedProtocol: PROTOCOL_HYBRID, cipherSuite: 0xc02f, version: 0x0303 });
    expect(more.steps.map((s) => s.step)).toEqual(['credssp', 'credssp_error']);
    expect(more.unexplainedFrom).toBe(5);
  });

  it('isCredsspErrorSized: 13..32 bytes of plaintext under the suite; a 4-byte EUAR or a pubKeyAuth is not', () => {
    expect(isCredsspErrorSized(45, 0xc02f, 0x0303)).toBe(true); // 21 + 24 (AES-GCM)
    expect(isCredsspErrorSized(28, 0xc02f, 0x0303)).toBe(false); // 4: EUAR
    expect(isCredsspErrorSized(100, 0xc02f, 0x0303)).toBe(false); // 76: pubKeyAuth
    expect(isCredsspErrorSized(37, 0x1301, 0x0304)).toBe(true); // 20 + 1 + 16 (TLS 1.3)
    expect(isCredsspErrorSized(48, 0x002f, 0x0303)).toBe(false); // AES-CBC-SHA TLS 1.2: 16 IV + 32 -> at most 11 bytes
    expect(isCredsspErrorSized(64, 0x002f, 0x0303)).toBe(true); // 16 IV + 48 -> 12..27 bytes
    expect(isCredsspErrorSized(45, null, null)).toBe(true); // unknown suite: 24 bytes of overhead assumed
  });

  it('TLS 1.3: server records before the client\'s first one (NewSessionTickets, RFC 8446 4.6.1) are skipped', () => {
    const spec = 's282 s282 c438 s129 c29 c25 s28 c29 s32 c403';
    const tls13 = inferTlsPhases({ records: recs(spec), selectedProtocol: PROTOCOL_SSL, cipherSuite: 0x1302, version: 0x0304 });
    expect(tls13.steps.map((s) => `${s.step}@${s.frames[0]}`)).toEqual(['mcs_connect_initial@3', 'mcs_connect_response@4', 'mcs_erect_domain_attach_user@5', 'mcs_channel_join@8', 'client_info@10']);
    expect(tls13.unexplainedFrom).toBeNull();
    // TLS 1.2 has no such records: a leading server record is unexplained.
    expect(inferTlsPhases({ records: recs(spec), selectedProtocol: PROTOCOL_SSL, ...GCM }).unexplainedFrom).toBe(1);
  });

  it('TLS 1.3: NewSessionTickets that cross the Connect Initial are not the Connect Response (FreeRDP 2 against xrdp, live)', () => {
    // The record lengths of a real FreeRDP 2.11 (+auth-only, /sec:tls) to xrdp 0.9 capture on loopback
    // (test/diagnose/live-real-stacks.test.ts): the client sent its Finished and the Connect Initial
    // (484) in the same millisecond, xrdp's two 250-byte tickets came after it, then the Connect
    // Response (126), the MCS run, Client Info (376), licensing, Demand Active (442), Confirm Active
    // (567), the finalization's four and four, xrdp's login screen, the client's close_notify (19).
    const spec =
      'c484 s250 s250 s126 c29 c25 s28 c29 s32 c29 s32 c29 s32 c29 s32 c29 s32 c29 s32 c376 s354 c174 s51 s442 c567 c54 c58 c58 c58 s53 s57 s57 s57 s24 s51 s203 s241 c19';
    const r = inferTlsPhases({ records: recs(spec), selectedProtocol: PROTOCOL_SSL, cipherSuite: 0x1302, version: 0x0304 });
    expect(r.steps.map((s) => `${s.step}@${s.frames[0]}`).slice(0, 3)).toEqual(['mcs_connect_initial@1', 'mcs_connect_response@4', 'mcs_erect_domain_attach_user@5']);
    expect(r.steps.find((s) => s.step === 'client_info')!.frames).toEqual([20]);
    expect(r.steps.find((s) => s.step === 'confirm_active')!.frames).toEqual([25]);
    expect(r.reached).toBe('active');
    // The same records under TLS 1.2 (where tickets are handshake messages): no skipping; the first
    // server record is taken for the Connect Response as before, and the pattern breaks on the second.
    const tls12 = inferTlsPhases({ records: recs(spec), selectedProtocol: PROTOCOL_SSL, ...GCM });
    expect(tls12.steps.map((s) => `${s.step}@${s.frames[0]}`).slice(0, 2)).toEqual(['mcs_connect_initial@1', 'mcs_connect_response@2']);
    expect(tls12.reached).not.toBe('active');
  });

  it('TLS 1.3: two equal tickets after the Connect Initial and nothing more are tickets, not a Connect Response', () => {
    const r = inferTlsPhases({ records: recs('c484 s250 s250'), selectedProtocol: PROTOCOL_SSL, cipherSuite: 0x1302, version: 0x0304 });
    expect(r.steps.map((s) => s.step)).toEqual(['mcs_connect_initial']);
    // One server record alone is still the Connect Response, and so is the last Connect-Response-sized
    // record of a run; a tiny record after it (a Disconnect Provider Ultimatum) is not taken for it.
    expect(names('c484 s126', PROTOCOL_SSL, { cipherSuite: 0x1302, version: 0x0304 })).toEqual(['mcs_connect_initial@1', 'mcs_connect_response@2']);
    expect(names('c484 s250 s126 s30', PROTOCOL_SSL, { cipherSuite: 0x1302, version: 0x0304 }).slice(0, 2)).toEqual(['mcs_connect_initial@1', 'mcs_connect_response@3']);
  });

  it('no records: nothing inferred, reached stays tls', () => {
    expect(inferTlsPhases({ records: [], selectedProtocol: PROTOCOL_HYBRID, cipherSuite: null, version: null })).toEqual({ steps: [], reached: 'tls', unexplainedFrom: null });
  });

  it('unknown suite: the 24-byte overhead assumption still finds the EUAR', () => {
    expect(names('c81 s286 c567 s83 c100 s28', PROTOCOL_HYBRID_EX, { cipherSuite: null, version: null })).toEqual(['credssp@1,2,3,4,5', 'early_user_authorization_result@6']);
  });

  it('splitTls13Records drops the server flight and the client Finished', () => {
    const { handshake, application } = splitTls13Records(recs('s25 s1200 s300 s74 c74 c80 s300'));
    expect(handshake.map((r) => r.frame)).toEqual([1, 2, 3, 4, 5]);
    expect(application.map((r) => r.frame)).toEqual([6, 7]);
  });

  it('property: never throws, frames come from the input, confidences < 1', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ dir: fc.constantFrom('c2s' as const, 's2c' as const), length: fc.integer({ min: 0, max: 18432 }) }), { maxLength: 60 }),
        fc.constantFrom(null, PROTOCOL_SSL, PROTOCOL_HYBRID, PROTOCOL_HYBRID_EX),
        fc.constantFrom(null, 0x002f, 0xc030, 0x1301),
        (rs, proto, suite) => {
          const records = rs.map((r, i) => ({ ...r, frame: i + 1, time: i }));
          const out = inferTlsPhases({ records, selectedProtocol: proto, cipherSuite: suite, version: suite === null ? null : 0x0303 });
          for (const s of out.steps) {
            expect(s.confidence).toBeLessThan(1);
            for (const f of s.frames) expect(f >= 1 && f <= records.length).toBe(true);
          }
          // Phases reached never go back, and `reached` is the last step's phase.
          const idx = out.steps.map((s) => phaseIndex(s.phase));
          for (let k = 1; k < idx.length; k++) expect(idx[k]!).toBeGreaterThanOrEqual(idx[k - 1]!);
          expect(out.reached).toBe(out.steps.length > 0 ? out.steps[out.steps.length - 1]!.phase : 'tls');
          // Steps do not overlap and follow the records' order.
          const firsts = out.steps.map((s) => s.frames[0]!);
          for (let k = 1; k < firsts.length; k++) expect(firsts[k]!).toBeGreaterThan(firsts[k - 1]!);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

/** App records after both ChangeCipherSpecs of one real connection, with its suite and version. */
function realShape(file: string) {
  return tlsRecordsOfPcap(path.join(captures, file)).map((c) => {
    let cipherSuite: number | null = null;
    let version: number | null = null;
    for (const r of c.records) {
      if (r.dir !== 's2c' || r.contentType !== 22 || r.fragment[0] !== 2) continue;
      const hs = readHandshake(r.fragment, 0, r.fragment.length);
      if (!hs.ok) continue;
      const sh = parseServerHello(r.fragment, hs.value.bodyOff, hs.value.end);
      if (sh.ok) [cipherSuite, version] = [sh.value.cipherSuite, sh.value.version];
    }
    let ccs = 0;
    const records: AppRecord[] = [];
    for (const r of c.records) {
      if (r.contentType === 20) ccs++;
      else if (r.contentType === 23 && ccs >= 2) records.push({ dir: r.dir, length: r.length, frame: r.frame, time: r.time });
    }
    return { client: c.client, records, cipherSuite, version };
  });
}

describe.skipIf(!existsSync(captures))('shapes of the real captures in ../shared/captures (MANIFEST.md)', () => {
  it('zeek rdp-to-ssl.pcap connection 1: 2 client / 2 server records then client FIN = CredSSP', () => {
    const c = realShape('zeek-zeek/rdp-to-ssl.pcap')[0]!;
    expect([c.cipherSuite, c.version]).toEqual([0x002f, 0x0301]);
    expect(c.records.map((r) => r.dir)).toEqual(['c2s', 's2c', 'c2s', 's2c']);
    const r = inferTlsPhases({ records: c.records, selectedProtocol: PROTOCOL_HYBRID, cipherSuite: c.cipherSuite, version: c.version });
    expect(r.reached).toBe('credssp');
    expect(r.steps).toMatchObject([{ step: 'credssp', frames: [12, 13, 14, 16] }]);
  });

  it('zeek rdp-to-ssl.pcap connection 2: 95 client / 343 server app-data frames = the whole sequence to active', () => {
    const c = realShape('zeek-zeek/rdp-to-ssl.pcap')[1]!;
    // MANIFEST counts frames (tshark); two server frames carry several records (345 records in 343 frames).
    const frames = (dir: string) => new Set(c.records.filter((r) => r.dir === dir).map((r) => r.frame)).size;
    expect([frames('c2s'), frames('s2c')]).toEqual([95, 343]);
    expect(c.records.filter((r) => r.dir === 's2c')).toHaveLength(345);
    const r = inferTlsPhases({ records: c.records, selectedProtocol: PROTOCOL_HYBRID, cipherSuite: c.cipherSuite, version: c.version });
    expect(r.reached).toBe('active');
    expect(r.steps.map((s) => `${s.step}@${s.frames[0]}`)).toEqual([
      'credssp@30',
      'mcs_connect_initial@36',
      'mcs_connect_response@38',
      'mcs_erect_domain_attach_user@39',
      'mcs_channel_join@43',
      'client_info@55',
      'licensing@56',
      'demand_active@59',
      'confirm_active@61',
      'finalization@62',
      'active@74',
    ]);
    // The finalization as a Windows pair sends it (64-byte records): client Synchronize, Control
    // Cooperate, Control Request Control (62-64), server Synchronize, Control Cooperate (66, 67),
    // Control Granted (70), client Persistent Key List (71, 80 bytes), Font List (72), server Font Map (74).
    expect(r.steps.find((s) => s.step === 'finalization')!.frames).toEqual([62, 63, 64, 66, 67, 70, 71, 72, 74]);
  });

  it('nDPI rdp.pcap: HYBRID_EX, 3 round trips, the last server record (28 bytes) = Early User Authorization Result', () => {
    const c = realShape('ntop-nDPI/rdp.pcap')[0]!;
    const r = inferTlsPhases({ records: c.records, selectedProtocol: PROTOCOL_HYBRID_EX, cipherSuite: c.cipherSuite, version: c.version });
    expect(r.steps.map((s) => `${s.step}@${s.frames.join(',')}`)).toEqual(['credssp@13,14,16,17,19', 'early_user_authorization_result@20']);
  });

  it('nDPI rdp_over_tls.pcap: CredSSP-sized records, no MCS', () => {
    const c = realShape('ntop-nDPI/rdp_over_tls.pcap')[0]!;
    const r = inferTlsPhases({ records: c.records, selectedProtocol: PROTOCOL_HYBRID, cipherSuite: c.cipherSuite, version: c.version });
    expect(r.reached).toBe('credssp');
  });

  it('zeek rdp-rdpeudp-handshake-fail.pcap (HYBRID_EX, ~1 MB): reaches active', () => {
    const c = realShape('zeek-zeek/rdp-rdpeudp-handshake-fail.pcap')[0]!;
    const r = inferTlsPhases({ records: c.records, selectedProtocol: PROTOCOL_HYBRID_EX, cipherSuite: c.cipherSuite, version: c.version });
    expect(r.reached).toBe('active');
    expect(r.steps.find((s) => s.step === 'early_user_authorization_result')!.frames).toEqual([20]);
    expect(r.steps.find((s) => s.step === 'demand_active')!.frames).toEqual([57]);
  });
});
