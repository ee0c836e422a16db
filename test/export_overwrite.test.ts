/**
 * `recur export --overwrite`: an existing project is refused without it, naming the file; with it, only the files
 * recur's export wrote (listed in recur-export.json with their hashes, unchanged since) are replaced or deleted.
 */
import assert from 'node:assert/strict';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, runCliOk, trainTinyModels, type CliResult } from './cli_helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'recur-export-overwrite-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const textModel = join(dir, 'text-model');
const classifier = join(dir, 'classifier');

before(() => trainTinyModels(dir));

function usageError(r: CliResult, message: RegExp, what: string): void {
  assert.equal(r.code, 2, `${what}: exit ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, message, what);
  assert.doesNotMatch(r.stderr, /\n\s+at /, what);
}

describe('export --overwrite', () => {
  it('refuses an existing project without it, naming the file; with it replaces only the files recur wrote', () => {
    const project = join(dir, 'torch');
    runCliOk(['export', 'pytorch', textModel, project, '-q']);
    const written = readdirSync(project).sort();
    assert.ok(written.includes('train.py') && written.includes('start'), written.join(', '));
    const trainPy = readFileSync(join(project, 'train.py'), 'utf8');

    usageError(
      runCli(['export', 'pytorch', textModel, project]),
      /torch\/\S+ already exists; add --overwrite/,
      'no --overwrite',
    );
    // The user's own file beside the project stays, and so does a file of theirs in start/ of another name.
    writeFileSync(join(project, 'notes.txt'), 'mine');
    writeFileSync(join(project, 'start', 'notes.txt'), 'mine too');
    const again = runCli(['export', 'pytorch', textModel, project, '--overwrite', '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { event: string }).event, 'exported');
    assert.equal(readFileSync(join(project, 'notes.txt'), 'utf8'), 'mine');
    assert.equal(readFileSync(join(project, 'start', 'notes.txt'), 'utf8'), 'mine too');
    assert.equal(readFileSync(join(project, 'train.py'), 'utf8'), trainPy);
    assert.equal(readdirSync(join(project, 'start')).filter((n) => n.startsWith('weights')).length, 1);

    // A project file the user changed is theirs now: refused, named, and nothing touched.
    writeFileSync(join(project, 'train.py'), trainPy + '# my change\n');
    const before = readdirSync(project).sort();
    usageError(
      runCli(['export', 'pytorch', textModel, project, '--overwrite']),
      /--overwrite: \S+torch\/train\.py was not written by recur export, or has changed since/,
      'changed train.py',
    );
    assert.equal(readFileSync(join(project, 'train.py'), 'utf8'), trainPy + '# my change\n');
    assert.deepEqual(readdirSync(project).sort(), before);
  });

  it('an export stopped partway (kill -9 in any of its writes) is redone by --overwrite, as the finished one would be', () => {
    const straight = join(dir, 'torch-straight');
    runCliOk(['export', 'pytorch', textModel, straight, '-q']);
    const contents = (p: string): string[] =>
      readdirSync(p, { recursive: true, withFileTypes: true })
        .filter((e) => e.isFile())
        .map((e) => {
          const rel = join(e.parentPath, e.name).slice(p.length + 1);
          // The weights file's name is random per save (and the manifest holds it and its hash).
          const text = readFileSync(join(e.parentPath, e.name), 'utf8');
          return `${rel.replace(/weights-[0-9a-f]+\.bin/, 'W')}: ${rel.endsWith('.bin') ? text.length : text.replace(/weights-[0-9a-f]+\.bin/g, 'W').replace(/"[0-9a-f]{64}"/g, 'H')}`;
        })
        .sort();
    for (const write of [1, 2, 3, 5]) {
      const project = join(dir, `torch-killed-${write}`);
      const killed = runCli(['export', 'pytorch', textModel, project, '-q'], {
        env: { RECUR_TEST_KILL_IN_WRITE: String(write) },
      });
      assert.equal(killed.signal, 'SIGKILL', `write ${write}: ${killed.stderr}`);
      usageError(
        runCli(['export', 'pytorch', textModel, project]),
        /already exists; add --overwrite|is not empty/,
        `write ${write}: no --overwrite`,
      );
      const again = runCli(['export', 'pytorch', textModel, project, '--overwrite', '-q']);
      assert.equal(again.code, 0, `write ${write}: ${again.stderr}`);
      assert.deepEqual(contents(project), contents(straight), `write ${write}`);
    }
  });

  it('refuses to replace files of the project names that recur did not write there', () => {
    const mine = join(dir, 'mine');
    mkdirSync(join(mine, 'start'), { recursive: true });
    writeFileSync(join(mine, 'README.md'), 'my readme');
    usageError(
      runCli(['export', 'pytorch', textModel, mine, '--overwrite']),
      /--overwrite: \S+mine\/README\.md was not written by recur export/,
      'a README.md of the user',
    );
    rmSync(join(mine, 'README.md'));
    // saveModel would delete another weights file in start/: one recur did not list is the user's.
    writeFileSync(join(mine, 'start', 'weights-0badcafe.bin'), 'not ours');
    usageError(
      runCli(['export', 'pytorch', textModel, mine, '--overwrite']),
      /--overwrite: \S+mine\/start\/weights-0badcafe\.bin was not written by recur export/,
      'a weights file in start/',
    );
    assert.equal(readFileSync(join(mine, 'start', 'weights-0badcafe.bin'), 'utf8'), 'not ours');
    // A manifest recur did not write does not make the files recur's.
    rmSync(join(mine, 'start', 'weights-0badcafe.bin'));
    writeFileSync(join(mine, 'recur-export.json'), '{"files": {}}');
    usageError(
      runCli(['export', 'pytorch', textModel, mine, '--overwrite']),
      /recur-export\.json was not written by recur export/,
      'a foreign manifest',
    );
  });

  it("an export of another kind over one: the old kind's data file, recur's, goes", () => {
    const project = join(dir, 'kinds');
    runCliOk(['export', 'pytorch', classifier, project, '-q']);
    assert.ok(existsSync(join(project, 'classify_data.json')));
    runCliOk(['export', 'pytorch', textModel, project, '--overwrite', '-q']);
    assert.ok(!existsSync(join(project, 'classify_data.json')));
    assert.ok(existsSync(join(project, 'train.py')));
  });
});
