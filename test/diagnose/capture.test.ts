// Capture-wide findings (diagnoseCapture): failed lookups for a server the client never reached,
// and the headline that tells them when no connection failed.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CATALOGUE } from '../../src/diagnose/catalogue.js';
import { CAPTURE_DNS_MAX_FINDINGS, DNS_FOLLOW_SECONDS, hostLookup, lookupFailure } from '../../src/diagnose/capture.js';
import { filterString } from '../../src/diagnose/facts.js';
import { diagnose, diagnoseCapture, headline } from '../../src/diagnose/index.js';
import type { DnsTransaction } from '../../src/flow/types.js';
import type { ConnectionRecord } from '../../src/handshake/types.js';
import { T0, input, makeCert, makeDns, makeFlow, makeRecord, makeTls } from './helpers.js';
import { TSHARK, filterError } from './tshark-filter.js';

const CLIENT = '10.0.0.9';

/** The dns_failure fixture's story: A and AAAA NXDOMAIN for the FQDN, then SERVFAIL for the single label. */
function story(): DnsTransaction[] {
  return [
    makeDns({ queryFrame: 1, responseFrame: 2, time: T0, responseTime: T0 + 0.01, name: 'rdp-srv03.corp.example', qtype: 1, rcode: 3, addresses: [] }),
    makeDns({ queryFrame: 3, responseFrame: 4, time: T0 + 0.012, responseTime: T0 + 0.02, name: 'rdp-srv03.corp.example', qtype: 28, rcode: 3, addresses: [] }),
    makeDns({ queryFrame: 5, responseFrame: 6, time: T0 + 2, responseTime: T0 + 2.9, name: 'rdp-srv03', qtype: 1, rcode: 2, addresses: [] }),
  ];
}

function wide(dns: DnsTransaction[], conns: ConnectionRecord[] = [], o: Parameters<typeof input>[1] = {}) {
  const inp = input(conns, { dns, captureEnd: [T0 + 60], ...o });
  return diagnoseCapture(inp, diagnose(inp));
}

/** A connection from CLIENT to 10.0.0.5:3389 starting at `start` (completed unless told). */
function connAt(start: number, o: Partial<ConnectionRecord> = {}, cert = makeCert()): ConnectionRecord {
  return makeRecord({
    id: 'c1',
    flow: makeFlow({ start, end: start + 5, firstFrame: 50, lastFrame: 90 }),
    start,
    end: start + 5,
    tls: makeTls({ certificates: [cert] }),
    ...o,
  });
}

