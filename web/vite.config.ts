import { defineConfig } from 'vite';

// The dashboard: Preact's JSX compiled by esbuild (no plugin), built into dist/web, which
// `promote server` serves at `/`. Relative asset URLs (base './') so it works under any path.
const here = new URL('.', import.meta.url).pathname;

export default defineConfig({
  root: here,
  base: './',
  logLevel: 'warn',
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: '../dist/web',
    emptyOutDir: true,
    // the CSP (default-src 'self') allows no inline script; modern browsers need no preload polyfill
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
    sourcemap: false,
  },
});
