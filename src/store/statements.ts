/**
 * The statements every request runs (key lookup, credit hold, settlement,
 * request log), built once with Kysely and run again and again with new
 * values, and the transactions that use them written once for both
 * dialects.
 *
 * A statement is built with named placeholders (`p.keyId`), compiled once
 * per database to its dialect's SQL, and later run with a value for each
 * name: no query building, compiling or freezing per request, which cost
 * more than SQLite took to run the statements.
 *
 * A transaction is a generator (`Unit`) that yields the statements it runs
 * and gets each one's rows back, so its logic is written once: on
 * PostgreSQL it runs as a transaction of its own, one round trip per
 * statement; on SQLite it runs synchronously, and the units that arrive
 * while one commit is prepared share that commit (a group commit, see
 * sqlite-commit.ts). A unit has no effect but its statements: it may be
 * run again from the start.
 */
import type { Compilable } from 'kysely';

/** A value's name in a statement, or a value the statement always sends. */
type Slot = { name: string } | { value: unknown };

export interface Statement<P> {
  readonly sql: string;
  /** what each `?`/`$n` takes, in order */
  readonly slots: readonly Slot[];
  /** phantom: the values it takes */
  readonly _values?: P;
}

/** What running a statement gave: its rows (SELECT, RETURNING) and the rows it changed. */
export interface StepResult<R = Record<string, unknown>> {
  rows: R[];
  changes: number;
}

/** One statement to run, with its values. */
export interface Step {
  statement: Statement<unknown>;
  values: Record<string, unknown>;
}

/** A transaction's logic: yields statements, gets their results, returns its outcome. */
export type Unit<T> = Generator<Step, T, StepResult>;

const MARK = '\u0000param:';

/**
 * Compiles `build`'s query with a placeholder for each property read from
 * `p`. The placeholders must reach the query as parameters (values in
 * where/set/values, `sql` template values), never as identifiers or raw SQL.
 */
export function compileStatement<P>(build: (p: P) => Compilable): Statement<P> {
  const p = new Proxy({}, { get: (_t, name) => MARK + String(name) }) as P;
  const compiled = build(p).compile();
  if (compiled.sql.includes(MARK)) throw new Error('a statement placeholder was inlined into the SQL');
  const slots = compiled.parameters.map((v): Slot => (typeof v === 'string' && v.startsWith(MARK) ? { name: v.slice(MARK.length) } : { value: v }));
  return { sql: compiled.sql, slots };
}

/** The statement's parameters in order, from named values. */
export function bind(statement: Statement<unknown>, values: Record<string, unknown>): unknown[] {
  return statement.slots.map((s) => {
    if (!('name' in s)) return s.value;
    const v = values[s.name];
    if (v === undefined) throw new Error(`statement value '${s.name}' is missing`);
    return v;
  });
}

/** Runs one statement inside a unit: `const r = yield* run(S.x, {...})`. */
export function* run<P, R = Record<string, unknown>>(statement: Statement<P>, values: P): Generator<Step, StepResult<R>, StepResult> {
  return (yield { statement: statement as Statement<unknown>, values: values as Record<string, unknown> }) as StepResult<R>;
}

/** Drives a unit with a synchronous executor (SQLite). */
export function driveSync<T>(unit: Unit<T>, exec: (step: Step) => StepResult): T {
  let next = unit.next();
  while (!next.done) next = unit.next(exec(next.value));
  return next.value;
}

/** Drives a unit with an asynchronous executor (PostgreSQL). */
export async function driveAsync<T>(unit: Unit<T>, exec: (step: Step) => Promise<StepResult>): Promise<T> {
  let next = unit.next();
  while (!next.done) next = unit.next(await exec(next.value));
  return next.value;
}
