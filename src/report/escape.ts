/**
 * Names are data: symbol and section names can hold any byte. Text output escapes what a terminal
 * would interpret; HTML output escapes everything markup-significant.
 */

/** Escape control characters, DEL, backslash and bytes >= 0x80 as \xNN (names are latin1). */
export function escapeText(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c >= 0x80) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c === 0x5c) out += '\\\\';
    else out += s[i];
  }
  return out;
}

const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(s: string): string {
  return escapeText(s).replace(/[&<>"']/g, (c) => HTML[c]!);
}

export const hex = (v: bigint | number, width = 0): string => v.toString(16).padStart(width, '0');
