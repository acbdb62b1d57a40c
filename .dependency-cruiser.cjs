/**
 * The layers of src/, each importing only those below it (see ARCHITECTURE.md):
 *
 *   shared  <-  arithmetic  <-  waiting  <-  limiters  <-  operators  <-  index.ts
 *   shared  <-  http (pure: parsing only)  <-  operators
 *   shared, arithmetic, waiting, limiters  <-  redis (its own entry point, rxjs-token-bucket/redis)
 *   shared, arithmetic, waiting, limiters  <-  otel (its own entry point, rxjs-token-bucket/otel)
 *
 * The optional peers are reached only from their entry's folder (ioredis from src/redis,
 * @opentelemetry/* from src/otel), so the core never requires a package the user may not have.
 *
 * `npm test` runs `depcruise src` with these rules; a violation fails it.
 */
const layer = (name) => `^src/${name}/`;
const below = {
  shared: [],
  arithmetic: ['shared'],
  waiting: ['shared', 'arithmetic'],
  limiters: ['shared', 'arithmetic', 'waiting'],
  http: ['shared', 'arithmetic'],
  operators: ['shared', 'arithmetic', 'waiting', 'limiters', 'http'],
  redis: ['shared', 'arithmetic', 'waiting', 'limiters'],
  otel: ['shared', 'arithmetic', 'waiting', 'limiters'],
};

/** An optional entry: its folder is reached only through its own entry point, and only it imports its peer. */
const optionalEntry = (folder, entryName, peer) => [
  {
    name: `core-never-reaches-${folder}`,
    comment: `The core (and its browser bundles) never sees src/${folder}: it is only reached through ${entryName}.`,
    severity: 'error',
    from: { path: '^src/', pathNot: `^src/${folder}/` },
    to: { path: `^src/${folder}/` },
  },
  {
    name: `only-${folder}-imports-${peer.replace(/[^a-z]/g, '')}`,
    comment: `${peer} is an optional peer: only src/${folder} (${entryName}) may import it.`,
    severity: 'error',
    from: { path: '^src/', pathNot: `^src/${folder}/` },
    to: { path: `(^|/)node_modules/${peer}` },
  },
];

const layerRules = Object.entries(below).map(([name, allowed]) => ({
  name: `${name}-imports-only-below`,
  comment: `src/${name} may import ${allowed.length === 0 ? 'nothing else in src' : `only ${allowed.map((a) => `src/${a}`).join(', ')}`}.`,
  severity: 'error',
  from: { path: layer(name) },
  to: { path: '^src/', pathNot: [layer(name), ...allowed.map(layer)] },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'An import cycle hides which part depends on which.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...optionalEntry('redis', 'rxjs-token-bucket/redis', 'ioredis'),
    ...optionalEntry('otel', 'rxjs-token-bucket/otel', '@opentelemetry/'),
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '(^|/)(test|bench|examples|dist)/' },
  },
};
