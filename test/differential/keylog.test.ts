// Differential test of key-log decryption (issue 13): the key-log fixture captures decrypted by us
// and by tshark 4.0 (`-d tcp.port==3389,tls`, with the capture's Decryption Secrets Block alone, or
// with `-o tls.keylog_file:KEYLOG`), and every CredSSP, NTLM, MCS / GCC and share-data field we
// report checked against tshark's decryption of the same bytes, frame by frame.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { analyze } from '../../src/pipeline.js';
import type { ReportedConnection } from '../../src/report/types.js';
import { hasTshark, tsharkRows, type Row } from './tshark-view.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CAPS = path.join(repoRoot, 'fixtures/captures');

interface Case {
  name: string;
  /** tshark gets the key log file (else it reads the capture's DSB alone). */
  keylogFile: boolean;
}
const CASES: Case[] = [
  { name: 'keylog_nla_logon_failure', keylogFile: false },
  { name: 'keylog_tls13_server_denied', keylogFile: false },
  { name: 'keylog_completed_logoff', keylogFile: true },
  { name: 'keylog_chacha20_password_expired', keylogFile: false },
  { name: 'keylog_cbc_account_restriction', keylogFile: false },
  { name: 'keylog_licensing_error', keylogFile: false },
  { name: 'keylog_tls10_cbc_logon_failure', keylogFile: false },
  { name: 'keylog_tls11_cbc_logon_failure', keylogFile: true },
  { name: 'keylog_rsa_kx_logon_failure', keylogFile: false },
];

const FIELDS = [
  'credssp.version',
  'credssp.errorCode',
  'ntlmssp.messagetype',
  'ntlmssp.auth.username',
  'ntlmssp.auth.domain',
  'ntlmssp.auth.hostname',
  'rdp.client.name',
  'rdp.desktop.width',
  'rdp.desktop.height',
  'rdp.userName',
  'rdp.domain',
  'rdp.pduType2',
  'rdp.numberCapabilities',
  'rdp.bMsgType',
  'rdp.errorCode',
  'rdp.stateTransition',
  't124.userData',
];

const present = hasTshark && CASES.every((c) => existsSync(path.join(CAPS, `${c.name}.pcapng`)));
if (!present) console.warn('[differential keylog] skipped: tshark or the key-log fixtures are missing');

/** Frames (ascending) whose row has the field. */
function framesWith(rows: Map<number, Row>, field: string, value?: (v: string) => boolean): number[] {
  const out: number[] = [];
  for (const [f, r] of rows) {
    const v = r.get(field) ?? [];
    if (v.length > 0 && (value === undefined || v.some(value))) out.push(f);
  }
  return out.sort((a, b) => a - b);
}

const one = (rows: Map<number, Row>, frame: number, field: string): string | undefined => rows.get(frame)?.get(field)?.[0];
const eventFrames = (c: ReportedConnection, name: string): number[] => c.timeline.filter((e) => e.event === name).map((e) => e.frame);

