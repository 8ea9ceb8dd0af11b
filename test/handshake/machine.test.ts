// The per-connection state machine driven with synthetic byte streams: every way a connection
// can end, and the decoding by content (TPKT vs TLS vs fast-path).
import { describe, expect, it } from 'vitest';
import { Conn } from './harness.js';
import * as tls from './tls-bytes.js';
import * as rdp from '../../fixtures/lib/rdp-bytes.js';
import { getCert } from '../../fixtures/lib/certs.js';
import { CLIENT_TIMEOUT_S } from '../../src/handshake/ending.js';
import { ACTIVE_UNITS_BEFORE_STOP } from '../../src/handshake/machine.js';

const CR_TLS = rdp.x224ConnectionRequest({ cookie: 'alice', neg: { requestedProtocols: rdp.PROTOCOL_SSL | rdp.PROTOCOL_HYBRID } });
const CC_HYBRID = rdp.x224ConnectionConfirm({ type: 'rsp', selectedProtocol: rdp.PROTOCOL_HYBRID });
const CC_SSL = rdp.x224ConnectionConfirm({ type: 'rsp', selectedProtocol: rdp.PROTOCOL_SSL });
const USER = 1007;

/** TCP handshake, X.224 exchange selecting HYBRID (or `cc`). Returns the frames. */
function toTls(c: Conn, cc = CC_HYBRID): { cr: number; cc: number } {
  c.handshake();
  const cr = c.send(0, CR_TLS);
  const f = c.send(1, cc);
  return { cr, cc: f };
}

/** Through the TLS 1.2 handshake; returns the frames. */
function throughTls(c: Conn, cc = CC_HYBRID): { clientHello: number; serverFlight: number; clientFinished: number; serverFinished: number } {
  toTls(c, cc);
  const clientHello = c.send(0, tls.clientHello({ sni: 'rdp-srv01.corp.example' }));
  const serverFlight = c.send(1, tls.serverFlight([getCert('selfsigned').der]));
  const clientFinished = c.send(0, tls.clientFinishFlight());
  const serverFinished = c.send(1, tls.serverFinishFlight());
  return { clientHello, serverFlight, clientFinished, serverFinished };
}

describe('TCP endings', () => {
  it('SYN never answered while the capture runs on: failed no_answer in tcp, by the network', () => {
    const c = new Conn();
    c.syn();
    c.syn(3);
    const last = c.syn(6);
    const r = c.end(30);
    expect(r.outcome).toBe('failed');
    expect(r.reached).toBe('tcp');
    expect(r.died).toMatchObject({ phase: 'tcp', how: 'no_answer', by: 'network', frame: last });
    expect(r.timeline.map((e) => e.event)).toEqual(['SYN', 'SYN (retransmission)', 'SYN (retransmission)']);
  });

  it('a SYN that is the last thing in a capture that stops at once: incomplete_capture ended_early', () => {
    const c = new Conn();
    c.syn();
    const r = c.end(0.2);
    expect(r.outcome).toBe('incomplete_capture');
    expect(r.incompleteReason).toBe('ended_early');
    expect(r.died).toMatchObject({ phase: 'tcp', how: 'capture_ended', by: 'network', frame: 1 });
  });

  it('RST answering the SYN: failed rst by the server in tcp', () => {
    const c = new Conn();
    c.syn();
    const rst = c.rst(1);
    const r = c.end(5);
    expect(r.outcome).toBe('failed');
    expect(r.died).toMatchObject({ phase: 'tcp', how: 'rst', by: 'server', frame: rst });
  });

  it('ICMP unreachable answering the SYN: failed icmp_unreachable by the network', () => {
    const c = new Conn();
    c.syn();
    const i = c.icmp(3, 13);
    const r = c.end(1);
    expect(r.died).toMatchObject({ phase: 'tcp', how: 'icmp_unreachable', by: 'network', frame: i });
    expect(r.timeline[1]).toMatchObject({ direction: 'net', event: 'ICMP type 3 code 13' });
  });
});

