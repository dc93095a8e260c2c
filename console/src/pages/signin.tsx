import { useState } from 'preact/hooks';
import { ApiError } from '../lib/api.js';
import { signIn, type Session } from '../lib/session.js';

export function SignIn(props: { onSignedIn: (s: Session) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      props.onSignedIn(await signIn(key.trim()));
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That key is not valid (or it was revoked, disabled or expired).' : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="signin">
      <form onSubmit={submit} class="panel">
        <div class="brand big">
          image<b>gate</b>
        </div>
        <p class="muted">Sign in with the master key to operate the gateway, or with a virtual key to see its own usage and balance.</p>
        <label>
          API key
          <input
            type="password"
            name="key"
            autoComplete="off"
            spellcheck={false}
            placeholder="sk-ig-…"
            value={key}
            onInput={(e) => setKey(e.currentTarget.value)}
            required
            autoFocus
          />
        </label>
        {error && (
          <div class="note bad" role="alert">
            {error}
          </div>
        )}
        <button type="submit" disabled={busy || key.trim() === ''}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <p class="muted small">The key stays in this tab (sessionStorage) and is sent only to this gateway, as a Bearer token.</p>
      </form>
    </div>
  );
}
