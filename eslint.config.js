// One linter for the whole repo: typescript-eslint's recommended rules, and the import boundaries of ARCHITECTURE.md.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/, lowest first. A folder may import only the folders listed as its dependencies; the library
 * folders (everything but node and cli) may not import Node built-ins, so the core stays browser-safe.
 * ARCHITECTURE.md explains the map; keep the two in step.
 */
const LAYERS = {
  core: [],
  layers: ['core'],
  models: ['core', 'layers'],
  parallel: ['core', 'layers', 'models'],
  text: ['core', 'layers', 'models'],
  forecast: ['core', 'layers', 'models'],
  keras: ['core', 'layers', 'models'],
  classify: ['core', 'layers', 'models', 'text'],
  seq2seq: ['core', 'layers', 'models', 'text'],
  export: ['core', 'layers', 'models', 'text'],
  inference: ['core', 'layers', 'models', 'text', 'classify', 'seq2seq'],
  web: [
    'core',
    'layers',
    'models',
    'parallel',
    'text',
    'forecast',
    'classify',
    'seq2seq',
    'keras',
    'export',
    'inference',
  ],
  node: [
    'core',
    'layers',
    'models',
    'parallel',
    'text',
    'forecast',
    'classify',
    'seq2seq',
    'keras',
    'export',
    'inference',
  ],
  cli: [
    'core',
    'layers',
    'models',
    'parallel',
    'text',
    'forecast',
    'classify',
    'seq2seq',
    'keras',
    'export',
    'inference',
    'node',
  ],
};
const NODE_ALLOWED = new Set(['node', 'cli']);

function boundaries() {
  return Object.entries(LAYERS).map(([folder, allowed]) => {
    const forbidden = Object.keys(LAYERS).filter((f) => f !== folder && !allowed.includes(f));
    const patterns = [
      {
        group: forbidden.flatMap((f) => [`../${f}/*`, `../../${f}/*`, `../${f}`, `../../${f}`]),
        message: `src/${folder} may import only ${allowed.length ? allowed.join(', ') : 'nothing else in src'} (ARCHITECTURE.md).`,
      },
    ];
    if (!NODE_ALLOWED.has(folder)) {
      patterns.push({
        group: ['node:*', 'fs', 'path', 'os', 'url', 'worker_threads', 'child_process', 'crypto'],
        message: `src/${folder} is browser-safe: Node built-ins belong in src/node (ARCHITECTURE.md).`,
      });
    }
    return {
      files: [`src/${folder}/**/*.ts`],
      rules: { 'no-restricted-imports': ['error', { patterns }] },
    };
  });
}

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'build/', 'scratch/', 'runs/', 'assembly/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  ...boundaries(),
  {
    // The browser entry point: everything but the Node adapters and the CLI.
    files: ['src/index.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['./node/*', './cli/*', 'node:*'], message: 'src/index.ts is browser-safe.' }],
        },
      ],
    },
  },
);
