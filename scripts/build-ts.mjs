// `tsc -p tsconfig.json` unless nothing it compiles changed since its last successful run (see build_stamp.mjs):
// even an incremental no-op compile loads the whole program (≈ 6 CPU-seconds and 360 MB here), which `npm start` on a
// built tree should not pay.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { buildStamp } from './build_stamp.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stamp = buildStamp(
  root,
  'ts',
  ['src', 'test', 'bench', 'examples', 'tsconfig.json', 'package-lock.json', 'scripts/build-ts.mjs'],
  ['dist/src/cli/main.js', 'dist/src/index.js', 'dist/.tsbuildinfo'],
);
if (stamp.fresh) {
  process.stdout.write('build:ts: dist is up to date\n');
  process.exit(0);
}
const tsc = spawnSync(
  process.execPath,
  [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
  {
    cwd: root,
    stdio: 'inherit',
  },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
stamp.record();
