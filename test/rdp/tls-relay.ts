// Test helper (not a test): runs a real TLS handshake over loopback through a TCP relay that
// records the bytes each side writes, so the decoders see what OpenSSL really sends.
import { spawn } from 'node:child_process';
import net from 'node:net';
import tls from 'node:tls';

export interface Recorded {
  c2s: Uint8Array;
  s2c: Uint8Array;
  clientError: string | null;
  serverError: string | null;
}

function relay(targetPort: number, done: (c2s: Buffer, s2c: Buffer) => void): Promise<net.Server> {
  return new Promise((resolve) => {
    const srv = net.createServer((down) => {
      const c2s: Buffer[] = [];
      const s2c: Buffer[] = [];
      const up = net.connect(targetPort, '127.0.0.1');
      let closed = 0;
      const fin = () => {
        if (++closed === 2) done(Buffer.concat(c2s), Buffer.concat(s2c));
      };
      down.on('data', (d) => {
        c2s.push(d);
        up.write(d);
      });
      up.on('data', (d) => {
        s2c.push(d);
        down.write(d);
      });
      down.on('end', () => up.end());
      up.on('end', () => down.end());
      down.on('error', () => up.destroy());
      up.on('error', () => down.destroy());
      down.on('close', fin);
      up.on('close', fin);
    });
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

/** Starts a node:tls server, runs `client(port)` against the relay, returns what crossed it. */
export async function recordTls(serverOpts: tls.TlsOptions, client: (port: number) => Promise<string | null>): Promise<Recorded> {
  let serverError: string | null = null;
  const server = tls.createServer(serverOpts, (s) => {
    s.on('data', () => s.end('bye'));
    s.on('error', () => undefined);
  });
  server.on('tlsClientError', (e) => {
    serverError = e.message;
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  let resolveStreams!: (v: [Buffer, Buffer]) => void;
  const streams = new Promise<[Buffer, Buffer]>((r) => (resolveStreams = r));
  const rel = await relay(port, (a, b) => resolveStreams([a, b]));
  const relayPort = (rel.address() as net.AddressInfo).port;
  const clientError = await client(relayPort);
  const [c2s, s2c] = await streams;
  rel.close();
  server.close();
  return { c2s: new Uint8Array(c2s), s2c: new Uint8Array(s2c), clientError, serverError };
}

/** A node:tls client: sends "hello", waits for the answer, closes (close_notify). */
export function nodeClient(opts: tls.ConnectionOptions): (port: number) => Promise<string | null> {
  return (port) =>
    new Promise((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, ...opts }, () => s.write('hello'));
      s.on('data', () => s.end());
      s.on('error', (e) => resolve(e.message));
      s.on('close', () => resolve(null));
    });
}

/** An `openssl s_client` that verifies the certificate against `caFile` and fails on error (real OpenSSL alerts). */
export function opensslClient(caFile: string, extra: string[] = []): (port: number) => Promise<string | null> {
  return (port) =>
    new Promise((resolve) => {
      const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', caFile, '-verify_return_error', '-tls1_2', ...extra], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d) => (err += d));
      p.stdin.end();
      p.on('error', (e) => resolve(e.message));
      p.on('close', () => resolve(err.split('\n').find((l) => /error|alert/i.test(l)) ?? null));
    });
}
