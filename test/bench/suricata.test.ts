// The Suricata peer of bench/run.ts (issue 16): its generated configuration, its arguments, and the
// count of its eve.json rdp events that the report's sanity line compares with ours. When Suricata is
// installed, the configuration is run on a fixture capture: it must load and log the RDP exchange.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { countSuricataRdp, SURICATA_OFF, suricataArgs, suricataConfig } from '../../bench/run.js';

const installed = spawnSync('suricata', ['-V'], { encoding: 'utf8' }).status === 0;
const tmp = mkdtempSync(path.join(os.tmpdir(), 'suricata-peer-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('Suricata peer', () => {
  it('configuration: RDP and TLS on, every other parser off, eve-json with rdp events only, no stats', () => {
    const c = suricataConfig('/x/y');
    expect(c.startsWith('%YAML 1.1\n---\n')).toBe(true);
    expect(c).toContain('default-log-dir: "/x/y"\n');
    expect(c).toContain('    rdp:\n      enabled: yes\n');
    expect(c).toContain('    tls:\n      enabled: yes\n');
    for (const p of SURICATA_OFF) expect(c).toContain(`\n    ${p}:\n      enabled: no\n`);
    expect(c).not.toContain('    rdp:\n      enabled: no');
    expect(c).toContain('      types:\n        - rdp\n');
    expect(c).toContain('stats:\n  enabled: no\n');
  });

  it('arguments: offline on the file, no rules, the run mode asked for', () => {
    expect(suricataArgs('c.yaml', 'D', 'F.pcap', 'single')).toEqual(['-c', 'c.yaml', '-l', 'D', '-r', 'F.pcap', '--runmode', 'single', '-S', '/dev/null']);
    expect(suricataArgs('c.yaml', 'D', 'F.pcap', 'autofp')).toContain('autofp');
  });

  it('counts rdp events and initial_request among them; other lines and broken lines are not counted', () => {
    const eve = [
      '{"event_type":"rdp","rdp":{"tx_id":0,"event_type":"initial_request"}}',
      '{"event_type":"rdp","rdp":{"tx_id":1,"event_type":"initial_response"}}',
      '{"event_type":"flow"}',
      '{"event_type":"rdp","rdp":{"tx_id":0,"event_type":"initial_request"}}',
      '{"event_type":"rdp", broken',
      '',
    ].join('\n');
    expect(countSuricataRdp(eve)).toEqual({ events: 3, initialRequests: 2 });
    expect(countSuricataRdp('')).toEqual({ events: 0, initialRequests: 0 });
  });

  it.skipIf(!installed)('Suricata loads the configuration and logs the X.224 exchange of a fixture capture', () => {
    const conf = path.join(tmp, 'suricata.yaml');
    writeFileSync(conf, suricataConfig(tmp));
    const file = path.resolve('fixtures/captures/completed_tls_nla.pcap');
    const r = spawnSync('suricata', suricataArgs(conf, tmp, file, 'single'), { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const n = countSuricataRdp(readFileSync(path.join(tmp, 'eve.json'), 'utf8'));
    expect(n.initialRequests).toBe(1);
    expect(n.events).toBeGreaterThanOrEqual(2);
  });
});
