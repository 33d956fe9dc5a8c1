import { ApiError } from '../api';

/** The API's refusal or failure as it said it: the error, then its hint (what to do about it). */
export function ErrorMessage({ error, title }: { error: unknown; title?: string }) {
  if (error === undefined || error === null) return null;
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : JSON.stringify(error);
  const hint = error instanceof ApiError ? error.hint : undefined;
  const status = error instanceof ApiError && error.status > 0 ? ` (HTTP ${error.status})` : '';
  return (
    <div class="error" role="alert" data-testid="api-error">
      <p class="error-message">
        {title ? <strong>{title}: </strong> : null}
        {message}
        {status}
      </p>
      {hint ? <p class="error-hint">{hint}</p> : null}
    </div>
  );
}
