/**
 * `imagegate config check --ping`: one cheap authenticated GET per provider,
 * read as reachable / credentials accepted / latency.
 */
import { isUpstreamError } from './errors.js';
import type { UpstreamRequest } from './http.js';
import type { PingResult, ProviderIO } from './types.js';

/**
 * 2xx: the key works; 401/403: reachable, but the key was refused; any other
 * status: reachable, no verdict on the key (`acceptedStatuses` lets an adapter
 * say which statuses prove the key was accepted, e.g. a 404 for an unknown id;
 * `refused` which other answers mean a refused key, e.g. Gemini's 400
 * API_KEY_INVALID).
 */
export async function pingGet(
  io: ProviderIO,
  req: UpstreamRequest,
  acceptedStatuses: readonly number[] = [],
  refused: (status: number, body: string) => boolean = () => false,
): Promise<PingResult> {
  const started = io.clock.now();
  try {
    const res = await io.http.send({ ...req, method: 'GET', maxBytes: 4 * 1024 * 1024 });
    const latencyMs = io.clock.now() - started;
    if ((res.status >= 200 && res.status < 300) || acceptedStatuses.includes(res.status)) {
      return { reachable: true, authOk: true, latencyMs, detail: `HTTP ${res.status}` };
    }
    if (res.status === 401 || res.status === 403 || refused(res.status, res.text())) return { reachable: true, authOk: false, latencyMs, detail: `HTTP ${res.status}: credentials refused` };
    return { reachable: true, authOk: null, latencyMs, detail: `HTTP ${res.status}` };
  } catch (e) {
    return { reachable: false, authOk: null, latencyMs: io.clock.now() - started, detail: isUpstreamError(e) ? e.message : 'request failed' };
  }
}
