/**
 * The imagegate web console: sign in with a key, then the pages the key may
 * see. Pages are chosen by the URL's hash (#/requests?model=…), so the
 * gateway serves one page and filters survive a reload; no key ever goes
 * into a URL.
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import { setBearer, whenUnauthorized } from './lib/api.js';
import { navigate, useRoute } from './lib/hooks.js';
import { signIn, storedKey, storeKey, type Session } from './lib/session.js';
import { KeysPage } from './pages/keys.js';
import { ModelsPage } from './pages/models.js';
import { OverviewPage } from './pages/overview.js';
import { PlaygroundPage } from './pages/playground.js';
import { RequestsPage } from './pages/requests.js';
import { SignIn } from './pages/signin.js';

interface PageDef {
  path: string;
  title: string;
  masterOnly: boolean;
}

const PAGES: PageDef[] = [
  { path: '/overview', title: 'Overview', masterOnly: false },
  { path: '/requests', title: 'Requests', masterOnly: false },
  { path: '/keys', title: 'Keys and groups', masterOnly: true },
  { path: '/models', title: 'Models and providers', masterOnly: true },
  { path: '/playground', title: 'Playground', masterOnly: false },
];

function Page(props: { session: Session; path: string; params: URLSearchParams }) {
  const { session, path, params } = props;
  const def = PAGES.find((p) => p.path === path);
  if (!def) return <div class="note">No such page. <a href="#/overview">Overview</a></div>;
  if (def.masterOnly && session.role !== 'master') return <div class="note warn">This page needs the master key.</div>;
  switch (path) {
    case '/overview':
      return <OverviewPage session={session} />;
    case '/requests':
      return <RequestsPage session={session} params={params} />;
    case '/keys':
      return <KeysPage />;
    case '/models':
      return <ModelsPage />;
    default:
      return <PlaygroundPage />;
  }
}

function App() {
  const [session, setSession] = useState<Session | null>(null);
  // a key kept from earlier in this tab is checked again before anything is shown
  const [checking, setChecking] = useState(() => storedKey() !== null);
  const route = useRoute();

  const signOut = () => {
    storeKey(null);
    setBearer(null);
    setSession(null);
  };

  useEffect(() => {
    whenUnauthorized(signOut);
    const key = storedKey();
    if (!key) return;
    signIn(key)
      .then((s) => {
        setBearer(s.key);
        setSession(s);
      })
      .catch(() => storeKey(null))
      .finally(() => setChecking(false));
  }, []);

  if (checking) return <div class="loading center">Checking your key…</div>;
  if (!session) {
    return (
      <SignIn
        onSignedIn={(s) => {
          storeKey(s.key);
          setBearer(s.key);
          setSession(s);
        }}
      />
    );
  }
  const current = PAGES.find((p) => p.path === route.path);
  return (
    <div class="shell">
      <nav class="side" aria-label="pages">
        <div class="brand">
          image<b>gate</b>
        </div>
        {PAGES.filter((p) => session.role === 'master' || !p.masterOnly).map((p) => (
          <a href={`#${p.path}`} class={p.path === route.path ? 'active' : ''} aria-current={p.path === route.path ? 'page' : undefined}>
            {p.title}
          </a>
        ))}
        <div class="side-foot">
          <div class="who" data-testid="who">
            {session.role === 'master' ? 'master key' : `key: ${session.name}`}
          </div>
          <button type="button" class="ghost" onClick={signOut}>
            Sign out
          </button>
        </div>
      </nav>
      <main>
        <h1>{current?.title ?? 'imagegate'}</h1>
        <Page session={session} path={route.path} params={route.params} />
      </main>
    </div>
  );
}

if (!location.hash) navigate('/overview');
render(<App />, document.getElementById('app')!);