describe.runIf(present)('key-log decryption against tshark 4.0', () => {
  for (const k of CASES) {
    it(`${k.name}: ${k.keylogFile ? 'with the key log file' : 'with the Decryption Secrets Block alone'}`, async () => {
      const file = path.join(CAPS, `${k.name}.pcapng`);
      const keylog = path.join(CAPS, `${k.name}.keylog`);
      const report = await analyze([{ kind: 'file', path: file }], { jobs: 1, ...(k.keylogFile ? { keyLogs: [{ name: keylog, text: readFileSync(keylog, 'latin1') }] } : {}) });
      const c = report.connections[0]!;
      expect(c.tls!.decryption!.status).toBe('decrypted');
      const rows = await tsharkRows(file, FIELDS, ['-d', 'tcp.port==3389,tls', ...(k.keylogFile ? ['-o', `tls.keylog_file:${keylog}`] : [])]);

      // CredSSP (MS-CSSP 2.2.1): the TSRequest frames, version, errorCode.
      const tsFrames = framesWith(rows, 'credssp.version');
      expect(tsFrames.length).toBeGreaterThan(0);
      expect(eventFrames(c, 'CredSSP TSRequest')).toEqual(tsFrames);
      expect(c.credssp!.version).toBe(Number(one(rows, tsFrames[tsFrames.length - 1]!, 'credssp.version')));
      const errFrames = framesWith(rows, 'credssp.errorCode');
      if (errFrames.length > 0) {
        expect(c.credssp!.errorCode).toBe(Number(one(rows, errFrames[0]!, 'credssp.errorCode')) >>> 0);
        expect(c.credssp!.frames).toContain(errFrames[0]);
      } else expect(c.credssp!.errorCode).toBeNull();

      // NTLM (MS-NLMP 2.2.1): message types in order, and the AUTHENTICATE names.
      const types = framesWith(rows, 'ntlmssp.messagetype').map((f) => String(Number(one(rows, f, 'ntlmssp.messagetype'))));
      expect(c.credssp!.tokens).toEqual(types);
      const auth = framesWith(rows, 'ntlmssp.auth.username')[0]!;
      const who = `${one(rows, auth, 'ntlmssp.auth.domain')}\\${one(rows, auth, 'ntlmssp.auth.username')} from ${one(rows, auth, 'ntlmssp.auth.hostname')}`;
      expect(c.timeline.find((e) => e.frame === auth && e.event === 'CredSSP TSRequest')!.detail).toContain(who);

      if (c.mcs === null) return;
      // MCS Connect Initial with the GCC client core data (MS-RDPBCGR 2.2.1.3.2).
      const ci = framesWith(rows, 'rdp.client.name');
      expect([c.mcs.connectInitialFrame]).toEqual(ci);
      expect(c.mcs.client!.clientName).toBe(one(rows, ci[0]!, 'rdp.client.name'));
      expect(c.mcs.client!.desktopWidth).toBe(Number(one(rows, ci[0]!, 'rdp.desktop.width')));
      expect(c.mcs.client!.desktopHeight).toBe(Number(one(rows, ci[0]!, 'rdp.desktop.height')));

      // Client Info (2.2.1.11): the frame, domain and user name.
      const info = framesWith(rows, 'rdp.userName');
      expect(eventFrames(c, 'Client Info')).toEqual(info);
      expect(c.timeline.find((e) => e.event === 'Client Info')!.detail).toContain(`${one(rows, info[0]!, 'rdp.domain')}\\${one(rows, info[0]!, 'rdp.userName')}`);

      // Demand / Confirm Active (2.2.1.13): frames and capability set counts.
      const caps = framesWith(rows, 'rdp.numberCapabilities');
      expect([...eventFrames(c, 'Demand Active'), ...eventFrames(c, 'Confirm Active')].sort((a, b) => a - b)).toEqual(caps);
      for (const f of caps) expect(c.timeline.find((e) => e.frame === f && /Active$/.test(e.event))!.detail).toBe(`${one(rows, f, 'rdp.numberCapabilities')} capability sets`);

      // Share data PDUs by pduType2 (2.2.8.1.1.1.2): finalization, Save Session Info, Set Error Info.
      const byType = (t: number): number[] => framesWith(rows, 'rdp.pduType2', (v) => Number(v) === t);
      expect(eventFrames(c, 'Synchronize')).toEqual(byType(31));
      expect(eventFrames(c, 'Font List')).toEqual(byType(39));
      expect(eventFrames(c, 'Font Map')).toEqual(byType(40));
      expect(eventFrames(c, 'Save Session Info')).toEqual(byType(38));
      // Set Error Info (2.2.5.1.1): tshark 4.0 names pduType2 47 only once it has followed the share
      // state (after licensing); before that (the server denies right after the Client Info) it shows
      // the Send Data user data undissected. Either way the bytes it decrypted carry the code: a
      // Share Control Header of a Data PDU (pduType 7), pduType2 at 14, errorInfo at 18 (little-endian).
      const setErr = byType(47);
      for (const f of setErr) expect(c.errorInfo.map((e) => e.frame)).toContain(f);
      for (const e of c.errorInfo) {
        const ud = Buffer.from(rows.get(e.frame)!.get('t124.userData')!.at(-1)!.replace(/:/g, ''), 'hex');
        expect(ud.readUInt16LE(2) & 0x0f).toBe(7);
        expect(ud[14]).toBe(47);
        expect(e.code).toBe(ud.readUInt32LE(18));
      }

      // Licensing (MS-RDPELE 2.2.2.7.1 via MS-RDPBCGR 2.2.1.12): the message frames, type, error code and state transition.
      const lic = framesWith(rows, 'rdp.bMsgType');
      expect(c.licensing.map((l) => l.frame)).toEqual(lic);
      for (const l of c.licensing) {
        expect(l.msgType).toBe(Number(one(rows, l.frame, 'rdp.bMsgType')));
        expect(l.errorCode).toBe(Number(one(rows, l.frame, 'rdp.errorCode')));
        expect(l.stateTransition).toBe(Number(one(rows, l.frame, 'rdp.stateTransition')));
      }
      expect(c.errorInfo.length + c.licensing.length).toBeGreaterThan(0);
    });
  }
});
