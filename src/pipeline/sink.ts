/**
 * Where the pipeline's answer goes. The HTTP layer implements it (a JSON
 * answer, or server-sent events); the pipeline decides what to say and when.
 */
import type { GatewayError } from '../errors.js';
import type { CompletedEvent, PartialImageEvent } from '../contract/response.js';
import type { StoredAnswer } from './idempotency.js';

export type EditAnswer =
  /** a serialised ImagesResponse (UTF-8 JSON) */
  | { kind: 'json'; payload: Buffer }
  /** a stream's closing events, one per image */
  | { kind: 'events'; events: CompletedEvent[] };

/** What the client is told about how its request was served (x-imagegate-deployment, x-imagegate-warning). */
export interface AnswerMeta {
  /** the deployment that served it */
  deployment: string;
  /** things the client should know: instructions not understood, parameters dropped */
  warnings: string[];
  /** what the request was charged (x-imagegate-cost-usd); known only with the answer */
  costMicros?: number;
}

export interface EditSink {
  /**
   * A stream's partial image, written at once. The first one sends the
   * status and the meta; from then on the answer is committed.
   */
  partial(meta: AnswerMeta, event: PartialImageEvent): void;
  /** true once any byte of the answer has been sent */
  readonly committed: boolean;
  /** the answer (the meta is not sent again when the stream has already started) */
  succeed(meta: AnswerMeta, answer: EditAnswer): void;
  /** an error: the envelope with its status, or an error event when the stream has started */
  fail(err: GatewayError): void;
  /** the client left: nobody to answer */
  gone(): void;
  /** an idempotent resend: the first answer again, as it was */
  replay(answer: StoredAnswer): void;
}
