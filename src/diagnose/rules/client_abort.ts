// client_abort: the client resets or closes, without an alert, while the server
// waits for its next message (the last thing seen came from the server).
import { certDoubt, clientStoppedBeforeCredentials, closeWords, convFilter, earlyClientClose, lastEventBefore, makeFinding, plaintextAlerts } from '../facts.js';
import type { Rule } from '../types.js';
import { PHASE_WORDS } from '../../handshake/types.js';

export const clientAbort: Rule = {
  cause: 'client_abort',
  check(conn) {
    const d = conn.died;
    if (!d || conn.outcome === 'completed' || d.by !== 'client' || (d.how !== 'rst' && d.how !== 'fin')) return null;
    if (plaintextAlerts(conn, 'client').length > 0) return null;
    const last = lastEventBefore(conn, d.frame);
    if (!last || last.direction !== 's2c') return null;
    let confidence = d.how === 'rst' ? 0.5 : 0.45;
    let reason =
      'The capture shows who closed and when, not why: security software, an outdated client, the user cancelling or a client-side policy look the same.';
    const pause = clientStoppedBeforeCredentials(conn);
    if (pause && !pause.errorSized && certDoubt(conn)) {
      confidence = 0.4;
      reason = 'The client stopped CredSSP where it checks the server\'s identity, before sending its credentials, and the certificate fails that check: refusing it (or a user answering the prompt) is a likelier story than an abort.';
    } else if (earlyClientClose(conn)) {
      confidence = 0.3;
      reason = 'Right after the server\'s TLS flight a client usually leaves because it refused the certificate; that is a likelier story than an abort.';
    } else if (d.phase === 'x224') {
      confidence = 0.4;
      reason = 'Leaving right after the Connection Confirm also fits a client that does not accept the selected protocol.';
    }
    return makeFinding('client_abort', {
      confidence,
      confidenceReason: reason,
      frames: [last.frame, d.frame],
      explanation: `After the server's "${last.event}" (frame ${last.frame}) the client ${closeWords(d.how)} in frame ${d.frame ?? '?'} without an alert, ${PHASE_WORDS[d.phase]}.`,
      filter: `${convFilter(conn)} && frame.number >= ${last.frame}${d.frame !== null ? ` && frame.number <= ${d.frame}` : ''}`,
      summary: `the client dropped the connection ${PHASE_WORDS[d.phase]}`,
    });
  },
};
