// Conformance over the real captures in ../shared/captures (read in place, never
// copied): the flows the table tracks match the connections tshark and the source
// projects saw (expected.json). Skipped when the folder is absent.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { feedCaptureFile } from './harness.js';
import { FlowTable, type Endpoint, type FlowFacts, type StreamConsumer } from '../../src/flow/index.js';

/** "ip:port" as expected.json (tshark) writes it: IPv6 without brackets. */
const endpointText = (e: Endpoint): string => `${e.ip}:${e.port}`;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const capturesDir = path.resolve(repoRoot, '../shared/captures');
const expectedPath = path.join(capturesDir, 'expected.json');
const present = existsSync(expectedPath);

interface ExpectedConnection {
  transport: 'tcp' | 'udp';
  client: string;
  server: string;
  frames: Record<string, number>;
  fins?: { by: string; frame: number }[];
  rsts?: { by: string; frame: number }[];
  payload_bytes?: { c2s: number; s2c: number };
}
interface ExpectedFile {
  file: string;
  packets: number;
  connections: ExpectedConnection[];
}

async function run(file: string): Promise<{ flows: FlowFacts[]; table: FlowTable; bytes: Map<number, [number, number]> }> {
  const flows: FlowFacts[] = [];
  const bytes = new Map<number, [number, number]>();
  const table = new FlowTable({ rdpPorts: [3389] }, (facts): StreamConsumer => {
    const got: [number, number] = [0, 0];
    bytes.set(facts.id, got);
    return {
      onData: (dir, data) => ((got[dir] += data.length), true),
      onGap: () => {},
      onTcpEvent: () => {},
      onEnd: (f) => void flows.push(f),
    };
  });
  await feedCaptureFile(table, path.join(capturesDir, file));
  flows.sort((a, b) => a.firstFrame - b.firstFrame);
  return { flows, table, bytes };
}

const expected: ExpectedFile[] = present ? (JSON.parse(readFileSync(expectedPath, 'utf8')) as ExpectedFile[]) : [];

