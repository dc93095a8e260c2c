import type { Config } from '../config/index.js';
import type { Clock } from '../clock.js';
import type { Router } from '../routing/router.js';
import type { OpenedStores } from '../store/index.js';
import type { SharedLimits } from '../store/limits/types.js';
import type { HostedImageSaver, PipelineDeps } from '../pipeline/edit.js';
import type { Readable } from 'node:stream';
import type { Billing } from '../billing/accounts.js';
import type { Metrics } from '../metrics/index.js';

export interface HostedImageReader {
  resolve(
    name: string,
    query: { expires?: string; sig?: string },
  ): Promise<{ stream: Readable; size: number; contentType: string } | null>;
}

/** Everything the HTTP layer is handed at start; no module-level state. */
export interface HttpDeps {
  config: Config;
  clock: Clock;
  stores: OpenedStores;
  router: Router;
  hosted: HostedImageSaver & HostedImageReader;
  masterKey: string;
  /** where request spools live: <dataDir>/tmp */
  spoolDir: string;
  /** extra CA certificates for image_url fetches */
  imageUrlCa: Buffer | null;
  /** what the edit pipeline runs on */
  pipeline: PipelineDeps;
  /** prices, groups and credit */
  billing: Billing;
  /** what GET /metrics exposes */
  metrics: Metrics;
  /** rate limits, locks, breaker announcements (Redis or in process), for readiness */
  sharedLimits: SharedLimits;
  /** set when the node drains for shutdown */
  lifecycle: Lifecycle;
}

export interface Lifecycle {
  draining: boolean;
  /** the abort controllers of the edits in progress */
  active: Set<AbortController>;
}
