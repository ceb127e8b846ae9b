/**
 * Text sources: /proc/kallsyms dumps, System.map, Module.symvers, symbols.klp.
 */
import { InputError } from '../../src/errors.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ElfError } from '../../src/elf/index.js';
import { SymbolDb } from '../../src/symbols/database.js';
import { parseKallsyms, parseSystemMap } from '../../src/symbols/kallsyms-text.js';
import { exportSymbolsKlp, parseSymbolsKlp, SYMBOLS_KLP_HEADER } from '../../src/symbols/symbols-klp.js';
import { parseSymvers } from '../../src/symbols/symvers.js';

test('kallsyms dump: vmlinux and [module] lines, CRLF line ends (serial console)', () => {
  const text = 'ffffffff81000000 T _text\r\nffffffff810a2ac0 t active_show\r\nffffffff816c71a0 t active_show\r\n' +
    'ffffffffc0000000 t foo_init\t[foo]\r\nffffffffc0000010 T foo_exported\t[foo]\r\n';
  const d = parseKallsyms(text, 'kallsyms.txt');
  assert.deepEqual(d.vmlinux.map((s) => [s.name, s.type, s.address]), [
    ['_text', 'T', 0xffffffff81000000n], ['active_show', 't', 0xffffffff810a2ac0n], ['active_show', 't', 0xffffffff816c71a0n],
  ]);
  assert.deepEqual(d.modules.get('foo')!.map((s) => s.name), ['foo_init', 'foo_exported']);
  const db = SymbolDb.build({ vmlinux: { symbols: d.vmlinux, source: 'x', order: 'kallsyms' }, dumpModules: d.modules });
  assert.deepEqual(db.lookup('active_show').map((x) => [x.object, x.sympos, x.count]), [['vmlinux', 1, 2], ['vmlinux', 2, 2]]);
  assert.deepEqual(db.lookup('foo_init').map((x) => [x.object, x.sympos]), [['foo', 0]]);
});