describe.skipIf(!present)(`real captures (${capturesDir})`, () => {
  for (const ef of expected) {
    it(`${ef.file}: the tracked flows are the connections of expected.json`, async () => {
      const { flows, table } = await run(ef.file);
      expect(table.stats.packets).toBe(ef.packets);
      for (const transport of ['tcp', 'udp'] as const) {
        const want = ef.connections
          .filter((c) => c.transport === transport)
          .map((c) => `${c.client} -> ${c.server}`)
          .sort();
        const got = flows
          .filter((f) => f.transport === transport)
          .map((f) => `${endpointText(f.client)} -> ${endpointText(f.server)}`)
          .sort();
        expect(got, `${transport} flows`).toEqual(want);
      }
    });
  }

  it('the key TCP frames (SYN, SYN-ACK, first FIN, first RST) are those tshark saw', async () => {
    for (const ef of expected) {
      const { flows } = await run(ef.file);
      for (const c of ef.connections.filter((x) => x.transport === 'tcp')) {
        const f = flows.find((x) => `${endpointText(x.client)}` === c.client && endpointText(x.server) === c.server && x.transport === 'tcp');
        const where = `${ef.file} ${c.client}`;
        expect(f, where).toBeDefined();
        const t = f!.tcp!;
        if (c.frames.syn !== undefined) expect(t.synFrames[0], where).toBe(c.frames.syn);
        if (c.frames.syn_ack !== undefined) expect(t.synAckFrames[0], where).toBe(c.frames.syn_ack);
        if (c.frames.first_rst !== undefined) expect(t.rsts[0]?.frame, where).toBe(c.frames.first_rst);
        if (c.frames.first_fin !== undefined) expect(t.fins[0]?.frame, where).toBe(c.frames.first_fin);
      }
    }
  });

  it('every payload byte of the RDP flows is delivered or reported as a gap or cut', async () => {
    for (const ef of expected) {
      const { flows, bytes } = await run(ef.file);
      for (const f of flows.filter((x) => x.transport === 'tcp')) {
        const got = bytes.get(f.id)!;
        const c = ef.connections.find((x) => x.client === endpointText(f.client) && x.server === endpointText(f.server));
        // tshark's payload counts include retransmissions and capture duplicates: such flows are checked apart.
        if (!c?.payload_bytes || f.tcp!.retransmissions[0] + f.tcp!.retransmissions[1] > 0 || f.captureDuplicates > 0) continue;
        const where = `${ef.file} ${endpointText(f.client)}`;
        expect(got[0] + f.gapBytes[0] + f.cutBytes[0] + f.skippedPrefix[0], where).toBe(c.payload_bytes.c2s);
        expect(got[1] + f.gapBytes[1] + f.cutBytes[1] + f.skippedPrefix[1], where).toBe(c.payload_bytes.s2c);
      }
    }
  });

  it('zeek rdp-no-cookie-mstshash: every frame is there twice (same IP identification, 0-7 us apart): capture duplicates, not retransmissions', async () => {
    const { flows, bytes } = await run('zeek-zeek/rdp-no-cookie-mstshash.pcap');
    const f = flows.find((x) => x.transport === 'tcp')!;
    const ef = expected.find((e) => e.file === 'zeek-zeek/rdp-no-cookie-mstshash.pcap')!;
    const c = ef.connections.find((x) => x.client === endpointText(f.client))!;
    expect(f.tcp!.retransmissions).toEqual([0, 0]);
    // Every frame but the last: the RST (frame 19) ends the flow, so its copy (frame 20) meets a closed one.
    expect(f.captureDuplicates).toBe(f.packets[0] + f.packets[1] - 1);
    expect(f.captureDuplicateFrames[0]).toEqual([2, 1]);
    // tshark counts every copy's payload: the stream is half of it, delivered whole.
    expect(bytes.get(f.id)![0] + f.gapBytes[0] + f.cutBytes[0]).toBe(c.payload_bytes!.c2s / 2);
    expect(bytes.get(f.id)![1] + f.gapBytes[1] + f.cutBytes[1]).toBe(c.payload_bytes!.s2c / 2);
  });

  it('arkime socks5-rdp: tracked from the X.224 request on port 42356, handshake backfilled (syn=1)', async () => {
    const { flows } = await run('arkime-arkime/socks5-rdp.pcap');
    expect(flows).toHaveLength(1);
    const f = flows[0]!;
    expect(f.clientBy).toBe('x224');
    expect(f.tcp!.synFrames).toEqual([1]);
    expect(f.tcp!.synAckFrames).toEqual([2]);
    expect(f.tcp!.handshakeRtt).not.toBeNull();
    expect(f.firstFrame).toBe(1);
    // 54 / 31 payload bytes in all (expected.json), the X.224 request / confirm are 41 / 19 of them.
    expect(f.skippedPrefix).toEqual([13, 12]);
  });

  it('zeek mapi: a flow seen mid-stream takes the side talking to 3389 as the client', async () => {
    const { flows } = await run('zeek-zeek/mapi.pcap');
    expect(flows.map((f) => [f.clientBy, endpointText(f.client)])).toEqual([['port', '192.168.0.144:1930']]);
  });

  it('nDPI tcp_scan: the RST/ACK answers the SYN', async () => {
    const { flows } = await run('ntop-nDPI/tcp_scan.pcapng');
    expect(flows[0]!.tcp!.rsts).toMatchObject([{ dir: 1, frame: 18, answersSyn: true }]);
  });

  it('zeek rdp-rdpeudp-handshake-fail: server bytes beyond 256 KiB are cut, not delivered', async () => {
    const { flows, bytes } = await run('zeek-zeek/rdp-rdpeudp-handshake-fail.pcap');
    const f = flows.find((x) => x.transport === 'tcp')!;
    expect(bytes.get(f.id)![1]).toBe(256 * 1024);
    expect(f.cutBytes[1]).toBe(997304 - 256 * 1024);
  });

  it('zeek rdp-proprietary-encryption: out-of-order and duplicate ACK counts agree with tshark', async () => {
    const { flows } = await run('zeek-zeek/rdp-proprietary-encryption.pcap');
    const t = flows[1]!.tcp!;
    expect(t.outOfOrder).toEqual([0, 9]);
    expect(t.dupAcks).toEqual([7, 0]);
    expect(flows[1]!.gapBytes).toEqual([0, 0]);
  });
});
