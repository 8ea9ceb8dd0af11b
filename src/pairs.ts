// The side-channel list of the latest TCP connection per client -> server address pair, for the
// RDPEUDP flows that come later (src/pipeline.ts). Keyed by the client's address text, with a short
// chain of servers per client: a key made of both addresses ("client server") was a new string per
// TCP flow, concatenated, flattened and hashed twice (at the flow's start and, for a flow that
// carried nothing, at its end) — ~1 us per flow of a SYN flood. The address texts are the flow's
// own strings, hashed once.
import type { SideChannel } from './handshake/types.js';

interface PairEntry {
  server: string;
  list: SideChannel[];
  next: PairEntry | null;
}

export class PairIndex {
  private readonly byClient = new Map<string, PairEntry>();
  private pairs = 0;

  /** The latest TCP connection from client to server now has `list`. */
  set(client: string, server: string, list: SideChannel[]): void {
    const head = this.byClient.get(client);
    for (let e = head ?? null; e !== null; e = e.next) {
      if (e.server === server) {
        e.list = list;
        return;
      }
    }
    this.byClient.set(client, { server, list, next: head ?? null });
    this.pairs++;
  }

  /** The list of the latest TCP connection from client to server, or null. */
  get(client: string, server: string): SideChannel[] | null {
    for (let e = this.byClient.get(client) ?? null; e !== null; e = e.next) if (e.server === server) return e.list;
    return null;
  }

  /** Forgets the pair when `list` is still its latest connection's. */
  forget(client: string, server: string, list: SideChannel[]): void {
    let prev: PairEntry | null = null;
    for (let e = this.byClient.get(client) ?? null; e !== null; prev = e, e = e.next) {
      if (e.server !== server) continue;
      if (e.list !== list) return;
      if (prev !== null) prev.next = e.next;
      else if (e.next !== null) this.byClient.set(client, e.next);
      else this.byClient.delete(client);
      this.pairs--;
      return;
    }
  }

  /** Pairs remembered. */
  get size(): number {
    return this.pairs;
  }
}
