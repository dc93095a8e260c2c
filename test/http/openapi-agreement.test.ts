/**
 * The images edit route's schemas against OpenAI's published document: for
 * every field both have (request bodies, the answer, the stream events, and
 * the objects inside them), the type, the listed values and the ranges must
 * agree, except for the differences listed below, each a decision of
 * CONTRACT.md or a fact of what the gateway sends. A difference that appears
 * or disappears fails the test. OpenAI's side is the copy in
 * test/fixtures/ (the tests never need ../shared); when the document itself
 * is on this machine, the copy is checked against it too.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildOpenApiDocument } from '../../src/http/openapi.js';
import { readFixture, readReference, referenceDocumentPath } from '../helpers/openai-reference.js';

type Schema = Record<string, any>;

interface Shape {
  /** 'string', 'integer', 'boolean', 'number', 'object', 'file' (binary), 'array<…>' */
  types: string[];
  /** values named by enums (or a const) */
  values: string[];
  /** true when any string is allowed besides the listed values */
  open: boolean;
  min: number | null;
  max: number | null;
  /** object schemas met on the way (for the nested comparison) */
  objects: Schema[];
}

interface Difference {
  path: string;
  what: 'only ours' | 'only theirs' | 'types' | 'values' | 'range';
  ours?: unknown;
  theirs?: unknown;
}

function resolver(schemas: Record<string, Schema>) {
  return (s: Schema): Schema => {
    let out = s;
    for (let i = 0; out && typeof out.$ref === 'string' && i < 10; i++) out = schemas[out.$ref.replace('#/components/schemas/', '')];
    assert.ok(out, `a schema behind ${s.$ref}`);
    return out;
  };
}

function shapeOf(s: Schema, resolve: (s: Schema) => Schema): Shape {
  const shape: Shape = { types: [], values: [], open: false, min: null, max: null, objects: [] };
  const visit = (raw: Schema): void => {
    const x = resolve(raw);
    for (const branch of [...(x.anyOf ?? []), ...(x.oneOf ?? [])]) visit(branch);
    if (x.anyOf || x.oneOf) {
      // the branches said it all, unless the schema also types itself
      if (x.type === undefined && x.properties === undefined) return;
    }
    const types: string[] = x.type === undefined ? (x.properties ? ['object'] : []) : [].concat(x.type);
    for (const t of types) {
      if (t === 'null') continue;
      let label = t;
      if (t === 'string' && (x.format === 'binary' || x.contentEncoding === 'binary')) label = 'file';
      if (t === 'array') label = `array<${x.items ? shapeOf(x.items, resolve).types.join('|') : 'any'}>`;
      if (!shape.types.includes(label)) shape.types.push(label);
      if (t === 'object') shape.objects.push(x);
      if (t === 'array' && x.items) shape.objects.push(...shapeOf(x.items, resolve).objects);
    }
    const listed = x.enum ?? (x.const !== undefined ? [x.const] : null);
    if (listed) for (const v of listed) if (v !== null && !shape.values.includes(String(v))) shape.values.push(String(v));
    if (types.includes('string') && !listed && label(x) !== 'file') shape.open = true;
    const lo = x.minimum ?? x.minLength ?? x.minItems;
    const hi = x.maximum ?? x.maxLength ?? x.maxItems;
    if (lo !== undefined) shape.min = shape.min === null ? lo : Math.min(shape.min, lo);
    if (hi !== undefined) shape.max = shape.max === null ? hi : Math.max(shape.max, hi);
  };
  const label = (x: Schema) => (x.format === 'binary' || x.contentEncoding === 'binary' ? 'file' : 'string');
  visit(s);
  shape.types.sort();
  shape.values.sort();
  return shape;
}

/** Properties of an object schema, allOf/anyOf branches merged. */
function propertiesOf(s: Schema, resolve: (s: Schema) => Schema): Record<string, Schema> {
  const x = resolve(s);
  const out: Record<string, Schema> = { ...(x.properties ?? {}) };
  for (const b of [...(x.allOf ?? []), ...(x.anyOf ?? []), ...(x.oneOf ?? [])]) Object.assign(out, propertiesOf(b, resolve));
  return out;
}

