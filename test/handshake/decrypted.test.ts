// The machine's decrypted stream (ConnectionMachine.plaintext): when none of our decoders frames the
// decrypted bytes, decoding of that direction stops with a warning, and a session that goes on is
// not left in the phase where decoding stopped: a run of large server records infers the active phase.
import { describe, expect, it } from 'vitest';
import * as R from '../../fixtures/lib/rdp-bytes.js';
import { Conn } from './harness.js';

describe('decrypted stream that stops decoding', () => {
  it('warns once per direction, then infers the active phase from large server records', () => {
    const c = new Conn();
    c.handshake();
    c.send(0, R.x224ConnectionRequest({ cookie: 'alice', neg: { requestedProtocols: R.PROTOCOL_SSL } }));
    c.send(1, R.x224ConnectionConfirm({ type: 'rsp', flags: 0x1f, selectedProtocol: R.PROTOCOL_SSL }));
    // Decrypted bytes that are neither TPKT (0x03) nor fast-path (low bits 0) nor a TSRequest.
    let f = c.next();
    c.m.plaintext(1, Buffer.from([0x05, 1, 2, 3, 4, 5, 6, 7]), f, c.time);
    for (let i = 0; i < 2; i++) {
      f = c.next();
      c.m.plaintext(1, Buffer.alloc(4000, 0x41), f, c.time);
    }
    // Small records and client records do not count.
    f = c.next();
    c.m.plaintext(1, Buffer.alloc(200, 0x41), f, c.time);
    f = c.next();
    c.m.plaintext(0, Buffer.alloc(4000, 0x41), f, c.time);
    f = c.next();
    c.m.plaintext(1, Buffer.alloc(4000, 0x41), f, c.time);
    const third = f;
    c.fin(0);
    c.fin(1);
    const rec = c.end();
    // One warning per direction (the client's 0x41 bytes are no PDU either), none per later record.
    expect(rec.warnings.filter((w) => w.message.includes('decrypted TLS data is')).map((w) => w.message.split("'")[0])).toEqual(['server', 'client']);
    const active = rec.phases.find((p) => p.phase === 'active');
    expect(active).toMatchObject({ frame: third, inferred: true, confidence: 0.6 });
    expect(rec.outcome).toBe('completed');
    expect(rec.timeline.find((e) => e.frame === third)).toMatchObject({ event: 'Application Data', inferred: true });
    expect(rec.timeline.find((e) => e.frame === third)!.decrypted).toBeUndefined();
  });
});
