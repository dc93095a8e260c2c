/**
 * The edit contract as zod schemas, for the API document: the multipart and
 * JSON request bodies, the answer, the stream's events and the error
 * envelope. validate.ts reads bodies field by field (multipart sends every
 * value as text, and its errors follow OpenAI's wording), so these schemas
 * do not validate requests; they are built from the same values and ranges
 * validate.ts enforces (params.ts, models.ts), so the document says what
 * the gateway does. Component names follow OpenAI's document, which the
 * agreement test compares them with.
 */
import { z } from 'zod';
import { DALLE_QUALITIES, DALLE_SIZES, GPT_QUALITIES, GPT_SIZES, MODEL_CATALOG } from './models.js';
import {
  BACKGROUNDS,
  INPUT_FIDELITIES,
  MODERATIONS,
  N_RANGE,
  OUTPUT_COMPRESSION_RANGE,
  OUTPUT_FORMATS,
  PARTIAL_IMAGES_RANGE,
  RESPONSE_FORMATS,
  STYLES,
} from './params.js';

const union = <T extends string>(...lists: ReadonlyArray<readonly T[]>): T[] => [...new Set(lists.flat())];

const rules = Object.values(MODEL_CATALOG);
/** the longest prompt any model takes (GPT image models); DALL·E's 1,000 is in the description */
const MAX_PROMPT_CHARS = Math.max(...rules.map((r) => r.maxPromptChars));
const MAX_IMAGES = Math.max(...rules.map((r) => r.maxImages));
const LISTED_SIZES = union<string>(GPT_SIZES, DALLE_SIZES);
const QUALITIES = union<string>(GPT_QUALITIES, DALLE_QUALITIES);
/** what parseSize reads; gpt-image-2's free sizes have further bounds, said in the description */
const SIZE_PATTERN = /^\d{1,5}x\d{1,5}$/;
/** resolved values: never 'auto' (CONTRACT.md, Response) */
const RESOLVED_QUALITIES = GPT_QUALITIES.filter((q) => q !== 'auto');
const RESOLVED_BACKGROUNDS = BACKGROUNDS.filter((b) => b !== 'auto');

const int = (range: { min: number; max: number }) => z.int().min(range.min).max(range.max);

/** Every scalar parameter, typed as in a JSON body (multipart sends the same as text). */
function scalars() {
  return {
    model: z
      .union([z.string(), z.enum(Object.keys(MODEL_CATALOG) as [string, ...string[]])])
      .meta({ description: "The model. Default: the gateway's `defaultModel` (`gpt-image-1` out of the box). Which engine serves a name is routing config; a name that is not served is 404 `model_not_found`." }),
    prompt: z.string().min(1).max(MAX_PROMPT_CHARS).meta({ description: `What to change. At most ${MAX_PROMPT_CHARS.toLocaleString('en-US')} characters for GPT image models, ${Math.min(...rules.map((r) => r.maxPromptChars)).toLocaleString('en-US')} for DALL·E.` }),
    n: int(N_RANGE).meta({ description: 'How many images. Default 1.' }),
    size: z
      .union([z.enum(LISTED_SIZES as [string, ...string[]]), z.string().regex(SIZE_PATTERN)])
      .meta({
        description: `GPT image models: ${GPT_SIZES.map((s) => `\`${s}\``).join(', ')} (default \`auto\`); gpt-image-2 also any WIDTHxHEIGHT with both sides multiples of 16, the longest side at most 3840, an aspect ratio between 1:3 and 3:1, and 655,360 to 8,294,400 pixels. DALL·E: ${DALLE_SIZES.map((s) => `\`${s}\``).join(', ')} (default \`1024x1024\`).`,
      }),
    quality: z.enum(QUALITIES as [string, ...string[]]).meta({ description: `GPT image models: ${GPT_QUALITIES.map((s) => `\`${s}\``).join(', ')}; DALL·E: ${DALLE_QUALITIES.map((s) => `\`${s}\``).join(', ')}. Default \`auto\`.` }),
    background: z.enum(BACKGROUNDS).meta({ description: 'GPT image models only. `transparent` needs `png` or `webp` output. Default `auto`.' }),
    output_format: z.enum(OUTPUT_FORMATS).meta({ description: 'GPT image models only. Default `png`.' }),
    output_compression: int(OUTPUT_COMPRESSION_RANGE).meta({ description: 'For `jpeg` and `webp` output, GPT image models only.' }),
    input_fidelity: z.enum(INPUT_FIDELITIES).meta({ description: `Default \`low\`; GPT image models but ${Object.keys(MODEL_CATALOG).filter((m) => MODEL_CATALOG[m].family === 'gpt-image' && !MODEL_CATALOG[m].inputFidelity).join(', ')}.` }),
    moderation: z.enum(MODERATIONS).meta({ description: 'Default `auto`.' }),
    response_format: z.enum(RESPONSE_FORMATS).meta({
      description: 'For every model (a decision of this gateway; OpenAI takes it for DALL·E only). `url` links to the gateway\'s own copy, valid 60 minutes by default. Default: `b64_json` for GPT image models, `url` for DALL·E.',
    }),
    stream: z.boolean().meta({ description: 'Answer with server-sent events. GPT image models only. Default false.' }),
    partial_images: int(PARTIAL_IMAGES_RANGE).meta({ description: 'Partial images per output image while streaming. Default 0.' }),
    user: z.string().meta({ description: 'An end-user id, recorded in the request log.' }),
    style: z.enum(STYLES).meta({ description: 'Generations with dall-e-3 only. Default `vivid`.' }),
  };
}

