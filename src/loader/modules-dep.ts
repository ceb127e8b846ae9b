/**
 * modules.dep, as depmod writes it and modprobe reads it (kmod): one line per module,
 * `kernel/fs/nfsd/nfsd.ko: kernel/net/sunrpc/auth_gss/auth_rpcgss.ko ... kernel/net/sunrpc/sunrpc.ko`,
 * paths relative to /lib/modules/<version>/, dependencies already transitive and listed so that
 * each one may depend on those after it: modprobe loads them from the last to the first, then the
 * module itself.
 */
import { basename, dirname, resolve } from 'node:path';
import { UsageError } from '../errors.js';

/** A module's name from its file name, as kmod derives it: no .ko(.xz|.zst|.gz), '-' becomes '_'. */
export const moduleNameFromPath = (p: string): string => basename(p).replace(/\.ko(\.(xz|zst|gz))?$/, '').replace(/-/g, '_');

export class ModulesDep {
  private readonly entries = new Map<string, { path: string; deps: string[] }>();
  readonly file: string;

  constructor(text: string, file: string) {
    this.file = file;
    const base = dirname(resolve(file));
    text.split('\n').forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new UsageError(`${file}:${i + 1}: not 'path.ko: dep.ko ...'`);
      const path = line.slice(0, colon).trim();
      const deps = line.slice(colon + 1).trim().split(/\s+/).filter(Boolean);
      this.entries.set(moduleNameFromPath(path), { path: resolve(base, path), deps: deps.map(moduleNameFromPath) });
    });
  }

  /** Module names in file order. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  path(name: string): string {
    const e = this.entries.get(name);
    if (!e) throw new UsageError(`${this.file}: no module '${name}'`);
    return e.path;
  }

  /** What `modprobe name` inserts, in order: the dependencies from last to first, then the module. */
  loadOrder(name: string): string[] {
    const e = this.entries.get(name);
    if (!e) throw new UsageError(`${this.file}: no module '${name}'`);
    return [...[...e.deps].reverse(), name];
  }
}
