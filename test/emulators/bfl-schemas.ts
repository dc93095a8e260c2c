/**
 * The request bodies BFL's endpoints accept, transcribed field by field from
 * its published OpenAPI document (`https://api.bfl.ai/openapi.json`; a copy
 * is reference/bfl-openapi.json, and bfl-translate.test.ts checks this table
 * against it when that copy is present), and a validator that answers as
 * FastAPI with pydantic v2 does: every error at once, in field order, as
 * `{"detail": [{"type", "loc": ["body", field], "msg", "input", "ctx"?}]}`.
 *
 * Stricter than the real service in two ways, both on purpose:
 * - an unknown field is refused (`extra_forbidden`); the published schemas
 *   do not forbid extras, so BFL would silently ignore a misspelled field —
 *   exactly the silent drop the gateway must never make;
 * - types are checked strictly (no "2" for 2), where pydantic's lax mode
 *   would coerce.
 */

export interface FieldSpec {
  type: 'string' | 'integer' | 'number' | 'boolean' | 'enum';
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  multipleOf?: number;
  values?: readonly string[];
}

export interface BodySchema {
  title: string;
  required: readonly string[];
  fields: Readonly<Record<string, FieldSpec>>;
}

const OUTPUT_FORMAT: FieldSpec = { type: 'enum', values: ['jpeg', 'png', 'webp'], nullable: true };
const OPT_STRING: FieldSpec = { type: 'string', nullable: true };
const WEBHOOK: Record<string, FieldSpec> = {
  webhook_url: { type: 'string', nullable: true, minLength: 1, maxLength: 2083 },
  webhook_secret: OPT_STRING,
};
const images = (n: number): Record<string, FieldSpec> =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [i === 0 ? 'input_image' : `input_image_${i + 1}`, OPT_STRING]));
const FLUX2_SIZE: Record<string, FieldSpec> = {
  width: { type: 'integer', nullable: true, minimum: 64 },
  height: { type: 'integer', nullable: true, minimum: 64 },
};

export const FluxKontextProInputs: BodySchema = {
  title: 'FluxKontextProInputs',
  required: ['prompt'],
  fields: {
    prompt: { type: 'string' },
    ...images(4),
    seed: { type: 'integer', nullable: true },
    aspect_ratio: OPT_STRING,
    output_format: OUTPUT_FORMAT,
    ...WEBHOOK,
    prompt_upsampling: { type: 'boolean' },
    safety_tolerance: { type: 'integer', minimum: 0, maximum: 6 },
  },
};

export const FluxProFillInputs: BodySchema = {
  title: 'FluxProFillInputs',
  required: ['image'],
  fields: {
    image: { type: 'string' },
    mask: OPT_STRING,
    prompt: OPT_STRING,
    steps: { type: 'integer', nullable: true, minimum: 15, maximum: 50 },
    prompt_upsampling: { type: 'boolean', nullable: true },
    seed: { type: 'integer', nullable: true },
    guidance: { type: 'number', nullable: true, minimum: 1.5, maximum: 100 },
    output_format: OUTPUT_FORMAT,
    safety_tolerance: { type: 'integer', minimum: 0, maximum: 6 },
    ...WEBHOOK,
  },
};

const flux2 = (title: string, imageCount: number): BodySchema => ({
  title,
  required: ['prompt'],
  fields: {
    prompt: { type: 'string' },
    ...images(imageCount),
    seed: { type: 'integer', nullable: true },
    ...FLUX2_SIZE,
    safety_tolerance: { type: 'integer', minimum: 0, maximum: 5 },
    output_format: OUTPUT_FORMAT,
    ...WEBHOOK,
  },
});

