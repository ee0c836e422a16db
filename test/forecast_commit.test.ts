/**
 * Replacing a saved forecaster (`recur forecast … --out DIR --overwrite`) never leaves DIR without one: killed at any
 * write of the run (kill -9, RECUR_TEST_KILL_IN_WRITE), DIR holds the old forecaster or the new, complete and
 * loadable; the old one's members go only after the new manifest is in place, and what a commit killed then leaves is
 * removed by the next save — recur's model files only.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadForecasterDir } from '../src/node/forecaster_io.js';
import '../src/node/forecast.js';
import { runCli } from './cli_helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'recur-forecast-commit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const pad = (n: number): string => String(n).padStart(2, '0');
const csv = join(dir, 's.csv');
writeFileSync(
  csv,
  'month,value\n' +
    Array.from(
      { length: 72 },
      (_, t) =>
        `${2000 + Math.floor(t / 12)}-${pad((t % 12) + 1)},${(100 + t + 10 * Math.sin((2 * Math.PI * t) / 12)).toFixed(3)}`,
    ).join('\n') +
    '\n',
);
const NET = ['--method', 'network', '--epochs', '2', '--seeds', '1', '--folds', '2', '--holdout', '0', '-q'];
const THETA = ['--method', 'theta', '--holdout', '0', '-q'];

/** The forecaster in `d` loads whole (manifest and every member model); returns when it was saved. */
function savedAt(d: string): string {
  return loadForecasterDir(d).manifest.saved;
}

/** Every member directory under `d` (relative), found on disk. */
function memberDirsOnDisk(d: string, rel = ''): string[] {
  return readdirSync(join(d, rel), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) =>
      /^member-\d+$/.test(e.name) ? [join(rel, e.name)] : memberDirsOnDisk(d, join(rel, e.name)),
    );
}

/** The member directories the manifest in `d` names. */
function namedMemberDirs(d: string): string[] {
  const m = loadForecasterDir(d).manifest;
  return m.series.flatMap((s) => s.networks.map((n) => join(n.dir, 'member-0'))).sort();
}

describe('forecast --out --overwrite: the old forecaster stays complete until the new one is', () => {
  for (const [name, next] of [
    ['network over network', NET],
    ['theta over network', THETA],
  ] as const)
    it(`${name}, killed at each write`, () => {
      const d = join(dir, name.replace(/ /g, '-'));
      const first = runCli(['forecast', csv, ...NET, '--out', d]);
      assert.equal(first.code, 0, first.stderr);
      const old = savedAt(d);
      let finished = false;
      for (let n = 1; !finished; n++) {
        assert.ok(n < 20, 'the run should finish once the kill comes after its last write');
        const r = runCli(['forecast', csv, ...next, '--out', d, '--overwrite'], {
          env: { RECUR_TEST_KILL_IN_WRITE: String(n) },
        });
        finished = r.signal === null;
        if (finished) assert.equal(r.code, 0, r.stderr);
        // Complete and loadable after every kill: the old forecaster, or (killed after the switch) the new one.
        assert.doesNotThrow(() => savedAt(d), `after a kill at write ${n}`);
      }
      assert.notEqual(savedAt(d), old);
      // Nothing of the old forecaster is left: the member directories on disk are those the manifest names.
      assert.deepEqual(memberDirsOnDisk(d).sort(), namedMemberDirs(d));
      assert.ok(!readdirSync(d).some((n) => n.startsWith('.')), readdirSync(d).join(', '));
    });

  it('the next save removes the members a commit killed after its switch left, and only those', () => {
    const d = join(dir, 'leftovers');
    let r = runCli(['forecast', csv, ...NET, '--out', d]);
    assert.equal(r.code, 0, r.stderr);
    // What a kill right after the new manifest's rename leaves: the replaced members and the record naming them.
    const [named] = namedMemberDirs(d);
    cpSync(join(d, named), join(d, 'network-7', 'member-0'), { recursive: true });
    writeFileSync(join(d, 'network-7', 'member-0', 'notes.txt'), 'mine');
    writeFileSync(join(d, '.recur-replaced.json'), JSON.stringify([join('network-7', 'member-0'), named]));
    r = runCli(['forecast', csv, ...NET, '--out', d, '--overwrite']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(readdirSync(join(d, 'network-7', 'member-0')), ['notes.txt']);
    assert.equal(readFileSync(join(d, 'network-7', 'member-0', 'notes.txt'), 'utf8'), 'mine');
    assert.ok(!existsSync(join(d, '.recur-replaced.json')));
    assert.doesNotThrow(() => savedAt(d));
  });
});
