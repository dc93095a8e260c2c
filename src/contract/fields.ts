/**
 * Reading scalar fields the way the contract wants them: multipart sends
 * every value as text, JSON sends typed values; an empty string or null means
 * "not given"; numbers may come as 2 or "2", booleans as true or "true".
 * Messages follow OpenAI's wording so clients that show them read naturally.
 */
import { GatewayError, badRequest, invalidType, invalidValue, quoteList } from '../errors.js';
import type { FieldValue } from '../intake/types.js';

const typeName = (v: FieldValue): string =>
  v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;

/** undefined for absent, null and empty string. */
export function present(v: FieldValue | undefined): FieldValue | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  return v;
}

export function readString(name: string, raw: FieldValue | undefined): string | undefined {
  const v = present(raw);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalidType(name, `Invalid type for '${name}': expected a string, but got ${typeName(v)} instead.`);
  return v;
}

export function readInteger(name: string, raw: FieldValue | undefined, min: number, max: number): number | undefined {
  const v = present(raw);
  if (v === undefined) return undefined;
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)) n = Number(v.trim());
  else n = NaN;
  if (!Number.isSafeInteger(n)) {
    const got = typeof v === 'number' ? 'a decimal' : typeName(v);
    throw invalidType(name, `Invalid type for '${name}': expected an integer, but got ${got} instead.`);
  }
  if (n < min) {
    throw badRequest(
      'integer_below_min_value',
      name,
      `Invalid '${name}': integer below minimum value. Expected a value greater than or equal to ${min}, but got ${n} instead.`,
    );
  }
  if (n > max) {
    throw badRequest(
      'integer_above_max_value',
      name,
      `Invalid '${name}': integer above maximum value. Expected a value less than or equal to ${max}, but got ${n} instead.`,
    );
  }
  return n;
}

export function readBoolean(name: string, raw: FieldValue | undefined): boolean | undefined {
  const v = present(raw);
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') {
    const t = v.trim().toLowerCase();
    if (t === 'true') return true;
    if (t === 'false') return false;
  }
  throw invalidType(name, `Invalid type for '${name}': expected a boolean, but got ${typeName(v)} instead.`);
}

export function readEnum<T extends string>(name: string, raw: FieldValue | undefined, allowed: readonly T[]): T | undefined {
  const v = readString(name, raw);
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) throw invalidEnum(name, v, allowed);
  return v as T;
}

export function invalidEnum(name: string, value: string, allowed: readonly string[]): GatewayError {
  const shown = value.length > 64 ? `${value.slice(0, 64)}…` : value;
  return invalidValue(name, `Invalid value for '${name}': '${shown}'. Supported values are: ${quoteList(allowed)}.`);
}

export function stringTooLong(name: string, max: number, got: number): GatewayError {
  return badRequest(
    'string_above_max_length',
    name,
    `Invalid '${name}': string too long. Expected a string with maximum length ${max}, but got a string with length ${got} instead.`,
  );
}

export function unsupportedForModel(name: string, model: string): GatewayError {
  return badRequest(
    'unsupported_parameter',
    name,
    `Unsupported parameter: '${name}' is not supported with the model '${model}'.`,
  );
}
