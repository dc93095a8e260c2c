/**
 * The request log: filters (kept in the page's URL, so a reload or a shared
 * link keeps them), cursor paging, each request's attempts, and thumbnails
 * of its hosted outputs while their signed links live. A virtual key sees
 * its own requests (GET /v1/account/requests); the master key every one.
 */
import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { Badge, CopyButton, ErrorNote, Loading, statusTone } from '../components.js';
import { api, query } from '../lib/api.js';
import { ms, num, usd, when } from '../lib/format.js';
import { navigate, useLoad } from '../lib/hooks.js';
import type { Session } from '../lib/session.js';
import type { ConfigView, KeyView, LogEntry, Page } from '../lib/types.js';

const FILTERS = ['keyId', 'model', 'deployment', 'status', 'since', 'until'] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

const STATUSES = ['2xx', '4xx', '5xx', '400', '401', '403', '404', '429', '499', '500', '502', '503', '504'];

/** datetime-local (the browser's local time) to ISO 8601, and back */
const toIso = (local: string) => (local ? new Date(local).toISOString() : '');
const toLocal = (iso: string) => {
  if (!iso) return '';
  const d = new Date(iso);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
};

export function RequestsPage(props: { session: Session; params: URLSearchParams }) {
  const master = props.session.role === 'master';
  const filters = Object.fromEntries(FILTERS.map((f) => [f, props.params.get(f) ?? ''])) as Filters;
  const [draft, setDraft] = useState<Filters>(filters);
  const [rows, setRows] = useState<LogEntry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const filterKey = FILTERS.map((f) => filters[f]).join('|');
  useEffect(() => setDraft(filters), [filterKey]);

  const base = master ? '/admin/requests' : '/v1/account/requests';
  const params = (after: string | null) =>
    query({
      ...(master ? { keyId: filters.keyId } : {}),
      model: filters.model,
      deployment: filters.deployment,
      status: filters.status,
      since: filters.since,
      until: filters.until,
      limit: 50,
      cursor: after,
    });
  const first = useLoad(async (signal) => {
    const page = await api<Page<LogEntry>>(`${base}${params(null)}`, { signal });
    setRows(page.data);
    setCursor(page.nextCursor);
    return page;
  }, [filterKey, base]);
  const [more, setMore] = useState<{ busy: boolean; error: Error | null }>({ busy: false, error: null });
  const loadMore = async () => {
    setMore({ busy: true, error: null });
    try {
      const page = await api<Page<LogEntry>>(`${base}${params(cursor)}`);
      setRows((r) => [...r, ...page.data]);
      setCursor(page.nextCursor);
      setMore({ busy: false, error: null });
    } catch (e) {
      setMore({ busy: false, error: e as Error });
    }
  };

  // names for key ids, and the deployments to filter by (master only)
  const keys = useLoad((signal) => (master ? api<{ data: KeyView[] }>('/admin/keys', { signal }) : Promise.resolve({ data: [] })), [master]);
  const config = useLoad((signal) => (master ? api<ConfigView>('/admin/config', { signal }) : Promise.resolve(null)), [master]);
  const keyName = (id: string | null) => (id === null ? '—' : id === 'master' ? 'master' : keys.data?.data.find((k) => k.id === id)?.name ?? id);
  const deployments = [...new Set((config.data?.models ?? []).flatMap((m) => m.deployments))].sort();
  const models = (config.data?.models ?? []).map((m) => m.id);

  const apply = (e: Event) => {
    e.preventDefault();
    navigate('/requests', { ...draft, since: draft.since, until: draft.until });
  };
  const set = (f: keyof Filters) => (e: Event) => setDraft({ ...draft, [f]: (e.currentTarget as HTMLInputElement | HTMLSelectElement).value });

  return (
    <div class="stack">
      <form class="filters panel" onSubmit={apply} aria-label="filters">
        {master && (
          <label>
            Key
            <select name="keyId" value={draft.keyId} onChange={set('keyId')}>
              <option value="">any</option>
              <option value="master">master</option>
              {(keys.data?.data ?? []).map((k) => (
                <option value={k.id}>{k.name}</option>
              ))}
            </select>
          </label>
        )}
        <label>
          Model
          <input name="model" list="models" value={draft.model} onInput={set('model')} placeholder="any" />
          <datalist id="models">
            {models.map((m) => (
              <option value={m} />
            ))}
          </datalist>
        </label>
        <label>
          Deployment
          {master ? (
            <select name="deployment" value={draft.deployment} onChange={set('deployment')}>
              <option value="">any</option>
              {deployments.map((d) => (
                <option value={d}>{d}</option>
              ))}
            </select>
          ) : (
            <input name="deployment" value={draft.deployment} onInput={set('deployment')} placeholder="any" />
          )}
        </label>
        <label>
          Status
          <select name="status" value={draft.status} onChange={set('status')}>
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option value={s}>{s}</option>
            ))}
          </select>
        </label>
        <label>
          From
          <input type="datetime-local" name="since" value={toLocal(draft.since)} onInput={(e) => setDraft({ ...draft, since: toIso(e.currentTarget.value) })} />
        </label>
        <label>
          To
          <input type="datetime-local" name="until" value={toLocal(draft.until)} onInput={(e) => setDraft({ ...draft, until: toIso(e.currentTarget.value) })} />
        </label>
        <div class="filter-actions">
          <button type="submit">Apply</button>
          <button type="button" class="ghost" onClick={() => navigate('/requests')}>
            Clear
          </button>
        </div>
      </form>
      <ErrorNote error={first.error} />
      <Loading when={first.loading && rows.length === 0} />
      <table class="grid requests" data-testid="request-log">
        <thead>
          <tr>
            <th>time</th>
            {master && <th>key</th>}
            <th>model</th>
            <th>deployment</th>
            <th>status</th>
            <th class="num">latency</th>
            <th class="num">cost</th>
            <th class="num">images in</th>
            <th>outputs</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((e) => (
            <Fragment key={e.id}>
              <tr class={`row ${open === e.id ? 'open' : ''}`} data-request-id={e.id} onClick={() => setOpen(open === e.id ? null : e.id)} tabIndex={0} onKeyDown={(k) => k.key === 'Enter' && setOpen(open === e.id ? null : e.id)}>
                <td class="nowrap">{when(e.createdAt)}</td>
                {master && <td class="nowrap">{keyName(e.keyId)}</td>}
                <td class="nowrap">{e.model ?? '—'}</td>
                <td>
                  <code>{e.deployment ?? '—'}</code>
                  {e.attempts.length > 1 && <span class="muted small"> ({e.attempts.length} attempts)</span>}
                </td>
                <td>
                  <Badge tone={statusTone(e.status)} title={e.errorCode ?? undefined}>
                    {e.status}
                  </Badge>
                  {e.errorCode && <span class="muted small"> {e.errorCode}</span>}
                </td>
                <td class="num">{ms(e.latencyMs)}</td>
                <td class="num">{usd(e.costUsd)}</td>
                <td class="num">{e.images}</td>
                <td>
                  {e.outputs.slice(0, 3).map((o) => (
                    <img class="thumb" src={o.url} alt="output" loading="lazy" />
                  ))}
                </td>
              </tr>
              {open === e.id && (
                <tr class="detail">
                  <td colSpan={master ? 9 : 8}>
                    <Detail entry={e} />
                  </td>
                </tr>
              )}
            </Fragment>
          ))}
        </tbody>
      </table>
      {!first.loading && rows.length === 0 && !first.error && <div class="note">No requests match.</div>}
      <ErrorNote error={more.error} />
      {cursor && (
        <button type="button" class="secondary" onClick={loadMore} disabled={more.busy}>
          {more.busy ? 'Loading…' : 'Load more'}
        </button>
      )}
    </div>
  );
}

