/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The annotations of upstream klp-convert's series (include/linux/livepatch.h in the v7 patches),
 * which Debian's headers do not carry: each KLP_MODULE_RELOC(obj) array lands in section
 * .klp.module_relocs.<obj> as 12-byte { sym, sympos } entries that klp convert reads and removes.
 */
#ifndef KLPKIT_RELOC_H
#define KLPKIT_RELOC_H

struct klp_module_reloc {
	void *sym;
	unsigned int sympos;
} __packed;

#define KLP_MODULE_RELOC(obj) \
	struct klp_module_reloc __used __section(".klp.module_relocs." #obj) __aligned(4)
#define KLP_SYMPOS(symbol, pos) { .sym = (void *)&symbol, .sympos = pos }

#endif
