// TLS records built byte by byte for the handshake tests (RFC 5246 6.2 / 7.4, RFC 8446 4).
export function record(type: number, body: Buffer, version = 0x0303): Buffer {
  const h = Buffer.alloc(5);
  h[0] = type;
  h.writeUInt16BE(version, 1);
  h.writeUInt16BE(body.length, 3);
  return Buffer.concat([h, body]);
}

export function handshake(type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = type;
  h.writeUIntBE(body.length, 1, 3);
  return Buffer.concat([h, body]);
}

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v, 0);
  return b;
}

function ext(type: number, data: Buffer): Buffer {
  return Buffer.concat([u16(type), u16(data.length), data]);
}

export function clientHelloBody(o: { suites?: number[]; sni?: string; versions?: number[] } = {}): Buffer {
  const suites = o.suites ?? [0xc02f, 0x002f];
  const exts: Buffer[] = [];
  if (o.sni) {
    const name = Buffer.from(o.sni, 'latin1');
    const entry = Buffer.concat([Buffer.from([0]), u16(name.length), name]);
    exts.push(ext(0, Buffer.concat([u16(entry.length), entry])));
  }
  if (o.versions) {
    const list = Buffer.concat(o.versions.map(u16));
    exts.push(ext(43, Buffer.concat([Buffer.from([list.length]), list])));
  }
  const e = Buffer.concat(exts);
  return Buffer.concat([
    u16(0x0303),
    Buffer.alloc(32, 0x11),
    Buffer.from([0]),
    u16(suites.length * 2),
    ...suites.map(u16),
    Buffer.from([1, 0]),
    u16(e.length),
    e,
  ]);
}

export function clientHello(o: { suites?: number[]; sni?: string; versions?: number[] } = {}): Buffer {
  return record(22, handshake(1, clientHelloBody(o)), 0x0301);
}

export function serverHelloBody(o: { suite?: number; tls13?: boolean } = {}): Buffer {
  const exts = o.tls13 ? ext(43, u16(0x0304)) : Buffer.alloc(0);
  return Buffer.concat([u16(0x0303), Buffer.alloc(32, 0x22), Buffer.from([0]), u16(o.suite ?? 0xc02f), Buffer.from([0]), u16(exts.length), exts]);
}

export function certificateBody(ders: Buffer[]): Buffer {
  const list = Buffer.concat(ders.map((d) => {
    const l = Buffer.alloc(3);
    l.writeUIntBE(d.length, 0, 3);
    return Buffer.concat([l, d]);
  }));
  const l = Buffer.alloc(3);
  l.writeUIntBE(list.length, 0, 3);
  return Buffer.concat([l, list]);
}

/** ServerHello + Certificate + ServerHelloDone in one handshake record (TLS 1.2). */
export function serverFlight(ders: Buffer[], suite = 0xc02f): Buffer {
  return record(
    22,
    Buffer.concat([handshake(2, serverHelloBody({ suite })), handshake(11, certificateBody(ders)), handshake(14, Buffer.alloc(0))]),
  );
}

export function alert(level: number, description: number): Buffer {
  return record(21, Buffer.from([level, description]));
}

export function ccs(): Buffer {
  return record(20, Buffer.from([1]));
}

/** A protected record of `length` bytes (content is noise). */
export function encrypted(type: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 131 + 7) & 0xff;
  return record(type, b);
}

/** Client's second flight: ClientKeyExchange, CCS, Finished (encrypted). */
export function clientFinishFlight(): Buffer {
  return Buffer.concat([record(22, handshake(16, Buffer.alloc(130, 0x33))), ccs(), encrypted(22, 40)]);
}

/** Server's CCS and Finished (encrypted). */
export function serverFinishFlight(): Buffer {
  return Buffer.concat([ccs(), encrypted(22, 40)]);
}
