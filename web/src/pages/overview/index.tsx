import type { Params } from '../../router';

export function OverviewPage(_props: { params: Params }) {
  return (
    <>
      <h1>Overview</h1>
      <p>This page is not built yet.</p>
    </>
  );
}
