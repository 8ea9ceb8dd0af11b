// Escaping per output context (src/report/escape.ts): exact vectors and properties on random strings.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeControls, escapeHtml, escapeMarkdown, markdownCode, safeFileName } from '../../src/report/escape.js';

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/;

describe('escapeControls (terminal, text)', () => {
  it('shows ESC, BEL, NUL, DEL and C1 CSI as \\xNN', () => {
    expect(escapeControls('a\x1b[31mb\x07\x00\x7f\x9b')).toBe('a\\x1b[31mb\\x07\\x00\\x7f\\x9b');
  });
  it('shows line breaks and tabs as \\xNN (a value stays on its line)', () => {
    expect(escapeControls('a\nb\r\tc')).toBe('a\\x0ab\\x0d\\x09c');
  });
  it('shows bidi overrides and zero-width characters as \\uNNNN', () => {
    expect(escapeControls('x\u202egnp.exe\u200b\u2066')).toBe('x\\u202egnp.exe\\u200b\\u2066');
  });
  it('keeps printable ASCII and other Unicode as is', () => {
    const s = 'CN=rdp-srv01.corp.example, é 漢字 ✓ <>&"\'|`';
    expect(escapeControls(s)).toBe(s);
  });
  it('property: no unsafe character survives, and safe strings are unchanged', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const e = escapeControls(s);
        expect(UNSAFE.test(e)).toBe(false);
        if (!UNSAFE.test(s)) expect(e).toBe(s);
      }),
    );
  });
});

describe('escapeHtml', () => {
  it('escapes the five HTML specials and the backtick', () => {
    expect(escapeHtml(`<script>alert("x")</script>&'\``)).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;&#96;');
  });
  it('makes controls visible first', () => {
    expect(escapeHtml('\x1b<')).toBe('\\x1b&lt;');
  });
  it('property: the output has no < > " \' ` and every & starts an entity; decoding gives back the visible text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const e = escapeHtml(s);
        expect(/[<>"'`]/.test(e)).toBe(false);
        expect(/&(?!(amp|lt|gt|quot|#39|#96);)/.test(e)).toBe(false);
        const decoded = e.replace(/&(amp|lt|gt|quot|#39|#96);/g, (_, n: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#96': '`' })[n]!);
        expect(decoded).toBe(escapeControls(s));
      }),
    );
  });
});

describe('escapeMarkdown', () => {
  it('backslash-escapes | ` * _ < > [ ] ~ & and \\', () => {
    expect(escapeMarkdown('a|b`c*d_e<f>g[h]i~j&k\\l')).toBe('a\\|b\\`c\\*d\\_e\\<f\\>g\\[h\\]i\\~j\\&k\\\\l');
  });
  it('turns line breaks into spaces (a value cannot end a table row)', () => {
    expect(escapeMarkdown('a\r\nb\nc\rd')).toBe('a b c d');
  });
  it('shows ESC as \\x1b with its backslash escaped', () => {
    expect(escapeMarkdown('\x1b[2J')).toBe('\\\\x1b\\[2J');
  });
  it('property: every special is preceded by an odd run of backslashes; no line break', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const e = escapeMarkdown(s);
        expect(/[\r\n]/.test(e)).toBe(false);
        // Walk: a backslash escapes the next character; an unescaped special must not appear.
        for (let i = 0; i < e.length; i++) {
          if (e[i] === '\\') {
            i++;
            continue;
          }
          expect('|`*_<>[]~&'.includes(e[i]!)).toBe(false);
        }
      }),
    );
  });
});

describe('markdownCode', () => {
  it('uses a fence longer than any backtick run inside', () => {
    expect(markdownCode('tcp.port == 3389')).toBe('`tcp.port == 3389`');
    expect(markdownCode('a``b')).toBe('```a``b```');
    expect(markdownCode('`x`')).toBe('`` `x` ``');
    // A span starting and ending with a space loses one on each side (CommonMark 6.1): padded.
    expect(markdownCode(' ! ')).toBe('`  !  `');
    expect(markdownCode('  ')).toBe('`  `');
  });
  it('property: the code span holds the (control-escaped, one-line) text verbatim', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const e = markdownCode(s);
        const m = /^(`+)([\s\S]*)\1$/.exec(e);
        expect(m).not.toBeNull();
        const fence = m![1]!;
        let inner = m![2]!;
        // CommonMark 6.1: one space stripped from both ends when both are spaces and the content is not all spaces.
        if (inner.length >= 2 && inner.startsWith(' ') && inner.endsWith(' ') && inner.trim() !== '') inner = inner.slice(1, -1);
        expect(inner.includes(fence)).toBe(false);
        const expected = escapeControls(s.replace(/\r\n|[\r\n]/g, ' '));
        expect(inner === expected || (expected === '' && inner.trim() === '')).toBe(true);
      }),
    );
  });
});

describe('safeFileName', () => {
  it('keeps ids and replaces everything else', () => {
    expect(safeFileName('c12')).toBe('c12');
    expect(safeFileName('../../etc/passwd')).toBe('__.._etc_passwd');
    expect(safeFileName('a b/c\\d:e\x00')).toBe('a_b_c_d_e_');
    expect(safeFileName('')).toBe('_');
    expect(safeFileName('.hidden')).toBe('_hidden');
  });
  it('property: only [A-Za-z0-9._-], never starts with a dot, at most 100 characters', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const n = safeFileName(s);
        expect(n).toMatch(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/);
      }),
    );
  });
});