export const Flux2Inputs = flux2('Flux2Inputs', 8);
export const Flux2KleinInputs = flux2('Flux2KleinInputs', 4);
export const Flux2FlexInputs: BodySchema = {
  title: 'Flux2FlexInputs',
  required: ['prompt'],
  fields: {
    prompt: { type: 'string' },
    prompt_upsampling: { type: 'boolean', nullable: true },
    ...images(8),
    input_image_blob_path: OPT_STRING,
    seed: { type: 'integer', nullable: true },
    ...FLUX2_SIZE,
    guidance: { type: 'number', nullable: true, minimum: 1.5, maximum: 10 },
    steps: { type: 'integer', nullable: true, minimum: 1, maximum: 50 },
    safety_tolerance: { type: 'integer', minimum: 0, maximum: 5 },
    output_format: OUTPUT_FORMAT,
    ...WEBHOOK,
  },
};

/** FLUX1.1 [pro] and FLUX.1 [dev]: width/height multiples of 32 from 256 to 1440 */
const PRO_SIDE: FieldSpec = { type: 'integer', multipleOf: 32, minimum: 256, maximum: 1440 };

export const FluxPro11Inputs: BodySchema = {
  title: 'FluxPro11Inputs',
  required: [],
  fields: {
    prompt: OPT_STRING,
    image_prompt: OPT_STRING,
    width: PRO_SIDE,
    height: PRO_SIDE,
    prompt_upsampling: { type: 'boolean' },
    seed: { type: 'integer', nullable: true },
    safety_tolerance: { type: 'integer', minimum: 0, maximum: 6 },
    output_format: OUTPUT_FORMAT,
    ...WEBHOOK,
  },
};

export const FluxDevInputs: BodySchema = {
  title: 'FluxDevInputs',
  required: [],
  fields: {
    prompt: { type: 'string' },
    image_prompt: OPT_STRING,
    width: PRO_SIDE,
    height: PRO_SIDE,
    steps: { type: 'integer', nullable: true, minimum: 1, maximum: 50 },
    prompt_upsampling: { type: 'boolean' },
    seed: { type: 'integer', nullable: true },
    guidance: { type: 'number', nullable: true, minimum: 1.5, maximum: 5 },
    safety_tolerance: { type: 'integer', minimum: 0, maximum: 6 },
    output_format: OUTPUT_FORMAT,
    ...WEBHOOK,
  },
};

export const FluxUltraInput: BodySchema = {
  title: 'FluxUltraInput',
  required: [],
  fields: {
    prompt: OPT_STRING,
    prompt_upsampling: { type: 'boolean' },
    seed: { type: 'integer', nullable: true },
    aspect_ratio: { type: 'string' },
    safety_tolerance: { type: 'integer', minimum: 0, maximum: 6 },
    output_format: OUTPUT_FORMAT,
    raw: { type: 'boolean' },
    image_prompt: OPT_STRING,
    image_prompt_strength: { type: 'number', minimum: 0, maximum: 1 },
    ...WEBHOOK,
  },
};

/** The image endpoints the emulator serves, by path name, with the schema of their body. */
export const ENDPOINT_SCHEMAS: Readonly<Record<string, BodySchema>> = {
  'flux-kontext-pro': FluxKontextProInputs,
  'flux-kontext-max': FluxKontextProInputs,
  'flux-pro-1.0-fill': FluxProFillInputs,
  'flux-pro-1.1': FluxPro11Inputs,
  'flux-dev': FluxDevInputs,
  'flux-pro-1.1-ultra': FluxUltraInput,
  'flux-2-pro': Flux2Inputs,
  'flux-2-pro-preview': Flux2Inputs,
  'flux-2-max': Flux2Inputs,
  'flux-2-flex': Flux2FlexInputs,
  'flux-2-klein-4b': Flux2KleinInputs,
  'flux-2-klein-9b': Flux2KleinInputs,
  'flux-2-klein-9b-preview': Flux2KleinInputs,
};

