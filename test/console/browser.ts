/**
 * Headless Chromium for the console's tests and screenshots: Debian's
 * chromium driven by playwright-core (no browser download). The flags keep
 * Chromium from reaching out to Google's services, which this machine's
 * closed network refuses.
 */
import fs from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the browser tests cannot run here (a reason for `skip`), or false when they can. */
export function chromiumMissing(): string | false {
  if (fs.existsSync(CHROMIUM_PATH)) return false;
  return `no Chromium at ${CHROMIUM_PATH}: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH; .ci/run installs it`;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
