/**
 * The provider specification: what every adapter declares and implements.
 *
 * An adapter is small. It declares what a deployment can honour
 * (`capabilities`), translates one call to its wire format and back, and does
 * the little I/O that needs (submit, poll, download) through the `ProviderIO`
 * it is handed. Everything common lives in pipeline/ and routing/: splitting
 * `n` into calls, refusing what a deployment cannot honour, converting the
 * mask to the declared polarity, converting output formats and sizes,
 * retries, fallback, breakers and timeouts. Adapters never import http/ or
 * contract/.
 */
import type { HeldBytes } from '../held-bytes.js';
import type { Clock } from '../clock.js';
import type { ProviderConfig } from '../config/index.js';
import type { Background, EditRequest, ImageFormat, Operation, Quality, Size, Usage } from '../types.js';
import type { UpstreamHttp } from './http.js';

/**
 * How a provider takes a mask, so the pipeline can hand it one already in
 * its convention (images/mask.ts converts, tested on decoded pixels):
 * - 'alpha': OpenAI's own, a PNG whose transparent pixels (alpha 0) mark the edit;
 * - 'white': a grayscale PNG, white (255) = edit, black (0) = keep;
 * - 'image-alpha': no separate mask; the first image is sent as RGBA with the
 *   mask's alpha as its own (transparent = edit), as ComfyUI's LoadImage reads it.
 */
export type MaskForm = 'alpha' | 'white' | 'image-alpha';

/** How `size` reaches the provider. */
export type SizeSupport =
  /** exact pixel sizes: a list, or 'free' for any size the contract allows */
  | { kind: 'exact'; sizes: readonly Size[] | 'free' }
  /** aspect ratios such as '3:2'; the adapter sends the nearest (aspect.ts) */
  | { kind: 'aspect'; ratios: readonly string[] }
  /** the output follows the input; an explicit size cannot be honoured */
  | { kind: 'none' };

export interface Capabilities {
  /** input images one call takes (0: generation only) */
  maxImages: number;
  /** null: a mask cannot be honoured */
  mask: MaskForm | null;
  sizes: SizeSupport;
  /** formats the provider can produce; the gateway converts to any other */
  outputFormats: readonly ImageFormat[];
  /** whether `output_compression` reaches the provider (else the gateway asks for a lossless format and compresses itself) */
  outputCompression: boolean;
  /** background values it honours besides 'auto' */
  background: readonly Background[];
  /** quality values it honours besides 'auto' (low/medium/high, or standard for DALL·E) */
  quality: readonly Quality[];
  inputFidelity: boolean;
  /** honours moderation 'low' */
  moderation: boolean;
  /** streams real partial images */
  partialImages: boolean;
  /** images one call can return; the pipeline splits `n` into calls of at most this many */
  maxImagesPerCall: number;
  /** informational: answers synchronously or by a job to poll */
  mode: 'sync' | 'polling';
  /** what it can be asked for: edits, generations (no input image), variations (DALL·E 2's) */
  operations: readonly Operation[];
  /** a prompt is required (else an empty prompt is allowed, e.g. Stability's erase) */
  promptRequired?: boolean;
  /**
   * Set when the deployment cannot serve this request whatever is dropped,
   * because something it needs is missing or unusable (Stability's `auto`
   * endpoint without a mask or a transparent background; its search-and-replace
   * without "replace X with Y"). The plan answers 400 with `code`, naming
   * `param`, before anything is sent; the message follows "Model 'm'
   * (deployment d) ", e.g. "needs a mask …".
   */
  refusal?: { param: string; code: string; message: string };
}

/** One call to a deployment: part of a request (n split), with everything already prepared. */
export interface ProviderCall {
  /** the neutral request after `dropUnsupported` took out what the deployment cannot honour */
  request: EditRequest;
  /** the deployment's upstream model (the Azure deployment, the BFL endpoint, `owner/name`…) */
  model: string;
  /** images this call must return (≤ maxImagesPerCall) */
  n: number;
  /** 0-based position of this call among the request's calls */
  index: number;
  /** the mask in the form the capabilities declared; null without one */
  mask: PreparedImage | null;
  /** for 'image-alpha': the first image with the mask in its alpha; else null */
  maskedImage: PreparedImage | null;
  /** the format to ask the provider for (one of capabilities.outputFormats) */
  outputFormat: ImageFormat;
  /** a seed for providers that take one, distinct per call so that n > 1 varies */
  seed: number;
  /** only when the client streams and the provider declared partialImages; imageIndex counts within this call */
  onPartial?: (partial: { imageIndex: number; partialIndex: number; bytes: Buffer }) => void;
}

/** An image ready to send: on disk (an upload) or in memory (a converted mask). */
export interface PreparedImage {
  path?: string;
  bytes?: Buffer;
  /** an upload held in memory as it arrived: sent as its pieces where it goes out unchanged */
  held?: HeldBytes;
  /** in bytes */
  size: number;
  format: ImageFormat;
  width: number;
  height: number;
}

/** What one call answered. The pipeline probes and converts the images. */
export interface ProviderResult {
  images: Buffer[];
  /**
   * The same images as base64 text, where the provider sent them so and the
   * text is plain base64 of exactly these bytes (reusableBase64): an image
   * that passes through unchanged is answered with it, not encoded again.
   */
  base64?: Array<string | undefined>;
  /** as the provider reported it, when it reports usage in OpenAI's terms */
  usage: Usage | null;
  /** resolved values the provider reported, when it reports them */
  size?: Size;
  quality?: Quality;
  background?: Background;
  /** partial images passed to onPartial */
  partialImagesSent: number;
  warnings: string[];
}

/** The I/O an adapter gets for one attempt. */
export interface ProviderIO {
  /** bound to this provider: base URL, key scrubbing, trusted hosts, timeouts */
  http: UpstreamHttp;
  /** aborted when the client leaves or the attempt's total timeout runs out */
  signal: AbortSignal;
  clock: Clock;
  /** waits, or rejects when the signal aborts */
  sleep(ms: number): Promise<void>;
  /** an uploaded or prepared image's bytes */
  read(image: PreparedImage): Promise<Buffer>;
}

export interface PingResult {
  /** false when a network error or timeout prevented an answer */
  reachable: boolean;
  /** true when the provider accepted the credentials; null when it could not tell */
  authOk: boolean | null;
  latencyMs: number;
  detail: string;
}

export interface Provider {
  /** the configured name, e.g. 'openai-main' */
  readonly name: string;
  readonly type: ProviderConfig['type'];
  readonly config: ProviderConfig;
  /** what a deployment of `model` can honour for this request (a mask may change the endpoint, and so the answer) */
  capabilities(model: string, request: EditRequest): Capabilities;
  /** a cheap, synchronous look before anything is sent: things the client should know (x-imagegate-warning) */
  preflight?(model: string, request: EditRequest): string[];
  edit(call: ProviderCall, io: ProviderIO): Promise<ProviderResult>;
  /** one cheap authenticated call, for `imagegate config check --ping` */
  ping?(io: ProviderIO): Promise<PingResult>;
  close?(): Promise<void>;
}

/** A named, configured use of a provider that a model routes to: `openai-main/gpt-image-1`, or `local`. */
export interface Deployment {
  name: string;
  provider: Provider;
  /** the upstream model ('' for the built-in engine) */
  model: string;
}