export interface ValidationIssue {
  type: string;
  loc: Array<string | number>;
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

/** pydantic's way of listing choices: 'a', 'b' or 'c' */
function orList(values: readonly string[]): string {
  const q = values.map((v) => `'${v}'`);
  return q.length === 1 ? q[0] : `${q.slice(0, -1).join(', ')} or ${q.at(-1)}`;
}

/** pydantic's error for a value of the wrong type (null included, where the field is not nullable) */
function typeError(spec: FieldSpec, loc: Array<string | number>, input: unknown): ValidationIssue {
  switch (spec.type) {
    case 'string':
      return { type: 'string_type', loc, msg: 'Input should be a valid string', input };
    case 'boolean':
      return { type: 'bool_type', loc, msg: 'Input should be a valid boolean', input };
    case 'integer':
      return { type: 'int_type', loc, msg: 'Input should be a valid integer', input };
    case 'number':
      return { type: 'float_type', loc, msg: 'Input should be a valid number', input };
    case 'enum':
      return { type: 'enum', loc, msg: `Input should be ${orList(spec.values!)}`, input, ctx: { expected: orList(spec.values!) } };
  }
}

function checkField(name: string, spec: FieldSpec, value: unknown): ValidationIssue | null {
  const loc = ['body', name];
  if (value === null) return spec.nullable ? null : typeError(spec, loc, value);
  switch (spec.type) {
    case 'string':
      if (typeof value !== 'string') return typeError(spec, loc, value);
      if (spec.minLength !== undefined && value.length < spec.minLength) {
        return { type: 'string_too_short', loc, msg: `String should have at least ${spec.minLength} character${spec.minLength === 1 ? '' : 's'}`, input: value, ctx: { min_length: spec.minLength } };
      }
      if (spec.maxLength !== undefined && value.length > spec.maxLength) {
        return { type: 'string_too_long', loc, msg: `String should have at most ${spec.maxLength} characters`, input: value, ctx: { max_length: spec.maxLength } };
      }
      return null;
    case 'boolean':
      return typeof value === 'boolean' ? null : typeError(spec, loc, value);
    case 'enum':
      return typeof value === 'string' && spec.values!.includes(value) ? null : typeError(spec, loc, value);
    case 'integer':
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return typeError(spec, loc, value);
      if (spec.type === 'integer' && !Number.isInteger(value)) {
        return { type: 'int_from_float', loc, msg: 'Input should be a valid integer, got a number with a fractional part', input: value };
      }
      if (spec.minimum !== undefined && value < spec.minimum) {
        return { type: 'greater_than_equal', loc, msg: `Input should be greater than or equal to ${spec.minimum}`, input: value, ctx: { ge: spec.minimum } };
      }
      if (spec.maximum !== undefined && value > spec.maximum) {
        return { type: 'less_than_equal', loc, msg: `Input should be less than or equal to ${spec.maximum}`, input: value, ctx: { le: spec.maximum } };
      }
      if (spec.multipleOf !== undefined && value % spec.multipleOf !== 0) {
        return { type: 'multiple_of', loc, msg: `Input should be a multiple of ${spec.multipleOf}`, input: value, ctx: { multiple_of: spec.multipleOf } };
      }
      return null;
  }
}

/** Every problem of a JSON body against a schema, as FastAPI lists them (empty: valid). */
export function validateBody(schema: BodySchema, body: unknown): ValidationIssue[] {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return [{ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: body }];
  }
  const o = body as Record<string, unknown>;
  const issues: ValidationIssue[] = [];
  for (const [name, spec] of Object.entries(schema.fields)) {
    if (!(name in o)) {
      if (schema.required.includes(name)) issues.push({ type: 'missing', loc: ['body', name], msg: 'Field required', input: o });
      continue;
    }
    const issue = checkField(name, spec, o[name]);
    if (issue) issues.push(issue);
  }
  for (const name of Object.keys(o)) {
    if (!(name in schema.fields)) issues.push({ type: 'extra_forbidden', loc: ['body', name], msg: 'Extra inputs are not permitted', input: o[name] });
  }
  return issues;
}
