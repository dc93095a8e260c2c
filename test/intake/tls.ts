/**
 * A throwaway self-signed certificate (openssl CLI) and an https server on
 * loopback that plays image host: images, redirects, errors, slowness.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';

export interface Cert {
  key: string;
  cert: string;
}

export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function selfSigned(): Cert {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'intake-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-nodes', '-days', '1',
        '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
        '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
        '-subj', '/CN=localhost',
        '-addext', 'subjectAltName=DNS:localhost,DNS:public.test,DNS:img.test,DNS:internal.test,IP:127.0.0.1,IP:::1',
      ],
      { stdio: 'ignore' },
    );
    return {
      key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'),
      cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8'),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface ImageHost {
  port: number;
  /** paths requested, in order */
  hits: string[];
  close(): Promise<void>;
}

/** Routes: /img (the given bytes), /big?n=, /chunked?n=, /redirect?to=, /loop, /status?code=, /hang */
export async function startImageHost(cert: Cert, image: Buffer): Promise<ImageHost> {
  const hits: string[] = [];
  const server = https.createServer({ key: cert.key, cert: cert.cert }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://x');
    hits.push(url.pathname);
    const n = Number(url.searchParams.get('n') ?? 0);
    switch (url.pathname) {
      case '/img':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': image.length });
        return void res.end(image);
      case '/big':
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': n });
        return void res.end(Buffer.alloc(n, 1));
      case '/chunked': {
        res.writeHead(200, { 'content-type': 'image/png' });
        for (let i = 0; i < n; i += 1000) res.write(Buffer.alloc(Math.min(1000, n - i), 2));
        return void res.end();
      }
      case '/redirect':
        res.writeHead(302, { location: url.searchParams.get('to') ?? '/img' });
        return void res.end();
      case '/loop':
        res.writeHead(301, { location: '/loop' });
        return void res.end();
      case '/status':
        res.writeHead(Number(url.searchParams.get('code') ?? 500), { 'content-type': 'text/plain' });
        return void res.end('nope');
      case '/hang':
        return; // never answers
      default:
        res.writeHead(404);
        res.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    hits,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
