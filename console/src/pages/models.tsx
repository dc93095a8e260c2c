/**
 * The running config, secrets masked by the gateway (GET /admin/config):
 * models and the deployments that serve them in order, providers with their
 * timeouts, retries and breakers, prices and server settings; and the
 * `config check --ping` table on demand.
 */
import { useState } from 'preact/hooks';
import { Badge, ErrorNote, Loading } from '../components.js';
import { api, query } from '../lib/api.js';
import { ms } from '../lib/format.js';
import { useLoad } from '../lib/hooks.js';
import type { ConfigView, PingRow, Stats } from '../lib/types.js';

export function ModelsPage() {
  const config = useLoad((signal) => api<ConfigView>('/admin/config', { signal }), []);
  // breaker states, as the overview has them
  const stats = useLoad((signal) => api<Stats>(`/admin/stats${query({ since: Math.floor((Date.now() - 3600_000) / 1000) })}`, { signal }), []);
  const [ping, setPing] = useState<{ rows: PingRow[] | null; busy: boolean; error: Error | null; at: Date | null }>({ rows: null, busy: false, error: null, at: null });
  const runPing = async () => {
    setPing((p) => ({ ...p, busy: true, error: null }));
    try {
      const res = await api<{ data: PingRow[] }>('/admin/providers/ping', { method: 'POST' });
      setPing({ rows: res.data, busy: false, error: null, at: new Date() });
    } catch (e) {
      setPing((p) => ({ ...p, busy: false, error: e as Error }));
    }
  };
  const c = config.data;
  const breakers = stats.data?.breakers ?? {};
  return (
    <div class="stack">
      <ErrorNote error={config.error} />
      <Loading when={config.loading && !c} />
      {c && (
        <>
          <section class="panel">
            <div class="panel-head">
              <h2>Providers</h2>
              <button type="button" onClick={runPing} disabled={ping.busy} data-testid="ping">
                {ping.busy ? 'Pinging…' : 'Ping providers'}
              </button>
            </div>
            <p class="muted small">
              {c.configFile ? (
                <>
                  From <code>{c.configFile}</code>. Secrets are never shown.
                </>
              ) : (
                'No config file: every model is served by the built-in engine.'
              )}
            </p>
            {c.providers.length === 0 ? (
              <div class="note">No upstream provider is configured.</div>
            ) : (
              <table class="grid" data-testid="providers">
                <thead>
                  <tr>
                    <th>provider</th>
                    <th>type</th>
                    <th>base URL</th>
                    <th>key</th>
                    <th>timeouts (connect / first byte / total)</th>
                    <th class="num">retries</th>
                    <th>breaker</th>
                    <th>options</th>
                  </tr>
                </thead>
                <tbody>
                  {c.providers.map((p) => (
                    <tr>
                      <td>
                        <b>{p.name}</b>
                      </td>
                      <td>{p.type}</td>
                      <td>
                        <code>{p.baseUrl || '—'}</code>
                      </td>
                      <td>{p.apiKey ? <code>{p.apiKey}</code> : <span class="muted">none</span>}</td>
                      <td class="small">
                        {ms(p.timeouts.connectMs)} / {ms(p.timeouts.firstByteMs)} / {ms(p.timeouts.totalMs)}
                      </td>
                      <td class="num">{p.maxRetries}</td>
                      <td class="small">
                        <Badge tone={breakers[p.name] === 'open' ? 'bad' : breakers[p.name] === 'half-open' ? 'warn' : 'ok'}>{breakers[p.name] ?? 'closed'}</Badge> opens after {p.breaker.failures}, probes after {ms(p.breaker.cooldownMs)}
                      </td>
                      <td class="small">
                        {[...Object.entries(p.options).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`), ...(p.dropUnsupported.length ? [`drops: ${p.dropUnsupported.join(', ')}`] : [])].join(' · ') || '—'}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <ErrorNote error={ping.error} />
            {ping.rows && (
              <>
                <h3>Ping {ping.at && <span class="muted small">at {ping.at.toLocaleTimeString()}</span>}</h3>
                <table class="grid compact" data-testid="ping-table">
                  <thead>
                    <tr>
                      <th>provider</th>
                      <th>type</th>
                      <th>reachable</th>
                      <th>auth ok</th>
                      <th class="num">latency</th>
                      <th>detail</th>
                    </tr>
                  </thead>
                  <tbody>
                    {ping.rows.map((r) => (
                      <tr>
                        <td>{r.provider}</td>
                        <td>{r.type}</td>
                        <td>
                          <Badge tone={r.reachable ? 'ok' : 'bad'}>{r.reachable ? 'yes' : 'no'}</Badge>
                        </td>
                        <td>
                          <Badge tone={r.authOk === null ? 'muted' : r.authOk ? 'ok' : 'bad'}>{r.authOk === null ? '?' : r.authOk ? 'yes' : 'no'}</Badge>
                        </td>
                        <td class="num">{ms(r.latencyMs)}</td>
                        <td class="reason">{r.detail}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </>
            )}
          </section>
          <section class="panel">
            <h2>Models</h2>
            <p class="muted small">
              Deployments are tried in order: the next one is the fallback. Default model: <code>{c.defaultModel}</code>
              {c.strictModels ? '; models not listed are refused (strictModels).' : '; other known models go to the built-in engine.'}
            </p>
            <table class="grid" data-testid="models">
              <thead>
                <tr>
                  <th>model</th>
                  <th>deployments</th>
                  <th>price</th>
                </tr>
              </thead>
              <tbody>
                {c.models.map((m) => (
                  <tr>
                    <td>
                      <code>{m.id}</code> {!m.configured && <Badge tone="muted">built-in</Badge>}
                    </td>
                    <td>
                      {m.deployments.map((d, i) => (
                        <>
                          {i > 0 && <span class="arrow"> → </span>}
                          <code>{d}</code>
                        </>
                      ))}
                    </td>
                    <td class="small">{priceText(c.prices[m.id])}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <section class="panel">
            <h2>Groups</h2>
            <table class="grid compact">
              <thead>
                <tr>
                  <th>group</th>
                  <th class="num">price ×</th>
                  <th class="num">rpm</th>
                  <th class="num">at once</th>
                </tr>
              </thead>
              <tbody>
                {c.groups.map((g) => (
                  <tr>
                    <td>{g.name}</td>
                    <td class="num">{g.priceMultiplier}</td>
                    <td class="num">{g.rpm ?? '∞'}</td>
                    <td class="num">{g.maxConcurrent ?? '∞'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <section class="panel">
            <h2>Server</h2>
            <pre class="json">{JSON.stringify(c.server, null, 2)}</pre>
          </section>
        </>
      )}
    </div>
  );
}

function priceText(p: ConfigView['prices'][string] | undefined): string {
  if (!p) return 'free';
  const parts: string[] = [];
  if (p.tokens) parts.push(`per 1M tokens: ${Object.entries(p.tokens).map(([k, v]) => `${k} $${v}`).join(', ')}`);
  if (p.perImage) parts.push(`per image: ${Object.entries(p.perImage).map(([k, v]) => `${k} $${v}`).join(', ')}`);
  return parts.join('; ');
}