describe('X.224', () => {
  it('decodes the Connection Request and Confirm into the negotiation record', () => {
    const c = new Conn();
    const { cr, cc } = toTls(c);
    const r = c.end(0.5);
    expect(r.negotiation).toMatchObject({
      cookie: 'alice',
      requestedProtocols: 3,
      requestedProtocolNames: ['SSL', 'HYBRID'],
      selectedProtocol: 2,
      selectedProtocolName: 'HYBRID',
      failureCode: null,
      requestFrame: cr,
      confirmFrame: cc,
    });
    expect(r.security).toBe('credssp');
    expect(r.reached).toBe('x224');
    expect(r.phases.map((p) => [p.phase, p.frame])).toEqual([
      ['tcp', 1],
      ['x224', cr],
    ]);
  });

  it('Connection Request with no Confirm, client gives up after its timeout: failed timeout by the server', () => {
    const c = new Conn();
    c.handshake();
    const cr = c.send(0, CR_TLS);
    const fin = c.fin(0, CLIENT_TIMEOUT_S + 5);
    const r = c.end(1);
    expect(r.outcome).toBe('failed');
    expect(r.died).toMatchObject({ phase: 'x224', how: 'timeout', by: 'server', frame: cr });
    expect(r.died!.detail).toContain(`frame ${fin}`);
  });

  it('Connection Request with no Confirm and the capture running on: failed timeout by the server', () => {
    const c = new Conn();
    c.handshake();
    const cr = c.send(0, CR_TLS);
    const r = c.end(CLIENT_TIMEOUT_S + 1);
    expect(r.died).toMatchObject({ phase: 'x224', how: 'timeout', by: 'server', frame: cr });
  });

  it('Connection Request with no Confirm and the capture stopping soon after: incomplete_capture ended_early', () => {
    const c = new Conn();
    c.handshake();
    c.send(0, CR_TLS);
    const r = c.end(2);
    expect(r.outcome).toBe('incomplete_capture');
    expect(r.incompleteReason).toBe('ended_early');
    expect(r.reached).toBe('x224');
  });

  it('RDP_NEG_FAILURE: failed negotiation_failure by the server, even when the client then closes', () => {
    const c = new Conn();
    c.handshake();
    c.send(0, rdp.x224ConnectionRequest({ cookie: 'bob', neg: { requestedProtocols: rdp.PROTOCOL_SSL } }));
    const cc = c.send(1, rdp.x224ConnectionConfirm({ type: 'failure', failureCode: rdp.SSL_NOT_ALLOWED_BY_SERVER }));
    c.fin(0);
    c.rst(1);
    const r = c.end();
    expect(r.died).toMatchObject({ phase: 'x224', how: 'negotiation_failure', by: 'server', frame: cc });
    expect(r.negotiation).toMatchObject({ failureCode: 2, failureCodeName: 'SSL_NOT_ALLOWED_BY_SERVER', selectedProtocol: null });
    expect(r.security).toBeNull();
  });

  it('an X.224 Disconnect Request from the server ends it as x224_disconnect', () => {
    const c = new Conn();
    c.handshake();
    c.send(0, CR_TLS);
    const dr = c.send(1, rdp.x224DisconnectRequest(1));
    const r = c.end();
    expect(r.died).toMatchObject({ how: 'x224_disconnect', by: 'server', frame: dr });
  });

  it('a server that selects a protocol the client did not offer is named in a warning', () => {
    const c = new Conn();
    c.handshake();
    c.send(0, rdp.x224ConnectionRequest({ neg: { requestedProtocols: rdp.PROTOCOL_SSL } }));
    c.send(1, rdp.x224ConnectionConfirm({ type: 'rsp', selectedProtocol: rdp.PROTOCOL_HYBRID_EX }));
    const r = c.end();
    expect(r.warnings.some((w) => w.message.includes('HYBRID_EX, which the client did not offer'))).toBe(true);
  });

  it('a client whose first bytes are not X.224 reaches only tcp, with a warning', () => {
    const c = new Conn();
    c.handshake();
    c.send(0, Buffer.from('GET / HTTP/1.1\r\n\r\n'));
    const fin = c.fin(1);
    const r = c.end();
    expect(r.reached).toBe('tcp');
    expect(r.negotiation).toBeNull();
    expect(r.died).toMatchObject({ phase: 'tcp', how: 'fin', by: 'server', frame: fin });
    expect(r.warnings[0]!.message).toMatch(/not an X.224 Connection Request \(18 bytes starting 47 45 54/);
  });
});

describe('TLS', () => {
  it('client closes without a ClientHello after TLS was selected: failed fin by the client in x224', () => {
    const c = new Conn();
    toTls(c, CC_SSL);
    const fin = c.fin(0);
    const r = c.end();
    expect(r.security).toBe('tls');
    expect(r.died).toMatchObject({ phase: 'x224', how: 'fin', by: 'client', frame: fin });
  });

  it('server resets right after the ClientHello: failed rst by the server in tls', () => {
    const c = new Conn();
    toTls(c);
    const ch = c.send(0, tls.clientHello({ sni: 'srv' }));
    const rst = c.rst(1);
    const r = c.end();
    expect(r.reached).toBe('tls');
    expect(r.tls).toMatchObject({ clientHelloFrame: ch, sni: 'srv', serverHelloFrame: null, version: null });
    expect(r.died).toMatchObject({ phase: 'tls', how: 'rst', by: 'server', frame: rst });
  });

  it('decodes the TLS 1.2 handshake: versions, suite, certificate, Finished frames', () => {
    const c = new Conn();
    const f = throughTls(c);
    const r = c.end();
    const t = r.tls!;
    expect(t).toMatchObject({
      version: 'TLS1.2',
      cipherSuite: 0xc02f,
      cipherSuiteName: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
      clientCipherSuites: [0xc02f, 0x002f],
      clientHelloFrame: f.clientHello,
      serverHelloFrame: f.serverFlight,
      certificateFrame: f.serverFlight,
      serverHelloDoneFrame: f.serverFlight,
      clientFinishedFrame: f.clientFinished,
      serverFinishedFrame: f.serverFinished,
      establishedFrame: f.serverFinished,
      certificateEncrypted: false,
    });
    expect(t.certificates).toHaveLength(1);
    expect(t.certificates[0]!.subject).toContain('rdp-srv01.corp.example');
    expect(t.certificates[0]!.issuer).toBe(t.certificates[0]!.subject);
    const events = r.timeline.map((e) => e.event);
    expect(events).toEqual(
      expect.arrayContaining(['Client Hello', 'Server Hello', 'Certificate', 'Server Hello Done', 'Client Key Exchange', 'Change Cipher Spec', 'Encrypted Handshake Message']),
    );
  });

  it('a plaintext alert: failed tls_alert, with who sent which and the frame', () => {
    const c = new Conn();
    toTls(c);
    c.send(0, tls.clientHello());
    const a = c.send(1, tls.alert(2, 40));
    c.rst(1);
    const r = c.end();
    expect(r.tls!.alerts).toEqual([{ frame: a, by: 'server', level: 'fatal', description: 'handshake_failure', code: 40, encrypted: false }]);
    expect(r.died).toMatchObject({ phase: 'tls', how: 'tls_alert', by: 'server', frame: a });
    expect(r.timeline.some((e) => e.event === 'Alert (Level: Fatal, Description: Handshake Failure)')).toBe(true);
  });

  it('a client alert certificate_expired after the server flight', () => {
    const c = new Conn();
    toTls(c);
    c.send(0, tls.clientHello());
    c.send(1, tls.serverFlight([getCert('expired').der]));
    const a = c.send(0, tls.alert(2, 45));
    const r = c.end();
    expect(r.died).toMatchObject({ how: 'tls_alert', by: 'client', frame: a });
    expect(r.tls!.alerts[0]!.description).toBe('certificate_expired');
    expect(r.tls!.certificates[0]!.notAfter < '2026-03-10').toBe(true);
  });

  it('an encrypted alert from the server during CredSSP: failed encrypted_alert in credssp', () => {
    const c = new Conn();
    throughTls(c);
    c.send(0, tls.encrypted(23, 80));
    c.send(1, tls.encrypted(23, 336));
    c.send(0, tls.encrypted(23, 900));
    const a = c.send(1, tls.encrypted(21, 26), 1);
    c.rst(0);
    const r = c.end();
    expect(r.reached).toBe('credssp');
    expect(r.tls!.alerts).toEqual([{ frame: a, by: 'server', level: null, description: 'encrypted', code: null, encrypted: true }]);
    expect(r.died).toMatchObject({ phase: 'credssp', how: 'encrypted_alert', by: 'server', frame: a });
  });

  it('CredSSP is inferred from the record shape, marked inferred with confidence < 1', () => {
    const c = new Conn();
    const f = throughTls(c);
    const first = c.send(0, tls.encrypted(23, 80));
    c.send(1, tls.encrypted(23, 336));
    c.send(0, tls.encrypted(23, 928));
    c.send(1, tls.encrypted(23, 336));
    const fin = c.fin(0, 3);
    const r = c.end();
    const p = r.phases.find((x) => x.phase === 'credssp')!;
    expect(p).toMatchObject({ frame: first, inferred: true });
    expect(p.confidence).toBeLessThan(1);
    expect(r.tls!.appRecords).toEqual({ client: 2, server: 2 });
    expect(r.tls!.establishedFrame).toBe(f.serverFinished);
    expect(r.died).toMatchObject({ phase: 'credssp', how: 'fin', by: 'client', frame: fin });
    expect(r.timeline.find((e) => e.event === 'CredSSP exchange')).toMatchObject({ inferred: true, frame: first });
  });

  it('TLS 1.3: version from supported_versions, certificate encrypted, Finished from the encrypted flights', () => {
    const c = new Conn();
    toTls(c);
    c.send(0, tls.clientHello({ versions: [0x0304, 0x0303] }));
    const sh = c.send(1, Buffer.concat([tls.record(22, tls.handshake(2, tls.serverHelloBody({ suite: 0x1301, tls13: true }))), tls.ccs()]));
    const flight = c.send(1, tls.encrypted(23, 1200));
    const fin = c.send(0, Buffer.concat([tls.ccs(), tls.encrypted(23, 53)]));
    const r = c.end();
    expect(r.tls).toMatchObject({
      version: 'TLS1.3',
      clientVersions: ['TLS1.3', 'TLS1.2'],
      cipherSuiteName: 'TLS_AES_128_GCM_SHA256',
      serverHelloFrame: sh,
      certificateEncrypted: true,
      certificates: [],
      serverFinishedFrame: flight,
      clientFinishedFrame: fin,
      establishedFrame: fin,
    });
  });

  it('TLS 1.3: a last record of alert size before the close is an encrypted alert (inferred)', () => {
    const c = new Conn();
    toTls(c, CC_SSL);
    c.send(0, tls.clientHello({ versions: [0x0304] }));
    c.send(1, tls.record(22, tls.handshake(2, tls.serverHelloBody({ suite: 0x1301, tls13: true }))));
    c.send(1, tls.encrypted(23, 1200));
    const a = c.send(0, tls.encrypted(23, 19));
    c.fin(0);
    const r = c.end();
    // The client's first record is its Finished; the 19-byte record closing is the alert guess.
    expect(r.tls!.clientFinishedFrame).toBe(a);
    expect(r.tls!.alerts).toHaveLength(1);
    expect(r.died).toMatchObject({ how: 'encrypted_alert', by: 'client', frame: a });
  });

  it('a server that failed TLS can still write a cleartext MCS Disconnect Provider Ultimatum', () => {
    const c = new Conn();
    toTls(c, CC_SSL);
    c.send(0, tls.clientHello());
    const dpu = c.send(1, rdp.mcsDisconnectProviderUltimatum(rdp.RN_PROVIDER_INITIATED));
    const r = c.end();
    expect(r.mcs!.disconnectUltimatum).toEqual({ frame: dpu, by: 'server', reason: 1, reasonName: 'rn-provider-initiated' });
    expect(r.died).toMatchObject({ phase: 'tls', how: 'disconnect_ultimatum', by: 'server', frame: dpu });
  });

  it('a TLS record split at every byte across two segments gives the same result, credited to the last segment', () => {
    const flight = tls.serverFlight([getCert('selfsigned').der]);
    for (let cut = 1; cut < flight.length; cut += cut < 40 ? 1 : 97) {
      const c = new Conn();
      toTls(c);
      c.send(0, tls.clientHello());
      const frames = c.sendSplit(1, flight, [cut]);
      const r = c.end();
      expect(r.tls!.serverHelloFrame).toBe(frames[1]);
      expect(r.tls!.certificates[0]?.subject).toContain('rdp-srv01');
      expect(r.warnings).toEqual([]);
    }
  });

  it('a TLS flight sent one byte per segment decodes whole', () => {
    const flight = Buffer.concat([tls.clientHello({ sni: 'a.example' })]);
    const c = new Conn();
    toTls(c);
    const cuts = Array.from({ length: flight.length - 1 }, (_, i) => i + 1);
    const frames = c.sendSplit(0, flight, cuts);
    const r = c.end();
    expect(r.tls!.clientHelloFrame).toBe(frames[frames.length - 1]);
    expect(r.tls!.sni).toBe('a.example');
  });

  it('stops asking for bytes a few records into the active phase', () => {
    const c = new Conn();
    throughTls(c, CC_SSL);
    // MCS Connect Initial .. Client Info .. Demand Active / Confirm Active .. large server updates.
    const shape: [0 | 1, number][] = [
      [0, 464], [1, 144], [0, 48], [0, 32], [1, 32], [0, 48], [1, 48], [0, 432], [1, 560], [1, 464], [0, 608], [0, 48], [0, 48], [1, 48],
    ];
    for (const [d, n] of shape) c.send(d, tls.encrypted(23, n));
    let sent = 0;
    while (c.wanted && sent < 40) {
      c.send(1, tls.encrypted(23, 4000));
      sent++;
    }
    expect(c.wanted).toBe(false);
    expect(sent).toBeLessThanOrEqual(ACTIVE_UNITS_BEFORE_STOP + 4);
    const fin = c.fin(0);
    const r = c.end();
    expect(r.reached).toBe('active');
    expect(r.outcome).toBe('completed');
    expect(r.died).toBeNull();
    expect(r.phases.find((p) => p.phase === 'active')!.inferred).toBe(true);
    expect(fin).toBeGreaterThan(0);
  });
});

describe('Standard RDP Security', () => {
  const CR_RDP = rdp.x224ConnectionRequest({ cookie: 'carol', neg: { requestedProtocols: rdp.PROTOCOL_RDP } });
  const CC_RDP = rdp.x224ConnectionConfirm({ type: 'rsp', selectedProtocol: rdp.PROTOCOL_RDP });
  const mac = Buffer.alloc(8, 0xaa);

  /** Through MCS, Security Exchange and Client Info. */
  function throughMcs(c: Conn, level = rdp.ENCRYPTION_LEVEL_CLIENT_COMPATIBLE): Record<string, number> {
    c.handshake();
    const f: Record<string, number> = {};
    f.cr = c.send(0, CR_RDP);
    f.cc = c.send(1, CC_RDP);
    f.ci = c.send(0, rdp.mcsConnectInitial({
      core: { desktopWidth: 1280, desktopHeight: 1024, clientBuild: 2600, clientName: 'PC-1', serverSelectedProtocol: 0 },
      encryptionMethods: rdp.ENCRYPTION_METHOD_128BIT,
      channels: ['rdpdr', 'cliprdr'],
    }));
    f.cresp = c.send(1, rdp.mcsConnectResponse({
      clientRequestedProtocols: 0,
      security: { encryptionMethod: rdp.ENCRYPTION_METHOD_128BIT, encryptionLevel: level, serverRandom: Buffer.alloc(32, 1), serverCertificate: rdp.proprietaryServerCertificate(Buffer.alloc(64, 3), Buffer.alloc(64, 4)) },
      channelIds: [1004, 1005],
    }));
    f.erect = c.send(0, rdp.mcsErectDomainRequest());
    f.attach = c.send(0, rdp.mcsAttachUserRequest());
    f.attachConfirm = c.send(1, rdp.mcsAttachUserConfirm(USER));
    f.join = c.send(0, rdp.mcsChannelJoinRequest(USER, 1003));
    f.joinConfirm = c.send(1, rdp.mcsChannelJoinConfirm(USER, 1003));
    f.secx = c.send(0, rdp.securityExchange(USER, Buffer.alloc(72, 5)));
    f.info = c.send(0, rdp.clientInfoEncrypted(USER, mac, Buffer.alloc(300, 6)));
    return f;
  }

  it('decodes MCS, GCC, Security Exchange and Client Info in the clear', () => {
    const c = new Conn();
    const f = throughMcs(c);
    const r = c.end();
    expect(r.security).toBe('rdp');
    expect(r.reached).toBe('mcs');
    const m = r.mcs!;
    expect(m).toMatchObject({
      connectInitialFrame: f.ci,
      connectResponseFrame: f.cresp,
      result: 0,
      erectDomainFrame: f.erect,
      attachUserRequestFrame: f.attach,
      attachUserConfirmFrame: f.attachConfirm,
      attachUserResult: 0,
      securityExchangeFrame: f.secx,
      clientInfoFrame: f.info,
    });
    expect(m.client).toMatchObject({ desktopWidth: 1280, desktopHeight: 1024, clientBuild: 2600, clientName: 'PC-1', channels: ['rdpdr', 'cliprdr'] });
    expect(m.server).toMatchObject({ encryptionMethod: 2, encryptionLevel: 2, serverCertType: 'proprietary', channelIds: [1004, 1005] });
    expect(m.channelJoins).toEqual([{ channelId: 1003, requestFrame: f.join, confirmFrame: f.joinConfirm, result: 0 }]);
  });

  it('through licensing and capabilities to active, then a FIN: completed', () => {
    const c = new Conn();
    throughMcs(c);
    const lic = c.send(1, rdp.licenseErrorAlert(USER, rdp.STATUS_VALID_CLIENT, rdp.ST_NO_TRANSITION));
    const da = c.send(1, rdp.demandActive(USER, { desktopWidth: 1280, desktopHeight: 1024, securityHeader: true }));
    c.send(0, rdp.encryptedSendData(USER, mac, Buffer.alloc(400, 7)));
    const fp = c.send(1, Buffer.from([0x80, 0x10, ...Buffer.alloc(14, 9)]));
    c.fin(0);
    const r = c.end();
    expect(r.licensing).toEqual([
      { frame: lic, by: 'server', msgType: 0xff, msgName: expect.any(String), errorCode: 7, errorName: 'STATUS_VALID_CLIENT', stateTransition: 2 },
    ]);
    expect(r.phases.map((p) => p.phase)).toEqual(['tcp', 'x224', 'mcs', 'licensing', 'capabilities', 'active']);
    expect(r.phases.find((p) => p.phase === 'capabilities')).toMatchObject({ frame: da, inferred: false });
    expect(r.phases.find((p) => p.phase === 'active')).toMatchObject({ frame: fp, inferred: true });
    expect(r.outcome).toBe('completed');
  });

  it('a licensing error: failed licensing_error by the server', () => {
    const c = new Conn();
    throughMcs(c);
    const lic = c.send(1, rdp.licenseErrorAlert(USER, rdp.ERR_NO_LICENSE_SERVER, rdp.ST_TOTAL_ABORT));
    c.fin(1);
    const r = c.end();
    expect(r.died).toMatchObject({ phase: 'licensing', how: 'licensing_error', by: 'server', frame: lic });
  });

  it('Set Error Info denying the connection before active: failed error_info', () => {
    const c = new Conn();
    throughMcs(c, rdp.ENCRYPTION_LEVEL_NONE);
    const sei = c.send(1, rdp.setErrorInfo(USER, rdp.ERRINFO_SERVER_DENIED_CONNECTION));
    c.send(1, rdp.mcsDisconnectProviderUltimatum(rdp.RN_PROVIDER_INITIATED));
    const r = c.end();
    expect(r.errorInfo).toEqual([{ frame: sei, code: 7, name: 'ERRINFO_SERVER_DENIED_CONNECTION', description: expect.any(String) }]);
    expect(r.died).toMatchObject({ how: 'error_info', by: 'server', frame: sei });
  });

  it('a DPU before active: failed disconnect_ultimatum', () => {
    const c = new Conn();
    throughMcs(c);
    const dpu = c.send(1, rdp.mcsDisconnectProviderUltimatum(rdp.RN_PROVIDER_INITIATED));
    c.fin(1);
    const r = c.end();
    expect(r.died).toMatchObject({ phase: 'mcs', how: 'disconnect_ultimatum', by: 'server', frame: dpu });
  });

  it('a logoff Set Error Info and a DPU in the active phase: completed, still read after the active phase began', () => {
    const c = new Conn();
    throughMcs(c, rdp.ENCRYPTION_LEVEL_NONE);
    c.send(1, rdp.licenseErrorAlert(USER, rdp.STATUS_VALID_CLIENT, rdp.ST_NO_TRANSITION));
    for (let i = 0; i < ACTIVE_UNITS_BEFORE_STOP + 4; i++) c.send(1, Buffer.from([0x00, 0x08, 1, 2, 3, 4, 5, 6]));
    expect(c.wanted).toBe(true);
    const sei = c.send(1, rdp.setErrorInfo(USER, rdp.ERRINFO_LOGOFF_BY_USER));
    const dpu = c.send(1, rdp.mcsDisconnectProviderUltimatum(rdp.RN_USER_REQUESTED));
    c.fin(0);
    const r = c.end();
    expect(r.outcome).toBe('completed');
    expect(r.errorInfo[0]).toMatchObject({ frame: sei, name: 'ERRINFO_LOGOFF_BY_USER' });
    expect(r.mcs!.disconnectUltimatum).toMatchObject({ frame: dpu, reasonName: 'rn-user-requested' });
  });

  it('a legacy client (no RDP_NEG_REQ) and server (no RDP_NEG_RSP) is Standard RDP Security', () => {
    const c = new Conn();
    c.handshake();
    c.send(0, rdp.x224ConnectionRequest({ cookie: 'dave' }));
    c.send(1, rdp.x224ConnectionConfirm(null));
    const r = c.end();
    expect(r.security).toBe('rdp');
    expect(r.negotiation).toMatchObject({ cookie: 'dave', requestedProtocols: null, selectedProtocol: null });
  });
});

describe('incomplete captures and damage', () => {
  it('capture ending in the middle of the TLS handshake: incomplete_capture ended_early', () => {
    const c = new Conn();
    toTls(c);
    c.send(0, tls.clientHello());
    c.send(1, tls.serverFlight([getCert('selfsigned').der]));
    const r = c.end(0.3);
    expect(r.outcome).toBe('incomplete_capture');
    expect(r.incompleteReason).toBe('ended_early');
    expect(r.reached).toBe('tls');
    expect(r.died).toMatchObject({ phase: 'tls', how: 'capture_ended', by: 'network', frame: c.frame });
    expect(r.timeline[r.timeline.length - 1]).toMatchObject({ event: 'Capture ends', direction: 'net' });
  });

  it('capture starting mid-session (no SYN, no X.224): incomplete_capture started_late', () => {
    const c = new Conn();
    c.send(1, tls.encrypted(23, 200));
    c.send(0, tls.encrypted(23, 60));
    c.fin(0);
    const r = c.end();
    expect(r.outcome).toBe('incomplete_capture');
    expect(r.incompleteReason).toBe('started_late');
    // Issue 18: the TLS records are decoded from there; the X.224 facts are unknown.
    expect(r.negotiation).toBeNull();
    expect(r.tls!.appRecords).toEqual({ client: 1, server: 1 });
    expect(r.warnings[0]!.message).toContain("capture starts after the X.224 exchange: the server's first bytes (frame 1) are TLS records");
  });

  it('a proxy exchange before the X.224 PDUs is skipped, saying so', () => {
    const c = new Conn();
    c.handshake();
    c.send(0, Buffer.from([5, 1, 0]));
    c.send(1, Buffer.from([5, 0]));
    const cr = c.send(0, Buffer.concat([Buffer.from([5, 1, 0, 1, 10, 0, 0, 2, 0x0d, 0x3d]), CR_TLS]));
    const cc = c.send(1, Buffer.concat([Buffer.from([5, 0, 0, 1, 10, 0, 0, 2, 0x0d, 0x3d]), CC_HYBRID]));
    const r = c.end();
    expect(r.negotiation).toMatchObject({ cookie: 'alice', requestFrame: cr, confirmFrame: cc, selectedProtocol: 2 });
    expect(r.warnings.map((w) => w.message)).toEqual([
      "13 bytes before the client's X.224 Connection Request skipped (a proxy exchange?)",
      "12 bytes before the server's X.224 Connection Confirm skipped (a proxy exchange?)",
    ]);
  });

  it('a connection the flow table followed only from the Connection Request on (a proxy exchange not kept): said, with the proxy address and the request frame', () => {
    const c = new Conn();
    c.handshake();
    c.facts.skippedPrefix[0] = 13;
    c.facts.skippedPrefix[1] = 12;
    const cr = c.send(0, CR_TLS);
    c.send(1, CC_HYBRID);
    const r = c.end();
    expect(r.negotiation).toMatchObject({ cookie: 'alice', requestFrame: cr });
    const w = r.warnings.filter((x) => /followed from the client's X\.224 Connection Request on/.test(x.message));
    expect(w).toHaveLength(1);
    expect(w[0]!.frame).toBe(cr);
    expect(w[0]!.message).toContain(`the 13 bytes the client and the 12 bytes the server sent before it (a proxy exchange such as SOCKS or HTTP CONNECT) were not kept, so ${c.facts.server.ip}:${c.facts.server.port} is the proxy's address`);
  });

  it('no SYN but a Connection Request: analysed normally', () => {
    const c = new Conn();
    const cr = c.send(0, CR_TLS);
    c.send(1, CC_HYBRID);
    c.send(0, tls.clientHello());
    const rst = c.rst(1);
    const r = c.end();
    expect(r.negotiation!.requestFrame).toBe(cr);
    expect(r.died).toMatchObject({ phase: 'tls', how: 'rst', by: 'server', frame: rst });
  });

  it('a gap drops the partial PDU and says so', () => {
    const c = new Conn();
    toTls(c);
    const flight = tls.serverFlight([getCert('selfsigned').der]);
    c.send(0, tls.clientHello());
    c.send(1, flight.subarray(0, 100));
    const g = c.gap(1, 200);
    const r = c.end();
    expect(r.warnings.some((w) => w.frame === g && w.message.includes('200 bytes'))).toBe(true);
    expect(r.tls!.serverHelloFrame).toBeNull();
  });

  it('the per-connection byte budget stops decoding with a warning', () => {
    const c = new Conn({ byteBudget: 500 });
    toTls(c);
    c.send(0, tls.clientHello());
    c.send(1, tls.serverFlight([getCert('selfsigned').der]));
    const r = c.end();
    expect(r.warnings.some((w) => w.message.includes('budget of 500 bytes'))).toBe(true);
  });

  it('a malformed TPKT stops that direction with a warning naming the frame', () => {
    const c = new Conn();
    toTls(c);
    const f = c.send(0, Buffer.from([0x03, 0x00, 0x00, 0x02, 0xff]));
    const r = c.end();
    expect(r.warnings[0]).toMatchObject({ frame: f });
    expect(r.warnings[0]!.message).toContain('TPKT length 2');
  });
});
