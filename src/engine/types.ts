/**
 * The built-in offline engine's interface. providers/local turns an
 * EditRequest into an EngineJob; the engine runs it in worker threads and
 * answers encoded images. The engine knows nothing of HTTP or OpenAI's
 * parameter names beyond what is here.
 */
import type { Background, ImageFormat, Size } from '../types.js';
import type { ParsedInstructions } from './instructions.js';

/** Raw pixels, always 4 channels (RGBA), row-major, 8 bits per channel. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/** 'auto' output size: the allowed sizes to choose from (at least one). */
export interface AutoSize {
  auto: readonly Size[];
}

/** An input file: on disk, or its bytes when intake held it in memory (then `path` is ''). */
export interface EngineInput {
  path: string;
  bytes?: Uint8Array;
}

/**
 * What the job asks: 'edit' the input images as the prompt says; 'generate'
 * draws what the prompt says on an empty canvas (no input image);
 * 'vary' makes n faithful variations of the first image (no prompt).
 */
export type EngineJobKind = 'edit' | 'generate' | 'vary';

export interface EngineJob {
  /** default 'edit' */
  kind?: EngineJobKind;
  prompt: string;
  /** the prompt already parsed by the caller (parseInstructions with generation = kind 'generate'); else the job parses it */
  parsed?: ParsedInstructions;
  /** spooled input files, in order; already validated as png/jpeg/webp within the pixel limit */
  images: EngineInput[];
  /** PNG, same size as images[0]; alpha 0 = edit here. null = no mask */
  mask: EngineInput | null;
  /** DALL·E without a mask: the first image's own transparency is the mask */
  maskFromAlpha: boolean;
  n: number;
  /**
   * The exact output size, or `{ auto }`: the candidate whose shape is
   * nearest the edited picture's (a 90° turn of a landscape answers a
   * portrait size). The result says which size was used.
   */
  size: Size | AutoSize;
  background: 'auto' | Background;
  outputFormat: ImageFormat;
  /** 0-100 for jpeg/webp; null = engine default */
  outputCompression: number | null;
  /** 0-3: how many intermediate results to report per output image */
  partialImages: number;
}

export interface EngineImage {
  bytes: Buffer;
  width: number;
  height: number;
}

export interface EngineResult {
  images: EngineImage[];
  /** the size of every image: job.size, or the candidate 'auto' resolved to */
  size: Size;
  /** resolved: 'auto' becomes transparent when the result has transparency and the format keeps it */
  background: Background;
  /** the operations applied, in order, as human words (for logs and tests) */
  operations: string[];
  /** false when no part of the prompt was understood */
  understood: boolean;
  /** e.g. "instruction not understood: 'make it look like a cat'" */
  warnings: string[];
  /**
   * How sure the background removal was, 0-1 (the lowest if several ran);
   * absent when none ran. Below 0.6 a warning says why.
   */
  backgroundConfidence?: number;
}

export interface EngineRunOptions {
  signal?: AbortSignal;
  /** called as partial results are produced (encoded like the final ones) */
  onPartial?: (imageIndex: number, partialIndex: number, image: EngineImage) => void;
}

/** How busy the pool is right now (read by /metrics at scrape time). */
export interface EngineLoad {
  threads: number;
  /** jobs on a thread */
  running: number;
  /** jobs waiting for a thread */
  queued: number;
  /** how many may wait; more are refused */
  maxQueue: number;
}

export interface Engine {
  run(job: EngineJob, options?: EngineRunOptions): Promise<EngineResult>;
  /** how busy it is now (overload checks, metrics) */
  load(): EngineLoad;
  close(): Promise<void>;
}
