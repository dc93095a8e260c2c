import type { Config } from '../config/index.js';
import type { Clock } from '../clock.js';
import type { Router } from '../routing/router.js';
import type { Stores } from '../store/types.js';
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
  stores: Stores;
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
}
