/**
 * Try an edit: upload images, paint a mask on the first, type a prompt,
 * choose a model and options, and watch partial images arrive (stream=true)
 * before the result. The same request is shown as curl, Node and Python
 * code that reads the key from IMAGEGATE_KEY.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { Badge, CopyButton, ErrorNote } from '../components.js';
import { api, authHeaders, errorOf } from '../lib/api.js';
import { usd } from '../lib/format.js';
import { useLoad } from '../lib/hooks.js';
import { hasPaint, maskFromPaint } from '../lib/mask.js';
import { curlSnippet, nodeSnippet, pythonSnippet, type EditSnippetInput } from '../lib/snippets.js';
import { SseParser } from '../lib/sse.js';

interface Options {
  model: string;
  prompt: string;
  n: string;
  size: string;
  quality: string;
  background: string;
  output_format: string;
  response_format: string;
  stream: boolean;
  partial_images: string;
}

/** form fields only where they differ from the API's defaults, as curl would send them */
function changed(o: Options): Record<string, string> {
  const out: Record<string, string> = {};
  if (o.n !== '1') out.n = o.n;
  if (o.size !== 'auto') out.size = o.size;
  if (o.quality !== 'auto') out.quality = o.quality;
  if (o.background !== 'auto') out.background = o.background;
  if (o.output_format !== 'png') out.output_format = o.output_format;
  if (o.stream) {
    out.stream = 'true';
    if (o.partial_images !== '0') out.partial_images = o.partial_images;
  } else if (o.response_format !== 'b64_json') {
    out.response_format = o.response_format;
  }
  return out;
}

interface Shown {
  src: string;
  label: string;
}

interface Outcome {
  requestId: string | null;
  deployment: string | null;
  costUsd: string | null;
  warning: string | null;
  usage: { input_tokens: number; output_tokens: number; total_tokens: number } | null;
  ms: number;
}

function b64ToUrl(b64: string, format: string): string {
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return URL.createObjectURL(new Blob([bytes], { type: `image/${format}` }));
}

