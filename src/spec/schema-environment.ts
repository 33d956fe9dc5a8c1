/** Environments: where a version runs (target), how traffic reaches it (router) and its database. */
import { z } from 'zod';
import { durationSchema } from './duration.js';
import { freezeSchema } from './schema-freeze.js';
import {
  exactlyOneOf,
  exactlyOneOfJsonSchema,
  expectations,
  headerNameSchema,
  nameSchema,
  nonEmptyString,
  templateString,
} from './schema-meta.js';

const readinessSchema = z
  .strictObject({
    path: z.string().startsWith('/').default('/healthz').describe('HTTP path that answers 2xx once an instance can take traffic.'),
    timeout: durationSchema.prefault('30s').describe('Give up on an instance that is not ready within this time.'),
    interval: durationSchema.prefault('500ms').describe('Time between readiness probes.'),
  })
  .describe('How Promote decides that a started instance is ready.');

const livenessSchema = z
  .strictObject({
    path: z.string().startsWith('/').optional().describe('HTTP path probed on a ready instance; the readiness path when omitted.'),
    interval: durationSchema.prefault('5s').describe('Time between liveness probes.'),
    failureThreshold: z.number().int().min(1).max(100).default(3).describe('Failed probes in a row after which the instance is restarted.'),
  })
  .describe('How Promote notices a ready instance that stopped answering, and restarts it (with backoff).');

const externalReadinessSchema = z
  .strictObject({
    path: z.string().startsWith('/').optional().describe('HTTP path that answers 2xx/3xx when the version is ready; without it, accepting a TCP connection is enough.'),
    timeout: durationSchema.prefault('60s').describe('How long the URLs may take to become ready after the deploy command.'),
    interval: durationSchema.prefault('500ms').describe('Time between readiness checks.'),
  })
  .describe('How Promote decides that an externally deployed version is ready.');

const processTargetSchema = z
  .strictObject({
    type: z.literal('process').describe('Promote starts and stops the instances itself.'),
    command: templateString('command').describe('Shell command that starts one instance of the app; it must listen on $PORT. Placeholders: {{version}}, {{environment}}, {{app}}.'),
    instances: z.number().int().min(1).max(64).default(1).describe('Instances to run per version.'),
    basePort: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe('Instance i listens on basePort + i (passed as PORT); free ports are picked when omitted.'),
    env: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]).transform(String))
      .optional()
      .describe('Extra environment variables for the instances; numbers and booleans are passed as text.'),
    readiness: readinessSchema.prefault({}),
    liveness: livenessSchema.prefault({}),
    drainTimeout: durationSchema.prefault('30s').describe('How long a stopping instance may finish in-flight requests before it is killed.'),
  })
  .superRefine((target, ctx) => {
    if (target.basePort !== undefined && target.basePort + target.instances - 1 > 65535) {
      ctx.addIssue({ code: 'custom', path: ['basePort'], message: `basePort ${target.basePort} + ${target.instances} instances runs past port 65535` });
    }
  })
  .describe('Run the app as local processes started by Promote.');

const externalTargetSchema = z
  .strictObject({
    type: z.literal('external').describe('Your own deploy tooling runs the versions.'),
    deploy: templateString('command').optional().describe('Command that deploys a version, e.g. `./deploy.sh {{version}}`.'),
    undeploy: templateString('command').optional().describe('Command that removes a version.'),
    url: templateString('url').optional().describe('Upstream URL of a version, e.g. `http://{{version}}.orders.internal:8080`.'),
    urls: z.array(templateString('url')).min(1).optional().describe('Several upstream URLs of a version; requests are spread across them.'),
    readiness: externalReadinessSchema.prefault({}),
    commandTimeout: durationSchema.prefault('30m').describe('Longest run of a deploy or undeploy command before it is stopped.'),
  })
  .superRefine(exactlyOneOf(['url', 'urls'], 'an external target'))
  .meta(exactlyOneOfJsonSchema(['url', 'urls']))
  .describe('Versions are deployed by your own commands and reached at URLs. Placeholders: {{version}}, {{environment}}, {{app}}.');

export const targetSchema = z
  .discriminatedUnion('type', [processTargetSchema, externalTargetSchema])
  .describe('Where versions of the app run.');

const listenAddressSchema = z
  .string()
  .superRefine((text, ctx) => {
    const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
    const port = Number(match?.[2]);
    if (match === null || port > 65535) {
      ctx.addIssue({ code: 'custom', message: `expected host:port with a port from 0 to 65535, like 127.0.0.1:8080, got "${text.slice(0, 60)}"` });
    }
  })
  .register(expectations, { expected: 'host:port, like 127.0.0.1:8080' });

const stickySchema = z
  .strictObject({
    cookie: headerNameSchema.optional().describe('Cookie whose value keeps a client on one version.'),
    header: headerNameSchema.optional().describe('Request header whose value keeps a client on one version, e.g. X-User-Id.'),
  })
  .superRefine(exactlyOneOf(['cookie', 'header'], 'sticky'))
  .meta(exactlyOneOfJsonSchema(['cookie', 'header']))
  .describe('Send the same client to the same version while weights change.');

