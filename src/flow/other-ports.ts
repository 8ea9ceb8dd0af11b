// TCP connection attempts to ports that are not RDP ports (issue 17, "RDP on a port we do not
// know"): per destination port, the SYNs sent, whether any SYN-ACK came back, and the resets sent
// from it. A port whose SYNs were never answered with a SYN-ACK (silence, or RST) is a failed
// attempt the report names when it finds no RDP attempt, so a user who runs RDP on another port is
// told to add `--port`. Counters are flat arrays indexed by port (no allocation per packet); the
// first server and frame of each port are kept for the first MAX_PORTS_NAMED ports only.
import { TcpFlag, type DecodedPacket, dstText } from '../net/index.js';

/** Ports whose first server and frame are kept (a port scan touches thousands; they are counted). */
export const MAX_PORTS_NAMED = 256;

/** One port's failed attempts (RFC 9293 3.5: a SYN answered by silence or by RST). */
export interface OtherPortFailure {
  port: number;
  /** The server of the first SYN to this port ("ip:port", IPv6 as "[addr]:port"). */
  server: string;
  /** SYNs sent to the port (retransmissions included). */
  syns: number;
  /** RSTs sent from the port (a closed port answers a SYN with RST/ACK). */
  resets: number;
  /** The first SYN's frame and the index of its file. */
  firstFrame: number;
  fileIndex: number;
}

/** As the report names it (report.capture.otherPortFailures): `file` when the report has several files. */
export interface OtherPortFailureReport {
  port: number;
  server: string;
  syns: number;
  resets: number;
  firstFrame: number;
  file?: string;
}

export class OtherPortLog {
  private syns: Uint32Array | null = null;
  private resets: Uint32Array | null = null;
  private answered: Uint8Array | null = null;
  private readonly first = new Map<number, { server: string; frame: number; fileIndex: number }>();

  /** A TCP packet outside any RDP flow with SYN or RST set. */
  packet(pkt: DecodedPacket, frame: number, fileIndex: number): void {
    const flags = pkt.tcpFlags;
    if (this.syns === null) {
      this.syns = new Uint32Array(65536);
      this.resets = new Uint32Array(65536);
      this.answered = new Uint8Array(65536);
    }
    if ((flags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN) {
      const p = pkt.dstPort;
      if (this.syns[p] === 0 && this.first.size < MAX_PORTS_NAMED) {
        const ip = dstText(pkt);
        this.first.set(p, { server: pkt.ipVersion === 6 ? `[${ip}]:${p}` : `${ip}:${p}`, frame, fileIndex });
      }
      this.syns[p]++;
    } else if ((flags & TcpFlag.SYN) !== 0) {
      this.answered![pkt.srcPort] = 1;
    } else if ((flags & TcpFlag.RST) !== 0) {
      this.resets![pkt.srcPort]++;
    }
  }

  /** The named ports whose SYNs were never answered with a SYN-ACK, most SYNs first. */
  failures(): OtherPortFailure[] {
    const syns = this.syns;
    if (syns === null) return [];
    const out: OtherPortFailure[] = [];
    for (const [port, f] of this.first) {
      if (this.answered![port] === 1) continue;
      out.push({ port, server: f.server, syns: syns[port]!, resets: this.resets![port]!, firstFrame: f.frame, fileIndex: f.fileIndex });
    }
    return out.sort((a, b) => b.syns - a.syns || a.port - b.port);
  }
}
