// decideEnding: the pure decision of outcome / died from what the state machine saw.
import { describe, expect, it } from 'vitest';
import { CLIENT_TIMEOUT_S, CONFIRM_GIVE_UP_S, LOGON_MODE_END_S, SYN_GIVE_UP_S, SYN_RETRY_WAIT_S, decideEnding, type EndInput } from '../../src/handshake/ending.js';

function input(o: Partial<EndInput>): EndInput {
  return {
    reached: 'tcp',
    startedLate: false,
    syns: [{ frame: 1, time: 0 }],
    synAck: { frame: 2, time: 0.01 },
    closes: [],
    icmp: null,
    protocolEnd: null,
    lastData: [null, null],
    captureEnd: 1,
    lostBeforeEnd: false,
    ...o,
  };
}

describe('decideEnding', () => {
  it('a client closing after waiting CONFIRM_GIVE_UP_S for the X.224 Confirm: a time-out by the server, even if a late answer follows', () => {
    const request = { frame: 4, time: 0.01 };
    const fin = { kind: 'fin' as const, dir: 0 as const, frame: 6, time: 0.01 + CONFIRM_GIVE_UP_S };
    const late = { frame: 7, time: fin.time + 1.5 };
    const e = decideEnding(input({ reached: 'x224', lastData: [request, late], lastDataAtClose: [request, null], closes: [fin], captureEnd: late.time + 0.1 }));
    expect(e).toMatchObject({ outcome: 'failed', died: { phase: 'x224', how: 'timeout', by: 'server', frame: 4 } });
    // Sooner, the client's own close; and in later phases the usual client time-out applies.
    const soon = { ...fin, time: 0.01 + CONFIRM_GIVE_UP_S - 1 };
    expect(decideEnding(input({ reached: 'x224', lastData: [request, null], closes: [soon], captureEnd: soon.time + 1 })).died).toMatchObject({ how: 'fin', by: 'client', detail: 'client closed the connection during the RDP negotiation (X.224)' });
    const tls = decideEnding(input({ reached: 'tls', lastData: [request, null], closes: [fin], captureEnd: fin.time + 1 }));
    expect(tls.died).toMatchObject({ how: 'fin', by: 'client' });
    expect(CONFIRM_GIVE_UP_S).toBeLessThan(CLIENT_TIMEOUT_S);
  });

  it('started late wins over everything, and guesses nothing', () => {
    expect(decideEnding(input({ startedLate: true, closes: [{ kind: 'rst', dir: 1, frame: 9, time: 1 }] }))).toEqual({
      outcome: 'incomplete_capture',
      incompleteReason: 'started_late',
      died: null,
    });
  });

  it('one SYN, capture runs past the SYN give-up time: no_answer', () => {
    const e = decideEnding(input({ synAck: null, captureEnd: SYN_GIVE_UP_S }));
    expect(e.died).toMatchObject({ how: 'no_answer', by: 'network', frame: 1 });
  });

  it('one SYN, capture a little shorter than the give-up time: incomplete', () => {
    const e = decideEnding(input({ synAck: null, captureEnd: SYN_GIVE_UP_S - 0.1 }));
    expect(e.outcome).toBe('incomplete_capture');
    expect(e.died).toMatchObject({ phase: 'tcp', how: 'capture_ended', by: 'network', frame: 1 });
  });

  it('a retransmitted SYN unanswered for the retry wait after the last one: no_answer, last SYN as evidence', () => {
    const syns = [{ frame: 1, time: 0 }, { frame: 5, time: 1 }];
    expect(decideEnding(input({ synAck: null, syns, captureEnd: 1 + SYN_RETRY_WAIT_S })).died).toMatchObject({ how: 'no_answer', frame: 5 });
    expect(decideEnding(input({ synAck: null, syns, captureEnd: 1 + SYN_RETRY_WAIT_S - 0.5 })).outcome).toBe('incomplete_capture');
  });

  it('a protocol end before the close wins over the close', () => {
    const e = decideEnding(
      input({
        reached: 'tls',
        lastData: [{ frame: 8, time: 0.5 }, { frame: 9, time: 0.6 }],
        protocolEnd: { phase: 'tls', how: 'tls_alert', by: 'client', frame: 10, time: 0.7, detail: 'x', normal: false },
        closes: [{ kind: 'rst', dir: 1, frame: 11, time: 0.8 }],
      }),
    );
    expect(e.died).toMatchObject({ how: 'tls_alert', by: 'client', frame: 10 });
  });

  it('a close clearly before a protocol end wins', () => {
    const e = decideEnding(
      input({
        reached: 'tls',
        lastData: [{ frame: 8, time: 0.5 }, null],
        protocolEnd: { phase: 'tls', how: 'tls_alert', by: 'server', frame: 12, time: 0.9, detail: 'x', normal: false },
        closes: [{ kind: 'fin', dir: 0, frame: 11, time: 0.8 }],
      }),
    );
    expect(e.died).toMatchObject({ how: 'fin', by: 'client', frame: 11 });
  });

  it('the closer waited past a client timeout for the other side: timeout by the silent side', () => {
    const e = decideEnding(
      input({
        reached: 'x224',
        lastData: [{ frame: 4, time: 1 }, null],
        closes: [{ kind: 'fin', dir: 0, frame: 6, time: 1 + CLIENT_TIMEOUT_S }],
      }),
    );
    expect(e.died).toMatchObject({ phase: 'x224', how: 'timeout', by: 'server', frame: 4 });
  });

  it('the side expected to speak closes: its close, not a timeout', () => {
    const e = decideEnding(
      input({
        reached: 'tls',
        lastData: [{ frame: 4, time: 1 }, { frame: 5, time: 2 }],
        closes: [{ kind: 'rst', dir: 0, frame: 6, time: 60 }],
      }),
    );
    expect(e.died).toMatchObject({ how: 'rst', by: 'client', frame: 6 });
  });

  it('no data at all after the TCP handshake, capture runs on: the client is the silent one', () => {
    const e = decideEnding(input({ captureEnd: CLIENT_TIMEOUT_S + 1 }));
    expect(e.died).toMatchObject({ phase: 'tcp', how: 'timeout', by: 'client', frame: 2 });
  });

  it('active: completed on FIN, on a normal protocol end, or when still running', () => {
    const base = { reached: 'active' as const, lastData: [{ frame: 4, time: 1 }, { frame: 5, time: 2 }] as EndInput['lastData'] };
    expect(decideEnding(input({ ...base, closes: [{ kind: 'fin', dir: 0, frame: 9, time: 3 }] })).outcome).toBe('completed');
    expect(decideEnding(input({ ...base, captureEnd: 500 })).outcome).toBe('completed');
    expect(
      decideEnding(input({ ...base, protocolEnd: { phase: 'active', how: 'disconnect_ultimatum', by: 'server', frame: 8, time: 3, detail: '', normal: true } })).outcome,
    ).toBe('completed');
  });

  it('active: failed on a denial, or a reset after unanswered segments', () => {
    const base = { reached: 'active' as const, lastData: [{ frame: 4, time: 1 }, { frame: 5, time: 2 }] as EndInput['lastData'] };
    expect(
      decideEnding(input({ ...base, protocolEnd: { phase: 'active', how: 'error_info', by: 'server', frame: 8, time: 3, detail: '', normal: false } })).died,
    ).toMatchObject({ phase: 'active', how: 'error_info', frame: 8 });
    const rst = decideEnding(input({ ...base, lostBeforeEnd: true, closes: [{ kind: 'rst', dir: 0, frame: 9, time: 3 }] }));
    expect(rst.died).toMatchObject({ phase: 'active', how: 'rst', by: 'client', frame: 9 });
    expect(decideEnding(input({ ...base, closes: [{ kind: 'rst', dir: 0, frame: 9, time: 3 }] })).outcome).toBe('completed');
  });

  it('a Restricted Admin / Remote Credential Guard session the server ends within LOGON_MODE_END_S of becoming active: failed in active by the server', () => {
    const activeAt = { frame: 54, time: 0.08 };
    const base = { reached: 'active' as const, logonMode: true, activeAt, lastData: [{ frame: 63, time: 0.09 }, { frame: 69, time: 3.09 }] as EndInput['lastData'] };
    const serverFin = { kind: 'fin' as const, dir: 1 as const, frame: 71, time: 3.09 };
    const clientFin = { kind: 'fin' as const, dir: 0 as const, frame: 74, time: 3.1 };
    const e = decideEnding(input({ ...base, closes: [serverFin, clientFin], captureEnd: 3.2 }));
    expect(e.outcome).toBe('failed');
    expect(e.died).toMatchObject({ phase: 'active', how: 'fin', by: 'server', frame: 71 });
    expect(e.died!.detail).toBe('the server ended the session 3.0 s after it became active (frame 54), before the client asked to leave');
    // Measured from the first graphics when they came (the first large server record after becoming active).
    const g = decideEnding(input({ ...base, graphicsAt: { frame: 59, time: 0.09 }, closes: [serverFin, clientFin], captureEnd: 3.2 }));
    expect(g.died!.detail).toBe('the server ended the session 3.0 s after its first graphics (frame 59; active since frame 54), before the client asked to leave');
    // The server's encrypted close_notify, seen first, is the end.
    const alert = { phase: 'active' as const, how: 'encrypted_alert' as const, by: 'server' as const, frame: 69, time: 3.09, detail: 'x', normal: true };
    expect(decideEnding(input({ ...base, protocolEnd: alert, closes: [serverFin], captureEnd: 3.2 })).died).toMatchObject({ how: 'encrypted_alert', frame: 69 });
    // The client leaving first, a later end, no logon mode, or a visible normal end by the client: completed.
    expect(decideEnding(input({ ...base, closes: [{ ...clientFin, time: 3 }, { ...serverFin, time: 3.05 }], captureEnd: 3.2 })).outcome).toBe('completed');
    const late = { ...serverFin, time: activeAt.time + LOGON_MODE_END_S + 0.5 };
    expect(decideEnding(input({ ...base, closes: [late], captureEnd: late.time + 1 })).outcome).toBe('completed');
    expect(decideEnding(input({ ...base, logonMode: false, closes: [serverFin], captureEnd: 3.2 })).outcome).toBe('completed');
    expect(decideEnding(input({ ...base, protocolEnd: { ...alert, by: 'client' }, closes: [serverFin], captureEnd: 3.2 })).outcome).toBe('completed');
  });
});