describe('diagnoseCapture: failed lookups nothing followed', () => {
  it('the fixture story: one finding over both names, every query and answer cited', () => {
    const f = wide(story());
    expect(f).toHaveLength(1);
    const x = f[0]!;
    expect(x.cause).toBe('dns_failure');
    expect(x.confidence).toBe(0.65);
    expect(x.confidenceReason).toMatch(/another program/);
    expect(x.frames).toEqual([1, 2, 3, 4, 5, 6]);
    expect(x.explanation).toBe(
      `The lookups of "rdp-srv03.corp.example" (A, AAAA: NXDOMAIN, frames 1, 2, 3, 4), then "rdp-srv03" (A: SERVFAIL, frames 5, 6) by ${CLIENT} (DNS server 10.0.0.1) failed, and no connection attempt from ${CLIENT} followed within 15 s.`,
    );
    expect(x.summary).toBe('the name "rdp-srv03.corp.example" did not resolve (NXDOMAIN, SERVFAIL)');
    expect(x.filter).toBe('dns.qry.name == "rdp-srv03.corp.example" || dns.qry.name == "rdp-srv03"');
    expect(x.remediation).toEqual(CATALOGUE.dns_failure.remediation);
    const steps = x.remediation.join('\n');
    expect(steps).toContain("IP address instead of its hostname");
    expect(steps).toContain('ipconfig /flushdns');
    expect(steps).toContain('nslookup <name>');
  });
  it('a name that resolved after all (another type, a retry) is not a failure', () => {
    const ok = makeDns({ queryFrame: 7, responseFrame: 8, time: T0 + 3, name: 'rdp-srv03.corp.example', addresses: ['10.0.0.5'] });
    expect(wide([...story(), ok])).toEqual([]);
  });
  it('an AAAA without an address alone is an IPv4-only name, not a failure; an A without one is', () => {
    const aaaa = makeDns({ queryFrame: 1, responseFrame: 2, name: 'host.corp.example', qtype: 28, rcode: 0, addresses: [] });
    expect(wide([aaaa])).toEqual([]);
    const a = makeDns({ queryFrame: 1, responseFrame: 2, name: 'host.corp.example', qtype: 1, rcode: 0, addresses: [] });
    const f = wide([a]);
    expect(f.map((x) => [x.summary, x.confidence])).toEqual([['the name "host.corp.example" did not resolve (no address)', 0.55]]);
    expect(f[0]!.confidenceReason).toMatch(/no address record/);
  });
  it('an unanswered query counts only when the capture ran on long enough', () => {
    const q = makeDns({ queryFrame: 1, responseFrame: null, responseTime: null, rcode: null, addresses: [], time: T0, name: 'rdp-srv03' });
    expect(lookupFailure(q, T0 + 1)).toBeNull();
    expect(lookupFailure(q, T0 + 10)).toBe('no answer');
    expect(wide([q], [], { captureEnd: [T0 + 1] })).toEqual([]);
    expect(wide([q], [], { captureEnd: [T0 + 10] })[0]!.summary).toBe('the name "rdp-srv03" did not resolve (no answer)');
  });
  it('background names, service records, reverse lookups and addresses are not host names a user typed', () => {
    for (const [name, qtype] of [
      ['wpad.corp.example', 1],
      ['isatap', 1],
      ['_ldap._tcp.dc._msdcs.corp.example', 1],
      ['5.0.0.10.in-addr.arpa', 12],
      ['host.corp.example', 33],
      ['10.0.0.5', 1],
    ] as const) {
      const q = makeDns({ name, qtype, rcode: 3, addresses: [] });
      expect(hostLookup(q), name).toBe(false);
      expect(wide([q]), name).toEqual([]);
    }
  });
  it('a connection from the client soon after leaves the lookup to that connection\'s own rule', () => {
    const c = connAt(T0 + 5, { outcome: 'failed' });
    expect(c.start - T0).toBeLessThan(DNS_FOLLOW_SECONDS);
    expect(wide(story(), [c])).toEqual([]);
  });
  it('a bystander: the capture holds RDP attempts, none from this client, and nothing names the lookup', () => {
    const other = makeRecord({ flow: makeFlow({ client: { ip: '10.0.0.77', port: 50000 } }) });
    expect(wide(story(), [other])).toEqual([]);
  });
  it('a client that made RDP connections earlier, none after the lookup: told, a little lower', () => {
    const earlier = connAt(T0 - 300);
    const f = wide(story(), [earlier]);
    expect(f.map((x) => x.confidence)).toEqual([0.55]);
    expect(f[0]!.confidenceReason).toMatch(/none after this lookup/);
  });
  it("the name is an RDP server's (its certificate) and nothing followed: more confident", () => {
    const earlier = connAt(T0 - 300, {}, makeCert({ subject: 'CN=rdp-srv03.corp.example', san: ['DNS:rdp-srv03.corp.example'] }));
    const f = wide(story(), [earlier]);
    expect(f[0]!.confidence).toBe(0.75);
    expect(f[0]!.confidenceReason).toContain('the certificate of 10.0.0.5:3389 (connection c1)');
  });
  it("the name is an RDP server's (SNI) and the client reached it anyway: told as a side note", () => {
    const later = connAt(T0 + 10, {}, makeCert());
    later.tls = makeTls({ sni: 'rdp-srv03.corp.example' });
    const f = wide(story(), [later]);
    expect(f[0]!.confidence).toBe(0.6);
    expect(f[0]!.explanation).toMatch(/the client still reached 10\.0\.0\.5:3389 by address \(connection c1, 8\.0 s later\)/);
  });
  it('the names of the capture file (pcapng NRB) count as an RDP server\'s names', () => {
    const f = wide(story(), [], { names: new Map([['10.0.0.5', ['rdp-srv03.corp.example']]]) });
    expect(f[0]!.confidence).toBe(0.75);
    expect(f[0]!.confidenceReason).toMatch(/name record for 10\.0\.0\.5/);
  });
  it("a lookup a connection's own finding already cites is not told twice", () => {
    const q = makeDns({ queryFrame: 1, responseFrame: 2, time: T0, name: 'rdp-srv03.corp.example', rcode: 3, addresses: [] });
    const inp = input([], { dns: [q], captureEnd: [T0 + 60] });
    const cited = new Map([['c9', [{ ...wide([q])[0]!, frames: [1, 2] }]]]);
    expect(diagnoseCapture(inp, cited)).toEqual([]);
    expect(diagnoseCapture(inp, new Map())).toHaveLength(1);
  });
  it('many failing names: each is less likely to be the server, and at most a few are told', () => {
    const dns = Array.from({ length: 9 }, (_, i) =>
      makeDns({ queryFrame: 1 + 2 * i, responseFrame: 2 + 2 * i, time: T0 + i, name: `host${i}.corp.example`, rcode: 3, addresses: [] }),
    );
    const f = wide(dns);
    expect(f).toHaveLength(CAPTURE_DNS_MAX_FINDINGS);
    for (const x of f) {
      expect(x.confidence).toBe(0.45);
      expect(x.confidenceReason).toMatch(/DNS server itself may be failing/);
    }
    expect(f.map((x) => x.frames[0])).toEqual([1, 3, 5, 7, 9]);
  });
  it('lookups of related names far apart in time are separate stories', () => {
    const [a, , c] = story();
    const late = { ...c!, time: T0 + 600, responseTime: T0 + 600.5, queryFrame: 40, responseFrame: 41 };
    expect(wide([a!, late], [], { captureEnd: [T0 + 700] }).map((x) => x.frames)).toEqual([
      [1, 2],
      [40, 41],
    ]);
  });
});

