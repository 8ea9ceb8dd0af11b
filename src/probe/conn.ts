// One probe connection: a TCP socket whose every byte and event is recorded (src/probe/wire.ts
// turns the record into packets), with a bounded wait for the server's answers, and a tap through
// which node:tls runs over the same socket so the TLS records are recorded too.
import net from 'node:net';
import tls from 'node:tls';
import { Duplex } from 'node:stream';
import { nowMicros, type WireConnection } from './wire.js';
import type { ConnectResult } from '../report/probe.js';

/**
 * Bytes kept per connection from the server: a probe reads a Confirm, a TLS handshake flight and one
 * or two TSRequests (a few KB); a server that streams more is cut off here, so a hostile one cannot
 * fill memory.
 */
export const MAX_SERVER_BYTES = 1 << 20;

/** Ephemeral ports for connections that never got a local port from the kernel (refused, filtered). */
let syntheticPort = 49152;

export type Ended = 'open' | 'fin' | 'rst' | 'error';

export class ProbeConnection {
  readonly wire: WireConnection;
  private sock: net.Socket | null = null;
  private inbox: Buffer[] = [];
  private inboxLen = 0;
  private waiter: (() => void) | null = null;
  /** How the server's side ended: 'fin' (it closed), 'rst' (reset), or still 'open'. */
  ended: Ended = 'open';
  private clientClosed = false;
  private tap: Tap | null = null;
  private received = 0;
  /** True when the server sent more than MAX_SERVER_BYTES and the probe cut the connection. */
  overflowed = false;

  constructor(
    readonly address: string,
    readonly port: number,
  ) {
    this.wire = { clientIp: net.isIPv6(address) ? '::' : '0.0.0.0', clientPort: 0, serverIp: address, serverPort: port, events: [] };
  }

