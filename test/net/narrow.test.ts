// Narrowing (issue 17): --host, --server, --from / --to and --filter on files; the frames outside
// are counted but not analysed, frame numbers stay the capture's, and the report states it.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import { NarrowError, Narrowing, parseRelative, parseTimeBound } from '../../src/net/narrow.js';
import { renderText } from '../../src/report/text.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { renderHtml } from '../../src/report/html.js';
import { renderJson } from '../../src/report/json.js';
import { readFileSync } from 'node:fs';
import { SchemaValidator } from '../report/json-schema.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const cap = (name: string): { kind: 'file'; path: string } => ({ kind: 'file', path: path.join(repoRoot, 'fixtures/captures', name) });

describe('time bounds', () => {
  it('relative: +10m, +90s, +1h30m, +1.5h, +45 (seconds), +250ms', () => {
    expect(parseRelative('+10m')).toBe(600);
    expect(parseRelative('+90s')).toBe(90);
    expect(parseRelative('+1h30m')).toBe(5400);
    expect(parseRelative('+1.5h')).toBe(5400);
    expect(parseRelative('+45')).toBe(45);
    expect(parseRelative('+250ms')).toBe(0.25);
    expect(parseRelative('10m')).toBeNull();
  });

  it('absolute: ISO 8601 with a zone, or UTC without one', () => {
    expect(parseTimeBound('--from', '2026-03-10T09:00:02Z')).toEqual({ kind: 'absolute', time: Date.UTC(2026, 2, 10, 9, 0, 2) / 1000 });
    expect(parseTimeBound('--from', '2026-03-10T10:00:02+01:00')).toEqual({ kind: 'absolute', time: Date.UTC(2026, 2, 10, 9, 0, 2) / 1000 });
    expect(parseTimeBound('--from', '2026-03-10 09:00:02')).toEqual({ kind: 'absolute', time: Date.UTC(2026, 2, 10, 9, 0, 2) / 1000 });
    expect(parseTimeBound('--to', '2026-03-10')).toEqual({ kind: 'absolute', time: Date.UTC(2026, 2, 10) / 1000 });
    expect(() => parseTimeBound('--from', 'yesterday')).toThrow(NarrowError);
    expect(() => parseTimeBound('--to', '2026-13-45T99:00:00Z')).toThrow(/--to "2026-13-45T99:00:00Z"/);
  });

  it('options that cannot be meant are refused with the option named', () => {
    expect(() => new Narrowing({ hosts: ['server01'] })).toThrow(/--host "server01"/);
    expect(() => new Narrowing({ servers: ['10.0.0.1:99999'] })).toThrow(/--server/);
    expect(() => new Narrowing({ filter: 'tcp[13] = 2' })).toThrow(/--filter: .*not supported for files/);
    expect(new Narrowing({}).active).toBe(false);
    expect(new Narrowing({ servers: ['[fd00::5]:3390'] }).active).toBe(true);
  });
});

