// The jsfive measurement of BENCHMARKS.md's Keras section: jsfive is not a dependency of recur, so run this from a
// scratch folder that has it:
//   mkdir /tmp/jsfive && cd /tmp/jsfive && npm init -y && npm install jsfive@0.4.2 esbuild
//   node /path/to/recur/scripts/measure-jsfive.mjs /path/to/shared/eval/keras
//   echo "import { File } from 'jsfive'; export { File };" > entry.mjs
//   npx esbuild entry.mjs --bundle --minify --format=esm --outfile=out.js && wc -c out.js && gzip -c out.js | wc -c
// It prints the import time, then per .h5/.hdf5 file the time to open it and read every dataset.
import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import process from 'node:process';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: node scripts/measure-jsfive.mjs KERAS_DIR (run where jsfive is installed)\n');
  process.exit(2);
}
// Resolved from the working directory, where jsfive is installed, not from recur's node_modules.
const jsfivePath = createRequire(join(process.cwd(), 'noop.js')).resolve('jsfive');
const t0 = performance.now();
const jsfive = await import(jsfivePath);
const File = jsfive.File ?? jsfive.default.File; // its CommonJS build, as Node resolves it
process.stdout.write(`${JSON.stringify({ importMs: +(performance.now() - t0).toFixed(1) })}\n`);
for (const f of readdirSync(dir)
  .filter((f) => /\.(h5|hdf5)$/.test(f))
  .sort()) {
  const buf = readFileSync(join(dir, f));
  const started = performance.now();
  let datasets = 0;
  let error = null;
  try {
    const walk = (group) => {
      for (const key of group.keys) {
        const child = group.get(key);
        if ('shape' in child) {
          void child.value;
          datasets++;
        } else walk(child);
      }
    };
    walk(new File(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength), f));
  } catch (e) {
    error = String(e);
  }
  const ms = +(performance.now() - started).toFixed(1);
  process.stdout.write(`${JSON.stringify({ file: f, ms, datasets, error })}\n`);
}
