import { useEffect, useState } from 'preact/hooks';
import { ApiError } from './api';
import { ErrorMessage } from './components/error-message';
import { Loading } from './components/loading';
import { SignInPage } from './components/sign-in';
import { chosenRole, environmentsOf, signOut, useMe, viewDashboardAs, type Me } from './me';
import { FlagsPage } from './pages/flags/index';
import { MigrationsPage } from './pages/migrations/index';
import { OverviewPage } from './pages/overview/index';
import { ReportPage } from './pages/report/index';
import { RolloutPage } from './pages/rollout/index';
import { href, useRoute, type Route } from './router';

const TITLES: Record<Route['page'], string> = { overview: 'Overview', rollout: 'Rollout', flags: 'Flags', migrations: 'Migrations', report: 'Report', unknown: 'Not found' };

export function App() {
  const route = useRoute();
  const { me, error, signIn } = useMe();
  const first = environmentsOf(me)[0];
  const noRole = error instanceof ApiError && error.status === 403;
  useEffect(() => {
    document.title = `${signIn ? 'Sign in' : TITLES[route.page]} · Promote`;
  }, [route.page, signIn]);
  const nav: Array<{ label: string; to: string; active: boolean }> = [
    { label: 'Overview', to: href.overview(), active: route.page === 'overview' || route.page === 'rollout' },
    { label: 'Flags', to: href.flags(route.page === 'flags' ? route.params.environment : first), active: route.page === 'flags' },
    { label: 'Migrations', to: href.migrations(route.page === 'migrations' ? route.params.environment : first), active: route.page === 'migrations' },
    { label: 'Report', to: href.report(), active: route.page === 'report' },
  ];
  return (
    <>
      <a class="skip" href="#main" onClick={(event) => { event.preventDefault(); document.getElementById('main')?.focus(); }}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Promote</span>
        {signIn ? null : (
          <nav aria-label="Dashboard">
            <ul>
              {nav.map((item) => (
                <li key={item.label}>
                  <a href={item.to} aria-current={item.active ? 'page' : undefined}>
                    {item.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        )}
        {me ? <RoleSelect /> : null}
        {me ? <SignedIn me={me} /> : null}
      </header>
      <main id="main" tabIndex={-1}>
        {/* no page (and so no data) until the server has said who the caller is */}
        {signIn ? <SignInPage reason={signIn} /> : null}
        {error ? <ErrorMessage error={error} title="Could not read your role" /> : null}
        {/* signed in with a token that holds no role in this app: every page would be refused */}
        {noRole ? <SignOutButton /> : null}
        {!signIn && !me && !error ? <Loading what="who you are" /> : null}
        {me || (error && !noRole) ? <Page route={route} /> : null}
      </main>
    </>
  );
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'overview':
      return <OverviewPage params={route.params} />;
    case 'rollout':
      return <RolloutPage params={route.params} />;
    case 'flags':
      return <FlagsPage params={route.params} />;
    case 'migrations':
      return <MigrationsPage params={route.params} />;
    case 'report':
      return <ReportPage params={route.params} />;
    default:
      return (
        <>
          <h1>Not found</h1>
          <p>
            No page at <code>{route.params.path}</code>. <a href={href.overview()}>Back to the overview</a>.
          </p>
        </>
      );
  }
}

/** "View as": a lower role than the server's (sent as x-promote-role), to see what a viewer or operator sees. */
function RoleSelect() {
  const { me } = useMe();
  const roles = me?.roles ?? [];
  const chosen = chosenRole();
  return (
    <label class="role">
      View as{' '}
      <select data-testid="role-select" value={chosen !== '' && roles.includes(chosen as never) ? chosen : (me?.serverRole ?? '')} onChange={(event) => void viewDashboardAs(event.currentTarget.value === me?.serverRole ? '' : event.currentTarget.value)}>
        {roles.length === 0 ? <option value="">…</option> : null}
        {roles.map((role) => (
          <option key={role} value={role}>
            {role}
            {role === me?.serverRole ? (me.via === 'session' || me.via === 'token' ? ' (your role)' : ' (server role)') : ''}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Who is signed in (the token's name and the role it grants) and "Sign out", when the caller came with a session. */
function SignedIn({ me }: { me: Me }) {
  if (me.via !== 'session') return null;
  return (
    <div class="who row" data-testid="signed-in">
      <span title={me.grants ? `Roles: ${me.grants.join(', ')}` : undefined}>
        Signed in as <strong>{me.actor}</strong> ({me.serverRole})
      </span>
      <SignOutButton />
    </div>
  );
}

function SignOutButton() {
  const [error, setError] = useState<unknown>();
  return (
    <>
      <button type="button" onClick={() => void signOut().catch(setError)}>
        Sign out
      </button>
      <ErrorMessage error={error} title="Could not sign out" />
    </>
  );
}