  /** TCP connect, bounded by timeoutMs: connected, refused (RST), filtered (no answer), unreachable (ICMP). */
  connect(timeoutMs: number): Promise<ConnectResult> {
    const t0 = nowMicros();
    this.wire.events.push({ t: t0, kind: 'syn' });
    return new Promise((resolve) => {
      const sock = net.connect({ host: this.address, port: this.port, allowHalfOpen: true });
      let settled = false;
      const finish = (r: ConnectResult): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => {
        sock.destroy();
        this.fillLocal(sock);
        finish({ outcome: 'filtered', ms: (nowMicros() - t0) / 1000, errno: null });
      }, timeoutMs);
      sock.once('connect', () => {
        const t = nowMicros();
        this.sock = sock;
        this.wire.clientIp = sock.localAddress ?? this.wire.clientIp;
        this.wire.clientPort = sock.localPort ?? this.wire.clientPort;
        this.wire.events.push({ t, kind: 'synack' });
        this.listen(sock);
        finish({ outcome: 'connected', ms: (t - t0) / 1000, errno: null });
      });
      sock.once('error', (e: NodeJS.ErrnoException) => {
        if (settled) return this.onError(e);
        const t = nowMicros();
        this.fillLocal(sock);
        const code = e.code ?? null;
        if (code === 'ECONNREFUSED') {
          this.wire.events.push({ t, kind: 'refused' });
          finish({ outcome: 'refused', ms: (t - t0) / 1000, errno: code });
        } else if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EACCES' || code === 'EPERM') {
          finish({ outcome: 'unreachable', ms: (t - t0) / 1000, errno: code });
        } else if (code === 'ETIMEDOUT') {
          finish({ outcome: 'filtered', ms: (t - t0) / 1000, errno: code });
        } else {
          finish({ outcome: 'error', ms: (t - t0) / 1000, errno: code });
        }
      });
    });
  }

  private fillLocal(sock: net.Socket): void {
    if (sock.localPort) {
      this.wire.clientIp = sock.localAddress ?? this.wire.clientIp;
      this.wire.clientPort = sock.localPort;
    } else if (this.wire.clientPort === 0) {
      this.wire.clientPort = syntheticPort;
      syntheticPort = syntheticPort >= 65000 ? 49152 : syntheticPort + 1;
      // The kernel gave no local address: the loopback of the family when the target is loopback.
      if (this.address === '127.0.0.1' || this.address.startsWith('127.')) this.wire.clientIp = '127.0.0.1';
      else if (this.address === '::1') this.wire.clientIp = '::1';
    }
  }

  private listen(sock: net.Socket): void {
    sock.on('data', (d: Buffer) => {
      this.received += d.length;
      if (this.received > MAX_SERVER_BYTES) {
        if (!this.overflowed) {
          this.overflowed = true;
          this.wire.events.push({ t: nowMicros(), kind: 'rst', from: 'client' });
          this.clientClosed = true;
          if (this.ended === 'open') this.ended = 'error';
          sock.destroy();
          this.tap?.destroy(new Error(`the server sent more than ${MAX_SERVER_BYTES} bytes`));
          this.wake();
        }
        return;
      }
      this.wire.events.push({ t: nowMicros(), kind: 'data', from: 'server', bytes: Buffer.from(d) });
      if (this.tap) {
        this.tap.push(d);
      } else {
        this.inbox.push(d);
        this.inboxLen += d.length;
      }
      this.wake();
    });
    sock.on('end', () => {
      if (this.ended === 'open') {
        this.ended = 'fin';
        this.wire.events.push({ t: nowMicros(), kind: 'fin', from: 'server' });
      }
      if (this.tap) this.tap.push(null);
      this.wake();
    });
    sock.on('error', (e: NodeJS.ErrnoException) => this.onError(e));
  }

  private onError(e: NodeJS.ErrnoException): void {
    if (this.ended === 'open') {
      this.ended = e.code === 'ECONNRESET' || e.code === 'EPIPE' ? 'rst' : 'error';
      if (this.ended === 'rst') this.wire.events.push({ t: nowMicros(), kind: 'rst', from: 'server' });
    }
    if (this.tap) this.tap.destroy(e);
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Writes client bytes (recorded). */
  send(b: Buffer): void {
    if (!this.sock || this.ended !== 'open' || this.clientClosed) return;
    this.wire.events.push({ t: nowMicros(), kind: 'data', from: 'client', bytes: Buffer.from(b) });
    this.sock.write(b);
  }

  /**
   * Waits until `complete(bytes so far)` returns a length (the PDU is whole), the server closes or
   * resets, or timeoutMs passes. Returns the PDU's bytes (removed from the inbox) or null.
   */
  async receive(complete: (b: Buffer) => number | null, timeoutMs: number): Promise<Buffer | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const all = this.inboxLen > 0 ? Buffer.concat(this.inbox) : Buffer.alloc(0);
      this.inbox = all.length > 0 ? [all] : [];
      const n = all.length > 0 ? complete(all) : null;
      if (n !== null && n <= all.length) {
        const pdu = all.subarray(0, n);
        const rest = all.subarray(n);
        this.inbox = rest.length > 0 ? [rest] : [];
        this.inboxLen = rest.length;
        return pdu;
      }
      if (this.ended !== 'open') return null;
      const left = deadline - Date.now();
      if (left <= 0) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.waiter = null;
          resolve();
        }, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Bytes received and not yet consumed (a server that sends more than one PDU). */
  get pending(): number {
    return this.inboxLen;
  }

  /**
   * Runs a TLS client (node:tls) over this connection; its records go through the tap and are
   * recorded. Resolves when the handshake ends either way.
   */
  startTls(opts: tls.ConnectionOptions, timeoutMs: number, onKeylog: (line: string) => void): Promise<{ socket: tls.TLSSocket; error: Error | null; timedOut: boolean }> {
    const tap = new Tap(this);
    this.tap = tap;
    if (this.inboxLen > 0) {
      for (const b of this.inbox) tap.push(b);
      this.inbox = [];
      this.inboxLen = 0;
    }
    if (this.ended === 'fin') tap.push(null);
    const socket = tls.connect({ ...opts, socket: tap });
    socket.on('keylog', (line: Buffer) => onKeylog(line.toString('latin1')));
    return new Promise((resolve) => {
      let settled = false;
      const finish = (error: Error | null, timedOut = false): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ socket, error, timedOut });
      };
      const timer = setTimeout(() => finish(new Error('no answer to the TLS ClientHello'), true), timeoutMs);
      socket.once('secureConnect', () => finish(null));
      socket.once('error', (e) => finish(e));
      socket.once('close', () => finish(new Error('connection closed during the TLS handshake')));
    });
  }

  /** Client bytes written by the TLS tap. */
  tapWrite(b: Buffer, cb: (e?: Error | null) => void): void {
    if (!this.sock || this.clientClosed) return cb();
    this.wire.events.push({ t: nowMicros(), kind: 'data', from: 'client', bytes: Buffer.from(b) });
    this.sock.write(b, cb);
  }

  /** Closes the probe's side with a FIN (recorded), then frees the socket. */
  close(): void {
    if (this.clientClosed) return;
    this.clientClosed = true;
    if (this.sock) {
      if (this.ended !== 'rst') this.wire.events.push({ t: nowMicros(), kind: 'fin', from: 'client' });
      const s = this.sock;
      s.end();
      // A server that never closes its side must not keep the probe waiting.
      setTimeout(() => s.destroy(), 200).unref();
    }
  }
}

/** The stream node:tls writes to and reads from: the recorded socket underneath. */
class Tap extends Duplex {
  constructor(private readonly conn: ProbeConnection) {
    super({ allowHalfOpen: true });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.conn.tapWrite(chunk, cb);
  }

  override _read(): void {
    // Data is pushed as it arrives (ProbeConnection.listen); the handshake reads are small.
  }

  override _final(cb: (e?: Error | null) => void): void {
    // node:tls ends the tap after its close_notify: the probe's FIN follows it, as a client's does.
    this.conn.close();
    cb();
  }
}
