/**
 * The layers of src/, each importing only those below it (see ARCHITECTURE.md):
 *
 *   shared  <-  arithmetic  <-  waiting  <-  limiters  <-  operators  <-  index.ts
 *   shared  <-  http (pure: parsing only)  <-  operators
 *   everything above  <-  redis (its own entry point, rxjs-token-bucket/redis)
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
};

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
    {
      name: 'core-never-reaches-redis',
      comment: 'The core (and its browser bundles) never sees src/redis: it is only reached through rxjs-token-bucket/redis.',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/redis/' },
      to: { path: '^src/redis/' },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    exclude: { path: '(^|/)(test|bench|examples|dist)/' },
  },
};
