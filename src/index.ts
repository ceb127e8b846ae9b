/**
 * klpkit's library API. Everything the `klp` command does is available here.
 */
export * from './elf/index.js';
export * from './arch/index.js';
export { listElf, renderElfText, flagLetters, type ElfListing, type SectionRow, type SymbolRow, type RelocationRow } from './report/elf-listing.js';
export { escapeText, escapeHtml } from './report/escape.js';
