// Issue 17, "RDP on a port we do not know": with no RDP attempt in a capture, failed TCP attempts to
// other ports (no answer, or RST) are named with their ports and the report suggests --port; ports
// that answered with a SYN-ACK are not named; with --port the same attempt is an RDP connection.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import { renderText } from '../../src/report/text.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cap = (name: string): string => path.join(repoRoot, 'fixtures/captures', name);
const UNKNOWN = cap('rdp_unknown_port.pcap');

describe.skipIf(!existsSync(UNKNOWN))('failed TCP attempts to other ports (rdp_unknown_port)', () => {
  it('names the unanswered and the refused port, leaves out the answered one, and suggests --port', async () => {
    const r = await analyze([{ kind: 'file', path: UNKNOWN }]);
    expect(r.summary.connections).toBe(0);
    expect(r.capture.otherPortFailures).toEqual([
      { port: 3390, server: '10.20.0.15:3390', syns: 5, resets: 0, firstFrame: 1 },
      { port: 3391, server: '10.20.0.15:3391', syns: 3, resets: 3, firstFrame: 6 },
    ]);
    const h = r.summary.headline;
    expect(h).toMatch(/^No RDP connection attempt on port 3389 in this capture \(19 frames\); but TCP connection attempts to other ports failed/);
    expect(h).toContain('10.20.0.15:3390 (5 SYNs, no answer; first frame 1)');
    expect(h).toContain('10.20.0.15:3391 (3 SYNs, each refused by a reset; first frame 6)');
    expect(h).toContain('analyse again with --port 3390');
    expect(h).not.toContain(':443');
    expect(renderText(r, { color: false })).toContain('analyse again with --port 3390');
  });

  it('with --port 3390 the attempt is an RDP connection that failed in tcp (no answer)', async () => {
    const r = await analyze([{ kind: 'file', path: UNKNOWN }], { rdpPorts: [3390] });
    expect(r.capture.otherPortFailures).toBeUndefined();
    expect(r.connections.map((c) => [c.server, c.outcome, c.died?.phase, c.died?.how])).toEqual([['10.20.0.15:3390', 'failed', 'tcp', 'no_answer']]);
    expect(r.summary.headline).not.toContain('other ports');
  });

  it('a capture with RDP attempts says nothing about other ports; one without any TCP keeps the plain sentence', async () => {
    const blocked = await analyze([{ kind: 'file', path: cap('port_blocked_silent.pcap.gz') }]);
    expect(blocked.capture.otherPortFailures).toBeUndefined();
    const dns = await analyze([{ kind: 'file', path: cap('dns_failure.pcap') }]);
    expect(dns.capture.otherPortFailures).toBeUndefined();
    expect(dns.summary.headline).toMatch(/^No RDP connection attempt in this capture \(\d+ frames\)/);
  });
});