const binary = (description: string) => z.file().meta({ description });

const optional = <T extends Record<string, z.ZodType>>(shape: T) =>
  Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.optional()])) as { [K in keyof T]: z.ZodOptional<T[K]> };
const nullable = <T extends Record<string, z.ZodType>>(shape: T) =>
  Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, v.nullable().optional()])) as { [K in keyof T]: z.ZodOptional<z.ZodNullable<T[K]>> };

const { prompt, style: _style, ...optionalScalars } = scalars();

export const editMultipartRequest = z
  .strictObject({
    prompt,
    ...optional({
      image: z.union([binary('One image.'), z.array(binary('An image.')).min(1).max(MAX_IMAGES)]).meta({
        description: `The image(s) to edit, in order: one part \`image\`, repeated \`image\` parts, repeated \`image[]\` parts, or indexed \`image[0]\`, \`image[1]\`… (one of these forms is required). GPT image models: 1 to ${MAX_IMAGES} png, webp or jpeg images, 50 MB each by default. DALL·E: one square PNG under 4 MB. The format is read from the bytes, not from the part's Content-Type.`,
      }),
      'image[]': z.array(binary('An image.')).min(1).max(MAX_IMAGES).meta({ description: 'The images, as repeated `image[]` parts.' }),
      mask: binary('A PNG with an alpha channel, the size of the first image, under 4 MB; its fully transparent pixels mark where to edit.'),
      ...optionalScalars,
    }),
  })
  .meta({ description: 'A multipart edit. Every value arrives as text: an empty value means "not given", numbers may be `2` or `"2"`, booleans `true` or `"true"`.' });

export const imageRef = z
  .union([
    z.strictObject({ image_url: z.string().min(1).meta({ description: 'An `https://` URL or a `data:image/…;base64,…` URL.' }) }),
    z.strictObject({ file_id: z.string().min(1).meta({ description: 'Not supported yet: every file id answers 404 `file_not_found`.' }) }),
  ])
  .meta({ description: 'An input image, by URL or by file id: exactly one of the two.' });

export const editJsonRequest = z
  .strictObject({
    images: z.array(imageRef).min(1).max(MAX_IMAGES).meta({ description: 'The images to edit, in order.' }),
    mask: imageRef.nullable().optional(),
    prompt,
    ...nullable(optionalScalars),
  })
  .meta({ description: 'A JSON edit (OpenAI\'s newer form), for every model. `null` means "not given".' });

const { input_fidelity: _fidelity, ...generationScalars } = { ...optionalScalars, style: scalars().style };

export const generationRequest = z
  .strictObject({ prompt: scalars().prompt.meta({ description: 'What to draw.' }), ...nullable(generationScalars) })
  .meta({ description: 'A generation: a picture from a prompt alone. `null` means "not given"; `input_fidelity` is an edit parameter and is refused here.' });

const variationScalars = { model: optionalScalars.model, n: optionalScalars.n, size: optionalScalars.size, response_format: optionalScalars.response_format, user: optionalScalars.user };

export const variationMultipartRequest = z
  .strictObject({
    image: binary('One square PNG under 4 MB.'),
    ...optional(variationScalars),
  })
  .meta({ description: "A multipart variation (DALL·E 2's operation, whatever the model is called): new pictures like the image, with no prompt. Default model `dall-e-2`." });

