import { describe, expect, it } from 'vitest';
import * as f from '../../fixtures/lib/frames.js';
import { decodeDns } from '../../src/net/dns.js';
import { hex } from './helpers.js';

describe('DNS (RFC 1035 4.1)', () => {
  it('literal query', () => {
    const m = decodeDns(hex('abcd 0100 0001 0000 0000 0000 03726470 076578616d706c65 03636f6d 00 001c 0001'), 0, 33);
    expect(m).toEqual({ id: 0xabcd, response: false, rcode: 0, questions: [{ name: 'rdp.example.com', qtype: 28 }], answers: [] });
  });

  it('literal response with compression: CNAME then A and AAAA', () => {
    const msg = hex(`
      1234 8180 0001 0003 0000 0000
      03726470 07636f6e746f736f 03636f6d 00 0001 0001      # q: rdp.contoso.com A (name at 12)
      c00c 0005 0001 00000e10 0006 03677731 c010           # rdp.contoso.com CNAME gw1.<contoso.com at 16>
      c02d 0001 0001 0000003c 0004 c0000201                # gw1.contoso.com A 192.0.2.1 (name at 45)
      c02d 001c 0001 0000003c 0010 20010db8000000000000000000000001`);
    const m = decodeDns(msg, 0, msg.length);
    expect(m).toEqual({
      id: 0x1234,
      response: true,
      rcode: 0,
      questions: [{ name: 'rdp.contoso.com', qtype: 1 }],
      answers: [
        { name: 'rdp.contoso.com', type: 5, ttl: 3600, data: 'gw1.contoso.com' },
        { name: 'gw1.contoso.com', type: 1, ttl: 60, data: '192.0.2.1' },
        { name: 'gw1.contoso.com', type: 28, ttl: 60, data: '2001:db8::1' },
      ],
    });
  });

  it('builder response with NXDOMAIN and answers; message at an offset inside a packet', () => {
    const nx = f.dnsResponse(7, 'nope.example', 1, 3, []);
    const buf = Buffer.concat([Buffer.alloc(42, 0xcc), nx, Buffer.alloc(3)]);
    expect(decodeDns(buf, 42, nx.length)).toEqual({ id: 7, response: true, rcode: 3, questions: [{ name: 'nope.example', qtype: 1 }], answers: [] });
    const ok = f.dnsResponse(8, 'rdp.example.com.', 28, 0, [{ type: 5, data: 'edge.example.net' }, { type: 28, data: 'fe80::1' }]);
    const m = decodeDns(ok, 0, ok.length)!;
    expect(m.answers.map((a) => [a.name, a.type, a.data])).toEqual([
      ['rdp.example.com', 5, 'edge.example.net'],
      ['rdp.example.com', 28, 'fe80::1'],
    ]);
  });

  it('a compression pointer loop ends in null (no hang)', () => {
    // question name at 12 is a pointer to itself; and a two-pointer cycle
    expect(decodeDns(hex('0001 0100 0001 0000 0000 0000 c00c 0001 0001'), 0, 18)).toBeNull();
    expect(decodeDns(hex('0001 0100 0001 0000 0000 0000 01 61 c00e 0001 0001'), 0, 20)).toBeNull();
    // a pointer past the end
    expect(decodeDns(hex('0001 0100 0001 0000 0000 0000 c0ff 0001 0001'), 0, 18)).toBeNull();
  });

  it('malformed: short header, cut question, rdata past the end, wrong A length, bad label type', () => {
    expect(decodeDns(hex('0001 0100 0001 0000 0000'), 0, 10)).toBeNull();
    expect(decodeDns(hex('0001 0100 0001 0000 0000 0000 03 6162'), 0, 15)).toBeNull();
    expect(decodeDns(hex('0001 8100 0000 0001 0000 0000 00 0001 0001 00000000 0010 01020304'), 0, 31)).toBeNull();
    expect(decodeDns(hex('0001 8100 0000 0001 0000 0000 00 0001 0001 00000000 0003 010203'), 0, 26)).toBeNull();
    expect(decodeDns(hex('0001 0100 0001 0000 0000 0000 41 00 0001 0001'), 0, 18)).toBeNull();
  });

  it('counts larger than the message do not allocate or loop: null', () => {
    expect(decodeDns(hex('0001 0100 ffff ffff 0000 0000 00 0001 0001'), 0, 17)).toBeNull();
  });

  it('names longer than 255 octets are malformed; odd bytes in labels are escaped', () => {
    const labels = Array.from({ length: 5 }, () => Buffer.concat([Buffer.from([63]), Buffer.alloc(63, 0x61)]));
    const long = Buffer.concat([hex('0001 0100 0001 0000 0000 0000'), ...labels, hex('00 0001 0001')]);
    expect(decodeDns(long, 0, long.length)).toBeNull();
    const odd = hex('0001 0100 0001 0000 0000 0000 03 612e00 00 0001 0001');
    expect(decodeDns(odd, 0, odd.length)!.questions[0]!.name).toBe('a\\046\\000');
  });

  it('the root name and unknown record types (data "")', () => {
    const m = decodeDns(hex('0001 8100 0001 0001 0000 0000 00 0002 0001 00 0010 0001 00000001 0003 026869'), 0, 34)!;
    expect(m.questions[0]).toEqual({ name: '.', qtype: 2 });
    expect(m.answers[0]).toEqual({ name: '.', type: 16, ttl: 1, data: '' });
  });
});
