import type { Command } from 'commander';
import { formatBinding, parseBinding } from '../../auth/bindings.js';
import { createToken, findTokens, listTokens, revokeTokens, type ApiToken } from '../../auth/tokens.js';
import { UsageError } from '../../errors.js';
import { describeToken } from '../../server/tokens.js';
import { checkDuration } from '../../spec/duration.js';
import type { CliContext } from '../io.js';
import { formatTime, printJson, printLine, printTable } from '../output.js';
import { currentActor } from '../spec.js';
import { withStore } from '../store.js';

/**
 * API tokens for `promote server --auth tokens`. Whoever can reach the state store is its local admin,
 * so this is also how the first admin token is made.
 */
export function registerToken(program: Command, context: () => CliContext): void {
  const token = program.command('token').description('API tokens: create (the secret is shown once), list, revoke');

  token
    .command('create')
    .description('create an API token and print its secret once; it is stored only as a hash')
    .requiredOption('--name <name>', 'the person or system it is for, as the audit trail will name them')
    .option('--role <role[:app[/environment]]>', 'a role it grants, in every app and environment or only in one (repeatable)', collect, [])
    .option('--expires <duration>', 'it stops working after this long, e.g. 90d or 12h (default: never)')
    .option('--json', 'print the secret and the token as JSON')
    .addHelpText(
      'after',
      '\nRoles: viewer, operator (deploy outside production, pause, abort), approver (votes), admin (everything, tokens).\n\nExamples:\n  $ promote token create --name alice --role admin\n  $ promote token create --name ci --role operator:orders/staging --expires 30d\n  $ promote token create --name bob --role viewer --role approver:orders/production\n\nDetails: docs/security.md\n',
    )
    .action(async (options: { name: string; role: string[]; expires?: string; json?: boolean }) => {
      const ctx = context();
      if (options.role.length === 0) throw new UsageError('--role is required: which role the token grants, e.g. --role admin or --role operator:orders/staging');
      const bindings = options.role.map((text) => parseBinding(text));
      let expiresAt: Date | null = null;
      if (options.expires !== undefined) {
        const parsed = checkDuration(options.expires);
        if (!parsed.ok) throw new UsageError(`--expires ${JSON.stringify(options.expires)}: ${parsed.problem}`);
        expiresAt = new Date(Date.now() + parsed.ms);
      }
      const created = await withStore(ctx, (store) => createToken(store.pool, { name: options.name, bindings, expiresAt, actor: currentActor(ctx) }));
      if (options.json) return printJson(ctx.io, { secret: created.secret, token: describeToken(created.token) });
      printLine(ctx.io, `token #${created.token.id} for ${created.token.name}: ${bindings.map(formatBinding).join(', ')}${expiresAt ? `, expires ${formatTime(expiresAt)}` : ''}`);
      printLine(ctx.io, created.secret);
      printLine(ctx.io, 'Keep it now: it is not shown again (only its hash is stored). Use it as Authorization: Bearer <token>, or sign in to the dashboard with it.');
      return undefined;
    });

  token
    .command('list')
    .description('the tokens: name, roles, prefix, expiry, last use (never the secrets)')
    .option('--all', 'revoked tokens too')
    .option('--json', 'print as JSON')
    .action(async (options: { all?: boolean; json?: boolean }) => {
      const ctx = context();
      const tokens = await withStore(ctx, (store) => listTokens(store.pool, { includeRevoked: Boolean(options.all) }));
      if (options.json) return printJson(ctx.io, tokens.map(describeToken));
      if (tokens.length === 0) return printLine(ctx.io, 'no tokens; create one with promote token create --name <you> --role admin');
      printTable(ctx.io, tokens, [
        { header: 'ID', value: (each: ApiToken) => String(each.id) },
        { header: 'NAME', value: (each: ApiToken) => each.name },
        { header: 'ROLES', value: (each: ApiToken) => each.bindings.map(formatBinding).join(', ') },
        { header: 'PREFIX', value: (each: ApiToken) => `${each.prefix}…` },
        { header: 'EXPIRES', value: (each: ApiToken) => (each.expiresAt ? formatTime(each.expiresAt) : 'never') },
        { header: 'LAST USED', value: (each: ApiToken) => (each.lastUsedAt ? formatTime(each.lastUsedAt) : 'never') },
        { header: 'STATE', value: (each: ApiToken) => (each.revokedAt ? `revoked by ${each.revokedBy ?? '?'}` : each.expiresAt && each.expiresAt <= new Date() ? 'expired' : 'active') },
      ]);
      return undefined;
    });

  token
    .command('revoke')
    .description('revoke a token at once: by id, or every active token of a name')
    .argument('<id-or-name>', 'a token id from promote token list, or a name')
    .option('--reason <text>', 'why, for the audit trail')
    .action(async (idOrName: string, options: { reason?: string }) => {
      const ctx = context();
      const revoked = await withStore(ctx, async (store) => revokeTokens(store.pool, await findTokens(store.pool, idOrName), currentActor(ctx), options.reason));
      for (const each of revoked) printLine(ctx.io, `revoked token #${each.id} (${each.name}, ${each.prefix}…)`);
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
