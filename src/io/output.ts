/** Where commands print: stdout for results, stderr for progress and errors. Swappable in tests. */
export interface IO {
  out(line: string): void;
  err(line: string): void;
  /** Progress lines that redraw in place (only when stderr is a terminal). */
  progress(line: string): void;
  isTTY: boolean;
}

let pipeGuard = false;

export function processIO(): IO {
  if (!pipeGuard) {
    // `rnnlab ... | head` closes the pipe early: stop quietly instead of throwing EPIPE
    pipeGuard = true;
    for (const stream of [process.stdout, process.stderr]) {
      stream.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
        throw e;
      });
    }
  }
  const tty = !!process.stderr.isTTY;
  let drawn = false;
  return {
    out: (line) => {
      if (drawn) {
        process.stderr.write('\r\x1b[K');
        drawn = false;
      }
      process.stdout.write(line + '\n');
    },
    err: (line) => {
      if (drawn) {
        process.stderr.write('\r\x1b[K');
        drawn = false;
      }
      process.stderr.write(line + '\n');
    },
    progress: (line) => {
      if (!tty) return;
      process.stderr.write('\r\x1b[K' + line);
      drawn = true;
    },
    isTTY: tty,
  };
}