const httpDateSchema = z
  .string()
  .refine((text) => !Number.isNaN(Date.parse(text)), { message: 'expected a date such as 2027-06-30 or 2027-06-30T00:00:00Z' })
  .register(expectations, { expected: 'a date such as 2027-06-30' });

const apiRouteSchema = z
  .strictObject({
    pathPrefix: z.string().regex(/^\/[^?#]*$/, 'expected a path starting with /').optional().describe('Requests whose path starts with this prefix (whole segments: /v1 matches /v1/x, not /v10).'),
    header: z
      .strictObject({
        name: headerNameSchema.describe('Header name, e.g. Accept-Version.'),
        value: nonEmptyString.describe('The exact value that selects this route.'),
      })
      .optional()
      .describe('Requests carrying this header value.'),
    version: nonEmptyString.describe('The release version that serves these requests, whatever the weights say.'),
    stripPrefix: z.boolean().default(false).describe('Remove the path prefix before forwarding.'),
    deprecated: z
      .strictObject({
        since: httpDateSchema.optional().describe('When the API version was deprecated (Deprecation header, RFC 9745).'),
        sunset: httpDateSchema.optional().describe('When it stops answering (Sunset header, RFC 8594).'),
        link: z.string().url().optional().describe('A page explaining the migration (Link rel="deprecation").'),
      })
      .optional()
      .describe('Mark a retired API version: its responses carry Deprecation, Sunset and Link headers.'),
  })
  .superRefine(exactlyOneOf(['pathPrefix', 'header'], 'an API route'))
  .meta(exactlyOneOfJsonSchema(['pathPrefix', 'header']))
  .describe('Send one API version to one release, by path prefix or header.');

const mirrorSchema = z
  .strictObject({
    percent: z.number().min(0).max(100).describe('Percent of eligible requests copied to the canary; the copy\'s response is discarded.'),
    methods: z
      .array(z.enum(['GET', 'HEAD', 'OPTIONS']))
      .min(1)
      .default(['GET', 'HEAD', 'OPTIONS'])
      .describe('Methods that may be mirrored; only bodiless safe methods, since a mirrored write would write twice.'),
  })
  .describe('Shadow traffic: copy a share of requests to the canary without letting it answer.');

const routerSchema = z
  .strictObject({
    listen: listenAddressSchema.default('127.0.0.1:8080').describe('Address the router accepts client traffic on; port 0 picks a free one.'),
    admin: listenAddressSchema.default('127.0.0.1:9464').describe('Address of the admin port: /metrics (Prometheus), /state, /window; never expose it to clients.'),
    apiRoutes: z.array(apiRouteSchema).optional().describe('API version routes, checked in order before weights.'),
    mirror: mirrorSchema.optional(),
    sticky: stickySchema.optional(),
    override: z
      .strictObject({
        header: headerNameSchema.default('X-Promote-Version').describe('Request header naming the version to use.'),
        cookie: headerNameSchema.default('promote_version').describe('Cookie naming the version to use.'),
      })
      .prefault({})
      .describe('Lets testers pick a version explicitly, whatever the weights say.'),
    timeouts: z
      .strictObject({
        connect: durationSchema.prefault('5s').describe('Connecting to an upstream instance.'),
        request: durationSchema.prefault('60s').describe('A whole request, from receiving it to the end of the response.'),
        answer: durationSchema
          .prefault('10s')
          .describe(
            'How long one attempt at a GET, HEAD or OPTIONS without a body (or a bodiless request with an Idempotency-Key) waits for an instance to start answering before the request is sent to another instance of the same version; the slow instance counts as failing (passive ejection). Other requests wait the whole request timeout. Keep it above the slowest legitimate time to first byte; 0s turns it off.',
          ),
        idle: durationSchema.prefault('65s').describe('Keep-alive connections idle longer than this are closed.'),
      })
      .prefault({})
      .describe('Router timeouts.'),
  })
  .describe('The built-in router (reverse proxy) that splits traffic between versions.');

const postgresUrlSchema = z
  .string()
  .superRefine((text, ctx) => {
    // The value is never echoed: it usually holds a password.
    if (!/^postgres(ql)?:\/\//i.test(text) || !URL.canParse(text)) {
      ctx.addIssue({ code: 'custom', message: 'expected a postgres:// or postgresql:// URL (the value is not shown because it may contain a password)' });
    }
  })
  .register(expectations, { expected: 'a postgres:// or postgresql:// URL' });

export const environmentSchema = z
  .strictObject({
    name: nameSchema.describe('Environment name, e.g. staging or production.'),
    database: postgresUrlSchema.describe('Connection URL of the app database in this environment; use ${VAR} to keep the password out of the file.'),
    target: targetSchema,
    router: routerSchema.optional(),
    strategy: nameSchema.describe('Name of the entry in `strategies` used to roll out to this environment.'),
    freeze: freezeSchema.optional(),
  })
  .describe('One environment; the list order is the promotion order.');
