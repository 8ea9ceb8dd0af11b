// DNS transactions (RFC 1035 4.1.1): a query and the response with the same id
// between the same client and server. Bounded: the most recent `max` are kept.
import type { DnsTransaction } from './types.js';

/** What the net stage's DNS decoder returns (decodeDns). */
export interface DnsMessageLike {
  id: number;
  response: boolean;
  rcode: number;
  questions: { name: string; qtype: number }[];
  answers: { name: string; type: number; ttl: number; data: unknown }[];
}

const MAX_ANSWERS = 16;
const TYPE_A = 1;
const TYPE_CNAME = 5;
const TYPE_AAAA = 28;

export class DnsLog {
  readonly transactions: DnsTransaction[] = [];
  /** Responses that matched no query kept (query before the capture, or dropped by the bound). */
  unmatchedResponses = 0;
  private readonly pending = new Map<string, DnsTransaction>();

  constructor(private readonly max: number) {}

  /** One decoded DNS message sent from `src` to `dst` (IP text). */
  onMessage(m: DnsMessageLike, src: string, dst: string, frame: number, time: number): void {
    if (!m.response) {
      const q = m.questions[0];
      if (!q) return;
      const key = txKey(m.id, src, dst);
      if (this.pending.has(key)) return; // the query retransmitted: the first one stands
      if (this.max <= 0) return;
      if (this.transactions.length >= this.max) this.dropOldest();
      const t: DnsTransaction = {
        fileIndex: 0,
        id: m.id,
        client: src,
        server: dst,
        queryFrame: frame,
        time,
        name: q.name,
        qtype: q.qtype,
        responseFrame: null,
        responseTime: null,
        rcode: null,
        addresses: [],
        cnames: [],
      };
      this.transactions.push(t);
      this.pending.set(key, t);
      return;
    }
    const key = txKey(m.id, dst, src);
    const t = this.pending.get(key);
    if (!t) {
      this.unmatchedResponses++;
      return;
    }
    this.pending.delete(key);
    t.responseFrame = frame;
    t.responseTime = time;
    t.rcode = m.rcode;
    for (const a of m.answers) {
      if (typeof a.data !== 'string') continue;
      if ((a.type === TYPE_A || a.type === TYPE_AAAA) && t.addresses.length < MAX_ANSWERS) t.addresses.push(a.data);
      else if (a.type === TYPE_CNAME && t.cnames.length < MAX_ANSWERS) t.cnames.push(a.data);
    }
  }

  private dropOldest(): void {
    const t = this.transactions.shift();
    if (!t) return;
    const key = txKey(t.id, t.client, t.server);
    if (this.pending.get(key) === t) this.pending.delete(key);
  }
}

function txKey(id: number, client: string, server: string): string {
  return `${id}|${client}|${server}`;
}
