/** A shared secret is created once and read the same by every node (here: two connections). */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openStores, type OpenedStores } from '../../src/store/index.js';
import { sharedSecret } from '../../src/store/settings.js';
import { backends } from './backends.js';

for (const backend of backends) {
  describe(`shared settings on ${backend.name}`, () => {
    let one: OpenedStores;
    let two: OpenedStores;
    let place: Awaited<ReturnType<typeof backend.prepare>>;
    before(async () => {
      place = await backend.prepare();
      one = await openStores({ databaseUrl: place.databaseUrl, dataDir: place.dataDir });
      two = await openStores({ databaseUrl: place.databaseUrl, dataDir: place.dataDir });
    });
    after(async () => {
      await one.close();
      await two.close();
      await place.cleanup();
    });
    test('two nodes asking at once get the same 32 bytes', async () => {
      const [a, b] = await Promise.all([sharedSecret(one.db, 'k'), sharedSecret(two.db, 'k')]);
      assert.equal(a.length, 32);
      assert.ok(a.equals(b));
      assert.ok(!(await sharedSecret(one.db, 'other')).equals(a));
    });
  });
}
