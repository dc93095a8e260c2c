/** The request log: one row per API request, newest first when listed. */
import { sql, type Selectable } from 'kysely';
import type { Db } from './db.js';
import { compileStatement, run, type Statement } from './statements.js';
import type { RequestLogTable } from './schema.js';
import { requestStats, spendSince, type RequestStats, type StatsWindow } from './request-stats.js';
import type { HostedOutput, RequestLog, RequestLogEntry, RequestLogQuery, UsageRow } from './types.js';

export const DEFAULT_LIST_LIMIT = 50;
export const MAX_LIST_LIMIT = 5000;

type Row = Selectable<RequestLogTable>;

export class SqlRequestLog implements RequestLog {
  /** compiled on the first insert, with the columns toRow gives */
  private insertRow: Statement<Row> | null = null;

  constructor(private readonly db: Db) {}

  async insert(entry: RequestLogEntry): Promise<void> {
    const row = toRow(entry);
    this.insertRow ??= insertStatement(this.db, Object.keys(row) as (keyof Row)[]);
    const insertRow = this.insertRow;
    await this.db.transact(() => run(insertRow, row));
  }

  async get(id: string): Promise<RequestLogEntry | null> {
    const row = await this.db.kysely.selectFrom('request_log').selectAll().where('id', '=', id).executeTakeFirst();
    return row === undefined ? null : toEntry(row);
  }

  async list(options: RequestLogQuery = {}): Promise<RequestLogEntry[]> {
    const limit = clampLimit(options.limit);
    let query = this.db.kysely.selectFrom('request_log').selectAll();
    if (options.keyId !== undefined) query = query.where('key_id', '=', options.keyId);
    if (options.model !== undefined) query = query.where('model', '=', options.model);
    if (options.deployment !== undefined) query = query.where('deployment', '=', options.deployment);
    if (options.status !== undefined) query = query.where('status', '=', options.status);
    if (options.statusClass !== undefined) query = query.where('status', '>=', options.statusClass * 100).where('status', '<', options.statusClass * 100 + 100);
    if (options.since !== undefined) query = query.where('created_at', '>=', options.since);
    if (options.until !== undefined) query = query.where('created_at', '<', options.until);
    const after = options.after;
    if (after) {
      query = query.where((eb) =>
        eb.or([eb('created_at', '<', after.createdAt), eb.and([eb('created_at', '=', after.createdAt), eb('id', '<', after.id)])]),
      );
    }
    const rows = await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
    return rows.map(toEntry);
  }

  async summary(options: { keyId?: string; since?: number; until?: number }): Promise<{ requests: number; costMicros: number }> {
    let q = this.db.kysely
      .selectFrom('request_log')
      .select((eb) => [eb.fn.countAll<number>().as('requests'), eb.fn.sum<number>('cost_micros').as('cost')])
      .where('status', '>=', 200)
      .where('status', '<', 300);
    if (options.keyId !== undefined) q = q.where('key_id', '=', options.keyId);
    if (options.since !== undefined) q = q.where('created_at', '>=', options.since);
    if (options.until !== undefined) q = q.where('created_at', '<', options.until);
    const r = await q.executeTakeFirst();
    return { requests: Number(r?.requests ?? 0), costMicros: Number(r?.cost ?? 0) };
  }

  stats(window: StatsWindow): Promise<RequestStats> {
    return requestStats(this.db, window);
  }

  spend(since: number, until: number): Promise<number> {
    return spendSince(this.db, since, until);
  }

  async usage(options: { since?: number; until?: number; keyId?: string }): Promise<UsageRow[]> {
    // whole days since the epoch: integer division on both dialects
    const day = sql<number>`created_at / 86400000`;
    let q = this.db.kysely
      .selectFrom('request_log')
      .select((eb) => [
        'key_id',
        'model',
        day.as('day'),
        eb.fn.countAll<number>().as('requests'),
        eb.fn.sum<number>('image_count').as('images'),
        eb.fn.sum<number>('total_tokens').as('tokens'),
        eb.fn.sum<number>('cost_micros').as('cost'),
      ])
      .where('status', '>=', 200)
      .where('status', '<', 300);
    if (options.keyId !== undefined) q = q.where('key_id', '=', options.keyId);
    if (options.since !== undefined) q = q.where('created_at', '>=', options.since);
    if (options.until !== undefined) q = q.where('created_at', '<', options.until);
    const rows = await q.groupBy(['key_id', 'model', day]).orderBy(day).orderBy('key_id').orderBy('model').execute();
    return rows.map((r) => ({
      keyId: r.key_id,
      model: r.model,
      day: new Date(Number(r.day) * 86_400_000).toISOString().slice(0, 10),
      requests: Number(r.requests),
      images: Number(r.images ?? 0),
      totalTokens: Number(r.tokens ?? 0),
      costMicros: Number(r.cost ?? 0),
    }));
  }
}

/** the INSERT of these columns; a replay from the outbox of an entry already written changes nothing */
function insertStatement(db: Db, columns: (keyof Row)[]): Statement<Row> {
  return compileStatement((p: Row) =>
    db.kysely
      .insertInto('request_log')
      .values(Object.fromEntries(columns.map((c) => [c, p[c]])) as Row)
      .onConflict((oc) => oc.column('id').doNothing()),
  );
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_LIST_LIMIT;
  return Math.min(MAX_LIST_LIMIT, Math.max(1, Math.floor(limit)));
}

function toRow(e: RequestLogEntry): Selectable<RequestLogTable> {
  return {
    id: e.id,
    created_at: e.createdAt,
    key_id: e.keyId,
    method: e.method,
    path: e.path,
    model: e.model,
    deployment: e.deployment,
    status: e.status,
    error_code: e.errorCode,
    latency_ms: Math.round(e.latencyMs),
    image_count: e.imageCount,
    bytes_in: e.bytesIn,
    bytes_out: e.bytesOut,
    input_tokens: e.inputTokens,
    input_text_tokens: e.inputTextTokens,
    input_image_tokens: e.inputImageTokens,
    output_tokens: e.outputTokens,
    total_tokens: e.totalTokens,
    end_user: e.user,
    stream: e.stream ? 1 : 0,
    attempts: e.attempts.length > 0 ? JSON.stringify(e.attempts) : null,
    cost_micros: e.costMicros,
    warnings: e.warnings.length > 0 ? JSON.stringify(e.warnings) : null,
    outputs: e.outputs && e.outputs.length > 0 ? JSON.stringify(e.outputs) : null,
  };
}

function toEntry(r: Selectable<RequestLogTable>): RequestLogEntry {
  return {
    id: r.id,
    createdAt: r.created_at,
    keyId: r.key_id,
    method: r.method,
    path: r.path,
    model: r.model,
    deployment: r.deployment,
    status: r.status,
    errorCode: r.error_code,
    latencyMs: r.latency_ms,
    imageCount: r.image_count,
    bytesIn: r.bytes_in,
    bytesOut: r.bytes_out,
    inputTokens: r.input_tokens,
    inputTextTokens: r.input_text_tokens,
    inputImageTokens: r.input_image_tokens,
    outputTokens: r.output_tokens,
    totalTokens: r.total_tokens,
    user: r.end_user,
    stream: r.stream !== 0,
    attempts: r.attempts ? (JSON.parse(r.attempts) as RequestLogEntry['attempts']) : [],
    costMicros: Number(r.cost_micros),
    warnings: r.warnings ? (JSON.parse(r.warnings) as string[]) : [],
    // absent rather than empty: entries without hosted images read back as they were written
    ...(r.outputs ? { outputs: JSON.parse(r.outputs) as HostedOutput[] } : {}),
  };
}