function Detail(props: { entry: LogEntry }) {
  const e = props.entry;
  return (
    <div class="detail-body">
      <div class="kv">
        <span>request id</span>
        <span>
          <code>{e.id}</code> <CopyButton text={e.id} />
        </span>
        <span>stream</span>
        <span>{e.stream ? 'yes' : 'no'}</span>
        <span>bytes in</span>
        <span>{num(e.bytesIn)}</span>
        {e.usage && (
          <>
            <span>tokens</span>
            <span>
              {num(e.usage.input_tokens)} in ({num(e.usage.input_tokens_details.text_tokens)} text, {num(e.usage.input_tokens_details.image_tokens)} image) · {num(e.usage.output_tokens)} out
            </span>
          </>
        )}
        {e.user && (
          <>
            <span>user</span>
            <span>{e.user}</span>
          </>
        )}
        {e.warnings.length > 0 && (
          <>
            <span>warnings</span>
            <span>{e.warnings.join('; ')}</span>
          </>
        )}
      </div>
      <h3>Attempts</h3>
      {e.attempts.length === 0 ? (
        <p class="muted small">None: the request was refused before any deployment was called.</p>
      ) : (
        <table class="grid compact" data-testid="attempts">
          <thead>
            <tr>
              <th>#</th>
              <th>deployment</th>
              <th>status</th>
              <th class="num">latency</th>
              <th>reason</th>
            </tr>
          </thead>
          <tbody>
            {e.attempts.map((a, i) => (
              <tr>
                <td>{i + 1}</td>
                <td>
                  <code>{a.deployment}</code>
                </td>
                <td>{a.status === null ? <Badge tone="muted">no answer</Badge> : <Badge tone={statusTone(a.status)}>{a.status}</Badge>}</td>
                <td class="num">{ms(a.latencyMs)}</td>
                <td class="reason">{a.reason ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {e.outputs.length > 0 && (
        <>
          <h3>Outputs</h3>
          <p class="muted small">Hosted copies, until {when(e.outputs[0].expiresAt)}.</p>
          <div class="outputs">
            {e.outputs.map((o, i) => (
              <a href={o.url} target="_blank" rel="noreferrer">
                <img src={o.url} alt={`output ${i + 1}`} />
              </a>
            ))}
          </div>
        </>
      )}
    </div>
  );
}
