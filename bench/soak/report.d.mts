// Types of report.mjs for the TypeScript test (test/e2e/soak.test.ts).
import type { SoakReport } from './soak.mjs';

export declare function formatSoak(report: SoakReport): string;
