/**
 * The least a gateway on Node does, for bench/overhead.ts to measure beside
 * imagegate: node:http takes the request, undici (the client imagegate's
 * providers use) sends its body to the upstream with the upstream's key, and
 * the answer is read whole and sent back. No parsing, no checks, no log:
 * what is left is the cost of a second HTTP hop on this machine.
 *
 *   node bench/lib/bare-proxy.mjs <upstream url> <upstream key> [store|stream]
 *
 * store (the default) reads the whole body into memory before it sends it
 * on, as imagegate does; stream sends each piece on as it arrives (cut-through
 * forwarding, the floor of any design).
 *
 * Prints `listening on <port>` once it listens on a free loopback port.
 */
import http from 'node:http';
import { Agent } from 'undici';

const [upstream, key, mode = 'store'] = process.argv.slice(2);
const target = new URL(upstream);
const agent = new Agent({ keepAliveTimeout: 10_000 });

const server = http.createServer(async (req, res) => {
  try {
    let body = req;
    let length = req.headers['content-length'] ?? '';
    if (mode === 'store') {
      const chunks = [];
      for await (const c of req) chunks.push(c);
      body = Buffer.concat(chunks);
      length = String(body.length);
    }
    const up = await agent.request({
      origin: target.origin,
      path: target.pathname,
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': req.headers['content-type'] ?? '', 'content-length': length },
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
