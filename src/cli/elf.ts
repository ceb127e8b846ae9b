/** `klp elf FILE`: a readelf-like listing focused on livepatch work. */
import type { Command } from '@commander-js/extra-typings';
import { loadElf } from '../elf/load.js';
import { listElf, renderElfText } from '../report/elf-listing.js';
import { out, runCommand, toJson } from './run.js';

export function registerElf(program: Command): void {
  program
    .command('elf')
    .description('list sections, symbols, relocations and module info of an ELF object or kernel module (.ko, .ko.xz, .ko.zst, .ko.gz)')
    .argument('<file>', 'ELF relocatable object or kernel module')
    .option('-S, --sections', 'section headers (SHF_RELA_LIVEPATCH sections are marked)')
    .option('-s, --symbols', 'symbol tables (SHN_LIVEPATCH shown as LIVEPATCH)')
    .option('-r, --relocs', 'relocations, with type names')
    .option('-m, --modinfo', '.modinfo and __versions')
    .option('--json', 'one JSON object with arrays sections, symbols, relocations (every entry, file order)')
    .action((file, opts) =>
      runCommand(async () => {
        const elf = await loadElf(file);
        const listing = listElf(elf);
        if (opts.json) {
          out(toJson(listing));
          return;
        }
        const any = opts.sections || opts.symbols || opts.relocs || opts.modinfo;
        out(renderElfText(listing, {
          header: !any,
          sections: !any || !!opts.sections,
          symbols: !any || !!opts.symbols,
          relocs: !any || !!opts.relocs,
          modinfo: !any || !!opts.modinfo,
        }));
      }),
    );
}
