import { useState } from 'preact/hooks';
import { post } from '../../api';
import { Dialog } from '../../components/dialog';
import { ErrorMessage } from '../../components/error-message';
import { isActivePhase, isFailedPhase } from '../../components/phase';
import { can, useMe, type Action } from '../../me';
import type { RolloutDetail } from '../../types';

interface ActionSpec {
  label: 'Promote' | 'Pause' | 'Resume' | 'Abort' | 'Rollback' | 'Approve' | 'Retry';
  action: Action;
  explain: string;
  danger?: boolean;
}

/** The actions that make sense in the rollout's phase, each shown only when the role may take it. */
function actionsFor(detail: RolloutDetail): ActionSpec[] {
  const { phase, currentStep } = detail.rollout;
  const active = isActivePhase(phase);
  const atApproval = active && detail.steps[currentStep]?.kind === 'approval';
  const list: ActionSpec[] = [];
  if (atApproval) list.push({ label: 'Approve', action: 'approve', explain: 'Vote for the approval step the rollout waits at. Your vote counts unless you started the rollout.' });
  if (active) list.push({ label: 'Promote', action: 'promote', explain: 'Skip the remaining pause, analysis and approval of the current step and move on.' });
  if (active && phase !== 'Paused') list.push({ label: 'Pause', action: 'pause', explain: 'Hold the rollout where it is; traffic stays as it is until someone resumes.' });
  if (phase === 'Paused') list.push({ label: 'Resume', action: 'resume', explain: 'Continue the rollout from where it was paused.' });
  if (active) list.push({ label: 'Abort', action: 'abort', explain: 'Stop the rollout and send all traffic back to the stable version.', danger: true });
  if (isFailedPhase(phase)) list.push({ label: 'Retry', action: 'retry', explain: 'Start this rollout again from its first step.' });
  if (!active) list.push({ label: 'Rollback', action: 'rollback', explain: 'Return the environment to the release that was Healthy there before: one step, no analysis, no migrations.', danger: true });
  return list;
}

export function RolloutActions({ detail, onDone }: { detail: RolloutDetail; onDone: () => void }) {
  const { me } = useMe();
  const [open, setOpen] = useState<ActionSpec | undefined>(undefined);
  const environment = detail.rollout.environment;
  const allowed = actionsFor(detail).filter((each) => can(me, each.action, environment));
  if (allowed.length === 0) return <p class="muted">{me ? `Your role (${me.role}) takes no action on this rollout now.` : ''}</p>;
  return (
    <div class="row actions-bar" role="group" aria-label="Rollout actions">
      {allowed.map((each) => (
        <button type="button" key={each.label} class={each.danger ? 'danger' : undefined} onClick={() => setOpen(each)}>
          {each.label}
        </button>
      ))}
      {open ? (
        <ActionDialog
          spec={open}
          detail={detail}
          actor={me?.actor ?? ''}
          signedIn={me?.via === 'session' || me?.via === 'token'}
          onClose={() => setOpen(undefined)}
          onDone={() => {
            setOpen(undefined);
            onDone();
          }}
        />
      ) : null}
    </div>
  );
}

/** `signedIn`: the server knows the caller from its token, so the approver is that name and cannot be another */
function ActionDialog({ spec, detail, actor, signedIn, onClose, onDone }: { spec: ActionSpec; detail: RolloutDetail; actor: string; signedIn: boolean; onClose: () => void; onDone: () => void }) {
  const [reason, setReason] = useState('');
  const [approver, setApprover] = useState(actor === 'api' ? '' : actor);
  const [to, setTo] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const { id, environment } = detail.rollout;
  const submit = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    if (spec.action === 'approve' && (approver.trim() === '' || reason.trim() === '')) {
      setError(new Error('an approval needs your name and a reason: both go into the audit trail'));
      return;
    }
    setBusy(true);
    try {
      const body = { ...(reason.trim() === '' ? {} : { reason: reason.trim() }), ...(spec.action === 'rollback' && to.trim() !== '' ? { to: to.trim() } : {}) };
      if (spec.action === 'approve') await post(`/api/rollouts/${id}/approvals`, { approver: approver.trim(), reason: reason.trim() });
      else await post(`/api/environments/${encodeURIComponent(environment)}/${spec.action}`, body);
      onDone();
    } catch (problem) {
      setError(problem);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title={`${spec.label} rollout #${id} in ${environment}${detail.production ? ' (production)' : ''}`} onClose={onClose}>
      <form onSubmit={(event) => void submit(event)}>
        <p>{spec.explain}</p>
        {spec.action === 'approve' ? (
          <label class="block">
            Your name
            <input name="approver" required maxLength={200} value={approver} readOnly={signedIn} onInput={(event) => setApprover(event.currentTarget.value)} />
          </label>
        ) : null}
        {spec.action === 'rollback' ? (
          <label class="block">
            Release to return to (optional; default: the one Healthy here before)
            <input name="to" maxLength={128} value={to} onInput={(event) => setTo(event.currentTarget.value)} />
          </label>
        ) : null}
        <label class="block">
          Reason{spec.action === 'approve' ? '' : ' (optional)'}
          <textarea name="reason" rows={3} maxLength={1000} required={spec.action === 'approve'} value={reason} onInput={(event) => setReason(event.currentTarget.value)} />
        </label>
        <ErrorMessage error={error} title={`Could not ${spec.label.toLowerCase()}`} />
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class={spec.danger ? 'danger' : 'primary'} disabled={busy}>
            Confirm
          </button>
        </div>
      </form>
    </Dialog>
  );
}
