/**
 * Answering a request whose body was not read to the end (a 413 after 1 MB
 * of an 800 MB upload, a 400 for an unknown part).
 *
 * Two things go wrong by default. Keeping the connection alive would mean
 * reading the whole rest of the body before the next request. Closing the
 * socket at once while the client is still sending makes the kernel answer
 * with a reset, and many clients then lose the response they had not read
 * yet. So: announce `Connection: close`, keep swallowing input (without
 * keeping it) while the response goes out, send our FIN, and destroy the
 * socket once the client has closed its side or after a short grace period.
 */
import type http from 'node:http';
import type net from 'node:net';

export interface DiscardOptions {
  /** how long to keep swallowing input after the response was sent; default 2000 ms */
  lingerMs?: number;
}

const noop = (): void => undefined;

/**
 * Call before writing the error response. Does nothing special when the body
 * was already read completely (the connection can then stay alive).
 */
export function discardRemaining(req: http.IncomingMessage, res: http.ServerResponse, options: DiscardOptions = {}): void {
  const lingerMs = options.lingerMs ?? 2000;
  req.unpipe();
  req.on('error', noop);
  if (req.complete || req.destroyed) {
    req.resume();
    return;
  }
  if (!res.headersSent) res.setHeader('Connection', 'close');
  // swallow the rest of the body chunk by chunk, keeping nothing
  req.on('data', noop);
  req.resume();

  const socket = req.socket as net.Socket | null;
  if (!socket || socket.destroyed) return;
  socket.on('error', noop);
  // node's HTTP server ends a `Connection: close` exchange with socket.destroySoon(),
  // which closes the descriptor as soon as the response is flushed; replace it on
  // this one socket with a lingering close
  let lingering = false;
  socket.destroySoon = function lingeringClose(this: net.Socket): void {
    if (lingering) return;
    lingering = true;
    const finish = (): void => {
      clearTimeout(timer);
      this.destroy();
    };
    const timer = setTimeout(finish, lingerMs);
    timer.unref();
    this.once('end', finish);
    this.once('close', () => clearTimeout(timer));
    // half-close: the response and our FIN go out, reading continues
    this.end();
    this.resume();
  };
}
