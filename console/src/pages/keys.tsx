/**
 * Virtual keys and the config's groups: create (the key is shown once, with
 * a copy button), change limits, grant or take back credit with a reason,
 * revoke; usage per key over the last 30 days.
 */
import { useState } from 'preact/hooks';
import { Badge, CopyButton, ErrorNote, Loading, Modal, type Tone } from '../components.js';
import { api, query } from '../lib/api.js';
import { ago, num, usd, when } from '../lib/format.js';
import { useLoad, useSubmit } from '../lib/hooks.js';
import type { Group, KeyView, UsageRow } from '../lib/types.js';

const DAY = 86_400_000;

function keyState(k: KeyView): { label: string; tone: Tone } {
  if (k.revoked) return { label: 'revoked', tone: 'muted' };
  if (!k.enabled) return { label: 'disabled', tone: 'warn' };
  if (k.expiresAt !== null && k.expiresAt * 1000 <= Date.now()) return { label: 'expired', tone: 'warn' };
  return { label: 'active', tone: 'ok' };
}

/** "gpt-image-*, dall-e-2" → a list; empty → null (every model) */
const patterns = (s: string): string[] | null => {
  const list = s.split(',').map((p) => p.trim()).filter(Boolean);
  return list.length ? list : null;
};
const intOrNull = (s: string): number | null => (s.trim() === '' ? null : Number(s));
/** a date input's day (UTC midnight at its end is not what people mean: the local end of that day) */
const expiryOf = (day: string): number | null => (day ? Math.floor(new Date(`${day}T23:59:59`).getTime() / 1000) : null);
const dayOf = (unix: number | null): string => {
  if (unix === null) return '';
  const d = new Date(unix * 1000);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 10);
};

