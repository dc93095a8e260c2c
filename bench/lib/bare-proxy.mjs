/**
 * The least a gateway on Node does, for bench/overhead.ts to measure beside
 * imagegate: node:http takes the request, its whole body is read into
 * memory, undici (the client imagegate's providers use) sends it to the
 * upstream with the upstream's key, and the answer is read whole and sent
 * back. No parsing, no checks, no log: what is left is the cost of a second
 * HTTP hop on this machine.
 *
 *   node bench/lib/bare-proxy.mjs <upstream url> <upstream key>
 *
 * Prints `listening on <port>` once it listens on a free loopback port.
 */
import http from 'node:http';
import { Agent } from 'undici';

const [upstream, key] = process.argv.slice(2);
const target = new URL(upstream);
const agent = new Agent({ keepAliveTimeout: 10_000 });

const server = http.createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const up = await agent.request({
      origin: target.origin,
      path: target.pathname,
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': req.headers['content-type'] ?? '', 'content-length': String(body.length) },
      body,
    });
    const answer = Buffer.from(await up.body.arrayBuffer());
    res.writeHead(up.statusCode, { 'content-type': up.headers['content-type'] ?? 'application/json', 'content-length': answer.length });
    res.end(answer);
  } catch (e) {
    res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(String(e));
  }
});
server.listen(0, '127.0.0.1', () => console.log(`listening on ${server.address().port}`));
