import { environmentsOf, useMe } from '../me';

/**
 * The environment a page shows, chosen from the app's environments in promotion order; choosing
 * one changes the page's hash route (`to(environment)`), so the choice is a link one can share.
 */
export function EnvironmentPicker({ current, to }: { current: string | undefined; to: (environment: string) => string }) {
  const { me } = useMe();
  const environments = environmentsOf(me);
  return (
    <label class="environment-picker">
      Environment{' '}
      <select value={current ?? ''} onChange={(event) => (window.location.hash = to(event.currentTarget.value))}>
        {current === undefined || !environments.includes(current) ? <option value={current ?? ''}>{current ?? 'choose…'}</option> : null}
        {environments.map((environment) => (
          <option key={environment} value={environment}>
            {environment}
          </option>
        ))}
      </select>
    </label>
  );
}
