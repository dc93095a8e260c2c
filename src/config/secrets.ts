/**
 * Secrets the config holds (provider keys read from `env:`, the master key)
 * must never reach an answer, a log line or the request log, even when an
 * upstream echoes them back in an error ("Incorrect API key provided: sk-…").
 * Everything an upstream says passes through a scrubber before it goes anywhere.
 */

/** Secrets shorter than this are not scrubbed (they would match everywhere). */
const MIN_SECRET_CHARS = 6;

export type Scrubber = (text: string) => string;

export function createScrubber(secrets: Iterable<string>): Scrubber {
  const list = [...new Set([...secrets].filter((s) => s.length >= MIN_SECRET_CHARS))].sort((a, b) => b.length - a.length);
  if (list.length === 0) return (t) => t;
  return (text) => {
    let out = text;
    for (const s of list) {
      if (out.includes(s)) out = out.split(s).join('[redacted]');
      // upstreams often echo a key shortened: its first and last characters around stars or dots
      const head = s.slice(0, 6);
      if (s.length >= 16 && out.includes(head)) {
        out = out.replace(new RegExp(`${escape(head)}[^\\s"']{0,200}`, 'g'), '[redacted]');
      }
    }
    return out;
  };
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
