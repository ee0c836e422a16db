/**
 * The build steps' stamps (scripts/build_stamp.mjs): a step is skipped only when its inputs are those of its last
 * successful run and its outputs exist. A run that fails after changing its outputs (tsc emits even when it reports
 * type errors) must not leave the stamp of the inputs before it.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface Stamp {
  fresh: boolean;
  record(): void;
}
type BuildStamp = (root: string, name: string, inputs: string[], outputs: string[]) => Stamp;

const script = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'build_stamp.mjs');
const { buildStamp } = (await import(pathToFileURL(script).href)) as { buildStamp: BuildStamp };

describe('build stamps', () => {
  const root = mkdtempSync(join(tmpdir(), 'recur-stamp-'));
  after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'src'));
  mkdirSync(join(root, 'out'));
  const write = (text: string): void => writeFileSync(join(root, 'src', 'a.ts'), text);
  const stamp = (): Stamp => buildStamp(root, 'step', ['src'], ['out/a.js']);

  it('skips a step whose inputs did not change and whose outputs exist; reruns it when either changed', () => {
    write('good');
    assert.equal(stamp().fresh, false, 'never built');
    writeFileSync(join(root, 'out', 'a.js'), 'built from good');
    stamp().record();
    assert.equal(stamp().fresh, true);
    write('changed');
    assert.equal(stamp().fresh, false, 'an input changed');
    write('good');
    rmSync(join(root, 'out', 'a.js'));
    assert.equal(stamp().fresh, false, 'an output is missing');
  });

  it('a failed run leaves no stamp: back to the old inputs, the step runs again over what the failed run wrote', () => {
    write('good');
    writeFileSync(join(root, 'out', 'a.js'), 'built from good');
    stamp().record();
    write('type error');
    assert.equal(stamp().fresh, false);
    // The step runs, writes its outputs from the broken input, fails, and records nothing.
    writeFileSync(join(root, 'out', 'a.js'), 'built from the type error');
    write('good');
    assert.equal(
      stamp().fresh,
      false,
      "the outputs are the failed run's, not those of the inputs stamped before",
    );
  });
});