export function PlaygroundPage() {
  const models = useLoad((signal) => api<{ data: Array<{ id: string }> }>('/v1/models', { signal }), []);
  const [files, setFiles] = useState<File[]>([]);
  const [o, setO] = useState<Options>({
    model: '',
    prompt: '',
    n: '1',
    size: 'auto',
    quality: 'auto',
    background: 'auto',
    output_format: 'png',
    response_format: 'b64_json',
    stream: true,
    partial_images: '2',
  });
  const paintRef = useRef<HTMLCanvasElement | null>(null);
  const [painted, setPainted] = useState(false);
  const [partials, setPartials] = useState<Shown[]>([]);
  const [results, setResults] = useState<Shown[]>([]);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [running, setRunning] = useState<AbortController | null>(null);
  const [tab, setTab] = useState<'curl' | 'node' | 'python'>('curl');

  useEffect(() => {
    if (!o.model && models.data?.data.length) {
      const ids = models.data.data.map((m) => m.id);
      setO((x) => ({ ...x, model: ids.includes('gpt-image-1') ? 'gpt-image-1' : ids[0] }));
    }
  }, [models.data]);

  // object URLs of shown images are released when replaced
  const shownUrls = useRef<string[]>([]);
  const release = () => {
    for (const u of shownUrls.current) URL.revokeObjectURL(u);
    shownUrls.current = [];
  };
  useEffect(() => release, []);

  const set = (k: keyof Options) => (e: Event) => {
    const t = e.currentTarget as HTMLInputElement;
    setO({ ...o, [k]: t.type === 'checkbox' ? t.checked : t.value });
  };

  const snippetInput: EditSnippetInput = {
    baseUrl: location.origin,
    model: o.model || 'gpt-image-1',
    prompt: o.prompt,
    images: files.length ? files.map((f) => f.name) : ['photo.png'],
    mask: painted ? 'mask.png' : null,
    options: changed(o),
  };
  const snippet = tab === 'curl' ? curlSnippet(snippetInput) : tab === 'node' ? nodeSnippet(snippetInput) : pythonSnippet(snippetInput);

  const run = async (e: Event) => {
    e.preventDefault();
    release();
    setPartials([]);
    setResults([]);
    setOutcome(null);
    setError(null);
    const ac = new AbortController();
    setRunning(ac);
    const started = performance.now();
    try {
      const fd = new FormData();
      fd.append('model', o.model);
      fd.append('prompt', o.prompt);
      const field = files.length > 1 ? 'image[]' : 'image';
      for (const f of files) fd.append(field, f, f.name);
      if (paintRef.current && hasPaint(paintRef.current)) fd.append('mask', await maskFromPaint(paintRef.current), 'mask.png');
      for (const [k, v] of Object.entries(changed(o))) fd.append(k, v);
      const res = await fetch('/v1/images/edits', { method: 'POST', headers: authHeaders(), body: fd, signal: ac.signal, cache: 'no-store' });
      const meta = (): Outcome => ({
        requestId: res.headers.get('x-request-id'),
        deployment: res.headers.get('x-imagegate-deployment'),
        costUsd: res.headers.get('x-imagegate-cost-usd'),
        warning: res.headers.get('x-imagegate-warning'),
        usage: null,
        ms: Math.round(performance.now() - started),
      });
      if (!res.ok) {
        setOutcome(meta());
        throw await errorOf(res);
      }
      const show = (b64: string, label: string): Shown => {
        const src = b64ToUrl(b64, o.output_format);
        shownUrls.current.push(src);
        return { src, label };
      };
      if ((res.headers.get('content-type') ?? '').includes('text/event-stream')) {
        const parser = new SseParser();
        const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
        let usage: Outcome['usage'] = null;
        for (;;) {
          const { done, value } = await reader.read();
          const events = done ? parser.end() : parser.push(value);
          for (const ev of events) {
            const data = JSON.parse(ev.data) as { type?: string; b64_json?: string; partial_image_index?: number; usage?: Outcome['usage']; error?: { message: string } };
            if (data.error) throw new Error(data.error.message);
            if (data.type?.endsWith('.partial_image') && data.b64_json) {
              const shown = show(data.b64_json, `partial ${(data.partial_image_index ?? 0) + 1}`);
              setPartials((p) => [...p, shown]);
            } else if (data.type?.endsWith('.completed') && data.b64_json) {
              const shown = show(data.b64_json, 'result');
              setResults((r) => [...r, { ...shown, label: `result ${r.length + 1}` }]);
              usage = data.usage ?? usage;
            }
          }
          if (done) break;
        }
        // a stream's cost comes as an HTTP trailer, which browsers do not expose: the request log has it
        setOutcome({ ...meta(), usage });
      } else {
        const body = (await res.json()) as { data: Array<{ b64_json?: string; url?: string }>; usage?: Outcome['usage'] };
        setResults(body.data.map((d, i) => (d.b64_json ? show(d.b64_json, `result ${i + 1}`) : { src: d.url!, label: `result ${i + 1}` })));
        setOutcome({ ...meta(), usage: body.usage ?? null });
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') setError(err as Error);
    } finally {
      setRunning(null);
    }
  };

  return (
    <div class="playground">
      <form class="panel stack" onSubmit={run} aria-label="edit">
        <label>
          Images <span class="muted small">(the first one is masked; up to 16)</span>
          <input
            type="file"
            name="images"
            accept="image/png,image/jpeg,image/webp"
            multiple
            data-testid="images"
            onChange={(e) => {
              setFiles(Array.from(e.currentTarget.files ?? []));
              setPainted(false);
            }}
          />
        </label>
        {files.length > 1 && (
          <div class="filelist">
            {files.map((f, i) => (
              <span class="chip">
                {i + 1}. {f.name}
              </span>
            ))}
          </div>
        )}
        {files[0] && <MaskPainter file={files[0]} canvasRef={paintRef} onPaint={() => setPainted(true)} onClear={() => setPainted(false)} />}
        <label>
          Prompt
          <textarea name="prompt" rows={3} required value={o.prompt} onInput={set('prompt')} placeholder="remove this, make it black and white, add the text 'SALE' at the top…" />
        </label>
        <div class="form-grid">
          <label>
            Model
            <select name="model" value={o.model} onChange={set('model')}>
              {(models.data?.data ?? []).map((m) => (
                <option value={m.id}>{m.id}</option>
              ))}
            </select>
          </label>
          <label>
            n
            <select name="n" value={o.n} onChange={set('n')}>
              {['1', '2', '3', '4'].map((n) => (
                <option value={n}>{n}</option>
              ))}
            </select>
          </label>
          <label>
            Size
            <select name="size" value={o.size} onChange={set('size')}>
              {['auto', '1024x1024', '1536x1024', '1024x1536', '512x512', '256x256'].map((s) => (
                <option value={s}>{s}</option>
              ))}
            </select>
          </label>
          <label>
            Quality
            <select name="quality" value={o.quality} onChange={set('quality')}>
              {['auto', 'low', 'medium', 'high', 'standard'].map((s) => (
                <option value={s}>{s}</option>
              ))}
            </select>
          </label>
          <label>
            Background
            <select name="background" value={o.background} onChange={set('background')}>
              {['auto', 'opaque', 'transparent'].map((s) => (
                <option value={s}>{s}</option>
              ))}
            </select>
          </label>
          <label>
            Format
            <select name="output_format" value={o.output_format} onChange={set('output_format')}>
              {['png', 'jpeg', 'webp'].map((s) => (
                <option value={s}>{s}</option>
              ))}
            </select>
          </label>
          <label class="inline">
            <input type="checkbox" name="stream" checked={o.stream} onChange={set('stream')} /> stream
          </label>
          {o.stream ? (
            <label>
              Partial images
              <select name="partial_images" value={o.partial_images} onChange={set('partial_images')}>
                {['0', '1', '2', '3'].map((s) => (
                  <option value={s}>{s}</option>
                ))}
              </select>
            </label>
          ) : (
            <label>
              Answer as
              <select name="response_format" value={o.response_format} onChange={set('response_format')}>
                <option value="b64_json">b64_json</option>
                <option value="url">url (hosted)</option>
              </select>
            </label>
          )}
        </div>
        <div class="actions">
          {running ? (
            <button type="button" class="secondary" onClick={() => running.abort()}>
              Cancel
            </button>
          ) : null}
          <button type="submit" disabled={!!running || files.length === 0 || !o.prompt.trim() || !o.model} data-testid="run">
            {running ? 'Editing…' : 'Edit'}
          </button>
        </div>
        <ErrorNote error={error} />
      </form>
      <div class="stack">
        <section class="panel" aria-live="polite">
          <h2>Result</h2>
          {!running && results.length === 0 && partials.length === 0 && !error && <p class="muted">Results appear here; with stream on, partial images first.</p>}
          {running && results.length === 0 && <p class="muted">{partials.length ? `${partials.length} partial image${partials.length > 1 ? 's' : ''} received…` : 'Waiting for the first image…'}</p>}
          {partials.length > 0 && (
            <div class="partials" data-testid="partials">
              {partials.map((p) => (
                <figure>
                  <img src={p.src} alt={p.label} data-testid="partial-image" />
                  <figcaption>{p.label}</figcaption>
                </figure>
              ))}
            </div>
          )}
          <div class="results">
            {results.map((r, i) => (
              <figure>
                <img src={r.src} alt={r.label} data-testid="result-image" />
                <figcaption>
                  <a href={r.src} download={`edit-${i + 1}.${o.output_format}`}>
                    download
                  </a>
                </figcaption>
              </figure>
            ))}
          </div>
          {outcome && (
            <div class="kv small" data-testid="outcome">
              <span>request id</span>
              <span>
                <code data-testid="request-id">{outcome.requestId}</code> · <a href="#/requests">request log</a>
              </span>
              <span>deployment</span>
              <span>
                <code>{outcome.deployment ?? '—'}</code>
              </span>
              <span>cost</span>
              <span>{outcome.costUsd ? usd(outcome.costUsd) : 'in the request log'}</span>
              <span>time</span>
              <span>{(outcome.ms / 1000).toFixed(2)} s</span>
              {outcome.usage && (
                <>
                  <span>tokens</span>
                  <span>
                    {outcome.usage.input_tokens} in · {outcome.usage.output_tokens} out
                  </span>
                </>
              )}
              {outcome.warning && (
                <>
                  <span>warning</span>
                  <span>
                    <Badge tone="warn">{outcome.warning}</Badge>
                  </span>
                </>
              )}
            </div>
          )}
        </section>
        <section class="panel">
          <div class="panel-head">
            <div class="segmented" role="tablist" aria-label="snippet language">
              {(['curl', 'node', 'python'] as const).map((t) => (
                <button type="button" role="tab" aria-selected={tab === t} class={tab === t ? 'on' : ''} onClick={() => setTab(t)}>
                  {t === 'curl' ? 'curl' : t === 'node' ? 'Node (openai)' : 'Python (openai)'}
                </button>
              ))}
            </div>
            <CopyButton text={snippet} />
          </div>
          <pre class="code" data-testid="snippet">
            {snippet}
          </pre>
          <p class="muted small">
            The key is read from <code>IMAGEGATE_KEY</code>; it is never written into a snippet.
            {painted && ' Save the painted mask as mask.png to run it elsewhere: '}
            {painted && <MaskDownload canvasRef={paintRef} />}
          </p>
        </section>
      </div>
    </div>
  );
}

function MaskDownload(props: { canvasRef: { current: HTMLCanvasElement | null } }) {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => () => void (url && URL.revokeObjectURL(url)), [url]);
  return url ? (
    <a href={url} download="mask.png">
      mask.png
    </a>
  ) : (
    <button type="button" class="link" onClick={async () => props.canvasRef.current && setUrl(URL.createObjectURL(await maskFromPaint(props.canvasRef.current)))}>
      make mask.png
    </button>
  );
}

