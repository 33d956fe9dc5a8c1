import { useEffect, useRef, useState } from 'preact/hooks';
import type { SignInNeeded } from '../api';
import { signIn } from '../me';
import { ErrorMessage } from './error-message';

/**
 * The sign-in form, shown instead of any page while the server wants a token. The token lives in this
 * form's state only until it is sent in the body of POST /api/session (never stored, never in the URL);
 * the server answers with an HttpOnly session cookie, so no script can read the session afterwards.
 * Refusals (unknown or expired token, too many failures) are shown as the API states them.
 */
export function SignInPage({ reason }: { reason: SignInNeeded }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const field = useRef<HTMLInputElement>(null);
  useEffect(() => field.current?.focus(), []);

  const submit = async (event: Event) => {
    event.preventDefault();
    const entered = token.trim();
    if (entered === '') {
      setError(new Error('enter an API token'));
      field.current?.focus();
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await signIn(entered);
      // the page the user asked for replaces this form: start reading it from the top
      document.getElementById('main')?.focus();
    } catch (problem) {
      setError(problem);
      setBusy(false);
      field.current?.select();
    }
  };

  return (
    <section class="sign-in" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">Sign in</h1>
      {/* the server's words: "this server requires an API token", or why the session ended */}
      <p data-testid="sign-in-reason">{sentence(reason.message)}</p>
      <form onSubmit={(event) => void submit(event)} noValidate>
        <label class="block">
          API token
          <input
            ref={field}
            type="password"
            name="token"
            autocomplete="off"
            spellcheck={false}
            autocapitalize="off"
            required
            aria-describedby="token-help"
            aria-invalid={error ? true : undefined}
            value={token}
            onInput={(event) => setToken(event.currentTarget.value)}
          />
        </label>
        <p id="token-help" class="muted">
          An administrator creates one with <code>promote token create --name &lt;you&gt; --role viewer</code>; it is shown once.
        </p>
        <ErrorMessage error={error} title="Could not sign in" />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </section>
  );
}

function sentence(text: string): string {
  const trimmed = text.trim();
  return trimmed === '' ? 'This Promote server asks for an API token.' : `${trimmed[0]!.toUpperCase()}${trimmed.slice(1)}${/[.!?]$/.test(trimmed) ? '' : '.'}`;
}