export function KeysPage() {
  const keys = useLoad((signal) => api<{ data: KeyView[] }>('/admin/keys', { signal }), []);
  const groups = useLoad((signal) => api<{ data: Group[] }>('/admin/groups', { signal }), []);
  const usage = useLoad(
    (signal) => api<{ data: UsageRow[] }>(`/admin/usage${query({ since: Math.floor((Date.now() - 30 * DAY) / 1000) })}`, { signal }),
    [],
  );
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [action, setAction] = useState<{ kind: 'credit' | 'edit' | 'revoke'; key: KeyView } | null>(null);
  const [showRevoked, setShowRevoked] = useState(false);
  const reload = () => {
    keys.reload();
    groups.reload();
  };

  const used = (id: string) => {
    const rows = (usage.data?.data ?? []).filter((r) => r.keyId === id);
    return { requests: rows.reduce((n, r) => n + r.requests, 0), cost: rows.reduce((n, r) => n + Number(r.costUsd), 0) };
  };
  const list = (keys.data?.data ?? []).filter((k) => showRevoked || !k.revoked);
  const groupNames = (groups.data?.data ?? []).map((g) => g.name);

  return (
    <div class="stack">
      <CreateKey groups={groupNames} onCreated={(k) => (setCreated(k), reload())} />
      {created && (
        <Modal title="Your new key" onClose={() => setCreated(null)} testId="new-key">
          <p>
            This is the only time the key <b>{created.name}</b> is shown. Copy it now and keep it somewhere safe: the gateway stores only its hash.
          </p>
          <div class="secret-row">
            <input readOnly value={created.key} data-testid="new-key-value" aria-label="the new key" onFocus={(e) => e.currentTarget.select()} />
            <CopyButton text={created.key} testId="copy-key" />
          </div>
          <div class="actions">
            <button type="button" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        </Modal>
      )}
      <section class="panel">
        <div class="panel-head">
          <h2>Keys</h2>
          <label class="inline small">
            <input type="checkbox" checked={showRevoked} onChange={(e) => setShowRevoked(e.currentTarget.checked)} /> show revoked
          </label>
        </div>
        <ErrorNote error={keys.error} />
        <Loading when={keys.loading && !keys.data} />
        <table class="grid" data-testid="keys">
          <thead>
            <tr>
              <th>name</th>
              <th>group</th>
              <th>models</th>
              <th class="num">rpm</th>
              <th class="num">at once</th>
              <th class="num">balance</th>
              <th class="num">spent</th>
              <th class="num">30 days</th>
              <th>state</th>
              <th>last used</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.map((k) => {
              const st = keyState(k);
              const u = used(k.id);
              return (
                <tr data-key-id={k.id}>
                  <td>
                    <b>{k.name}</b>
                    <div class="muted small">
                      <code>{k.prefix}…</code> · {k.id}
                    </div>
                  </td>
                  <td>{k.group}</td>
                  <td class="small">{k.models ? k.models.join(', ') : <span class="muted">all</span>}</td>
                  <td class="num">{k.rpm ?? <span class="muted">group</span>}</td>
                  <td class="num">{k.maxConcurrent ?? <span class="muted">group</span>}</td>
                  <td class="num" data-testid="balance">
                    {k.balanceUsd === null ? <span class="muted">no limit</span> : usd(k.balanceUsd)}
                  </td>
                  <td class="num">{usd(k.spentUsd)}</td>
                  <td class="num small">
                    {num(u.requests)} req · {usd(u.cost.toFixed(6))}
                  </td>
                  <td>
                    <Badge tone={st.tone}>{st.label}</Badge>
                    {k.expiresAt !== null && !k.revoked && <div class="muted small">until {when(new Date(k.expiresAt * 1000).toISOString()).slice(0, 10)}</div>}
                  </td>
                  <td class="small">{ago(k.lastUsedAt)}</td>
                  <td class="row-actions">
                    {!k.revoked && (
                      <>
                        <button type="button" class="secondary small" onClick={() => setAction({ kind: 'credit', key: k })}>
                          Credit
                        </button>
                        <button type="button" class="secondary small" onClick={() => setAction({ kind: 'edit', key: k })}>
                          Edit
                        </button>
                        <button type="button" class="danger small" onClick={() => setAction({ kind: 'revoke', key: k })}>
                          Revoke
                        </button>
                      </>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {keys.data && list.length === 0 && <div class="note">No keys yet: create one above.</div>}
      </section>
      <section class="panel">
        <h2>Groups</h2>
        <p class="muted small">From the config file. A group's limits are the default of each of its keys; a key's own values win.</p>
        <ErrorNote error={groups.error} />
        <table class="grid" data-testid="groups">
          <thead>
            <tr>
              <th>group</th>
              <th class="num">price ×</th>
              <th class="num">rpm</th>
              <th class="num">at once</th>
              <th class="num">keys</th>
            </tr>
          </thead>
          <tbody>
            {(groups.data?.data ?? []).map((g) => (
              <tr>
                <td>{g.name}</td>
                <td class="num">{g.priceMultiplier}</td>
                <td class="num">{g.rpm ?? '∞'}</td>
                <td class="num">{g.maxConcurrent ?? '∞'}</td>
                <td class="num">{g.keys ?? 0}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      {action?.kind === 'credit' && <CreditDialog k={action.key} onDone={() => (setAction(null), reload())} onClose={() => setAction(null)} />}
      {action?.kind === 'edit' && <EditDialog k={action.key} groups={groupNames} onDone={() => (setAction(null), reload())} onClose={() => setAction(null)} />}
      {action?.kind === 'revoke' && <RevokeDialog k={action.key} onDone={() => (setAction(null), reload())} onClose={() => setAction(null)} />}
    </div>
  );
}

function CreateKey(props: { groups: string[]; onCreated: (k: { name: string; key: string }) => void }) {
  const empty = { name: '', group: '', models: '', rpm: '', maxConcurrent: '', expires: '', credit: '' };
  const [f, setF] = useState(empty);
  const set = (k: keyof typeof empty) => (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value });
  const { error, busy, submit } = useSubmit(async () => {
    const body: Record<string, unknown> = { name: f.name.trim() };
    if (f.group) body.group = f.group;
    if (patterns(f.models)) body.models = patterns(f.models);
    if (f.rpm) body.rpm = Number(f.rpm);
    if (f.maxConcurrent) body.maxConcurrent = Number(f.maxConcurrent);
    if (f.expires) body.expiresAt = expiryOf(f.expires);
    if (f.credit) body.creditUsd = f.credit.trim();
    const k = await api<KeyView & { key: string }>('/admin/keys', { method: 'POST', json: body });
    setF(empty);
    props.onCreated({ name: k.name, key: k.key });
  });
  return (
    <form class="panel create-key" onSubmit={submit} aria-label="create a key">
      <h2>Create a key</h2>
      <div class="form-grid">
        <label>
          Name
          <input name="name" required value={f.name} onInput={set('name')} placeholder="team-a" />
        </label>
        <label>
          Group
          <select name="group" value={f.group} onChange={set('group')}>
            <option value="">default</option>
            {props.groups
              .filter((g) => g !== 'default')
              .map((g) => (
                <option value={g}>{g}</option>
              ))}
          </select>
        </label>
        <label>
          Models
          <input name="models" value={f.models} onInput={set('models')} placeholder="all (or gpt-image-*, dall-e-2)" />
        </label>
        <label>
          Requests / min
          <input name="rpm" type="number" min="1" value={f.rpm} onInput={set('rpm')} placeholder="group's" />
        </label>
        <label>
          At once
          <input name="maxConcurrent" type="number" min="1" value={f.maxConcurrent} onInput={set('maxConcurrent')} placeholder="group's" />
        </label>
        <label>
          Expires
          <input name="expires" type="date" value={f.expires} onInput={set('expires')} />
        </label>
        <label>
          Credit (USD)
          <input name="credit" inputMode="decimal" pattern="\d{1,9}(\.\d{1,6})?" value={f.credit} onInput={set('credit')} placeholder="no limit" />
        </label>
        <div class="form-end">
          <button type="submit" disabled={busy}>
            {busy ? 'Creating…' : 'Create key'}
          </button>
        </div>
      </div>
      <ErrorNote error={error} />
    </form>
  );
}

function CreditDialog(props: { k: KeyView; onDone: () => void; onClose: () => void }) {
  const [amount, setAmount] = useState('');
  const [reason, setReason] = useState('');
  const s = useSubmit(async () => {
    await api(`/admin/keys/${encodeURIComponent(props.k.id)}/credits`, { method: 'POST', json: { amountUsd: amount.trim(), reason: reason.trim() } });
    props.onDone();
  });
  return (
    <Modal title={`Credit for ${props.k.name}`} onClose={props.onClose} testId="credit-dialog">
      <form onSubmit={s.submit} class="stack">
        <p class="muted small">
          Balance now: {props.k.balanceUsd === null ? 'no limit (a grant gives the key a budget)' : usd(props.k.balanceUsd)}. A negative amount takes credit back.
        </p>
        <label>
          Amount (USD)
          <input name="amountUsd" required pattern="-?\d{1,9}(\.\d{1,6})?" value={amount} onInput={(e) => setAmount(e.currentTarget.value)} placeholder="10.00" autoFocus />
        </label>
        <label>
          Reason
          <input name="reason" required maxLength={500} value={reason} onInput={(e) => setReason(e.currentTarget.value)} placeholder="December top-up" />
        </label>
        <ErrorNote error={s.error} />
        <div class="actions">
          <button type="submit" disabled={s.busy}>
            Grant
          </button>
        </div>
      </form>
    </Modal>
  );
}

function EditDialog(props: { k: KeyView; groups: string[]; onDone: () => void; onClose: () => void }) {
  const k = props.k;
  const [f, setF] = useState({
    name: k.name,
    group: k.group,
    models: k.models?.join(', ') ?? '',
    rpm: k.rpm === null ? '' : String(k.rpm),
    maxConcurrent: k.maxConcurrent === null ? '' : String(k.maxConcurrent),
    expires: dayOf(k.expiresAt),
    enabled: k.enabled,
  });
  const s = useSubmit(async () => {
    // only what changed, so a PATCH never undoes someone else's change to another field
    const body: Record<string, unknown> = {};
    if (f.name.trim() !== k.name) body.name = f.name.trim();
    if (f.group !== k.group) body.group = f.group;
    if ((patterns(f.models)?.join(',') ?? null) !== (k.models?.join(',') ?? null)) body.models = patterns(f.models);
    if (intOrNull(f.rpm) !== k.rpm) body.rpm = intOrNull(f.rpm);
    if (intOrNull(f.maxConcurrent) !== k.maxConcurrent) body.maxConcurrent = intOrNull(f.maxConcurrent);
    if (f.expires !== dayOf(k.expiresAt)) body.expiresAt = expiryOf(f.expires);
    if (f.enabled !== k.enabled) body.enabled = f.enabled;
    if (Object.keys(body).length > 0) await api(`/admin/keys/${encodeURIComponent(k.id)}`, { method: 'PATCH', json: body });
    props.onDone();
  });
  const set = (name: 'name' | 'group' | 'models' | 'rpm' | 'maxConcurrent' | 'expires') => (e: Event) => setF({ ...f, [name]: (e.currentTarget as HTMLInputElement).value });
  return (
    <Modal title={`Edit ${k.name}`} onClose={props.onClose} testId="edit-dialog">
      <form onSubmit={s.submit} class="stack">
        <div class="form-grid two">
          <label>
            Name
            <input required value={f.name} onInput={set('name')} />
          </label>
          <label>
            Group
            <select value={f.group} onChange={set('group')}>
              {props.groups.map((g) => (
                <option value={g}>{g}</option>
              ))}
            </select>
          </label>
          <label>
            Models
            <input value={f.models} onInput={set('models')} placeholder="all" />
          </label>
          <label>
            Expires
            <input type="date" value={f.expires} onInput={set('expires')} />
          </label>
          <label>
            Requests / min
            <input type="number" min="1" value={f.rpm} onInput={set('rpm')} placeholder="group's" />
          </label>
          <label>
            At once
            <input type="number" min="1" value={f.maxConcurrent} onInput={set('maxConcurrent')} placeholder="group's" />
          </label>
        </div>
        <label class="inline">
          <input type="checkbox" checked={f.enabled} onChange={(e) => setF({ ...f, enabled: e.currentTarget.checked })} /> enabled
        </label>
        <ErrorNote error={s.error} />
        <div class="actions">
          <button type="submit" disabled={s.busy}>
            Save
          </button>
        </div>
      </form>
    </Modal>
  );
}

function RevokeDialog(props: { k: KeyView; onDone: () => void; onClose: () => void }) {
  const s = useSubmit(async () => {
    await api(`/admin/keys/${encodeURIComponent(props.k.id)}`, { method: 'DELETE' });
    props.onDone();
  });
  return (
    <Modal title={`Revoke ${props.k.name}?`} onClose={props.onClose} testId="revoke-dialog">
      <form onSubmit={s.submit} class="stack">
        <p>Requests with this key are refused from now on. A revoked key cannot be restored; its usage stays in the log.</p>
        <ErrorNote error={s.error} />
        <div class="actions">
          <button type="button" class="ghost" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="danger" disabled={s.busy}>
            Revoke
          </button>
        </div>
      </form>
    </Modal>
  );
}
