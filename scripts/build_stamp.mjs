// Skips a build step whose inputs have not changed since it last ran (so `npm start` and `npm test` on a built tree do
// not redo minutes of work). The stamp is a SHA-256 of the inputs' paths and contents — not their mtimes, which a
// git checkout or a copy changes — kept in build/ (git-ignored). A step is redone when any input changed, when an
// output is missing, or when build/ was deleted.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

function filesUnder(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((n) => filesUnder(join(path, n)));
}

/**
 * The stamp of step `name` over `inputs` (files or directories, under `root`); `fresh` says whether the last run of
 * the step saw the same inputs and its `outputs` all exist. Call `record()` after the step succeeds.
 */
export function buildStamp(root, name, inputs, outputs) {
  const hash = createHash('sha256');
  for (const file of inputs.flatMap((p) => filesUnder(join(root, p)))) {
    hash.update(relative(root, file) + '\0');
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  const digest = hash.digest('hex');
  const stampFile = join(root, 'build', `${name}.stamp`);
  const fresh =
    existsSync(stampFile) &&
    readFileSync(stampFile, 'utf8') === digest &&
    outputs.every((p) => existsSync(join(root, p)));
  // The step is about to run and change its outputs: a failed run (tsc emits even when it reports type errors) must
  // not leave the old stamp, which would call those outputs fresh once the inputs are back as they were.
  if (!fresh) rmSync(stampFile, { force: true });
  return {
    fresh,
    record() {
      mkdirSync(join(root, 'build'), { recursive: true });
      writeFileSync(stampFile, digest);
    },
  };
}
