/**
 * The neutral vocabulary every layer after contract/ speaks. contract/ builds
 * an EditRequest from the wire; providers receive it and answer an EditResult.
 * Nothing here knows about HTTP, multipart or any one provider.
 */

import type { HeldBytes } from './held-bytes.js';

export type ImageFormat = 'png' | 'jpeg' | 'webp';
export type Quality = 'low' | 'medium' | 'high' | 'standard' | 'hd';
/** what the request asks for: POST /v1/images/edits, /generations or /variations */
export type Operation = 'edit' | 'generation' | 'variation';
export type Background = 'transparent' | 'opaque';
export type ModelFamily = 'gpt-image' | 'dall-e';

export interface Size {
  width: number;
  height: number;
}

/** An input image spooled (to disk, or in memory when small) and probed from its bytes (never from a declared type). */
export interface InputImage {
  /** how errors name this image: 'image', 'image[1]', 'images[0].image_url', 'mask' */
  param: string;
  /** the file on disk; '' when the image is held in memory (`data`) */
  path: string;
  /** the whole file when it is held in memory (its pieces, joined on first use); read it rather than `path` when present */
  data?: HeldBytes;
  /** size in bytes */
  bytes: number;
  format: ImageFormat;
  width: number;
  height: number;
  hasAlpha: boolean;
  filename: string | null;
}

/**
 * One image request, whatever its route: edits, generations (no input image)
 * and variations (one image, no prompt) share it, so every layer after
 * contract/ has one request type.
 */
export interface EditRequest {
  /** id the gateway assigned to this request (also the x-request-id header) */
  id: string;
  operation: Operation;
  model: {
    /** as the client sent it (null when omitted) */
    requested: string | null;
    /** the name after defaults and aliases */
    id: string;
    family: ModelFamily;
  };
  prompt: string;
  /** ordered; generations reuse this type with zero images */
  images: InputImage[];
  /** already checked: PNG with alpha, same size as images[0]; alpha 0 = edit here */
  mask: InputImage | null;
  n: number;
  /** 'auto' or a concrete size the model allows */
  size: 'auto' | Size;
  quality: 'auto' | Quality;
  background: 'auto' | Background;
  outputFormat: ImageFormat;
  /** 0-100, null when not given (providers use their default, 100) */
  outputCompression: number | null;
  inputFidelity: 'low' | 'high' | null;
  moderation: 'auto' | 'low';
  responseFormat: 'url' | 'b64_json';
  stream: boolean;
  partialImages: number;
  user: string | null;
  /** DALL·E 3 generations: 'vivid' or 'natural'; null elsewhere */
  style: 'vivid' | 'natural' | null;
}

export interface OutputImage {
  bytes: Buffer;
  /** the bytes as base64, when already known (an upstream's own text for bytes passed through unchanged) */
  base64?: string;
  format: ImageFormat;
  width: number;
  height: number;
}

export interface PartialImage {
  /** which of the n outputs this partial belongs to */
  imageIndex: number;
  /** 0-based index among that output's partials */
  partialIndex: number;
  image: OutputImage;
}

export interface Usage {
  input_tokens: number;
  input_tokens_details: { text_tokens: number; image_tokens: number };
  output_tokens: number;
  total_tokens: number;
}

export interface EditResult {
  images: OutputImage[];
  /** resolved values, never 'auto' */
  size: Size;
  quality: Quality;
  background: Background;
  outputFormat: ImageFormat;
  /** set when the upstream reported usage; otherwise billing/ counts it */
  usage: Usage | null;
  /** partial images actually sent to the client (each costs output tokens) */
  partialImagesSent: number;
  /** things the engine wants the client to know (x-imagegate-warning) */
  warnings: string[];
}

/** What a provider gets besides the request: cancellation and the partial-image sink. */
export interface CallOptions {
  signal: AbortSignal;
  /** called as partial images become available (only when request.stream) */
  onPartial?: (partial: PartialImage) => void;
}
