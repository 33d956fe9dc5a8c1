import { useState } from 'preact/hooks';
import { Dialog } from '../../components/dialog';
import { ErrorMessage } from '../../components/error-message';
import type { Flag } from './index';

/** Asks why before turning a flag on or off; a refusal (403, 409) stays in the dialog, as the API said it. */
export function ToggleDialog({ flag, environment, onConfirm, onClose }: { flag: Flag; environment: string; onConfirm: (reason: string) => Promise<void>; onClose: () => void }) {
  const [reason, setReason] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const turn = flag.definition.enabled === true ? 'off' : 'on';
  const submit = async (event: Event) => {
    event.preventDefault();
    if (reason.trim() === '') {
      setError(new Error('say why: the reason goes into the flag history and the audit trail'));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await onConfirm(reason.trim());
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title={`Turn ${flag.name} ${turn} in ${environment}`} onClose={onClose}>
      <form onSubmit={(event) => void submit(event)}>
        <p>
          {flag.name} is {turn === 'on' ? 'off' : 'on'} now (version {flag.version}).
        </p>
        <label class="block">
          Reason
          <textarea name="reason" rows={3} required maxLength={1000} value={reason} onInput={(event) => setReason(event.currentTarget.value)} />
        </label>
        <ErrorMessage error={error} title={`Could not turn ${flag.name} ${turn}`} />
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            Turn {turn}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
