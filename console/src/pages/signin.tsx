import { useState } from 'preact/hooks';
import { ErrorNote } from '../components.js';
import { ApiError } from '../lib/api.js';
import { useSubmit } from '../lib/hooks.js';
import { signIn, type Session } from '../lib/session.js';

export function SignIn(props: { onSignedIn: (s: Session) => void }) {
  const [key, setKey] = useState('');
  const { error, busy, submit } = useSubmit(async () => {
    try {
      props.onSignedIn(await signIn(key.trim()));
    } catch (err) {
      throw err instanceof ApiError && err.status === 401 ? new Error('That key is not valid (or it was revoked, disabled or expired).') : err;
    }
  });
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
        <ErrorNote error={error} />
        <button type="submit" disabled={busy || key.trim() === ''}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
        <p class="muted small">The key stays in this tab (sessionStorage) and is sent only to this gateway, as a Bearer token.</p>
      </form>
    </div>
  );
}