function compare(
  path: string,
  ours: Schema,
  theirs: Schema,
  our: (s: Schema) => Schema,
  their: (s: Schema) => Schema,
  out: Difference[] = [],
): Difference[] {
  const a = propertiesOf(ours, our);
  const b = propertiesOf(theirs, their);
  for (const name of Object.keys(a).filter((k) => !(k in b)).sort()) out.push({ path: `${path}.${name}`, what: 'only ours' });
  for (const name of Object.keys(b).filter((k) => !(k in a)).sort()) out.push({ path: `${path}.${name}`, what: 'only theirs' });
  for (const name of Object.keys(a).filter((k) => k in b).sort()) {
    const p = `${path}.${name}`;
    const x = shapeOf(a[name], our);
    const y = shapeOf(b[name], their);
    if (JSON.stringify(x.types) !== JSON.stringify(y.types)) out.push({ path: p, what: 'types', ours: x.types, theirs: y.types });
    if (JSON.stringify(x.values) !== JSON.stringify(y.values) || x.open !== y.open) {
      const onlyOurs = x.values.filter((v) => !y.values.includes(v));
      const onlyTheirs = y.values.filter((v) => !x.values.includes(v));
      out.push({ path: p, what: 'values', ours: { extra: onlyOurs, open: x.open }, theirs: { extra: onlyTheirs, open: y.open } });
    }
    // a range both sides state must be the same
    if ((x.min !== null && y.min !== null && x.min !== y.min) || (x.max !== null && y.max !== null && x.max !== y.max)) {
      out.push({ path: p, what: 'range', ours: [x.min, x.max], theirs: [y.min, y.max] });
    }
    // objects inside (usage, input_tokens_details, data's items): field by field too
    if (x.objects.length > 0 && y.objects.length > 0) {
      const merge = (objs: Schema[]) => ({ properties: Object.assign({}, ...objs.map((o) => o.properties ?? {})) });
      compare(p, merge(x.objects), merge(y.objects), our, their, out);
    }
  }
  return out;
}

/**
 * The deliberate differences, each with its reason. Requests: the gateway
 * accepts everything OpenAI documents, and more. Answers: it sends only what
 * OpenAI documents, except sizes (see below).
 */
const DELIBERATE: Array<Difference & { why: string }> = [
  // multipart request
  { path: 'CreateImageEditRequest.image[]', what: 'only ours', why: 'repeated image[] parts, as the SDKs send several images (OpenAI documents them as the array form of image)' },
  { path: 'CreateImageEditRequest.moderation', what: 'only ours', why: "OpenAI's multipart schema lacks moderation, which its JSON form and the API take" },
  {
    path: 'CreateImageEditRequest.model',
    what: 'values',
    ours: { extra: ['dall-e-3', 'flux-kontext-max', 'flux-kontext-pro', 'gpt-image-1-all'], open: true },
    theirs: { extra: [], open: true },
    why: 'the seed documents\' models (CONTRACT.md, model); any served name is taken on both sides',
  },
  // JSON request
  { path: 'EditImageBodyJsonParam.response_format', what: 'only ours', why: 'CONTRACT.md decision: url or b64_json for every model and either body' },
  {
    path: 'EditImageBodyJsonParam.model',
    what: 'values',
    ours: { extra: ['dall-e-2', 'dall-e-3', 'flux-kontext-max', 'flux-kontext-pro', 'gpt-image-1-all'], open: true },
    theirs: { extra: [], open: true },
    why: 'JSON bodies take every model here, DALL·E and the seed models too (OpenAI: GPT image models only)',
  },
  {
    path: 'EditImageBodyJsonParam.quality',
    what: 'values',
    ours: { extra: ['standard'], open: false },
    theirs: { extra: [], open: false },
    why: 'JSON bodies take DALL·E models too, whose quality is standard',
  },
  {
    path: 'EditImageBodyJsonParam.size',
    what: 'values',
    ours: { extra: ['256x256', '512x512'], open: true },
    theirs: { extra: [], open: false },
    why: "JSON bodies take DALL·E's sizes too, and gpt-image-2's WIDTHxHEIGHT (OpenAI's multipart schema allows any string for it; its JSON schema does not yet)",
  },
  // the answer
  {
    path: 'ImagesResponse.size',
    what: 'values',
    ours: { extra: [], open: true },
    theirs: { extra: ['1024x1024', '1024x1536', '1536x1024'], open: false },
    why: 'the size the model produced: gpt-image-2 free sizes and sizes other engines resolve auto to are not in OpenAI\'s list',
  },
  { path: 'ImagesResponse.data.revised_prompt', what: 'only theirs', why: 'dall-e-3 generations only; edits never revise the prompt' },
  { path: 'ImagesResponse.usage.output_tokens_details', what: 'only theirs', why: 'not counted separately (image vs text output) by the gateway' },
  // stream events
  {
    path: 'ImageEditPartialImageEvent.size',
    what: 'values',
    ours: { extra: [], open: true },
    theirs: { extra: ['1024x1024', '1024x1536', '1536x1024', 'auto'], open: false },
    why: 'the partial image\'s own size, as produced',
  },
  {
    path: 'ImageEditCompletedEvent.size',
    what: 'values',
    ours: { extra: [], open: true },
    theirs: { extra: ['1024x1024', '1024x1536', '1536x1024', 'auto'], open: false },
    why: 'the size the model produced, never auto',
  },
  {
    path: 'ImageEditCompletedEvent.quality',
    what: 'values',
    ours: { extra: [], open: false },
    theirs: { extra: ['auto'], open: false },
    why: 'resolved values: the completed image says what it was made at (CONTRACT.md, Response)',
  },
  {
    path: 'ImageEditCompletedEvent.background',
    what: 'values',
    ours: { extra: [], open: false },
    theirs: { extra: ['auto'], open: false },
    why: 'resolved values, never auto',
  },
];

