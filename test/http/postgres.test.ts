/**
 * The whole gateway on PostgreSQL instead of SQLite: keys and the request log
 * go through the same query layer into a real server (a schema of its own).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import pg from 'pg';
import { makePng } from '../helpers/images.js';
import { startTestApp, type TestApp } from '../helpers/server.js';
import { TEST_PG_URL, dropSchema, withSchema } from '../store/backends.js';

const schema = `ig_e2e_${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
let t: TestApp;

before(async () => {
  t = await startTestApp({ env: { DATABASE_URL: withSchema(TEST_PG_URL, schema) } });
});
after(async () => {
  await t.close();
  await dropSchema(schema);
});

test('an edit with a virtual key is served and logged in PostgreSQL', async () => {
  assert.equal(t.app.stores.dialect, 'postgres');
  const key = await t.app.stores.keys.create({ name: 'pg user' });
  const fd = new FormData();
  fd.append('image', new Blob([await makePng(200, 200)], { type: 'image/png' }), 'a.png');
  fd.append('prompt', 'make it black and white');
  fd.append('quality', 'low');
  const res = await fetch(`${t.url}/v1/images/edits`, { method: 'POST', headers: { authorization: `Bearer ${key.key}` }, body: fd });
  assert.equal(res.status, 200);
  const id = res.headers.get('x-request-id');

  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    const rows = await client.query(`select key_id, model, deployment, status, total_tokens from "${schema}".request_log where id = $1`, [id]);
    assert.equal(rows.rowCount, 1);
    // text 5 + image 194 (200x200: one tile) + output 272 (low, 1024x1024)
    assert.deepEqual(rows.rows[0], { key_id: key.id, model: 'gpt-image-1', deployment: 'local', status: 200, total_tokens: '471' });
    const keys = await client.query(`select key_hash from "${schema}".api_keys where id = $1`, [key.id]);
    assert.equal(keys.rows[0].key_hash, crypto.createHash('sha256').update(key.key).digest('hex'));
  } finally {
    await client.end();
  }
});
