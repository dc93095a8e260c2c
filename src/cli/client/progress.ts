/**
 * Progress on stderr while the server works: on a terminal, one line that
 * keeps the elapsed time current; into a pipe or a log, a line now and then
 * (a log of a thousand carriage returns helps nobody). Lines that matter
 * (a partial image saved, a warning) are always whole lines.
 */

export interface ProgressSink {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface Progress {
  /** the request is on its way; the elapsed time counts from here */
  start(what: string): void;
  /** a line that stays; with --quiet only one that says something went differently (a warning) */
  line(text: string, options?: { evenWhenQuiet?: boolean }): void;
  /** seconds since start, e.g. "2.4 s" */
  elapsed(): string;
  stop(): void;
}

/** Into a pipe, the time is said this often. */
const PIPE_EVERY_MS = 5_000;
const TTY_EVERY_MS = 200;

export function createProgress(sink: ProgressSink, quiet: boolean, now: () => number = Date.now): Progress {
  let started = now();
  let timer: NodeJS.Timeout | null = null;
  let what = '';
  let live = false;
  const elapsed = () => `${((now() - started) / 1000).toFixed(1)} s`;
  const clearLive = () => {
    if (live) sink.write('\r\x1b[K');
    live = false;
  };
  const drawLive = () => {
    sink.write(`\r\x1b[K${what} ${elapsed()}`);
    live = true;
  };
  return {
    start(text) {
      started = now();
      what = text;
      if (quiet) return;
      if (sink.isTTY) {
        drawLive();
        timer = setInterval(drawLive, TTY_EVERY_MS);
      } else {
        sink.write(`${text}\n`);
        timer = setInterval(() => sink.write(`  still waiting, ${elapsed()}\n`), PIPE_EVERY_MS);
      }
      // a progress display must never keep the process alive by itself
      timer.unref();
    },
    line(text, options = {}) {
      if (quiet && !options.evenWhenQuiet) return;
      clearLive();
      sink.write(`${text}\n`);
      if (timer && sink.isTTY) drawLive();
    },
    elapsed,
    stop() {
      if (timer) clearInterval(timer);
      timer = null;
      if (!quiet) clearLive();
    },
  };
}
