// The flow table keeps the KRB-ERRORs a KDC sends on port 88 (RFC 4120 7.2.1 UDP, 7.2.2 TCP with its
// record mark), from the packet itself: no flow is tracked for port 88, and nothing else is kept.
import { describe, expect, it, vi } from 'vitest';
import { KerberosTcpJoiner } from '../../src/flow/kerberos-tcp.js';
import { ACK, Harness, PSH, tcpFrame, udpFrame } from './harness.js';
import { asReq, krbError, tcpRecord } from '../../fixtures/lib/kerberos-bytes.js';

const C = '10.0.0.9';
const KDC = '10.0.0.2';
const STIME = 1_773_133_201_000_000;

describe('FlowTable: Kerberos errors on port 88', () => {
  it('keeps a KRB-ERROR over UDP and over TCP, with frame, KDC, client and names; ignores requests and other payloads', () => {
    const h = new Harness();
    h.feed(udpFrame({ src: C, dst: KDC }, 55000, 88, asReq({ cname: 'bob', realm: 'CORP.EXAMPLE', till: STIME, nonce: 7 })));
    const udp = h.feed(udpFrame({ src: KDC, dst: C }, 88, 55000, krbError({ errorCode: 6, stime: STIME, crealm: 'CORP.EXAMPLE', cname: 'bbo', realm: 'CORP.EXAMPLE', sname: ['krbtgt', 'CORP.EXAMPLE'] })));
    const tcpErr = tcpRecord(krbError({ errorCode: 37, stime: STIME, realm: 'CORP.EXAMPLE', sname: ['TERMSRV', 'rdp-srv01.corp.example'], eText: 'skew' }));
    const tcp = h.feed(tcpFrame({ src: KDC, dst: C }, 88, 55001, 1000, 2000, ACK | PSH, tcpErr));
    h.feed(tcpFrame({ src: KDC, dst: C }, 88, 55001, 1000 + tcpErr.length, 2000, ACK | PSH, Buffer.from('not kerberos at all')));
    h.feed(udpFrame({ src: KDC, dst: C }, 88, 55002, Buffer.from([0x7e, 0x05, 0x30, 0x03, 0xa0, 0x01])));
    expect(h.table.kerberosErrors.map((k) => ({ ...k, time: 0 }))).toEqual([
      { fileIndex: 0, frame: udp, time: 0, transport: 'udp', kdc: KDC, client: C, errorCode: 6, errorName: 'KDC_ERR_C_PRINCIPAL_UNKNOWN', crealm: 'CORP.EXAMPLE', cname: 'bbo', realm: 'CORP.EXAMPLE', sname: 'krbtgt/CORP.EXAMPLE', eText: null },
      { fileIndex: 0, frame: tcp, time: 0, transport: 'tcp', kdc: KDC, client: C, errorCode: 37, errorName: 'KRB_AP_ERR_SKEW', crealm: null, cname: null, realm: 'CORP.EXAMPLE', sname: 'TERMSRV/rdp-srv01.corp.example', eText: 'skew' },
    ]);
    expect(h.consumers).toHaveLength(0);
  });

  it('joins a KRB-ERROR split over two TCP segments (RFC 4120 7.2.2) and keeps it at the frame that completed it', () => {
    const h = new Harness();
    const rec = tcpRecord(krbError({ errorCode: 18, stime: STIME, crealm: 'CORP.EXAMPLE', cname: 'alice', realm: 'CORP.EXAMPLE', sname: ['krbtgt', 'CORP.EXAMPLE'] }));
    const first = h.feed(tcpFrame({ src: KDC, dst: C }, 88, 55010, 5000, 9000, ACK, rec.subarray(0, 44)));
    expect(h.table.kerberosErrors).toHaveLength(0);
    // Another connection's segments in between are kept apart.
    h.feed(tcpFrame({ src: KDC, dst: C }, 88, 55011, 7000, 9000, ACK | PSH, rec.subarray(44)));
    expect(h.table.kerberosErrors).toHaveLength(0);
    const second = h.feed(tcpFrame({ src: KDC, dst: C }, 88, 55010, 5044, 9000, ACK | PSH, rec.subarray(44)));
    expect(second).toBeGreaterThan(first);
    expect(h.table.kerberosErrors.map((k) => ({ ...k, time: 0 }))).toEqual([
      { fileIndex: 0, frame: second, time: 0, transport: 'tcp', kdc: KDC, client: C, errorCode: 18, errorName: 'KDC_ERR_CLIENT_REVOKED', crealm: 'CORP.EXAMPLE', cname: 'alice', realm: 'CORP.EXAMPLE', sname: 'krbtgt/CORP.EXAMPLE', eText: null },
    ]);
    expect(h.consumers).toHaveLength(0);
  });

  it('only segments from port 88 reach the record joiner (other traffic, and the requests to the KDC, never do)', () => {
    const spy = vi.spyOn(KerberosTcpJoiner.prototype, 'segment');
    try {
      const h = new Harness();
      const req = tcpRecord(krbError({ errorCode: 18, stime: STIME, realm: 'CORP.EXAMPLE', sname: ['krbtgt', 'CORP.EXAMPLE'] }));
      h.feed(tcpFrame({ src: C, dst: KDC }, 55020, 88, 100, 200, ACK | PSH, req)); // to the KDC
      h.feed(tcpFrame({ src: C, dst: '10.0.0.80' }, 55021, 443, 100, 200, ACK | PSH, Buffer.alloc(300, 0x17)));
      h.feed(tcpFrame({ src: '10.0.0.80', dst: C }, 8088, 55022, 100, 200, ACK | PSH, req));
      h.feed(tcpFrame({ src: KDC, dst: C }, 88, 55020, 200, 100 + req.length, ACK, Buffer.alloc(0))); // a bare ACK
      expect(spy).not.toHaveBeenCalled();
      h.feed(tcpFrame({ src: KDC, dst: C }, 88, 55020, 200, 100 + req.length, ACK | PSH, req));
      expect(spy).toHaveBeenCalledTimes(1);
      expect(h.table.kerberosErrors).toHaveLength(1);
    } finally {
      spy.mockRestore();
    }
  });
});
