// Escaping of untrusted strings, one function per output context. Everything a capture carries
// (cookies, routing tokens, certificate subjects / issuers / SANs, SNI, client names, DNS names,
// file names, and any sentence built from them) is untrusted.

/**
 * Characters that can drive a terminal or hide text: C0 controls (ESC among them), DEL, C1
 * controls (0x9b is a one-byte CSI), and the Unicode bidi / invisible-formatting controls
 * (the "Trojan Source" characters, CVE-2021-42574).
 */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

function visible(ch: string): string {
  const c = ch.charCodeAt(0);
  return c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u${c.toString(16).padStart(4, '0')}`;
}

/** Terminal / plain text: control and formatting characters shown as \xNN (\uNNNN above 0xff). */
export function escapeControls(s: string): string {
  return s.replace(UNSAFE, visible);
}

/** Same as escapeControls but keeps line breaks (for multi-line text the caller produced itself). */
export function escapeControlsKeepNewlines(s: string): string {
  return s
    .split('\n')
    .map((l) => escapeControls(l))
    .join('\n');
}

const HTML_ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** HTML text and (quoted) attribute values; control characters made visible first. */
export function escapeHtml(s: string): string {
  return escapeControls(s).replace(/[&<>"'`]/g, (c) => HTML_ENTITIES[c]!);
}

/**
 * Markdown inline text (CommonMark 2.4 backslash escapes): every character that can start
 * inline markup (emphasis, code, links, raw HTML, entities, GFM tables and strikethrough) gets a
 * backslash; line breaks become spaces so a value cannot end a table row or start a block.
 * Callers never put a value at the start of a line (block markup such as "#" or "- ").
 */
export function escapeMarkdown(s: string): string {
  return escapeControls(s.replace(/\r\n|[\r\n]/g, ' ')).replace(/[\\`*_[\]<>|~&]/g, (c) => `\\${c}`);
}

/**
 * A Markdown code span (CommonMark 6.1) holding `s` verbatim: the fence is one backtick longer
 * than the longest run inside, padded with spaces when the content touches a backtick.
 * Line breaks become spaces. Not for table cells (a `|` would still split the cell in GFM).
 */
export function markdownCode(s: string): string {
  const text = escapeControls(s.replace(/\r\n|[\r\n]/g, ' '));
  let longest = 0;
  for (const m of text.matchAll(/`+/g)) longest = Math.max(longest, m[0].length);
  const fence = '`'.repeat(longest + 1);
  // CommonMark 6.1 strips one space from both ends of a code span whose content starts and ends with a
  // space (and is not all spaces): pad such text too, so that " ! " stays " ! ".
  const spaced = text.length >= 2 && text.startsWith(' ') && text.endsWith(' ') && text.trim() !== '';
  const pad = text.startsWith('`') || text.endsWith('`') || text === '' || spaced ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

/** A file name made safe on every platform: [A-Za-z0-9._-] only, no leading dot, bounded length. */
export function safeFileName(s: string): string {
  let n = s.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_');
  if (n === '') n = '_';
  return n.slice(0, 100);
}
