// `live --host/--server/--from/--to` (issue 17, narrowing "for files as well as live"): the captured
// frames outside the narrowing are counted, not analysed, as `analyze` of the same frames with the
// same narrowing does. The capture is replayed through a fake cap module.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runLive, type LiveOptions } from '../../src/cli/live.js';
import { analyze } from '../../src/pipeline.js';
import type { Report } from '../../src/report/types.js';
import { Collect, fakeCap, framesOf } from './fake-cap.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FILE = path.join(repoRoot, 'fixtures/captures/port_blocked_middlebox_rst.pcap');

describe('live narrowing (fake cap)', () => {
  it('--server 10.20.0.16:3389 --host 192.168.10.25: the same connections as analyze with the same narrowing, stated in the report', async () => {
    const { packets } = await framesOf(FILE);
    const { cap } = fakeCap(packets, { linkName: 'ETHERNET' });
    const out = new Collect();
    const narrow = { hosts: ['192.168.10.25'], servers: ['10.20.0.16:3389'] };
    const o: LiveOptions = { format: 'json', ports: [], iface: 'lo', count: packets.length, narrow };
    await runLive(o, out, { cap: () => cap, stderr: new Collect() });
    const live = JSON.parse(out.text) as Report;
    const file = await analyze([{ kind: 'file', path: FILE }], { narrow });
    expect(live.capture.frames).toBe(packets.length);
    expect(live.capture.narrowing).toEqual({ host: ['192.168.10.25'], server: ['10.20.0.16:3389'], framesKept: file.capture.narrowing!.framesKept });
    expect(live.connections.map((c) => [c.client, c.outcome, c.died?.how])).toEqual(file.connections.map((c) => [c.client, c.outcome, c.died?.how]));
    expect(live.connections.every((c) => c.client.startsWith('192.168.10.25:'))).toBe(true);
  });
});
