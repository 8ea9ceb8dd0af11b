// The RDPEUDP side channel (MS-RDPEUDP 3.1.5.1.1): SYN, SYN+ACK, and the record of its own.
import { describe, expect, it } from 'vitest';
import { UdpMachine } from '../../src/handshake/udp.js';
import { newFlowFacts } from '../../src/flow/facts.js';
import type { ConnectionRecord } from '../../src/handshake/types.js';
import { rdpudpSyn, RDPUDP_FLAG_ACK } from '../../fixtures/lib/rdp-bytes.js';

function synAck(): Buffer {
  const b = rdpudpSyn({ initialSequenceNumber: 99 });
  b.writeUInt16BE(b.readUInt16BE(6) | RDPUDP_FLAG_ACK, 6);
  return b;
}

function facts() {
  return newFlowFacts(2, 'udp', 0, 4, { ip: '10.0.0.1', port: 50001 }, { ip: '10.0.0.2', port: 3389 }, 'port', 3, 100);
}

describe('UdpMachine', () => {
  it('records SYN and SYN+ACK on the side channel, attached (no record of its own)', () => {
    const f = facts();
    const u = new UdpMachine(f, { id: 'c2', file: 't', fileIndex: 0, onRecord: null });
    u.onData(0, rdpudpSyn({ initialSequenceNumber: 7, synexVersion: 2 }), 3, 100);
    u.onData(1, synAck(), 4, 100.01);
    f.packets = [5, 4];
    u.onEnd(f, 'capture_end', 101);
    expect(u.sideChannel).toEqual({
      transport: 'udp',
      client: '10.0.0.1:50001',
      server: '10.0.0.2:3389',
      synFrame: 3,
      synAckFrame: 4,
      synexVersion: 2,
      answered: true,
      datagrams: { client: 5, server: 4 },
    });
  });

  it('SYNs never answered; without a TCP connection it is a connection of its own, started late', () => {
    const f = facts();
    let rec: ConnectionRecord | null = null;
    const u = new UdpMachine(f, { id: 'c2', file: 't', fileIndex: 0, onRecord: (r) => (rec = r) });
    for (let i = 0; i < 3; i++) u.onData(0, rdpudpSyn({ initialSequenceNumber: 7 }), 3 + i, 100 + i);
    f.packets = [3, 0];
    u.onEnd(f, 'capture_end', 104);
    expect(rec).not.toBeNull();
    const r = rec as unknown as ConnectionRecord;
    expect(r.transport).toBe('udp');
    expect(r.outcome).toBe('incomplete_capture');
    expect(r.incompleteReason).toBe('started_late');
    expect(r.sideChannels[0]).toMatchObject({ synFrame: 3, synAckFrame: null, answered: false });
    expect(r.timeline.map((e) => e.event)).toEqual(['RDPUDP SYN']);
  });

  it("answered, without a TCP connection: the warning cites the server's SYN+ACK, the frame that shows the answer", () => {
    const f = facts();
    let rec: ConnectionRecord | null = null;
    const u = new UdpMachine(f, { id: 'c2', file: 't', fileIndex: 0, onRecord: (r) => (rec = r) });
    u.onData(0, rdpudpSyn({ initialSequenceNumber: 7, synexVersion: 2 }), 3, 100);
    u.onData(1, synAck(), 4, 100.01);
    f.packets = [2, 1];
    u.onEnd(f, 'capture_end', 101);
    const r = rec as unknown as ConnectionRecord;
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]!.message).toMatch(/the server answered on UDP$/);
    expect(r.warnings[0]!.frame).toBe(4);
  });

  it("never answered: the warning cites the client's SYN", () => {
    const f = facts();
    let rec: ConnectionRecord | null = null;
    const u = new UdpMachine(f, { id: 'c2', file: 't', fileIndex: 0, onRecord: (r) => (rec = r) });
    u.onData(0, rdpudpSyn({ initialSequenceNumber: 7 }), 5, 100);
    f.packets = [1, 0];
    u.onEnd(f, 'capture_end', 120);
    expect((rec as unknown as ConnectionRecord).warnings[0]!.frame).toBe(5);
  });

  it('garbage datagrams are not a SYN', () => {
    const f = facts();
    const u = new UdpMachine(f, { id: 'c2', file: 't', fileIndex: 0, onRecord: null });
    u.onData(0, Buffer.from([1, 2, 3]), 3, 100);
    u.onEnd(f, 'capture_end', 101);
    expect(u.sideChannel.synFrame).toBeNull();
  });
});
