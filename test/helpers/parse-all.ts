/** Exercise every reader on some bytes: what hostile-input tests run. */
import { readElf, writeElf } from '../../src/elf/index.js';
import { readModinfo, readModversions, readNotes, moduleName } from '../../src/elf/module.js';
import { listElf, renderElfText } from '../../src/report/elf-listing.js';

export function parseEverything(bytes: Uint8Array, path = '<fuzz>'): void {
  const elf = readElf(bytes, { path });
  elf.decodeAll();
  for (const s of elf.sections) if (s.type === 17) elf.groupSignature(s);
  readModinfo(elf);
  readModversions(elf);
  readNotes(elf);
  moduleName(elf);
  const l = listElf(elf);
  renderElfText(l, { header: true, sections: true, symbols: true, relocs: true, modinfo: true });
  writeElf(elf, { reencode: true });
}