/** The first image with a layer to paint on, at the image's own pixel size, shown scaled to fit. */
function MaskPainter(props: { file: File; canvasRef: { current: HTMLCanvasElement | null }; onPaint: () => void; onClear: () => void }) {
  const imageCanvas = useRef<HTMLCanvasElement>(null);
  const [size, setSize] = useState<{ w: number; h: number } | null>(null);
  const [brush, setBrush] = useState(40);
  const [erase, setErase] = useState(false);
  const last = useRef<{ x: number; y: number } | null>(null);

  useEffect(() => {
    let cancelled = false;
    setSize(null);
    // EXIF orientation applied, as the server applies it before it checks the mask's size
    createImageBitmap(props.file).then((bmp) => {
      if (cancelled) return;
      setSize({ w: bmp.width, h: bmp.height });
      requestAnimationFrame(() => {
        const c = imageCanvas.current;
        if (!c) return;
        c.getContext('2d')!.drawImage(bmp, 0, 0);
        bmp.close();
      });
    });
    return () => {
      cancelled = true;
    };
  }, [props.file]);

  const point = (e: PointerEvent) => {
    const c = props.canvasRef.current!;
    const r = c.getBoundingClientRect();
    return { x: ((e.clientX - r.left) / r.width) * c.width, y: ((e.clientY - r.top) / r.height) * c.height, scale: c.width / r.width };
  };
  const stroke = (e: PointerEvent) => {
    const c = props.canvasRef.current;
    if (!c) return;
    const p = point(e);
    const ctx = c.getContext('2d')!;
    ctx.globalCompositeOperation = erase ? 'destination-out' : 'source-over';
    // fully opaque paint: the mask is cut where the layer has any
    ctx.strokeStyle = '#ff2d55';
    ctx.fillStyle = '#ff2d55';
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.lineWidth = brush * p.scale;
    const from = last.current ?? p;
    ctx.beginPath();
    ctx.moveTo(from.x, from.y);
    ctx.lineTo(p.x, p.y);
    ctx.stroke();
    if (from === p) {
      ctx.beginPath();
      ctx.arc(p.x, p.y, (brush * p.scale) / 2, 0, Math.PI * 2);
      ctx.fill();
    }
    last.current = p;
    if (!erase) props.onPaint();
  };
  const clear = () => {
    const c = props.canvasRef.current;
    c?.getContext('2d')!.clearRect(0, 0, c.width, c.height);
    props.onClear();
  };

  if (!size) return <div class="loading">Reading the image…</div>;
  return (
    <div class="painter">
      <div class="painter-tools">
        <span class="muted small">
          Paint the area to edit ({size.w}×{size.h}).
        </span>
        <label class="inline small">
          brush
          <input type="range" min="4" max="160" value={brush} onInput={(e) => setBrush(Number(e.currentTarget.value))} />
        </label>
        <label class="inline small">
          <input type="checkbox" checked={erase} onChange={(e) => setErase(e.currentTarget.checked)} /> erase
        </label>
        <button type="button" class="ghost small" onClick={clear}>
          Clear mask
        </button>
      </div>
      {/* as wide as the column allows, and never taller than 480 px: the shape stays the picture's */}
      <div class="canvas-stack" style={{ aspectRatio: `${size.w} / ${size.h}`, maxWidth: `${Math.round((480 * size.w) / size.h)}px` }}>
        <canvas ref={imageCanvas} width={size.w} height={size.h} aria-hidden="true" />
        <canvas
          ref={(c) => {
            props.canvasRef.current = c;
          }}
          class="paint"
          data-testid="mask-canvas"
          aria-label="mask: paint the area to edit"
          width={size.w}
          height={size.h}
          onPointerDown={(e) => {
            e.currentTarget.setPointerCapture(e.pointerId);
            last.current = null;
            stroke(e);
          }}
          onPointerMove={(e) => {
            if (e.buttons & 1) stroke(e);
          }}
          onPointerUp={() => {
            last.current = null;
          }}
        />
      </div>
    </div>
  );
}
