/**
 * A one-line progress bar on stderr for long scans: only on a TTY (never in logs or pipes), and
 * silenced by --quiet. Redrawn at most every 100 ms.
 */
export function progressBar(label: string, quiet: boolean): { update: (done: number, total: number) => void; done: () => void } {
  const tty = process.stderr.isTTY === true && !quiet;
  let last = 0;
  let drawn = false;
  return {
    update(done, total) {
      if (!tty) return;
      const now = Date.now();
      if (now - last < 100 && done !== total) return;
      last = now;
      const width = 30;
      const filled = total > 0 ? Math.round((done / total) * width) : 0;
      process.stderr.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total}`);
      drawn = true;
    },
    done() {
      if (drawn) process.stderr.write('\r\x1b[K');
    },
  };
}
