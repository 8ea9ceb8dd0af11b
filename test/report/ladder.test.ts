// The ladder shared by the text, Markdown and HTML writers (src/report/ladder.ts), and the way
// each writer marks the point of death.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { TimelineEvent } from '../../src/handshake/types.js';
import { deathIndex, ladderRows, type LadderRow } from '../../src/report/ladder.js';
import { renderHtml } from '../../src/report/html.js';
import { renderMarkdown } from '../../src/report/markdown.js';
import { ladderSvg } from '../../src/report/svg.js';
import { renderText } from '../../src/report/text.js';
import type { ReportedConnection } from '../../src/report/types.js';
import { fixtureReport } from './helpers.js';

function conn(n: number, diedFrame: number | null): ReportedConnection {
  const timeline: TimelineEvent[] = [];
  for (let i = 0; i < n; i++) timeline.push({ frame: i + 1, time: 100 + i / 10, direction: i % 2 ? 's2c' : 'c2s', event: `e${i + 1}`, phase: 'tcp' });
  return {
    id: 'c1',
    start: 100,
    timeline,
    died: diedFrame === null ? null : { phase: 'tcp', how: 'rst', by: 'server', frame: diedFrame, detail: 'x' },
  } as unknown as ReportedConnection;
}

const events = (rows: LadderRow[]): number[] => rows.flatMap((r) => (r.kind === 'event' ? [r.event.frame] : []));

describe('ladderRows', () => {
  it('shows every event when they fit, with offsets from the first and the death flagged', () => {
    const rows = ladderRows(conn(5, 4), 10);
    expect(events(rows)).toEqual([1, 2, 3, 4, 5]);
    expect(rows.filter((r) => r.kind === 'event' && r.death).map((r) => (r.kind === 'event' ? r.event.frame : 0))).toEqual([4]);
    expect(rows[2]!.kind === 'event' && rows[2]!.offset).toBeCloseTo(0.2, 9);
  });

  it('keeps the head and the window around the death, with gap rows counting what is left out', () => {
    const rows = ladderRows(conn(100, 50), 12);
    // head = 12 - 4 = 8 events; tail = 4 events ending two after the death (49..52).
    expect(events(rows)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 49, 50, 51, 52]);
    expect(rows.filter((r) => r.kind === 'gap').map((r) => (r.kind === 'gap' ? r.hidden : 0))).toEqual([40, 48]);
  });

  it('flags the LAST event carrying the death frame (several events share a frame)', () => {
    const c = conn(4, 3);
    c.timeline[1]!.frame = 3;
    expect(deathIndex(c)).toBe(2);
  });

  it('adds a death row when the death frame is not in the timeline, none when nothing died', () => {
    expect(ladderRows(conn(3, 99), 10).at(-1)).toEqual({ kind: 'death', frame: 99 });
    expect(ladderRows(conn(3, null), 10).some((r) => r.kind === 'death' || (r.kind === 'event' && r.death))).toBe(false);
  });

  it('property: order kept, every event shown or counted, at most max events, the death always shown once', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 60 }), fc.option(fc.integer({ min: 1, max: 320 })), (n, max, died) => {
        const rows = ladderRows(conn(n, died), max);
        const shown = events(rows);
        const hidden = rows.reduce((a, r) => a + (r.kind === 'gap' ? r.hidden : 0), 0);
        expect(shown.length + hidden).toBe(n);
        expect(shown.length).toBeLessThanOrEqual(Math.max(n <= max ? n : max, 0) + 1);
        expect([...shown].sort((a, b) => a - b)).toEqual(shown);
        for (let i = 1; i < rows.length; i++) expect(rows[i]!.kind === 'gap' && rows[i - 1]!.kind === 'gap').toBe(false);
        const marks = rows.filter((r) => r.kind === 'death' || (r.kind === 'event' && r.death)).length;
        expect(marks).toBe(died === null ? 0 : 1);
        if (died !== null && died <= n) expect(shown).toContain(died);
      }),
    );
  });
});

describe('the death marked in each writer', () => {
  it('text: the death line carries "<== died here" and its frame', async () => {
    const r = await fixtureReport('captures/cert_expired.pcapng');
    const t = renderText(r, { color: false });
    const line = t.split('\n').find((l) => l.includes('<== died here'))!;
    expect(line).toMatch(/^\s+10\s+\+0\.\d{3}s\s+--- Encrypted Alert -+>\s+<== died here/);
    expect(t).toMatch(/^FAILED c1 tcp 192\.168\.10\.25:\d+ -> 10\.20\.0\.15:3389: the client sent an encrypted TLS alert right after the TLS handshake \(frame 10\)$/m);
    // Completed attempts are one line each.
    const done = await fixtureReport('captures/completed_tls13.pcapng');
    const dt = renderText(done, { color: false });
    expect(dt).toMatch(/^ {2}c1 tcp .* -> .*: completed \(reached active, .*\)$/m);
    expect(dt).not.toContain('<== died here');
  });

  it('text: server summary lines, and a long timeline cut with a gap line', async () => {
    const r = await fixtureReport('captures/network_unstable.pcap');
    const t = renderText(r, { color: false, maxLadder: 10 });
    expect(t).toMatch(/^\d+ attempts? to 10\.20\.0\.\d+:3389: /m);
    expect(t).toMatch(/\.\.\. \d+ more events \.\.\./);
  });

  it('markdown: the death row is bold with a cross; html: the timeline row is class "death"', async () => {
    const r = await fixtureReport('captures/port_not_listening.pcap');
    const m = renderMarkdown(r);
    expect(m).toMatch(/^\| 2 \| \+0\.002s \| client ← server \| \*\*✖ RST.*\*\* \(died here\) \|/m);
    const h = renderHtml(r);
    expect(h).toMatch(/<tr class="death"><td>2<\/td>/);
  });

  it('svg: a red arrow and a cross on the death event, a dashed line when the death frame is not an event', async () => {
    const r = await fixtureReport('captures/cert_expired.pcapng');
    const c = r.connections[0]!;
    const svg = ladderSvg(c, 60);
    expect(svg).toMatch(/<g class="ev c2s death" data-frame="10">/);
    expect(svg).toContain('class="death-mark"');
    expect((svg.match(/<g class="ev /g) ?? []).length).toBe(c.timeline.length);
    c.died!.frame = 999;
    const other = ladderSvg(c, 60);
    expect(other).toMatch(/<g class="death" data-frame="999">/);
    expect(other).not.toContain('death-mark');
  });
});