describe('filterString: names from the capture are quoted safely', () => {
  it('escapes quotes, backslashes and bytes outside printable ASCII', () => {
    expect(filterString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(filterString('x\ny')).toBe('"x\\x0ay"');
    expect(filterString('é')).toBe('"\\xc3\\xa9"');
  });
  it.skipIf(!TSHARK)('hostile names still make filters that tshark compiles', () => {
    for (const name of ['evil") || frame.number > 0 || ("', 'back\\slash.example', 'tab\there', 'ünïcode.example']) {
      const f = wide([makeDns({ name, rcode: 3, addresses: [] })]);
      expect(f, name).toHaveLength(1);
      expect(filterError(f[0]!.filter), f[0]!.filter).toBe('');
    }
  }, 60_000);
});

describe('diagnoseCapture on arbitrary lookups', () => {
  const dnsArb = fc.record({
    fileIndex: fc.constantFrom(0, 0, 1),
    id: fc.integer({ min: 0, max: 0xffff }),
    client: fc.constantFrom('10.0.0.9', '10.0.0.8', '::1'),
    server: fc.constant('10.0.0.1'),
    queryFrame: fc.integer({ min: 1, max: 1000 }),
    time: fc.double({ min: T0 - 100, max: T0 + 100, noNaN: true }),
    name: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('rdp-srv03', 'rdp-srv03.corp.example', 'wpad', '', '.', '*.x')),
    qtype: fc.constantFrom(1, 28, 12, 33, 255),
    responseFrame: fc.option(fc.integer({ min: 1, max: 1000 })),
    responseTime: fc.option(fc.double({ min: T0 - 100, max: T0 + 200, noNaN: true })),
    rcode: fc.option(fc.integer({ min: 0, max: 15 })),
    addresses: fc.array(fc.constantFrom('10.0.0.5', '10.0.0.6', '::5'), { maxLength: 2 }),
    cnames: fc.constant([] as string[]),
  });
  it('never throws; findings are well formed, bounded and top first', () => {
    fc.assert(
      fc.property(fc.array(dnsArb, { maxLength: 30 }), fc.boolean(), (dns, withConn) => {
        const conns = withConn ? [connAt(T0 + 50, { outcome: 'failed' })] : [];
        const f = wide(dns, conns);
        expect(f.length).toBeLessThanOrEqual(CAPTURE_DNS_MAX_FINDINGS);
        for (let i = 0; i < f.length; i++) {
          const x = f[i]!;
          expect(x.cause).toBe('dns_failure');
          expect(x.confidence).toBeGreaterThanOrEqual(0);
          expect(x.confidence).toBeLessThanOrEqual(1);
          expect(x.frames.length).toBeGreaterThan(0);
          expect([...x.frames].sort((a, b) => a - b)).toEqual(x.frames);
          expect(x.explanation).toMatch(/\.$/);
          if (i > 0) expect(f[i - 1]!.confidence).toBeGreaterThanOrEqual(x.confidence);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('headline with capture-wide findings', () => {
  const f = () => wide(story());
  it('no RDP at all: says so, with the frame count and the lookup', () => {
    expect(headline([], new Map(), { findings: f(), frames: 6 })).toBe(
      'No RDP connection attempt in this capture (6 frames); the name "rdp-srv03.corp.example" did not resolve (NXDOMAIN, SERVFAIL).',
    );
    expect(headline([], new Map(), { findings: [], frames: 6 })).toBe('No RDP connection attempt in this capture (6 frames).');
  });
  it('a weak one is told as possible', () => {
    const weak = { ...f()[0]!, confidence: 0.3 };
    expect(headline([], new Map(), { findings: [weak] })).toBe('No RDP connection attempt in this capture; possibly the name "rdp-srv03.corp.example" did not resolve (NXDOMAIN, SERVFAIL).');
  });
  it('told after completed attempts, and not when an attempt failed', () => {
    const ok = connAt(T0 - 300);
    expect(headline([ok], diagnose(input([ok])), { findings: f() })).toBe(
      'The connection attempt completed. Also, the name "rdp-srv03.corp.example" did not resolve (NXDOMAIN, SERVFAIL).',
    );
    const bad = connAt(T0 - 300, {
      outcome: 'failed',
      reached: 'tcp',
      died: { phase: 'tcp', how: 'rst', by: 'server', frame: 2, detail: '' },
      flow: makeFlow({ start: T0 - 300, end: T0 - 299 }, { synAckFrames: [], rsts: [{ frame: 2, time: T0 - 299, dir: 1, ttl: 127, answersSyn: true }] }),
    });
    const h = headline([bad], diagnose(input([bad])), { findings: f() });
    expect(h).not.toContain('rdp-srv03');
    expect(h).toMatch(/^The connection attempt to 10\.0\.0\.5:3389 failed: /);
  });
});
