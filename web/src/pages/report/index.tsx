import type { Params } from '../../router';

// placeholder of the shell (H3); H4 owns this page and replaces it
export function ReportPage(_props: { params: Params }) {
  return (
    <>
      <h1>Report</h1>
      <p>This page is not built yet.</p>
    </>
  );
}
