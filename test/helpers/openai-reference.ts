/**
 * The part of OpenAI's published OpenAPI document the agreement test needs:
 * the image-edit request bodies, the answer and the stream events, with the
 * schemas they refer to, without prose (descriptions, examples, x- keys).
 * scripts/extract-openai-images.ts writes it to test/fixtures/ so the tests
 * never need ../shared; the agreement test checks the copy against the
 * document whenever the document is there.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const ROOT_SCHEMAS = [
  'CreateImageEditRequest',
  'EditImageBodyJsonParam',
  'ImagesResponse',
  'ImageEditStreamEvent',
  'ImagesUsage',
] as const;

export const FIXTURE = fileURLToPath(new URL('../fixtures/openai-images-edits.json', import.meta.url));

/** Where OpenAI's document is, if this machine has it: shared/ beside the repository (CI, developers), else the workplace's copy. */
export function referenceDocumentPath(): string | null {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  for (const p of [path.resolve(root, '../shared/reference/openai-openapi.yaml'), '/work/shared/reference/openai-openapi.yaml']) {
    if (fs.existsSync(p)) return p;
  }
  return null;
}

export interface OpenAiFixture {
  source: string;
  version: string;
  path: { requestBody: Record<string, string>; responses: Record<string, string> };
  schemas: Record<string, unknown>;
}

const PROSE = new Set(['description', 'example', 'examples', 'title']);

function strip(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(strip);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (PROSE.has(k) || k.startsWith('x-')) continue;
    out[k] = strip(v);
  }
  return out;
}

function refsIn(node: unknown, into: Set<string>): void {
  if (Array.isArray(node)) node.forEach((n) => refsIn(n, into));
  else if (node !== null && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === '$ref' && typeof v === 'string') into.add(v.replace('#/components/schemas/', ''));
      else refsIn(v, into);
    }
  }
}

const schemaName = (r: unknown): string => String((r as { $ref?: string } | undefined)?.$ref ?? '').replace('#/components/schemas/', '');

/** The fixture's content, from the parsed document. */
export function extractImageSchemas(doc: any): OpenAiFixture {
  const all = doc.components.schemas as Record<string, unknown>;
  const op = doc.paths['/images/edits'].post;
  const requestBody = Object.fromEntries(Object.entries(op.requestBody.content as Record<string, { schema: unknown }>).map(([type, c]) => [type, schemaName(c.schema)]));
  const responses = Object.fromEntries(Object.entries(op.responses['200'].content as Record<string, { schema: unknown }>).map(([type, c]) => [type, schemaName(c.schema)]));
  const wanted = new Set<string>([...ROOT_SCHEMAS, ...Object.values(requestBody), ...Object.values(responses)]);
  const schemas: Record<string, unknown> = {};
  const queue = [...wanted];
  while (queue.length > 0) {
    const name = queue.shift()!;
    if (name in schemas) continue;
    if (!(name in all)) throw new Error(`OpenAI's document has no schema ${name}`);
    schemas[name] = strip(all[name]);
    const refs = new Set<string>();
    refsIn(schemas[name], refs);
    queue.push(...refs);
  }
  const sorted = Object.fromEntries(Object.keys(schemas).sort().map((k) => [k, schemas[k]]));
  return {
    source: "OpenAI's OpenAPI document (github.com/openai/openai-openapi, openapi.yaml; the project's copy is shared/reference/openai-openapi.yaml): the components the images edit route uses, descriptions and examples removed. Regenerate with: npx tsx scripts/extract-openai-images.ts",
    version: String(doc.info.version),
    path: { requestBody, responses },
    schemas: sorted,
  };
}

export function readReference(file: string): OpenAiFixture {
  return extractImageSchemas(parse(fs.readFileSync(file, 'utf8'), { maxAliasCount: -1 }));
}

export function readFixture(): OpenAiFixture {
  return JSON.parse(fs.readFileSync(FIXTURE, 'utf8')) as OpenAiFixture;
}
