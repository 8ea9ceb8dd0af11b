// The ladder diagram of one connection as inline SVG (for the HTML report): a client and a
// server column, one arrow per timeline event with its frame number and label, network events
// (ICMP from a router, capture end) in the middle, and the point of death marked in red
// (class "death"). Labels are entity-escaped; the full event and detail are in <title>.
import { escapeHtml as h } from './escape.js';
import { deathText, eventLabel, ladderRows, offsetText } from './ladder.js';
import type { ReportedConnection } from './types.js';

const WIDTH = 820;
const CLIENT_X = 170;
const SERVER_X = 790;
const MID_X = (CLIENT_X + SERVER_X) / 2;
const TOP = 56;
const ROW = 30;
const LABEL_CHARS = 70;

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

function cross(x: number, y: number, cls: string): string {
  const r = 7;
  return (
    `<g class="${cls}"><circle cx="${x}" cy="${y}" r="${r + 3}" fill="#fff" stroke="#c0392b" stroke-width="2"/>` +
    `<path d="M${x - r / 1.6} ${y - r / 1.6}L${x + r / 1.6} ${y + r / 1.6}M${x + r / 1.6} ${y - r / 1.6}L${x - r / 1.6} ${y + r / 1.6}" stroke="#c0392b" stroke-width="2.5"/></g>`
  );
}

/** An id usable in SVG references: the connection id reduced to [A-Za-z0-9_-]. */
export function svgIdOf(connectionId: string): string {
  return `l-${connectionId.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

export function ladderSvg(c: ReportedConnection, maxEvents: number): string {
  const rows = ladderRows(c, maxEvents);
  const id = svgIdOf(c.id);
  const height = TOP + rows.length * ROW + 24;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="ladder" id="${id}" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${h(`Ladder of ${c.id}: ${c.client} to ${c.server}`)}">`,
    `<defs><marker id="${id}-a" class="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#34495e"/></marker>` +
      `<marker id="${id}-d" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0 0L10 5L0 10z" fill="#c0392b"/></marker></defs>`,
    `<text x="8" y="18" class="hdr">frame</text><text x="62" y="18" class="hdr">time</text>`,
    `<text x="${CLIENT_X}" y="18" text-anchor="middle" class="hdr">client</text>`,
    `<text x="${CLIENT_X}" y="34" text-anchor="middle" class="addr">${h(truncate(c.client, 40))}</text>`,
    `<text x="${SERVER_X}" y="18" text-anchor="end" class="hdr">server</text>`,
    `<text x="${SERVER_X}" y="34" text-anchor="end" class="addr">${h(truncate(c.server, 40))}</text>`,
    `<line x1="${CLIENT_X}" y1="${TOP - 12}" x2="${CLIENT_X}" y2="${height - 8}" class="life"/>`,
    `<line x1="${SERVER_X}" y1="${TOP - 12}" x2="${SERVER_X}" y2="${height - 8}" class="life"/>`,
  );
  rows.forEach((r, i) => {
    const y = TOP + i * ROW + 18;
    if (r.kind === 'gap') {
      parts.push(`<text x="${MID_X}" y="${y - 4}" text-anchor="middle" class="gap">… ${r.hidden} more event${r.hidden === 1 ? '' : 's'} …</text>`);
      return;
    }
    if (r.kind === 'death') {
      parts.push(
        `<g class="death" data-frame="${r.frame ?? ''}"><title>${h(`died: ${deathText(c)}${c.died ? `: ${c.died.detail}` : ''}`)}</title>` +
          `<line x1="${CLIENT_X}" y1="${y}" x2="${SERVER_X}" y2="${y}" stroke="#c0392b" stroke-width="2" stroke-dasharray="6 4"/>` +
          `${r.frame !== null ? `<text x="8" y="${y + 4}" class="frame">${r.frame}</text>` : ''}` +
          `<text x="${MID_X}" y="${y - 6}" text-anchor="middle" class="dlabel">✖ died here: ${h(truncate(deathText(c), LABEL_CHARS))}</text></g>`,
      );
      return;
    }
    const e = r.event;
    const label = truncate(eventLabel(e), LABEL_CHARS);
    const tip = `frame ${e.frame}: ${eventLabel(e)}${e.detail ? ` (${e.detail})` : ''}`;
    const cls = `ev ${e.direction}${r.death ? ' death' : ''}`;
    const stroke = r.death ? '#c0392b' : '#34495e';
    const marker = r.death ? `${id}-d` : `${id}-a`;
    let body: string;
    if (e.direction === 'net') {
      body =
        `<line x1="${MID_X - 60}" y1="${y}" x2="${MID_X + 60}" y2="${y}" stroke="${stroke}" stroke-width="1.5" stroke-dasharray="3 3"/>` +
        `<path d="M${MID_X} ${y - 7}L${MID_X + 7} ${y}L${MID_X} ${y + 7}L${MID_X - 7} ${y}z" fill="#f39c12"/>` +
        `<text x="${MID_X}" y="${y - 9}" text-anchor="middle" class="label">${h(label)}</text>`;
    } else {
      const [x1, x2] = e.direction === 'c2s' ? [CLIENT_X, SERVER_X] : [SERVER_X, CLIENT_X];
      body =
        `<line x1="${x1}" y1="${y}" x2="${x2}" y2="${y}" stroke="${stroke}" stroke-width="${r.death ? 2.5 : 1.5}" marker-end="url(#${marker})"/>` +
        `<text x="${MID_X}" y="${y - 5}" text-anchor="middle" class="label">${h(label)}</text>`;
    }
    // The cross sits where the arrow ends (or right of a network event), "died here" beside it, under the line.
    const crossX = e.direction === 'c2s' ? SERVER_X - 16 : e.direction === 's2c' ? CLIENT_X + 16 : MID_X + 80;
    const deathMark = r.death
      ? cross(crossX, y, 'death-mark') +
        (e.direction === 'c2s'
          ? `<text x="${crossX - 14}" y="${y + 14}" text-anchor="end" class="dlabel">died here</text>`
          : `<text x="${crossX + 14}" y="${y + 14}" class="dlabel">died here</text>`)
      : '';
    parts.push(
      `<g class="${cls}" data-frame="${e.frame}"><title>${h(tip)}</title>` +
        `<text x="8" y="${y + 4}" class="frame">${e.frame}</text><text x="62" y="${y + 4}" class="time">${offsetText(r.offset)}</text>` +
        `${body}${deathMark}</g>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}
