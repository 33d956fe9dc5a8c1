import type { Params } from '../../router';

// placeholder of the shell (H3); H4 owns this page and replaces it
export function FlagsPage(_props: { params: Params }) {
  return (
    <>
      <h1>Flags</h1>
      <p>This page is not built yet.</p>
    </>
  );
}
