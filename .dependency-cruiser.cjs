/**
 * The layers of src/ (docs/decisions.md, "The house"): arrows point down only, and no file
 * imports itself back through others. `npm test` runs this over the real import graph.
 *
 *   cli -> ipc, supervisor;  supervisor -> actors, storage, protocol, core;
 *   storage -> protocol, core;  ipc -> protocol, core;  protocol, actors -> core;  core -> node only.
 */
const layer = (name) => `^src/${name}/`;
const notIn = (...names) => `^src/(?!(${names.join('|')})/)`;

/** Each layer and the layers (besides itself) it may import. */
const MAY_IMPORT = {
  cli: ['ipc', 'supervisor', 'storage', 'protocol', 'actors', 'core'],
  supervisor: ['actors', 'storage', 'protocol', 'core'],
  ipc: ['protocol', 'core'],
  storage: ['protocol', 'core'],
  protocol: ['core'],
  actors: ['core'],
  core: [],
};

module.exports = {
  forbidden: [
    {
      name: 'no-cycle',
      severity: 'error',
      comment: 'A file reaches itself again through its imports: split what both need into a third file below them.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...Object.entries(MAY_IMPORT).map(([name, allowed]) => ({
      name: `${name}-imports-down-only`,
      severity: 'error',
      comment: `src/${name} may import only ${allowed.length ? allowed.map((a) => `src/${a}`).join(', ') : 'node built-ins'} (and itself).`,
      from: { path: layer(name) },
      to: { path: notIn(name, ...allowed), pathNot: '^node_modules/' },
    })),
    {
      name: 'core-imports-node-only',
      severity: 'error',
      comment: 'src/core is the leaf: node built-ins only, no packages.',
      from: { path: layer('core') },
      to: { dependencyTypes: ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-bundled', 'npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'daemon-never-imports-ipc-or-cli',
      severity: 'error',
      comment: 'The composition root is handed the control server by the CLI; it never reaches up.',
      from: { path: '^src/supervisor/daemon/' },
      to: { path: '^src/(ipc|cli)/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that does not resolve to a file.',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^(src|node_modules)/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.cjs', '.mjs', '.json'],
    },
  },
};
