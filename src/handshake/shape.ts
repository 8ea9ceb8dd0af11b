// Phases inside TLS without keys: the application-data records after the TLS handshake are
// collected (bounded) and handed to src/rdp/tls-shape.ts, whose inferred steps become phases
// reached (inferred, confidence < 1) and timeline events. A step is applied once its extent is
// settled (a later step was recognised, or it is one record long), so its frames and reason are
// final; `flush` applies the last one when the connection ends or an alert / close arrives.
import type { Dir } from '../flow/types.js';
import { estimatePlaintext, inferShapeSteps, inferTlsShape, type ShapeStep, ShapeSteps, shapeStepName, shapeStepPhase, shapeStepReason, type AppRecord, type ShapeStepName } from '../rdp/tls-shape.js';
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

/** Step name -> code (shapeStepName's inverse). */
const STEP_CODES = {} as Record<ShapeStepName, number>;
for (let c = 0; c < 13; c++) STEP_CODES[shapeStepName(c)] = c;

/** The inference's output, shared by every tracker (each runs it and reads it at once, synchronously). */
const steps = new ShapeSteps();

export class ShapeTracker {
  private readonly records: AppRecord[] = [];
  /** estimatePlaintext of each record under the negotiated suite, computed once per record. */
  private readonly pt: number[] = [];
  /** Bit per step code (shapeStepName) applied. */
  private applied = 0;
  /** Step codes of the last inference, in order (its frames and reasons are built again from its inputs when needed). */
  private lastCodes: Uint8Array | null = null;
  private lastCount = 0;
  /** Whether an inference ran, and its inputs other than the records (selectedProtocol, suite and version as they were then). */
  private inferred = false;
  private lastProto: number | null = null;
  private lastSuite: number | null = null;
  private lastVersion: number | null = null;
  /** The steps of the last inference as they were when established() changed the estimates: what flush() applies then. */
  private frozen: ShapeStep[] | null = null;
  private active = false;
  private cipherSuite: number | null = null;
  private version: number | null = null;
  /** The server record inferred to be a TSRequest carrying only errorCode (MS-CSSP 2.2.1), or null. */
  credsspError: { frame: number; time: number; length: number } | null = null;

  constructor(private readonly m: MachineSink) {}

  /** The TLS handshake is over: records from now on are the RDP connection sequence. */
  established(cipherSuite: number | null, version: number | null): void {
    // Called once, before any record (TlsTrack.finish); should records exist, the steps of the last
    // inference keep the estimates they were inferred with, and later records use the new ones.
    if (this.inferred && this.pending()) {
      this.frozen = inferTlsShape(
        { records: this.records, selectedProtocol: this.lastProto, cipherSuite: this.lastSuite, version: this.lastVersion },
        this.pt,
        true,
      ).steps;
    }
    this.cipherSuite = cipherSuite;
    this.version = version;
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
    this.lastProto = this.m.rec.negotiation?.selectedProtocol ?? null;
    this.lastSuite = this.cipherSuite;
    this.lastVersion = this.version;
    this.inferred = true;
    this.frozen = null;
    // The inference runs again on every record (a step's extent and the steps after it can change
    // with the next one); a step's reason is built only when it is applied.
    inferShapeSteps(this.records, this.records.length, this.pt, this.lastProto, this.lastSuite, this.lastVersion, false, steps);
    const codes = (this.lastCodes ??= new Uint8Array(steps.code.length));
    codes.set(steps.code);
    this.lastCount = steps.count;
    const last = steps.count - 1;
    let settledUnapplied = false;
    for (let k = 0; k <= last; k++) if (this.settles(k, last) && (this.applied & (1 << codes[k]!)) === 0) settledUnapplied = true;
    if (!settledUnapplied) return;
    for (let k = 0; k <= last; k++) {
      // The last step may still grow (or, multi-record, be re-cut) with the next record; 'active' ends the inference.
      if (this.settles(k, last)) this.apply(k);
    }
  }

  /** Whether step k of the last inference (`last` its last index) is applied by record(). */
  private settles(k: number, last: number): boolean {
    const name = shapeStepName(this.lastCodes![k]!);
    return k < last || SINGLE_RECORD.has(name) || name === 'active';
  }

  /** Whether a step of the last inference has not been applied. */
  private pending(): boolean {
    for (let k = 0; k < this.lastCount; k++) if ((this.applied & (1 << this.lastCodes![k]!)) === 0) return true;
    return false;
  }

  /** The last inference into `steps` again (same inputs, same steps). */
  private rerun(): void {
    inferShapeSteps(this.records, this.records.length, this.pt, this.lastProto, this.lastSuite, this.lastVersion, false, steps);
  }

  /** Applies the steps recognised so far (the connection ends, or an alert / close arrives). */
  flush(): void {
    if (this.frozen !== null) {
      for (const st of this.frozen) this.applyStep(STEP_CODES[st.step], st.frames[0]!, st.time, st.confidence, st.reason);
      return;
    }
    if (!this.inferred || !this.pending()) return;
    this.rerun();
    for (let k = 0; k < steps.count; k++) this.apply(k);
  }

  /** Applies step k of `steps` (the last inference, just run). */
  private apply(k: number): void {
    const code = steps.code[k]!;
    if ((this.applied & (1 << code)) !== 0) return;
    const r = this.records[steps.from[k]!]!;
    this.applyStep(code, r.frame, r.time, steps.confidence[k]!, shapeStepReason(steps, k, this.records, this.pt, this.lastProto));
  }

  private applyStep(code: number, frame: number, time: number, confidence: number, reason: string): void {
    if ((this.applied & (1 << code)) !== 0) return;
    this.applied |= 1 << code;
    const recs = this.records;
    // The first record of that frame (several records can share one).
    let first: AppRecord | null = null;
    for (let m = 0; m < recs.length; m++) {
      if (recs[m]!.frame === frame) {
        first = recs[m]!;
        break;
      }
    }
    const phase = shapeStepPhase(code);
    const name = shapeStepName(code);
    this.m.reach(phase, frame, time, true, confidence);
    this.m.event(first?.dir === 'c2s' ? 0 : 1, frame, time, STEP_EVENTS[name], reason, true);
    if (name === 'credssp_error' && first) this.credsspError = { frame: first.frame, time: first.time, length: first.length };
    if (phase === 'active') this.active = true;
  }
}
