/** The promote.yaml that `promote init` writes: valid as is, with comments that explain each part. */

export interface InitTemplateOptions {
  /** App name; must match ^[a-z][a-z0-9-]{0,62}$ (the caller checks). */
  app: string;
}

export function initTemplate(options: InitTemplateOptions): string {
  return `# yaml-language-server: $schema=./node_modules/promote/schema/promote.schema.json
#
# How releases of ${options.app} move from staging to production.
# Check it with \`promote validate\`; \`promote schema --format markdown\` describes every field.
# \${VAR} is replaced by an environment variable when the file is loaded; \${VAR:-x} has a default.
version: 1

app:
  name: ${options.app}

# Migrations run in two phases: expand adds the new schema while the old version still works;
# contract removes the old shape once no running version needs it.
migrations:
  dir: migrations
  lockTimeout: 500ms # a migration waiting for a lock gives up instead of blocking the app

# Environments in promotion order: a release reaches production only after passing staging,
# with the same artifact digest and the same migrations.
environments:
  - name: staging
    database: \${STAGING_DATABASE_URL} # the app database; keep passwords out of this file
    target:
      type: process # Promote starts and stops the instances itself
      command: node server.js # one instance; it must listen on $PORT
      instances: 1
      readiness: { path: /healthz, timeout: 30s }
    router:
      listen: 127.0.0.1:8081 # clients connect here; the weights decide which version answers
      admin: 127.0.0.1:9465 # /metrics and /state; each router needs its own (production keeps 9464)
    strategy: blue-green

  - name: production
    database: \${PRODUCTION_DATABASE_URL}
    target:
      type: process
      command: node server.js
      instances: 2
      readiness: { path: /healthz, timeout: 30s }
      drainTimeout: 30s # in-flight requests may finish this long before an instance is stopped
    router:
      listen: 127.0.0.1:8080
      sticky: { cookie: promote_sticky } # a client keeps its version while weights change
    strategy: canary

# Strategies are lists of steps run in order. A failed test or analysis rolls back.
strategies:
  canary:
    type: canary
    steps:
      - migrate: expand # before any traffic reaches the new version
      - test: { name: smoke, http: { path: /healthz, expectStatus: 200 } }
      - setWeight: 10 # 10% of requests go to the new version
      - analysis: { templates: [error-rate] }
      - setWeight: 50
      - analysis: { templates: [error-rate] }
      - promote: {} # all traffic to the new version; the old one is stopped
      - migrate: contract # only now is the old schema unused

  blue-green:
    type: blueGreen
    scaleDownDelay: 30s # the old version stays up this long for an instant rollback
    steps:
      - migrate: expand
      - test: { name: smoke, http: { path: /healthz } }
      - promote: {}
      - migrate: contract

# Analysis judges the new version from measurements; a failed analysis rolls back.
analysis:
  templates:
    error-rate:
      provider: { type: builtin, metric: error_rate } # measured by the router, per version
      judge: { type: threshold, condition: "value < 0.01" } # under 1% errors
      interval: 30s
      count: 5
      failureLimit: 1
`;
}
