/**
 * The playground's request as curl, Node (openai) and Python (openai) code.
 * The key is never written into them: they read IMAGEGATE_KEY from the
 * environment, so a snippet can be pasted anywhere. Pure, tested in Node.
 */
export interface EditSnippetInput {
  /** the gateway's base URL, e.g. http://127.0.0.1:8080 */
  baseUrl: string;
  model: string;
  prompt: string;
  /** file names of the images, in order */
  images: string[];
  mask: string | null;
  /** form fields besides model, prompt, images and mask, as sent (only those that differ from the defaults) */
  options: Record<string, string>;
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
// a JSON string literal is a valid JavaScript and Python string literal
const lit = (s: string) => JSON.stringify(s);

const isStream = (o: Record<string, string>) => o.stream === 'true';
const NUMERIC = new Set(['n', 'partial_images', 'output_compression']);

export function curlSnippet(x: EditSnippetInput): string {
  const lines = [`curl ${isStream(x.options) ? '-N ' : ''}${x.baseUrl}/v1/images/edits`, '  -H "Authorization: Bearer $IMAGEGATE_KEY"'];
  lines.push(`  -F model=${shellQuote(x.model)}`);
  const field = x.images.length > 1 ? 'image[]' : 'image';
  for (const img of x.images) lines.push(`  -F ${shellQuote(`${field}=@${img}`)}`);
  if (x.mask) lines.push(`  -F ${shellQuote(`mask=@${x.mask}`)}`);
  lines.push(`  -F prompt=${shellQuote(x.prompt)}`);
  for (const [k, v] of Object.entries(x.options)) lines.push(`  -F ${shellQuote(`${k}=${v}`)}`);
  return lines.join(' \\\n');
}

function pyValue(k: string, v: string): string {
  if (NUMERIC.has(k)) return v;
  if (v === 'true' || v === 'false') return v === 'true' ? 'True' : 'False';
  return lit(v);
}

function jsValue(k: string, v: string): string {
  if (NUMERIC.has(k) || v === 'true' || v === 'false') return v;
  return lit(v);
}

export function nodeSnippet(x: EditSnippetInput): string {
  const mime = (f: string) => (/\.jpe?g$/i.test(f) ? 'image/jpeg' : /\.webp$/i.test(f) ? 'image/webp' : 'image/png');
  const file = (f: string) => `await toFile(fs.createReadStream(${lit(f)}), ${lit(f)}, { type: ${lit(mime(f))} })`;
  const params = [
    `  model: ${lit(x.model)},`,
    // toFile keeps the order of several images (plain read streams arrive in the order they finish loading)
    x.images.length === 1 ? `  image: ${file(x.images[0])},` : `  image: [\n${x.images.map((f) => `    ${file(f)},`).join('\n')}\n  ],`,
    ...(x.mask ? [`  mask: ${file(x.mask)},`] : []),
    `  prompt: ${lit(x.prompt)},`,
    ...Object.entries(x.options).map(([k, v]) => `  ${k}: ${jsValue(k, v)},`),
  ];
  const head = [
    "import fs from 'node:fs';",
    "import OpenAI, { toFile } from 'openai';",
    '',
    `const client = new OpenAI({ apiKey: process.env.IMAGEGATE_KEY, baseURL: ${lit(`${x.baseUrl}/v1`)} });`,
  ];
  if (isStream(x.options)) {
    return [
      ...head,
      'const stream = await client.images.edit({',
      ...params,
      '});',
      'for await (const event of stream) {',
      "  const png = Buffer.from(event.b64_json, 'base64');",
      "  if (event.type === 'image_edit.partial_image') fs.writeFileSync(`partial-${event.partial_image_index}.png`, png);",
      "  if (event.type === 'image_edit.completed') fs.writeFileSync('out.png', png);",
      '}',
    ].join('\n');
  }
  const url = x.options.response_format === 'url';
  return [
    ...head,
    'const res = await client.images.edit({',
    ...params,
    '});',
    url
      ? 'console.log(res.data.map((d) => d.url));'
      : "res.data.forEach((d, i) => fs.writeFileSync(`out-${i}.png`, Buffer.from(d.b64_json, 'base64')));",
  ].join('\n');
}

export function pythonSnippet(x: EditSnippetInput): string {
  const file = (f: string) => `open(${lit(f)}, "rb")`;
  const params = [
    `    model=${lit(x.model)},`,
    x.images.length === 1 ? `    image=${file(x.images[0])},` : `    image=[${x.images.map(file).join(', ')}],`,
    ...(x.mask ? [`    mask=${file(x.mask)},`] : []),
    `    prompt=${lit(x.prompt)},`,
    ...Object.entries(x.options).map(([k, v]) => `    ${k}=${pyValue(k, v)},`),
  ];
  const head = ['import base64, os', 'from openai import OpenAI', '', `client = OpenAI(api_key=os.environ["IMAGEGATE_KEY"], base_url=${lit(`${x.baseUrl}/v1`)})`];
  if (isStream(x.options)) {
    return [
      ...head,
      'stream = client.images.edit(',
      ...params,
      ')',
      'for event in stream:',
      '    if event.type == "image_edit.completed":',
      '        open("out.png", "wb").write(base64.b64decode(event.b64_json))',
    ].join('\n');
  }
  return [
    ...head,
    'res = client.images.edit(',
    ...params,
    ')',
    x.options.response_format === 'url'
      ? 'print([d.url for d in res.data])'
      : 'for i, d in enumerate(res.data):\n    open(f"out-{i}.png", "wb").write(base64.b64decode(d.b64_json))',
  ].join('\n');
}
