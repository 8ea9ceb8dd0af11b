// DNS lookups when several capture files are analysed together: frame numbers are per file, so a lookup
// carries its file (dns[].fileIndex), a connection's finding only cites lookups of its own file, and a
// capture-wide DNS finding is judged within its file and names that file.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../src/pipeline.js';
import type { Report } from '../src/report/types.js';

const FIX = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'captures');
const run = (files: string[], jobs = 1): Promise<Report> => analyze(files.map((f) => ({ kind: 'file' as const, path: path.join(FIX, f) })), { jobs });

describe('DNS across several files', () => {
  it('each lookup names its file', async () => {
    const a = await run(['dns_failure.pcap', 'completed_tls_nla.pcap']);
    const b = await run(['completed_tls_nla.pcap', 'dns_failure.pcap']);
    expect(a.dns.length).toBe(3);
    expect(a.dns.map((d) => d.fileIndex)).toEqual([0, 0, 0]);
    expect(b.dns.map((d) => d.fileIndex)).toEqual([1, 1, 1]);
    expect(b.dns.map((d) => d.queryFrame)).toEqual(a.dns.map((d) => d.queryFrame));
  });

  it('a failed lookup in one file is still told when another file holds a connection from the same client at the same time', async () => {
    const alone = await run(['dns_failure.pcap']);
    expect(alone.captureFindings.map((f) => f.cause)).toEqual(['dns_failure']);
    for (const files of [
      ['dns_failure.pcap', 'completed_tls_nla.pcap'],
      ['completed_tls_nla.pcap', 'dns_failure.pcap'],
    ]) {
      const r = await run(files);
      const f = r.captureFindings.find((x) => x.cause === 'dns_failure');
      expect(f, files.join(' + ')).toBeDefined();
      expect(f!.frames).toEqual(alone.captureFindings[0]!.frames);
      expect(f!.explanation).toContain(`in ${path.join(FIX, 'dns_failure.pcap')}`);
    }
  });

  it("a connection's finding never cites another file's lookup frames", async () => {
    for (const other of ['port_blocked_silent.pcap.gz', 'port_not_listening.pcap', 'server_unresponsive.pcap']) {
      const r = await run(['dns_failure.pcap', other]);
      const failed = r.connections.filter((c) => c.outcome === 'failed');
      expect(failed.length, other).toBeGreaterThan(0);
      for (const c of failed) {
        expect(c.fileIndex).toBe(1);
        expect(c.findings.map((f) => f.cause), `${other} ${c.id}`).not.toContain('dns_failure');
      }
      // the lookups are told once, as what they are: a capture-wide finding of the first file
      expect(r.captureFindings.map((f) => f.cause), other).toEqual(['dns_failure']);
    }
  });

  it('a single file explains without naming it, and the report is the same whatever --jobs is', async () => {
    const alone = await run(['dns_failure.pcap']);
    expect(alone.captureFindings[0]!.explanation).not.toContain(' in ');
    const one = await run(['dns_failure.pcap', 'port_not_listening.pcap'], 1);
    const two = await run(['dns_failure.pcap', 'port_not_listening.pcap'], 2);
    expect(two.dns).toEqual(one.dns);
    expect(two.captureFindings).toEqual(one.captureFindings);
  });
});