test('malformed lines name file:line; the Debian placeholder System.map says what to use instead', () => {
  assert.throws(() => parseKallsyms('ffffffff81000000 T ok\nthis is not a symbol line\n', 'dump.txt'),
    (e: unknown) => e instanceof InputError && /^dump\.txt:2: malformed line 'this is not a symbol line'/.test(e.message));
  assert.throws(() => parseSystemMap('ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n', 'System.map-6.1.0-56-amd64'),
    (e: unknown) => e instanceof InputError && /System\.map-6\.1\.0-56-amd64:1: this is Debian's placeholder System\.map.*--vmlinuz/.test(e.message));
  assert.throws(() => parseSystemMap('ffffffffc0000000 t foo\t[foo]\n', 'System.map'), /looks like \/proc\/kallsyms/);
});

test('Module.symvers: objects from paths, dashes normalised, namespaces kept', () => {
  const e = parseSymvers('0x12345678\tfoo\tvmlinux\tEXPORT_SYMBOL\t\n0x9abcdef0\tbar\tdrivers/x/dash-mod\tEXPORT_SYMBOL_GPL\tMY_NS\n', 'Module.symvers');
  assert.deepEqual(e, [
    { name: 'foo', object: 'vmlinux', type: 'EXPORT_SYMBOL', namespace: '' },
    { name: 'bar', object: 'dash_mod', type: 'EXPORT_SYMBOL_GPL', namespace: 'MY_NS' },
  ]);
  assert.throws(() => parseSymvers('0x1\tfoo\tvmlinux\tEXPORT_WEIRD\t\n', 'S'), /^.*S:1: unknown export type 'EXPORT_WEIRD'/);
  assert.throws(() => parseSymvers('garbage\n', 'S'), /S:1: malformed Module\.symvers line/);
});

test('symbols.klp: upstream format in, kallsyms-order positions and __ksymtab_ exports out', () => {
  const text = `${SYMBOLS_KLP_HEADER}\n*vmlinux\nsaved_command_line\njhash\njhash\nprintk\n__ksymtab_printk\n*test_klp_convert_mod\nhomonym_string\nget_homonym_string\nhomonym_string\n`;
  const s = parseSymbolsKlp(text, 'symbols.klp');
  assert.deepEqual(s.exports.map((e) => `${e.object}:${e.name}`), ['vmlinux:printk']);
  const db = SymbolDb.build({ vmlinux: { symbols: s.objects.get('vmlinux')!, source: 'k', order: 'address' }, dumpModules: new Map([['test_klp_convert_mod', s.objects.get('test_klp_convert_mod')!]]), exports: s.exports });
  assert.deepEqual(db.lookup('jhash').map((d) => d.sympos), [1, 2]);
  assert.deepEqual(db.lookup('homonym_string').map((d) => [d.object, d.sympos]), [['test_klp_convert_mod', 1], ['test_klp_convert_mod', 2]]);
  assert.equal(db.lookup('saved_command_line')[0]!.sympos, 0);
  // Export and re-import: same positions, same exports.
  const again = parseSymbolsKlp(exportSymbolsKlp(db), 'again.klp');
  assert.deepEqual(again.objects.get('test_klp_convert_mod')!.map((x) => x.name).filter((n) => n === 'homonym_string').length, 2);
  assert.deepEqual(again.exports.map((e) => `${e.object}:${e.name}`), ['vmlinux:printk']);
  assert.throws(() => parseSymbolsKlp('klp-convert-symbol-data.0.2\n', 'old.klp'), /old\.klp:1: Symbol list is in unknown format/);
});

test('database file: serialize, load, lookup; corrupt files are typed errors', () => {
  const db = SymbolDb.build({
    vmlinux: { symbols: [{ name: 'b', type: 'T', address: 0xffffffff81000010n }, { name: 'a', type: 't', address: 0xffffffff81000000n }, { name: 'a', type: 't', address: 0xffffffff81000020n }], source: 's', order: 'kallsyms' },
    exports: [{ name: 'b', object: 'vmlinux', type: 'EXPORT_SYMBOL_GPL', namespace: 'NS' }],
  });
  const bytes = db.serialize();
  const back = SymbolDb.load(bytes, 'x.klpdb');
  assert.deepEqual(back.lookup('a').map((d) => [d.sympos, d.address]), [[1, 0xffffffff81000000n], [2, 0xffffffff81000020n]]);
  assert.deepEqual(back.lookup('b').map((d) => [d.exported, d.exportType, d.namespace, d.binding]), [[true, 'EXPORT_SYMBOL_GPL', 'NS', 'global']]);
  assert.deepEqual(back.lookup('c'), []);
  for (const cut of [0, 7, 12, 20, bytes.length - 1]) {
    assert.throws(() => SymbolDb.load(bytes.subarray(0, cut), 'cut.klpdb'), (e: unknown) => e instanceof InputError && e.file === 'cut.klpdb', `cut at ${cut}`);
  }
  const evil = bytes.slice();
  const hlen = new DataView(evil.buffer).getUint32(12, true);
  const col0 = SymbolDb.layout(SymbolDb.parseHeader(evil.subarray(16, 16 + hlen), 'evil.klpdb'), hlen, evil.length, 'evil.klpdb').at.nameOff;
  new DataView(evil.buffer).setUint32(col0, 0xfffffff0, true); // nameOff of entry 0 far outside
  assert.throws(() => SymbolDb.load(evil, 'evil.klpdb'), /evil\.klpdb.*entry 0 refers outside its tables/);
});

test('database file: the objects\' sources and who exports come back; sources are read when asked, and damage to them is a typed error then', () => {
  const db = SymbolDb.build({
    vmlinux: { symbols: [{ name: 'b', type: 'T', address: 0xffffffff81000010n }], source: '/boot/vmlinuz-\u00e9', order: 'kallsyms' },
    dumpModules: new Map([['m', [{ name: 'c', type: 't', address: 0xffffffffc0000000n }]]]),
    exports: [{ name: 'b', object: 'vmlinux', type: 'EXPORT_SYMBOL', namespace: '' }],
  });
  const bytes = db.serialize();
  const back = SymbolDb.load(bytes, 'x.klpdb');
  assert.deepEqual(back.objects, db.objects);
  assert.deepEqual(['vmlinux', 'm', 'none'].map((o) => back.hasExports(o)), [true, false, false]);
  const hlen = new DataView(bytes.buffer).getUint32(12, true);
  const L = SymbolDb.layout(SymbolDb.parseHeader(bytes.subarray(16, 16 + hlen), 'x.klpdb'), hlen, bytes.length, 'x.klpdb');
  const evil = bytes.slice();
  evil[L.sourcesAt] = 0x7b; // '{': not an array
  const loaded = SymbolDb.load(evil, 'evil.klpdb');
  assert.deepEqual(loaded.lookup('b').map((d) => d.object), ['vmlinux'], 'a look-up does not need the sources');
  assert.throws(() => loaded.objects, (e: unknown) => e instanceof InputError && e.file === 'evil.klpdb' &&
    e.message === `evil.klpdb (offset 0x${L.sourcesAt.toString(16)}): object sources are missing or malformed (rebuild it with klp symbols build)`);
});

test('input errors by kind, one rendering: text lines, databases, ELF', async () => {
  const { TextInputError, DatabaseError } = await import('../../src/symbols/errors.js');
  const { ElfError } = await import('../../src/elf/errors.js');
  assert.throws(() => parseKallsyms('garbage\n', 'k.txt'), (e: unknown) => e instanceof TextInputError && e.line === 1 && e.file === 'k.txt' && e.message.startsWith('k.txt:1: '));
  assert.throws(() => SymbolDb.load(new TextEncoder().encode('NOTADB..'), 'x.klpdb'), (e: unknown) => e instanceof DatabaseError && e.code === 'BAD_DATABASE' && e.message.startsWith('x.klpdb (offset 0x0): not a klpkit symbol database'));
  const { readElf } = await import('../../src/elf/index.js');
  assert.throws(() => readElf(new TextEncoder().encode('hello, world, not an ELF'), { path: 'h.ko' }), (e: unknown) => e instanceof ElfError && e instanceof InputError && e.code === 'NOT_ELF');
});
