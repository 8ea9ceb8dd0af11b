// The text report's one line for a connection says how its RDPEUDP side channel (MS-RDPEUDP
// 3.1.5.1.1) went: a completed TCP session whose UDP transport was never answered stayed on TCP;
// a UDP flow reported on its own says how far its handshake went, not a TCP phase.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import { eventLine } from '../../src/report/ecs.js';
import { renderHtml } from '../../src/report/html.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderText } from '../../src/report/text.js';

const CAPTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'captures');

describe('text report: the RDPEUDP side channel', () => {
  it('udp_side_channel: the completed session names its unanswered UDP transport and the first SYN', async () => {
    const r = await analyze([{ kind: 'file', path: path.join(CAPTURES, 'udp_side_channel.pcap') }]);
    const text = renderText(r, { color: false });
    expect(text).toContain('completed (reached active, HYBRID_EX over TLS1.2, UDP transport not answered (3 datagrams from frame 91): the session stayed on TCP)');
  });

  it('a UDP flow of its own (only the datagrams kept): no "reached tcp", its RDPEUDP SYN and that it went unanswered', async () => {
    // Keep pcap records 91..93 (the three RDPEUDP SYNs) of the fixture: global header, then
    // 16-byte record headers (incl_len at offset 8, little-endian as the builder writes them).
    const src = readFileSync(path.join(CAPTURES, 'udp_side_channel.pcap'));
    expect(src.readUInt32LE(0)).toBe(0xa1b2c3d4);
    const parts: Buffer[] = [src.subarray(0, 24)];
    for (let off = 24, n = 1; off < src.length; n++) {
      const len = 16 + src.readUInt32LE(off + 8);
      if (n >= 91 && n <= 93) parts.push(src.subarray(off, off + len));
      off += len;
    }
    expect(parts).toHaveLength(4);
    const dir = mkdtempSync(path.join(tmpdir(), 'rdpeudp-'));
    try {
      const file = path.join(dir, 'udp-only.pcap');
      writeFileSync(file, Buffer.concat(parts));
      const r = await analyze([{ kind: 'file', path: file }]);
      expect(r.connections.map((c) => c.transport)).toEqual(['udp']);
      const text = renderText(r, { color: false });
      expect(text).toContain('incomplete capture (started late) (RDPEUDP SYN in frame 1, never answered)');
      expect(text).not.toContain('reached tcp');
      // The markdown and HTML tables and sentences say the same, not the TCP phase "tcp".
      for (const out of [renderMarkdown(r), renderHtml(r)]) {
        expect(out).toContain('it shows RDPEUDP SYN in frame 1, never answered. How it ended cannot be told from this capture.');
        expect(out).not.toContain('it reached tcp');
      }
      expect(renderMarkdown(r)).toMatch(/\| RDPEUDP SYN in frame 1, never answered \|/);
      expect(renderHtml(r)).toContain('<td>RDPEUDP SYN in frame 1, never answered</td>');
      // The sensor's one-line event too.
      expect(eventLine(r.connections[0]!)).toMatch(/ INCOMPLETE c\d+ \S+ -> \S+:3389 RDPEUDP SYN in frame 1, never answered$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
