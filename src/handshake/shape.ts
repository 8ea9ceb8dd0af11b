// Phases inside TLS without keys: the application-data records after the TLS handshake are
// collected (bounded) and handed to src/rdp/tls-shape.ts, whose inferred steps become phases
// reached (inferred, confidence < 1) and timeline events. A step is applied once its extent is
// settled (a later step was recognised, or it is one record long), so its frames and reason are
// final; `flush` applies the last one when the connection ends or an alert / close arrives.
import type { Dir } from '../flow/types.js';
import { estimatePlaintext, inferTlsShape, type AppRecord, type ShapeInput, type ShapeStep, type ShapeStepName } from '../rdp/tls-shape.js';
import type { MachineSink } from './machine.js';

/** Plaintext size from which a server record of the active phase is a graphics update. */
const GRAPHICS_PLAIN_RECORD = 1000;

/** Records kept for the inference (the connection sequence is over long before). */
export const MAX_SHAPE_RECORDS = 256;

const STEP_EVENTS: Readonly<Record<ShapeStepName, string>> = {
  credssp: 'CredSSP exchange',
  early_user_authorization_result: 'Early User Authorization Result',
  credssp_error: 'CredSSP error reply',
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

/** Steps that are one record long: settled as soon as they are recognised. */
const SINGLE_RECORD: ReadonlySet<ShapeStepName> = new Set<ShapeStepName>([
  'early_user_authorization_result',
  'credssp_error',
  'mcs_connect_initial',
  'mcs_connect_response',
  'client_info',
  'demand_active',
  'confirm_active',
]);

export class ShapeTracker {
  private readonly records: AppRecord[] = [];
  /** estimatePlaintext of each record under the negotiated suite, computed once per record. */
  private readonly pt: number[] = [];
  private readonly applied = new Set<ShapeStepName>();
  /** Steps of the last inference; without frames and reasons unless `full` (inferTlsShape). */
  private steps: ShapeStep[] = [];
  private full = false;
  /** The input of the last inference (selectedProtocol as it was then). */
  private input: ShapeInput | null = null;
  private active = false;
  private cipherSuite: number | null = null;
  private version: number | null = null;
  /** The server record inferred to be a TSRequest carrying only errorCode (MS-CSSP 2.2.1), or null. */
  credsspError: { frame: number; time: number; length: number } | null = null;

  constructor(private readonly m: MachineSink) {}

  /** The TLS handshake is over: records from now on are the RDP connection sequence. */
  established(cipherSuite: number | null, version: number | null): void {
    this.cipherSuite = cipherSuite;
    this.version = version;
    // Called once, before any record (TlsTrack.finish); should records exist, the steps of the last
    // inference keep the estimates they were inferred with, and later records use the new ones.
    if (!this.full && this.input !== null) {
      this.steps = inferTlsShape(this.input, this.pt, true).steps;
      this.full = true;
    }
    for (let k = 0; k < this.records.length; k++) this.pt[k] = estimatePlaintext(this.records[k]!.length, cipherSuite, version);
  }

  record(dir: Dir, length: number, frame: number, time: number): void {
    if (this.active) {
      this.m.activeUnit();
      // Only the active phase's updates are this large (MS-RDPBCGR 2.2.9.1): the first is its first graphics.
      if (dir === 1 && estimatePlaintext(length, this.cipherSuite, this.version) >= GRAPHICS_PLAIN_RECORD) this.m.graphics(frame, time);
      return;
    }
    if (this.records.length >= MAX_SHAPE_RECORDS) return;
    this.records.push({ dir: dir === 0 ? 'c2s' : 's2c', length, frame, time });
    this.pt.push(estimatePlaintext(length, this.cipherSuite, this.version));
    const input: ShapeInput = {
      records: this.records,
      selectedProtocol: this.m.rec.negotiation?.selectedProtocol ?? null,
      cipherSuite: this.cipherSuite,
      version: this.version,
    };
    this.input = input;
    // The inference runs again on every record (a step's extent and the steps after it can change
    // with the next one); its frames and reasons are built only when a step is to be applied.
    this.steps = inferTlsShape(input, this.pt, false).steps;
    this.full = false;
    if (!this.settledUnapplied()) return;
    this.steps = inferTlsShape(input, this.pt, true).steps;
    this.full = true;
    const last = this.steps.length - 1;
    for (let k = 0; k <= last; k++) {
      const s = this.steps[k]!;
      // The last step may still grow (or, multi-record, be re-cut) with the next record; 'active' ends the inference.
      if (k < last || SINGLE_RECORD.has(s.step) || s.step === 'active') this.apply(s);
    }
  }

  /** Whether a step of `steps` that record() applies has not been applied yet. */
  private settledUnapplied(): boolean {
    const last = this.steps.length - 1;
    for (let k = 0; k <= last; k++) {
      const s = this.steps[k]!;
      if ((k < last || SINGLE_RECORD.has(s.step) || s.step === 'active') && !this.applied.has(s.step)) return true;
    }
    return false;
  }

  /** Applies the steps recognised so far (the connection ends, or an alert / close arrives). */
  flush(): void {
    if (!this.full && this.input !== null) {
      let pending = false;
      for (const s of this.steps) if (!this.applied.has(s.step)) pending = true;
      if (!pending) return;
      // The records are those of the last inference (every record pushed is inferred at once).
      this.steps = inferTlsShape(this.input, this.pt, true).steps;
      this.full = true;
    }
    for (const s of this.steps) this.apply(s);
  }

  private apply(s: ShapeStep): void {
    if (this.applied.has(s.step)) return;
    this.applied.add(s.step);
    const first = this.records.find((x) => x.frame === s.frames[0]);
    this.m.reach(s.phase, s.frames[0]!, s.time, true, s.confidence);
    this.m.event(first?.dir === 'c2s' ? 0 : 1, s.frames[0]!, s.time, STEP_EVENTS[s.step], s.reason, true);
    if (s.step === 'credssp_error' && first) this.credsspError = { frame: first.frame, time: first.time, length: first.length };
    if (s.phase === 'active') this.active = true;
  }
}
