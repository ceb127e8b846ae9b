/**
 * Hand-assembled minimal ELF relocatable files, written byte by byte without klpkit's writer, so
 * that they can serve as independent input (one RELA entry per relocation type, any machine).
 */
export function synthRelocObject(opts: { machine: number; elfClass: 32 | 64; littleEndian: boolean; types: readonly number[]; rela?: boolean }): Uint8Array {
  const { machine, elfClass, littleEndian: le, types } = opts;
  const rela = opts.rela ?? true;
  const is64 = elfClass === 64;
  const ehsize = is64 ? 64 : 52, shsize = is64 ? 64 : 40, symsize = is64 ? 24 : 16;
  const relsize = is64 ? (rela ? 24 : 16) : rela ? 12 : 8;
  const shstr = '\0.text\0.rela.text\0.symtab\0.strtab\0.shstrtab\0.rel.text\0';
  const strtab = '\0target\0';
  const text = 16 * types.length + 16;
  const parts: Array<[string, number]> = [];
  let off = ehsize;
  const place = (name: string, size: number, align: number): number => {
    off = Math.ceil(off / align) * align;
    const at = off;
    parts.push([name, at]);
    off += size;
    return at;
  };
  const textOff = place('text', text, 16);
  const relOff = place('rel', relsize * types.length, 8);
  const symOff = place('sym', symsize * 2, 8);
  const strOff = place('str', strtab.length, 1);
  const shstrOff = place('shstr', shstr.length, 1);
  const shoff = Math.ceil(off / 8) * 8;
  const total = shoff + shsize * 6;
  const b = new Uint8Array(total);
  const v = new DataView(b.buffer);
  const u16 = (o: number, x: number) => v.setUint16(o, x, le);
  const u32 = (o: number, x: number) => v.setUint32(o, x, le);
  const word = (o: number, x: number) => (is64 ? v.setBigUint64(o, BigInt(x), le) : v.setUint32(o, x, le));
  b.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, le ? 1 : 2, 1]);
  u16(16, 1); u16(18, machine); u32(20, 1);
  if (is64) { v.setBigUint64(40, BigInt(shoff), le); u16(52, ehsize); u16(58, shsize); u16(60, 6); u16(62, 5); }
  else { u32(32, shoff); u16(40, ehsize); u16(46, shsize); u16(48, 6); u16(50, 5); }
  types.forEach((t, i) => {
    const o = relOff + i * relsize;
    if (is64) {
      v.setBigUint64(o, BigInt(i * 16), le);
      v.setBigUint64(o + 8, (1n << 32n) | BigInt(t), le);
      if (rela) v.setBigUint64(o + 16, 4n, le);
    } else {
      u32(o, i * 16); u32(o + 4, (1 << 8) | (t & 0xff));
      if (rela) u32(o + 8, 4);
    }
  });
  // symbol 1: "target", GLOBAL NOTYPE, defined in .text
  const s1 = symOff + symsize;
  u32(s1, 1);
  if (is64) { b[s1 + 4] = 0x10; u16(s1 + 6, 1); } else { b[s1 + 12] = 0x10; u16(s1 + 14, 1); }
  for (let i = 0; i < strtab.length; i++) b[strOff + i] = strtab.charCodeAt(i);
  for (let i = 0; i < shstr.length; i++) b[shstrOff + i] = shstr.charCodeAt(i);
  const sh = (i: number, name: number, type: number, flags: number, o: number, size: number, link: number, info: number, align: number, entsize: number) => {
    const h = shoff + i * shsize;
    u32(h, name); u32(h + 4, type);
    if (is64) {
      word(h + 8, flags); word(h + 24, o); word(h + 32, size); u32(h + 40, link); u32(h + 44, info); word(h + 48, align); word(h + 56, entsize);
    } else {
      u32(h + 8, flags); u32(h + 16, o); u32(h + 20, size); u32(h + 24, link); u32(h + 28, info); u32(h + 32, align); u32(h + 36, entsize);
    }
  };
  sh(1, 1, 1, 6, textOff, text, 0, 0, 16, 0);
  sh(2, rela ? 7 : shstr.indexOf('.rel.text'), rela ? 4 : 9, 0x40, relOff, relsize * types.length, 3, 1, 8, relsize);
  sh(3, 18, 2, 0, symOff, symsize * 2, 4, 1, 8, symsize);
  sh(4, 26, 3, 0, strOff, strtab.length, 0, 0, 1, 0);
  sh(5, 34, 3, 0, shstrOff, shstr.length, 0, 0, 1, 0);
  return b;
}

/**
 * A valid kallsyms token table (digits at 0x30..0x39, a u16 index proving it) after `words`
 * increasing u32 values that never reach 0: the markers walk must not restart at every word.
 */
export function craftedKallsymsImage(words: number): Uint8Array {
  const tokens = Array.from({ length: 256 }, (_, i) => (i >= 0x30 && i <= 0x39 ? String.fromCharCode(i) : `t${i.toString(16)}`));
  const table = Buffer.from(tokens.map((t) => `${t}\0`).join(''), 'latin1');
  const runStart = 64;
  const tableAt = runStart + 4 * words;
  const indexAt = Math.ceil((tableAt + table.length) / 8) * 8;
  const img = new Uint8Array(indexAt + 512 + 64);
  const dv = new DataView(img.buffer);
  for (let i = 0; i < words; i++) dv.setUint32(runStart + 4 * i, 1_000_000 + 300 * i, true);
  img.set(table, tableAt);
  let off = 0;
  tokens.forEach((t, i) => { dv.setUint16(indexAt + 2 * i, off, true); off += t.length + 1; });
  return img;
}

