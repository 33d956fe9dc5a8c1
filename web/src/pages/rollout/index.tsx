import type { Params } from '../../router';

export function RolloutPage(_props: { params: Params }) {
  return (
    <>
      <h1>Rollout</h1>
      <p>This page is not built yet.</p>
    </>
  );
}
