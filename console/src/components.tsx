/** The few building blocks every page shares. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export function Card(props: { label: string; value: ComponentChildren; hint?: ComponentChildren; tone?: 'bad' | 'warn' | 'ok'; testId?: string }) {
  return (
    <div class={`card ${props.tone ?? ''}`} data-testid={props.testId}>
      <div class="card-label">{props.label}</div>
      <div class="card-value">{props.value}</div>
      {props.hint !== undefined && <div class="card-hint">{props.hint}</div>}
    </div>
  );
}

export type Tone = 'ok' | 'warn' | 'bad' | 'muted' | 'info';

export function Badge(props: { tone: Tone; children: ComponentChildren; title?: string }) {
  return (
    <span class={`badge ${props.tone}`} title={props.title}>
      {props.children}
    </span>
  );
}

export function statusTone(status: number): Tone {
  if (status >= 200 && status < 300) return 'ok';
  if (status === 499 || status === 429) return 'warn';
  return 'bad';
}

export function ErrorNote(props: { error: Error | null }) {
  if (!props.error) return null;
  return (
    <div class="note bad" role="alert">
      {props.error.message}
    </div>
  );
}

export function Loading(props: { when: boolean }) {
  return props.when ? <div class="loading">Loading…</div> : null;
}

/**
 * A modal dialog on the browser's own <dialog> (focus kept inside, Escape
 * closes it); `onClose` runs however it was closed.
 */
export function Modal(props: { title: string; onClose: () => void; children: ComponentChildren; testId?: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal();
    return () => d?.close();
  }, []);
  return (
    <dialog ref={ref} class="modal" onClose={props.onClose} data-testid={props.testId} aria-label={props.title}>
      <div class="modal-head">
        <h2>{props.title}</h2>
        <button type="button" class="ghost" aria-label="Close" onClick={() => ref.current?.close()}>
          ×
        </button>
      </div>
      {props.children}
    </dialog>
  );
}

/**
 * Copies text. The Clipboard API exists only in secure contexts (https or
 * localhost); a gateway reached over plain http elsewhere gets the old
 * select-and-copy instead.
 */
async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall back below
  }
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.append(area);
  area.select();
  const ok = document.execCommand('copy');
  area.remove();
  return ok;
}

export function CopyButton(props: { text: string; label?: string; testId?: string }) {
  const [state, setState] = useState<'idle' | 'done' | 'failed'>('idle');
  useEffect(() => {
    if (state === 'idle') return;
    const t = setTimeout(() => setState('idle'), 2000);
    return () => clearTimeout(t);
  }, [state]);
  return (
    <button type="button" class="secondary" data-testid={props.testId} onClick={async () => setState((await copyText(props.text)) ? 'done' : 'failed')}>
      {state === 'done' ? 'Copied' : state === 'failed' ? 'Copy failed' : props.label ?? 'Copy'}
    </button>
  );
}

/** Requests per bucket as bars, errors in red at their foot; buckets without requests are drawn empty. */
export function BarChart(props: { since: string; until: string; bucketSeconds: number; series: Array<{ at: string; requests: number; errors: number }> }) {
  const start = Date.parse(props.since);
  const end = Date.parse(props.until);
  const step = props.bucketSeconds * 1000;
  const first = start - (start % step);
  const count = Math.max(1, Math.ceil((end - first) / step));
  const byBucket = new Map(props.series.map((p) => [Math.round((Date.parse(p.at) - first) / step), p]));
  const bars = Array.from({ length: count }, (_, i) => byBucket.get(i) ?? { at: new Date(first + i * step).toISOString(), requests: 0, errors: 0 });
  const max = Math.max(1, ...bars.map((b) => b.requests));
  const W = 720;
  const H = 140;
  const bw = W / count;
  const label = (iso: string) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  return (
    <figure class="chart" data-testid="rate-chart">
      <svg viewBox={`0 0 ${W} ${H + 18}`} role="img" aria-label="requests per interval">
        <line x1="0" y1={H} x2={W} y2={H} class="axis" />
        {bars.map((b, i) => {
          const h = (b.requests / max) * (H - 8);
          const eh = (b.errors / max) * (H - 8);
          return (
            <g key={i}>
              <title>{`${label(b.at)}: ${b.requests} requests, ${b.errors} errors`}</title>
              <rect x={i * bw + bw * 0.1} y={H - h} width={Math.max(1, bw * 0.8)} height={h} class="bar" />
              {eh > 0 && <rect x={i * bw + bw * 0.1} y={H - eh} width={Math.max(1, bw * 0.8)} height={eh} class="bar-error" />}
            </g>
          );
        })}
        <text x="0" y={H + 14} class="tick">
          {label(bars[0].at)}
        </text>
        <text x={W} y={H + 14} class="tick" text-anchor="end">
          {label(props.until)}
        </text>
        <text x="0" y="10" class="tick">
          {`max ${max} / ${props.bucketSeconds >= 3600 ? `${props.bucketSeconds / 3600} h` : `${props.bucketSeconds / 60} min`}`}
        </text>
      </svg>
    </figure>
  );
}
