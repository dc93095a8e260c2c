/**
 * JSON bodies of the admin and account routes, checked against zod schemas
 * (the same schemas the API document is built from); the first problem
 * becomes a 400 in OpenAI's envelope naming the field.
 */
import type { z } from 'zod';
import { badRequest, invalidType, invalidValue, missingParameter, unknownParameter, type GatewayError } from '../errors.js';

/** the value at an issue's path in the body, to tell a missing field from a wrong one */
function valueAt(body: unknown, path: PropertyKey[]): unknown {
  let v = body;
  for (const k of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  return v;
}

function toError(issue: z.core.$ZodIssue, body: unknown): GatewayError {
  const param = issue.path.map(String).join('.') || null;
  if (issue.code === 'unrecognized_keys') return unknownParameter(issue.keys[0]);
  if (issue.code === 'invalid_type') {
    if (valueAt(body, issue.path) === undefined) return missingParameter(param ?? 'body');
    return invalidType(param ?? 'body', `Invalid type for '${param ?? 'body'}': expected ${issue.expected}.`);
  }
  if (param === null) return badRequest('invalid_request', null, `Invalid body: ${issue.message}`);
  return invalidValue(param, `Invalid value for '${param}': ${issue.message}.`);
}

export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body ?? {});
  if (!r.success) throw toError(r.error.issues[0], body ?? {});
  return r.data;
}
