/**
 * Writes test/fixtures/openai-images-edits.json: the image-edit schemas of
 * OpenAI's OpenAPI document, which the agreement test compares the
 * gateway's document with. Run after the reference document changes:
 *   npx tsx scripts/extract-openai-images.ts [path/to/openai-openapi.yaml]
 */
import fs from 'node:fs';
import { FIXTURE, readReference, referenceDocumentPath } from '../test/helpers/openai-reference.js';

const file = process.argv[2] ?? referenceDocumentPath();
if (!file) {
  console.error('no openai-openapi.yaml found: pass its path');
  process.exit(1);
}
fs.writeFileSync(FIXTURE, `${JSON.stringify(readReference(file), null, 2)}\n`);
console.log(`wrote ${FIXTURE} from ${file}`);
