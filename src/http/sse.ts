/**
 * Server-sent events on a raw response. The SDKs dispatch on the JSON's
 * `type` and raise on an `error` key; the `event:` line is for humans and
 * generic SSE clients.
 */
import type { ServerResponse } from 'node:http';
import { jsonBytes } from '../contract/response.js';

export class SseWriter {
  private started = false;

  constructor(
    private readonly res: ServerResponse,
    private readonly headers: Record<string, string>,
  ) {}

  get isStarted(): boolean {
    return this.started;
  }

  get isOpen(): boolean {
    return !this.res.writableEnded && !this.res.destroyed;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(200, {
      ...this.headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
    });
    this.res.flushHeaders();
  }

  event(name: string, data: unknown): void {
    this.start();
    if (!this.isOpen) return;
    // images are megabytes of base64: serialised as bytes (jsonBytes), written without joining them to the rest
    this.res.cork();
    this.res.write(`event: ${name}\ndata: `);
    this.res.write(jsonBytes(data));
    this.res.write('\n\n');
    this.res.uncork();
  }

  /** An error after the stream has started: one data-only event, then the end. */
  error(body: unknown): void {
    this.start();
    if (!this.isOpen) return;
    this.res.write(`data: ${JSON.stringify(body)}\n\n`);
  }

  end(): void {
    if (this.isOpen) this.res.end();
  }
}