const PAIRS: Array<[ours: string, theirs: string]> = [
  ['CreateImageEditRequest', 'CreateImageEditRequest'],
  ['EditImageBodyJsonParam', 'EditImageBodyJsonParam'],
  ['ImageRefParam', 'ImageRefParam'],
  ['ImagesResponse', 'ImagesResponse'],
  ['ImageEditPartialImageEvent', 'ImageEditPartialImageEvent'],
  ['ImageEditCompletedEvent', 'ImageEditCompletedEvent'],
];

function ourDocument(): Schema {
  return buildOpenApiDocument('test');
}

describe('the images edit route agrees with OpenAI\'s document', () => {
  const fixture = readFixture();
  const doc = ourDocument();
  const ours: Record<string, Schema> = doc.components.schemas;
  const theirs = fixture.schemas as Record<string, Schema>;
  const our = resolver(ours);
  const their = resolver(theirs);

  test('the same bodies under the same content types, the same answers', () => {
    const op = doc.paths['/v1/images/edits'].post;
    const name = (s: Schema) => String(s.$ref).replace('#/components/schemas/', '');
    assert.deepEqual(
      Object.fromEntries(Object.entries(op.requestBody.content as Record<string, Schema>).map(([t, c]) => [t, name(c.schema)])),
      fixture.path.requestBody,
    );
    const answers = op.responses['200'].content as Record<string, Schema>;
    assert.equal(name(answers['application/json'].schema), fixture.path.responses['application/json']);
    // the stream: OpenAI's events, or one error event
    assert.deepEqual(answers['text/event-stream'].schema.anyOf.map(name), [fixture.path.responses['text/event-stream'], 'ErrorResponse']);
    const members = (s: Schema) => s.anyOf.map(name).sort();
    assert.deepEqual(members(ours.ImageEditStreamEvent), members(theirs.ImageEditStreamEvent));
  });

  test('every shared field: the same type, values and range, but for the listed differences', () => {
    const found: Difference[] = [];
    for (const [a, b] of PAIRS) compare(a, ours[a], theirs[b], our, their, found);
    const key = (d: Difference) => `${d.path} ${d.what}`;
    const sorted = (ds: Difference[]) => [...ds].sort((x, y) => key(x).localeCompare(key(y)));
    assert.deepEqual(sorted(found), sorted(DELIBERATE.map(({ why: _why, ...d }) => d)));
  });

  test('the comparison sees a difference when there is one', () => {
    const changed = structuredClone(ours);
    const json = changed.EditImageBodyJsonParam.properties;
    json.n.anyOf[0].maximum = 9;
    json.output_format.anyOf[0].enum.push('gif');
    json.stream = { type: 'string' };
    delete json.user;
    const found = compare('EditImageBodyJsonParam', changed.EditImageBodyJsonParam, theirs.EditImageBodyJsonParam, resolver(changed), their);
    const listed = new Set(DELIBERATE.map((d) => `${d.path} ${d.what}`));
    assert.deepEqual(
      found.filter((d) => !listed.has(`${d.path} ${d.what}`)),
      [
        { path: 'EditImageBodyJsonParam.user', what: 'only theirs' },
        { path: 'EditImageBodyJsonParam.n', what: 'range', ours: [1, 9], theirs: [1, 10] },
        { path: 'EditImageBodyJsonParam.output_format', what: 'values', ours: { extra: ['gif'], open: false }, theirs: { extra: [], open: false } },
        { path: 'EditImageBodyJsonParam.stream', what: 'types', ours: ['string'], theirs: ['boolean'] },
        { path: 'EditImageBodyJsonParam.stream', what: 'values', ours: { extra: [], open: true }, theirs: { extra: [], open: false } },
      ],
    );
  });

  test('the request fields are the ones validate.ts reads', async () => {
    const { FIELDS_OF } = await import('../../src/contract/validate.js');
    const fields = (op: 'edit' | 'generation' | 'variation') => [...FIELDS_OF[op]];
    const multipart = Object.keys(ours.CreateImageEditRequest.properties).sort();
    assert.deepEqual(multipart, [...fields('edit'), 'image', 'image[]', 'mask'].sort());
    const json = Object.keys(ours.EditImageBodyJsonParam.properties).sort();
    assert.deepEqual(json, [...fields('edit'), 'images', 'mask'].sort());
    assert.deepEqual(Object.keys(ours.CreateImageRequest.properties).sort(), fields('generation').sort());
    assert.deepEqual(Object.keys(ours.CreateImageVariationRequest.properties).sort(), [...fields('variation'), 'image'].sort());
  });

  const reference = referenceDocumentPath();
  test('the copy in test/fixtures is what OpenAI\'s document says', { skip: reference === null && 'no openai-openapi.yaml on this machine' }, () => {
    assert.deepEqual(readReference(reference!), fixture);
  });
});
