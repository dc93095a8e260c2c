/**
 * Reading the config file: YAML or JSON (JSON is YAML), validated against the
 * schema, with `env:NAME` strings read from the environment. Every error
 * names the file, the key path (`models.gpt-image-1.deployments[1].provider`)
 * and the line, so an operator can go straight to it.
 */
import fs from 'node:fs';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { fileSchema, type FileConfig } from './schema.js';

export class ConfigError extends Error {}

type Env = Record<string, string | undefined>;
type PathPart = string | number;

/** `models.gpt-image-1.deployments[1].provider` */
export function keyPath(path: readonly PathPart[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? p : `.${p}`;
  }
  return out || '(top level)';
}

export interface LocatedFile {
  file: string;
  /** the line of the deepest node that exists along `path` (1-based), if known */
  lineOf(path: readonly PathPart[]): number | null;
  /** `config.yaml:12: models.x.deployments[0].provider: message`; the line is `linePath`'s when given */
  error(path: readonly PathPart[], message: string, linePath?: readonly PathPart[]): ConfigError;
}

function locate(file: string, doc: Document, counter: LineCounter): LocatedFile {
  const lineOf = (path: readonly PathPart[]): number | null => {
    // the deepest existing node: a missing key is reported at its parent
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as Node | undefined;
      if (node && typeof node === 'object' && 'range' in node && node.range) {
        return counter.linePos(node.range[0]).line;
      }
      // a key whose value is null has no node; fall through to the parent
    }
    return null;
  };
  return {
    file,
    lineOf,
    error(path, message, linePath = path) {
      const line = lineOf(linePath);
      return new ConfigError(`${file}${line ? `:${line}` : ''}: ${keyPath(path)}: ${message}`);
    },
  };
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  }
  if (issue.code === 'invalid_value' && 'values' in issue) {
    return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  if (issue.code === 'invalid_type') {
    return `expected ${issue.expected}${issue.message.includes('received') ? `, ${issue.message.slice(issue.message.indexOf('received'))}` : ''}`;
  }
  return issue.message;
}

/** Every `env:NAME` string replaced by the variable's value; a missing variable is an error naming it. */
function resolveEnv(value: unknown, env: Env, path: PathPart[], where: LocatedFile, secrets: Set<string>): unknown {
  if (typeof value === 'string') {
    const m = /^env:([A-Za-z_][A-Za-z0-9_]*)$/.exec(value);
    if (!m) return value;
    const v = env[m[1]];
    if (v === undefined || v === '') throw where.error(path, `environment variable ${m[1]} is not set`);
    secrets.add(v);
    return v;
  }
  if (Array.isArray(value)) return value.map((v, i) => resolveEnv(v, env, [...path, i], where, secrets));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = resolveEnv(v, env, [...path, k], where, secrets);
    return out;
  }
  return value;
}

export interface ParsedFile {
  config: FileConfig;
  where: LocatedFile;
  /** values read from `env:` strings (API keys and the like): never printed */
  secrets: Set<string>;
}

/** Parse and validate file text; `file` only names it in messages. */
export function parseConfigText(file: string, text: string, env: Env): ParsedFile {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = counter.linePos(e.pos[0]).line;
    throw new ConfigError(`${file}:${line}: not valid YAML or JSON: ${e.message.split('\n')[0]}`);
  }
  const where = locate(file, doc, counter);
  const contents = doc.contents;
  if (contents === null || (isScalar(contents) && (contents.value === null || contents.value === ''))) {
    return { config: {}, where, secrets: new Set() };
  }
  if (!isMap(contents)) {
    throw new ConfigError(`${file}:1: the config must be a mapping of keys (providers, models, ...), got ${isSeq(contents) ? 'a list' : 'a single value'}`);
  }
  const secrets = new Set<string>();
  const raw = resolveEnv(doc.toJS({ maxAliasCount: 100 }), env, [], where, secrets);
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const at = issue.path as PathPart[];
      // an unknown key is shown at its own line, not at the first line of the mapping that holds it
      const line = issue.code === 'unrecognized_keys' ? [...at, issue.keys[0]] : at;
      return where.error(at, describeIssue(issue), line).message;
    });
    throw new ConfigError(lines.length === 1 ? lines[0] : `${lines.length} problems:\n  ${lines.join('\n  ')}`);
  }
  return { config: parsed.data, where, secrets };
}

export function readConfigFile(file: string, env: Env): ParsedFile {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return parseConfigText(file, text, env);
}
