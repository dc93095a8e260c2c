/** How the console writes numbers, money and times. */

export const usd = (s: string | null | undefined): string => {
  if (s === null || s === undefined) return '—';
  const n = Number(s);
  // cents for ordinary amounts, more digits for the sub-cent prices image models have
  return `$${Math.abs(n) >= 1 || n === 0 ? n.toFixed(2) : n.toFixed(4)}`;
};

export const ms = (n: number | null | undefined): string => {
  if (n === null || n === undefined) return '—';
  return n >= 10_000 ? `${(n / 1000).toFixed(1)} s` : `${Math.round(n)} ms`;
};

export const pct = (x: number): string => `${(x * 100).toFixed(x > 0 && x < 0.01 ? 2 : 1)}%`;

export const num = (n: number): string => n.toLocaleString('en-US');

/** local date and time, to the second */
export const when = (iso: string | null): string => {
  if (!iso) return '—';
  const d = new Date(iso);
  const pad = (x: number) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
};

export const ago = (iso: string | null, now = Date.now()): string => {
  if (!iso) return 'never';
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (s < 60) return `${Math.max(0, s)} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
};
