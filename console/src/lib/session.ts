/**
 * Who is signed in. Only the key the user typed is kept, in sessionStorage
 * (gone when the tab closes, never sent anywhere but the Authorization
 * header); what the key may do is asked of the gateway at every start.
 */
import { api, ApiError } from './api.js';

const STORAGE_KEY = 'imagegate.key';

export interface Session {
  key: string;
  /** the master key sees everything; a virtual key its own usage and balance */
  role: 'master' | 'key';
  /** the key's name ('master' for the master key) */
  name: string;
}

export function storedKey(): string | null {
  try {
    return sessionStorage.getItem(STORAGE_KEY);
  } catch {
    return null;
  }
}

export function storeKey(key: string | null): void {
  try {
    if (key === null) sessionStorage.removeItem(STORAGE_KEY);
    else sessionStorage.setItem(STORAGE_KEY, key);
  } catch {
    // storage disabled: the session lasts as long as the page
  }
}

/** Checks a key with the gateway: valid at all (/v1/account), and whether it is the master key (/admin/*). */
export async function signIn(key: string): Promise<Session> {
  const account = await api<{ name: string }>('/v1/account', { key });
  try {
    await api('/admin/groups', { key });
    return { key, role: 'master', name: account.name };
  } catch (e) {
    if (e instanceof ApiError && e.status === 403) return { key, role: 'key', name: account.name };
    throw e;
  }
}
