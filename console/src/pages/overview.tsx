/**
 * The master key sees the gateway: request rate, errors, latency, spend, and
 * each deployment's health with its circuit breaker. A virtual key sees
 * itself: balance, limits and this month's usage.
 */
import { useState } from 'preact/hooks';
import { Badge, BarChart, Card, ErrorNote, Loading, type Tone } from '../components.js';
import { api, query } from '../lib/api.js';
import { ago, ms, num, pct, usd } from '../lib/format.js';
import { useInterval, useLoad } from '../lib/hooks.js';
import type { Session } from '../lib/session.js';
import type { Account, BreakerState, Stats } from '../lib/types.js';

const WINDOWS = [
  { label: 'Last hour', ms: 3600_000 },
  { label: '24 hours', ms: 86400_000 },
  { label: '7 days', ms: 7 * 86400_000 },
];

const breakerTone: Record<BreakerState, Tone> = { closed: 'ok', 'half-open': 'warn', open: 'bad' };

export function OverviewPage(props: { session: Session }) {
  return props.session.role === 'master' ? <GatewayOverview /> : <KeyOverview />;
}

function GatewayOverview() {
  const [windowMs, setWindowMs] = useState(WINDOWS[0].ms);
  const stats = useLoad(
    (signal) => api<Stats>(`/admin/stats${query({ since: Math.floor((Date.now() - windowMs) / 1000) })}`, { signal }),
    [windowMs],
  );
  // the figures move while the page is open
  useInterval(stats.reload, 15_000);
  const s = stats.data;
  return (
    <div class="stack">
      <div class="toolbar">
        <div class="segmented" role="group" aria-label="time window">
          {WINDOWS.map((w) => (
            <button type="button" class={w.ms === windowMs ? 'on' : ''} aria-pressed={w.ms === windowMs} onClick={() => setWindowMs(w.ms)}>
              {w.label}
            </button>
          ))}
        </div>
        <button type="button" class="ghost" onClick={stats.reload}>
          Refresh
        </button>
      </div>
      <ErrorNote error={stats.error} />
      <Loading when={stats.loading && !s} />
      {s && (
        <>
          <div class="cards">
            <Card label="Requests / min" value={s.requestsPerMinute.toFixed(2)} hint={`${num(s.requests)} requests`} testId="card-rpm" />
            <Card
              label="Error rate"
              value={pct(s.errorRate)}
              hint={`${num(s.errors)} not 2xx, ${num(s.serverErrors)} 5xx`}
              tone={s.serverErrors > 0 ? 'bad' : s.errorRate > 0.05 ? 'warn' : undefined}
              testId="card-errors"
            />
            <Card label="Latency p50" value={ms(s.latencyMs.p50)} hint="served requests" testId="card-p50" />
            <Card label="Latency p95" value={ms(s.latencyMs.p95)} hint="served requests" testId="card-p95" />
            <Card label="Spend today" value={usd(s.spendUsd.today)} hint="UTC day" testId="card-today" />
            <Card label="Spend this month" value={usd(s.spendUsd.month)} hint="UTC month" testId="card-month" />
          </div>
          <section class="panel">
            <h2>Requests</h2>
            <BarChart since={s.since} until={s.until} bucketSeconds={s.bucketSeconds} series={s.series} />
          </section>
          <section class="panel">
            <h2>Deployments</h2>
            <p class="muted small">Calls in this window, with retries and fallbacks; the circuit breaker as this node sees it.</p>
            <table class="grid" data-testid="deployments">
              <thead>
                <tr>
                  <th>deployment</th>
                  <th>breaker</th>
                  <th class="num">calls</th>
                  <th class="num">success</th>
                  <th class="num">failed</th>
                  <th class="num">skipped</th>
                  <th class="num">mean latency</th>
                  <th>last failure</th>
                </tr>
              </thead>
              <tbody>
                {s.deployments.map((d) => {
                  const called = d.succeeded + d.failed;
                  return (
                    <tr>
                      <td>
                        <code>{d.deployment}</code> {d.type && d.type !== d.deployment && <span class="muted small">{d.type}</span>}
                        {!d.configured && <Badge tone="muted">removed</Badge>}
                      </td>
                      <td>
                        <Badge tone={breakerTone[d.breaker]}>{d.breaker}</Badge>
                      </td>
                      <td class="num">{num(d.attempts)}</td>
                      <td class="num">{called === 0 ? '—' : pct(d.succeeded / called)}</td>
                      <td class="num">{num(d.failed)}</td>
                      <td class="num">{num(d.skipped)}</td>
                      <td class="num">{ms(d.avgLatencyMs)}</td>
                      <td class="reason">{d.lastFailure ? <span title={d.lastFailure}>{`${ago(d.lastFailureAt)}: ${d.lastFailure}`}</span> : '—'}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </section>
        </>
      )}
    </div>
  );
}

function KeyOverview() {
  const account = useLoad((signal) => api<Account>('/v1/account', { signal }), []);
  const a = account.data;
  return (
    <div class="stack">
      <ErrorNote error={account.error} />
      <Loading when={account.loading && !a} />
      {a && (
        <div class="cards">
          <Card label="Balance" value={a.balanceUsd === null ? 'no limit' : usd(a.balanceUsd)} hint={a.balanceUsd === null ? 'this key has no budget' : 'what can still be spent'} testId="card-balance" />
          <Card label="Requests this month" value={num(a.usage.month.requests)} hint="served" testId="card-month-requests" />
          <Card label="Spend this month" value={usd(a.usage.month.costUsd)} hint="UTC month" testId="card-month-spend" />
          <Card label="Limits" value={`${a.rpm ?? '∞'} rpm`} hint={`${a.maxConcurrent ?? '∞'} at once · group ${a.group ?? '—'}`} />
        </div>
      )}
      <p>
        <a href="#/requests">Your requests →</a>
      </p>
    </div>
  );
}
