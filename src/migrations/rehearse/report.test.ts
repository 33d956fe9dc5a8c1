import { describe, expect, it } from 'vitest';
import { renameColumnIfExists } from '../ops/guards.js';
import { togetherStep } from '../steps.js';
import { dropNeedsBackfillColumnStep, dropTriggerStep } from '../triggers.js';
import { shorten } from './report.js';

/** The report's statement column is 88 characters wide. */
const clip = (text: string) => (text.length <= 88 ? text : `${text.slice(0, 87)}…`);

describe('a statement as the rehearsal report shows it', () => {
  it('a table\'s switch: what it does to the table, triggers named by the column they fill, each action once', () => {
    // complete's switch of the demo's orders (add_column total_cents, drop_column total), as complete-schedule.ts joins it
    const switchStep = togetherStep([
      dropTriggerStep('public', 'orders', '_promote_new_total_cents'),
      dropNeedsBackfillColumnStep('public', 'orders'),
      renameColumnIfExists('public', 'orders', '_promote_new_total_cents', 'total_cents'),
      dropTriggerStep('public', 'orders', 'total'),
      { sql: 'alter table if exists "public"."orders" drop column if exists "total"' },
      dropNeedsBackfillColumnStep('public', 'orders'),
    ]);
    expect(shorten(switchStep.sql, 'public', 'orders')).toBe(clip('switch orders: rename _promote_new_total_cents to total_cents; drop column total; drop triggers of total_cents, total; drop bookkeeping columns'));
    // the demo's rollback of the same table, as rollback-under-load.test.ts runs it
    const rollback = togetherStep([
      dropTriggerStep('public', 'orders', 'total'),
      dropNeedsBackfillColumnStep('public', 'orders'),
      dropTriggerStep('public', 'orders', '_promote_new_total_cents'),
      { sql: 'alter table if exists "public"."orders" drop column if exists "_promote_new_total_cents"' },
      dropNeedsBackfillColumnStep('public', 'orders'),
    ]);
    expect(shorten(rollback.sql, 'public', 'orders')).toBe(clip('switch orders: drop column _promote_new_total_cents; drop triggers of total, total_cents; drop bookkeeping columns'));
  });

  it('any other statement: quotes, IF EXISTS and the schema left out; a DO block as what it executes', () => {
    expect(shorten('alter table if exists "public"."orders" drop column if exists "total"', 'public')).toBe('alter table orders drop column total');
    expect(shorten(renameColumnIfExists('public', 'orders', '_promote_new_total_cents', 'total_cents').sql, 'public')).toBe('do: alter table orders rename column _promote_new_total_cents to total_cents');
  });
});
