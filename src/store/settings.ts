/**
 * Values every node must share, kept in the database: the first node to ask
 * creates the value, every other node reads the same one. With PostgreSQL
 * this is what makes a hosted URL signed on one node valid on another
 * without configuring a secret by hand.
 */
import crypto from 'node:crypto';
import type { Db } from './db.js';

/** the named secret (hex, 32 random bytes), created once for all nodes */
export async function sharedSecret(db: Db, name: string): Promise<Buffer> {
  await db.kysely
    .insertInto('settings')
    .values({ name, value: crypto.randomBytes(32).toString('hex') })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await db.kysely.selectFrom('settings').select('value').where('name', '=', name).executeTakeFirstOrThrow();
  return Buffer.from(row.value, 'hex');
}
