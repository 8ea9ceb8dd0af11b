// Phases inside TLS without keys: the application-data records after the TLS handshake are
// collected (bounded) and handed to src/rdp/tls-shape.ts, whose inferred steps become phases
// reached (inferred, confidence < 1) and timeline events, as soon as they can be recognised.
import type { Dir } from '../flow/types.js';
import { inferTlsPhases, type AppRecord, type ShapeStepName } from '../rdp/tls-shape.js';
import type { MachineSink } from './machine.js';

/** Records kept for the inference (the connection sequence is over long before). */
export const MAX_SHAPE_RECORDS = 256;

const STEP_EVENTS: Readonly<Record<ShapeStepName, string>> = {
  credssp: 'CredSSP exchange',
  early_user_authorization_result: 'Early User Authorization Result',
  mcs_connect_initial: 'MCS Connect Initial',
  mcs_connect_response: 'MCS Connect Response',
  mcs_erect_domain_attach_user: 'MCS Erect Domain / Attach User',
  mcs_channel_join: 'MCS Channel Joins',
  client_info: 'Client Info',
  licensing: 'Licensing',
  demand_active: 'Demand Active',
  confirm_active: 'Confirm Active',
  finalization: 'Connection finalization',
  active: 'Session active',
};

export class ShapeTracker {
  private readonly records: AppRecord[] = [];
  private readonly applied = new Set<ShapeStepName>();
  private active = false;
  private cipherSuite: number | null = null;
  private version: number | null = null;

  constructor(private readonly m: MachineSink) {}

  /** The TLS handshake is over: records from now on are the RDP connection sequence. */
  established(cipherSuite: number | null, version: number | null): void {
    this.cipherSuite = cipherSuite;
    this.version = version;
  }

  record(dir: Dir, length: number, frame: number, time: number): void {
    if (this.active) {
      this.m.activeUnit();
      return;
    }
    if (this.records.length >= MAX_SHAPE_RECORDS) return;
    this.records.push({ dir: dir === 0 ? 'c2s' : 's2c', length, frame, time });
    const r = inferTlsPhases({
      records: this.records,
      selectedProtocol: this.m.rec.negotiation?.selectedProtocol ?? null,
      cipherSuite: this.cipherSuite,
      version: this.version,
    });
    for (const s of r.steps) {
      if (this.applied.has(s.step)) continue;
      this.applied.add(s.step);
      this.m.reach(s.phase, s.frames[0]!, s.time, true, s.confidence);
      this.m.event(this.records.find((x) => x.frame === s.frames[0])?.dir === 'c2s' ? 0 : 1, s.frames[0]!, s.time, STEP_EVENTS[s.step], s.reason, true);
      if (s.phase === 'active') this.active = true;
    }
  }
}
