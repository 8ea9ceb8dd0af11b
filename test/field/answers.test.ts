// Issue 18: "did not answer for N s" is never said of a side that answered. An ACK is an answer at
// the TCP level (the wording says so); bytes the capture missed are a gap, not silence.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { decideEnding, type EndInput } from '../../src/handshake/ending.js';
import { analyze } from '../../src/pipeline.js';

const T = 1_773_133_200;

/** The client sent its request at frame 4, then closed at frame 9, 30 s later. */
function input(o: Partial<EndInput> = {}): EndInput {
  return {
    reached: 'x224',
    startedLate: false,
    syns: [{ frame: 1, time: T }],
    synAck: { frame: 2, time: T + 0.001 },
    closes: [{ kind: 'fin', dir: 0, frame: 9, time: T + 30 }],
    icmp: null,
    protocolEnd: null,
    lastData: [{ frame: 4, time: T + 0.002 }, null],
    captureEnd: T + 31,
    lostBeforeEnd: false,
    ...o,
  };
}

describe('decideEnding: who answered', () => {
  it('no ACK and no bytes from the server: it did not answer', () => {
    expect(decideEnding(input()).died).toMatchObject({ how: 'timeout', by: 'server', frame: 4, detail: 'server did not answer frame 4 for 30 s; client closed the connection at frame 9' });
  });
  it('an ACK of the request is an answer at the TCP level, and the detail says so', () => {
    const d = decideEnding(input({ dataAcks: [null, { frame: 5, time: T + 0.2 }] })).died!;
    expect(d).toMatchObject({ how: 'timeout', by: 'server', frame: 4 });
    expect(d.detail).toBe('server acknowledged frame 4 (TCP ACK in frame 5) but sent no reply for 30 s; client closed the connection at frame 9');
    expect(d.detail).not.toMatch(/did not answer/);
  });
  it('bytes of the server missing from the capture after the request are a gap, not silence: no timeout', () => {
    const d = decideEnding(input({ gaps: [null, { frame: 7, time: T + 1 }] })).died!;
    expect(d.how).toBe('fin');
    expect(d.detail).not.toMatch(/did not answer|sent nothing/);
  });
  it('a gap before the request says nothing of the silence after it', () => {
    expect(decideEnding(input({ gaps: [null, { frame: 3, time: T }] })).died!.how).toBe('timeout');
  });
  it('with the capture running on and no close: an ACK is named, a later gap leaves the end to the capture', () => {
    const open = { closes: [], captureEnd: T + 60 };
    expect(decideEnding(input({ ...open, dataAcks: [null, { frame: 5, time: T + 0.2 }] })).died!.detail).toMatch(/^server acknowledged frame 4 \(TCP ACK in frame 5\) but sent no reply for 60 s/);
    expect(decideEnding(input({ ...open, gaps: [null, { frame: 7, time: T + 1 }] })).outcome).toBe('incomplete_capture');
  });
});

const FILE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/captures/server_unresponsive.pcap');

describe.skipIf(!existsSync(FILE))('server_unresponsive (its request acknowledged, never answered)', () => {
  it('the death names the ACK instead of saying the server did not answer', async () => {
    const r = await analyze([{ kind: 'file', path: FILE }], { rdpPorts: [3389] });
    const c = r.connections[0]!;
    expect(c.died).toMatchObject({ phase: 'x224', how: 'timeout', by: 'server', frame: 4 });
    expect(c.died!.detail).toBe('server acknowledged frame 4 (TCP ACK in frame 5) but sent no reply for 30 s; client closed the connection at frame 6');
    expect(c.flow.tcp!.dataAcks[1]).toMatchObject({ frame: 5 });
    expect(c.findings[0]?.cause).toBe('server_unresponsive');
  });
});