describe('narrowed analysis', () => {
  it('--server IP:PORT --from +2s keeps the failed attempts alone, states it, keeps frame numbers', async () => {
    const whole = await analyze([cap('port_blocked_middlebox_rst.pcap')]);
    const r = await analyze([cap('port_blocked_middlebox_rst.pcap')], { narrow: { servers: ['10.20.0.16:3389'], from: '+2s' } });
    expect(r.capture.frames).toBe(whole.capture.frames);
    expect(r.capture.narrowing).toEqual({ server: ['10.20.0.16:3389'], from: '+2 s after the first frame', framesKept: 6 });
    expect(r.connections.map((c) => c.client)).toEqual(['192.168.10.25:50161', '192.168.10.25:50161', '192.168.10.25:50161']);
    // The same frames as in the whole capture's report.
    const first = whole.connections.find((c) => c.client === '192.168.10.25:50161')!;
    expect(r.connections[0]!.flow.firstFrame).toBe(first.flow.firstFrame);
    const line = 'Narrowed to server 10.20.0.16:3389, from +2 s after the first frame: 6 of 96 frames analysed (the findings rest on these alone)';
    expect(renderText(r, { color: false })).toContain(line);
    expect(renderMarkdown(r)).toContain('Narrowed to server 10.20.0.16:3389');
    expect(renderHtml(r)).toContain('<p id="narrowing">Narrowed to server 10.20.0.16:3389');
    expect(renderText(whole, { color: false })).not.toContain('Narrowed to');
  });

  it('a narrowed report, and one naming failed attempts to other ports, are valid against docs/report.schema.json', async () => {
    const v = new SchemaValidator(JSON.parse(readFileSync(path.join(repoRoot, 'docs/report.schema.json'), 'utf8')) as Record<string, unknown>);
    const narrowed = await analyze([cap('port_blocked_middlebox_rst.pcap')], { narrow: { hosts: ['10.20.0.16'], servers: ['10.20.0.16:3389'], from: '+1s', to: '2027-01-01', filter: 'tcp' } });
    expect(v.validate(JSON.parse(renderJson(narrowed)))).toEqual([]);
    const other = await analyze([cap('rdp_unknown_port.pcap')]);
    expect(other.capture.otherPortFailures).toHaveLength(2);
    expect(v.validate(JSON.parse(renderJson(other)))).toEqual([]);
  });

  it('--host keeps an ICMP error about the host (tcpdump\'s "host" does not: --filter drops it)', async () => {
    const byHost = await analyze([cap('port_blocked_icmp.pcap')], { narrow: { hosts: ['10.20.0.15'] } });
    expect(byHost.connections[0]!.died).toMatchObject({ phase: 'tcp', how: 'icmp_unreachable' });
    const byFilter = await analyze([cap('port_blocked_icmp.pcap')], { narrow: { filter: 'host 10.20.0.15' } });
    expect(byFilter.connections[0]!.died?.how).not.toBe('icmp_unreachable');
    expect(byFilter.capture.narrowing!.framesKept).toBeLessThan(byHost.capture.narrowing!.framesKept);
  });

  it('--to before the first connection: nothing analysed, and the report says how little was kept', async () => {
    const r = await analyze([cap('port_blocked_middlebox_rst.pcap')], { narrow: { to: '2026-03-10T08:00:00Z' } });
    expect(r.summary.connections).toBe(0);
    expect(r.capture.narrowing).toEqual({ to: '2026-03-10T08:00:00.000Z', framesKept: 0 });
  });

  it('files read by worker threads are narrowed the same way', async () => {
    const files = [cap('port_blocked_middlebox_rst.pcap'), cap('port_blocked_icmp.pcap')];
    const narrow = { filter: 'tcp' };
    const one = await analyze(files, { narrow, jobs: 1, fileSets: false });
    const two = await analyze(files, { narrow, jobs: 2, fileSets: false });
    expect(two.capture.narrowing).toEqual(one.capture.narrowing);
    expect(two.connections.map((c) => c.id + c.outcome)).toEqual(one.connections.map((c) => c.id + c.outcome));
  });

  it('the command line: --host, --server, --from, --to, --filter; a wrong one is one line, exit 2', () => {
    const main = path.join(repoRoot, 'src/cli/main.ts');
    const run = (args: string[]): { code: number | null; out: string; err: string } => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', main, ...args], { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
      return { code: r.status, out: r.stdout, err: r.stderr };
    };
    const file = path.join(repoRoot, 'fixtures/captures/port_blocked_middlebox_rst.pcap');
    const ok = run(['analyze', file, '--host', '10.20.0.16', '--server', '10.20.0.16:3389', '--from', '2026-03-10T09:00:00Z', '--to', '+10m', '--filter', 'tcp', '--format', 'json']);
    expect(ok.code).toBe(1);
    const j = JSON.parse(ok.out) as { capture: { narrowing: unknown } };
    expect(j.capture.narrowing).toEqual({ host: ['10.20.0.16'], server: ['10.20.0.16:3389'], from: '2026-03-10T09:00:00.000Z', to: '+600 s after the first frame', filter: 'tcp', framesKept: expect.any(Number) });
    const bad = run(['analyze', file, '--filter', 'vlan 5']);
    expect(bad.code).toBe(2);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
    expect(bad.err).toMatch(/^rdp-autopsy: --filter: "vlan" is not supported for files/);
  });
});