export const usage = z
  .strictObject({
    input_tokens: z.int().nonnegative(),
    input_tokens_details: z.strictObject({ text_tokens: z.int().nonnegative(), image_tokens: z.int().nonnegative() }),
    output_tokens: z.int().nonnegative(),
    total_tokens: z.int().nonnegative(),
  })
  .meta({ description: "Tokens, counted as OpenAI counts them for GPT image models (an upstream's own figures when it reports them)." });

export const imageDatum = z
  .strictObject({
    b64_json: z.string().optional().meta({ description: 'The image, base64 (response_format b64_json).' }),
    url: z.url().optional().meta({ description: "A link to the gateway's copy of the image (response_format url); valid 60 minutes by default." }),
  })
  .meta({ description: 'One image: `b64_json` or `url`.' });

/** a WIDTHxHEIGHT the model produced */
const producedSize = z.string().regex(SIZE_PATTERN);

export const imagesResponse = z
  .strictObject({
    created: z.int().meta({ description: 'Unix seconds.' }),
    data: z.array(imageDatum),
    background: z.enum(RESOLVED_BACKGROUNDS as [string, ...string[]]).optional(),
    output_format: z.enum(OUTPUT_FORMATS).optional(),
    size: producedSize.optional(),
    quality: z.enum(RESOLVED_QUALITIES as [string, ...string[]]).optional(),
    usage: usage.optional(),
  })
  .meta({ description: 'The answer. `background`, `output_format`, `size`, `quality` are resolved values (never `auto`); DALL·E answers carry only `created` and `data`.' });

const eventCommon = {
  b64_json: z.string(),
  created_at: z.int().meta({ description: 'Unix seconds.' }),
  size: producedSize,
  output_format: z.enum(OUTPUT_FORMATS),
};

/** the stream's events, named `image_edit.…` for edits and `image_generation.…` for generations */
function streamEvents(prefix: 'image_edit' | 'image_generation') {
  const partial = z
    .strictObject({
      type: z.literal(`${prefix}.partial_image`),
      ...eventCommon,
      quality: z.enum(GPT_QUALITIES).meta({ description: 'As asked (may be `auto`).' }),
      background: z.enum(BACKGROUNDS).meta({ description: 'As asked (may be `auto`).' }),
      partial_image_index: z.int().min(0).max(PARTIAL_IMAGES_RANGE.max - 1),
    })
    .meta({ description: 'A partial image, as the stream goes.' });
  const completed = z
    .strictObject({
      type: z.literal(`${prefix}.completed`),
      ...eventCommon,
      quality: z.enum(RESOLVED_QUALITIES as [string, ...string[]]),
      background: z.enum(RESOLVED_BACKGROUNDS as [string, ...string[]]),
      usage,
    })
    .meta({ description: "One per image delivered; each carries the whole request's usage." });
  return { partial, completed, any: z.union([partial, completed]) };
}

const editEvents = streamEvents('image_edit');
const generationEvents = streamEvents('image_generation');
export const partialImageEvent = editEvents.partial;
export const completedEvent = editEvents.completed;
export const streamEvent = editEvents.any;

export const errorResponse = z
  .strictObject({
    error: z.strictObject({
      message: z.string(),
      type: z.string().meta({ description: '`invalid_request_error`, `insufficient_quota`, `requests`, `server_error`, `image_generation_user_error`…' }),
      param: z.string().nullable(),
      code: z.string().nullable(),
    }),
  })
  .meta({ description: "OpenAI's error envelope: all four keys are always there." });

/** Indexed image parts (`image[0]`, `image[1]`…) of a multipart edit; any other name is an unknown parameter. */
export const INDEXED_IMAGE_PART = '^image\\[\\d+\\]$';

/** The contract's schemas by component name (OpenAI's names), requests read as input, answers as output. */
export const contractSchemas = {
  requests: {
    CreateImageEditRequest: editMultipartRequest,
    EditImageBodyJsonParam: editJsonRequest,
    ImageRefParam: imageRef,
    CreateImageRequest: generationRequest,
    CreateImageVariationRequest: variationMultipartRequest,
  },
  responses: {
    ImagesResponse: imagesResponse,
    Image: imageDatum,
    ImagesUsage: usage,
    ImageEditPartialImageEvent: partialImageEvent,
    ImageEditCompletedEvent: completedEvent,
    ImageEditStreamEvent: streamEvent,
    ImageGenPartialImageEvent: generationEvents.partial,
    ImageGenCompletedEvent: generationEvents.completed,
    ImageGenStreamEvent: generationEvents.any,
    ErrorResponse: errorResponse,
  },
} as const;
