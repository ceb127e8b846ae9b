/**
 * Names are data: symbol and section names can hold any byte. Text output escapes what a terminal
 * would interpret; HTML output escapes everything markup-significant.
 */

const NEEDS_ESCAPE = /[\x00-\x1f\x7f-\uffff\\]/;

/** Escape control characters, DEL, backslash and bytes >= 0x80 as \xNN (names are latin1). */
export function escapeText(s: string): string {
  // Most names need nothing: return them as they are, not rebuilt a character at a time.
  if (!NEEDS_ESCAPE.test(s)) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c >= 0x80) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c === 0x5c) out += '\\\\';
    else out += s[i];
  }
  return out;
}

/**
 * What a terminal would act on rather than show: C0 controls except tab and newline, DEL, C1
 * controls (U+0080..U+009F: 0x9b is a one-byte CSI), and the bidirectional overrides that can make
 * text read differently from what it is. Escaped text (escapeText) holds none of these, so
 * termSafe() can be applied again at the output boundary without changing it.
 */
const TERMINAL_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Make any text safe to print: every byte that came from an input and that a terminal would interpret becomes \xNN (or \u{NNNN}). */
export function termSafe(s: string): string {
  return s.replace(TERMINAL_UNSAFE, (c) => {
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`;
  });
}

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return escapeText(s).replace(/[&<>"']/g, (c) => HTML[c]!);
}

export const hex = (v: bigint | number, width = 0): string => v.toString(16).padStart(width, '0');
