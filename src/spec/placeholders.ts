/**
 * `{{version}}`, `{{environment}}` and `{{app}}` in external-target commands and URLs. They are filled
 * in per version at run time, unlike `${VAR}`, which is substituted once when the file is loaded.
 */
import { didYouMean } from './suggest.js';

export const templatePlaceholders = ['version', 'environment', 'app'] as const;
export type TemplatePlaceholder = (typeof templatePlaceholders)[number];

const placeholderPattern = /\{\{([^}]*)\}\}/g;

/** One message per placeholder that is not one of the known names. */
export function placeholderProblems(text: string): string[] {
  const problems: string[] = [];
  for (const match of text.matchAll(placeholderPattern)) {
    const name = match[1] ?? '';
    if ((templatePlaceholders as readonly string[]).includes(name)) continue;
    const trimmed = name.trim();
    const advice = (templatePlaceholders as readonly string[]).includes(trimmed)
      ? ` (write {{${trimmed}}} without spaces)`
      : didYouMean(trimmed, templatePlaceholders);
    problems.push(`unknown placeholder {{${name.slice(0, 40)}}}; expected {{version}}, {{environment}} or {{app}}${advice}`);
  }
  return problems;
}

/** Replaces each known placeholder with its value. */
export function fillPlaceholders(text: string, values: Readonly<Record<TemplatePlaceholder, string>>): string {
  return text.replace(placeholderPattern, (whole, name: string) =>
    (templatePlaceholders as readonly string[]).includes(name) ? values[name as TemplatePlaceholder] : whole,
  );
}
