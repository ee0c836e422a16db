/**
 * Replacing a saved forecaster (`recur forecast … --out DIR --overwrite`) never leaves DIR without one: killed at any
 * write of the run (kill -9, RECUR_TEST_KILL_IN_WRITE), DIR holds the old forecaster or the new, complete and
 * loadable; the old one's members go only after the new manifest is in place, and what a commit killed then leaves is
 * removed by the next save — recur's model files only. The library's saveForecaster commits the same way.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { InvalidInputError } from '../src/core/errors.js';
import { FORECAST_DEFAULTS, RNNForecaster } from '../src/forecast/network.js';
import {
  loadForecaster,
  loadForecasterDir,
  saveForecaster,
  type SavedInterval,
} from '../src/node/forecaster_io.js';
import '../src/node/forecast.js';
import { CLI, runCli } from './cli_helpers.js';
import { saveV1Forecaster } from './forecaster_v1.js';

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
  return m.series
    .flatMap((s) => s.networks.flatMap((n) => n.options.seeds.map((_, i) => join(n.dir, `member-${i}`))))
    .sort();
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

describe('forecast without --out: Ctrl-C before the fit', () => {
  it('says nothing was saved and exits 130, as with --out (it used to die saying nothing)', () => {
    const loud = NET.filter((a) => a !== '-q');
    const r = runCli(['forecast', csv, ...loud], { env: { RECUR_TEST_INTERRUPT_AT_START: '1' } });
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /\nInterrupted: nothing was saved\n/);
    assert.equal(r.stdout, '');
  });
});

describe('forecast --out: Ctrl-C as soon as the run holds the lock', () => {
  it('says so, exits 130 and leaves the directory as it was before the run (none, or the old forecaster)', () => {
    const loud = NET.filter((a) => a !== '-q');
    const d = join(dir, 'ctrl-c-at-start');
    // A real SIGINT as the lock is taken: it used to end the run with no word.
    const fresh = runCli(['forecast', csv, ...loud, '--out', d], {
      env: { RECUR_TEST_INTERRUPT_AT_START: '1' },
    });
    assert.equal(fresh.code, 130, fresh.stderr);
    assert.match(
      fresh.stderr,
      /Interrupted: nothing was saved; \S*ctrl-c-at-start is as it was before the run/,
    );
    assert.ok(!existsSync(d), 'the directory the lock made is gone with it');
    assert.equal(runCli(['forecast', csv, ...NET, '--out', d]).code, 0);
    const old = savedAt(d);
    const over = runCli(['forecast', csv, ...loud, '--out', d, '--overwrite'], {
      env: { RECUR_TEST_INTERRUPT_AT_START: '1' },
    });
    assert.equal(over.code, 130, over.stderr);
    assert.match(over.stderr, /Interrupted: nothing was saved/);
    assert.equal(savedAt(d), old);
    assert.ok(!existsSync(join(d, 'recur.lock')), 'the lock is released');
    assert.ok(!readdirSync(d).some((n) => n.startsWith('.')), readdirSync(d).join(', '));
  });
});

/**
 * A first save into a new directory killed in its commit (QA): its members are swept, but the temp file of its
 * manifest or commit record stayed, and the same command was refused ("already holds part of a forecaster whose save
 * was stopped; pass --overwrite") where a training command starts again. It now takes the directory over.
 */
describe('forecast --out DIR: a first save killed at any write', () => {
  /** What a forecaster in `d` is, less when it was saved: its manifest and its members' weights, in order. */
  function forecasterOf(d: string): string {
    const manifest = { ...loadForecasterDir(d).manifest, saved: '' };
    const weights = namedMemberDirs(d).map((m) => {
      const json = JSON.parse(readFileSync(join(d, m, 'model.json'), 'utf8')) as {
        weightsManifest: { paths: string[] }[];
      };
      return json.weightsManifest.flatMap((g) =>
        g.paths.map((p) => readFileSync(join(d, m, p)).toString('hex')),
      );
    });
    return JSON.stringify({ manifest, weights });
  }

  it('the same command, run again, gives the uninterrupted result; a file of the user beside it is still refused', () => {
    const reference = join(dir, 'first-reference');
    const r = runCli(['forecast', csv, ...NET, '--out', reference]);
    assert.equal(r.code, 0, r.stderr);
    let finished = false;
    for (let n = 1; !finished; n++) {
      assert.ok(n < 20, 'the run should finish once the kill comes after its last write');
      const d = join(dir, `first-killed-${n}`);
      const killed = runCli(['forecast', csv, ...NET, '--out', d], {
        env: { RECUR_TEST_KILL_IN_WRITE: String(n) },
      });
      finished = killed.signal === null;
      if (finished) break;
      // Another copy of what the kill left, with a file of the user's: recur did not write it, so no run takes over.
      const mine = join(dir, `first-killed-${n}-mine`);
      cpSync(d, mine, { recursive: true });
      writeFileSync(join(mine, 'notes.txt'), 'mine');
      const again = runCli(['forecast', csv, ...NET, '--out', d]);
      assert.equal(again.code, 0, `after a kill at write ${n}: ${again.stderr}`);
      assert.equal(forecasterOf(d), forecasterOf(reference), `after a kill at write ${n}`);
      assert.deepEqual(memberDirsOnDisk(d).sort(), namedMemberDirs(d));
      assert.ok(!readdirSync(d).some((f) => f.startsWith('.')), readdirSync(d).join(', '));
      const refused = runCli(['forecast', csv, ...NET, '--out', mine]);
      assert.equal(refused.code, 2, refused.stderr);
      assert.equal(readFileSync(join(mine, 'notes.txt'), 'utf8'), 'mine');
    }
  });
});

describe("the library's saveForecaster: killed at any write, the old forecaster or the new, never a mix", () => {
  const values = Array.from({ length: 48 }, (_, t) => 100 + t + 10 * Math.sin((2 * Math.PI * t) / 12));
  const history = { name: 'v', dates: values.map((_, t) => `t${t}`), values };
  /** A tiny network forecaster of these seeds, fitted on `values`. */
  async function fitted(seeds: number[]): Promise<RNNForecaster> {
    const f = new RNNForecaster({
      ...FORECAST_DEFAULTS,
      method: 'network',
      units: 2,
      epochs: 1,
      lookback: 6,
      horizon: 3,
      season: 12,
      differencing: 'none',
      seeds,
    });
    await f.fit(values);
    return f;
  }
  const forecastOf = async (d: string): Promise<number[]> => {
    const { forecaster, history: h } = loadForecaster(d);
    return (await forecaster.predict(h.values)).mean;
  };
  /** In a process of its own, killed (kill -9) in its `n`-th write: loads the forecaster in `from`, saves it to `to`. */
  function saveKilledAt(from: string, to: string, n: number): boolean {
    const io = JSON.stringify(new URL('../src/node/forecaster_io.js', import.meta.url).href);
    const script =
      `import { loadForecaster, saveForecaster } from ${io};\n` +
      `const { forecaster, history, intervals } = loadForecaster(${JSON.stringify(from)});\n` +
      `saveForecaster(forecaster, history, ${JSON.stringify(to)}, intervals);\n`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, RECUR_TEST_KILL_IN_WRITE: String(n) },
    });
    if (r.signal === null) assert.equal(r.status, 0, r.stderr);
    return r.signal === null;
  }

  it("a history without its frequency: detected from its dates, as a file's (what forecast predict checks a file against)", async () => {
    const f = await fitted([1]);
    const months = values.map(
      (_, t) => `${2000 + Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')}`,
    );
    const dated = join(dir, 'lib-dated');
    saveForecaster(f, { name: 'v', dates: months, values }, dated);
    assert.equal(loadForecasterDir(dated).manifest.series[0].frequency, 'monthly');
    const undated = join(dir, 'lib-undated');
    saveForecaster(f, history, undated);
    assert.equal(loadForecasterDir(undated).manifest.series[0].frequency, undefined);
  });

  it('a version-1 forecaster replaced by a version-2 one and back, killed at each write', async () => {
    const a = await fitted([1, 2]);
    const b = await fitted([3]);
    const expected = { a: (await a.predict(values)).mean, b: (await b.predict(values)).mean };
    assert.notDeepEqual(expected.a, expected.b);
    // A's as the library saved it before (version 1): it still loads, with the same forecast.
    const aDir = join(dir, 'lib-a');
    saveV1Forecaster(a, history, aDir, [{ level: 0.8, halfWidths: [1, 2, 3] }]);
    assert.equal(loadForecasterDir(aDir).version, 1);
    assert.deepEqual(await forecastOf(aDir), expected.a);
    const bDir = join(dir, 'lib-b');
    saveForecaster(b, history, bDir);
    assert.equal(loadForecasterDir(bDir).version, 2);
    const d = join(dir, 'lib-walk');
    cpSync(aDir, d, { recursive: true });
    for (const [from, now] of [
      [bDir, 'b'],
      [aDir, 'a'],
    ] as const) {
      let finished = false;
      for (let n = 1; !finished; n++) {
        assert.ok(n < 20, 'the save should finish once the kill comes after its last write');
        finished = saveKilledAt(from, d, n);
        // Complete after every kill: the old forecaster or the new one, whose forecast is its own.
        const got = await forecastOf(d);
        assert.ok(
          [expected.a, expected.b].some((e) => JSON.stringify(e) === JSON.stringify(got)),
          `after a kill at write ${n}: ${JSON.stringify(got)} is neither forecaster's`,
        );
      }
      assert.deepEqual(await forecastOf(d), expected[now]);
      assert.equal(loadForecasterDir(d).version, 2);
      // Nothing of the replaced forecaster is left.
      assert.deepEqual(memberDirsOnDisk(d).sort(), namedMemberDirs(d));
      assert.ok(!readdirSync(d).some((n) => n.startsWith('.')), readdirSync(d).join(', '));
    }
    assert.deepEqual(loadForecaster(d).intervals, [{ level: 0.8, halfWidths: [1, 2, 3] }]);
  });

  it('intervals the loader would refuse are an InvalidInputError before anything is written: the old forecaster stays', async () => {
    const f = await fitted([1]);
    const d = join(dir, 'lib-bad-intervals');
    saveForecaster(f, history, d, [{ level: 0.8, halfWidths: [1, 2, 3] }]);
    const before = savedAt(d);
    const cases: [SavedInterval[], RegExp][] = [
      [[{ level: 80, halfWidths: [1, 2, 3] }], /intervals\[0\]\.level: expected a level in \(0, 1\), got 80/],
      [[{ level: 0.8, halfWidths: [1, 2] }], /intervals\[0\]\.halfWidths: expected 3 half-widths.*got 2/],
      [
        [{ level: 0.8, halfWidths: [1, NaN, 3] }],
        /intervals\[0\]\.halfWidths\[1\]: expected a finite half-width ≥ 0, got NaN/,
      ],
      [
        [{ level: 0.95, halfWidths: [1, 2, -3] }],
        /intervals\[0\]\.halfWidths\[2\]: expected a finite half-width ≥ 0, got -3/,
      ],
    ];
    for (const [intervals, names] of cases) {
      assert.throws(
        () => saveForecaster(f, history, d, intervals),
        (e: Error) => e instanceof InvalidInputError && names.test(e.message),
      );
      // Saved earlier, it is still there and loads: the refused save wrote nothing.
      assert.equal(savedAt(d), before);
      assert.deepEqual(loadForecaster(d).intervals, [{ level: 0.8, halfWidths: [1, 2, 3] }]);
    }
  });
});

/**
 * SIGTERM during SARIMA's fit (QA): only Ctrl-C was handled, so SIGTERM killed the run and left the --out directory it
 * had made holding its lock. It now ends as Ctrl-C does: exit 143, the directory as it was before the run.
 */
describe('forecast --out stopped by a signal during the final SARIMA fit', () => {
  // Weekly, season 52: after the backtest's short fits, the fits on the whole training part take seconds.
  const weekly = join(dir, 'weekly.csv');
  writeFileSync(
    weekly,
    'week,value\n' +
      Array.from({ length: 300 }, (_, t) => {
        const d = new Date(Date.UTC(2015, 0, 4) + t * 7 * 86_400_000).toISOString().slice(0, 10);
        return `${d},${(100 + 0.1 * t + 10 * Math.sin((2 * Math.PI * t) / 52) + 3 * Math.sin(t * 1.7)).toFixed(3)}\n`;
      }).join(''),
  );
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)
    it(`${signal}: exits ${code} and leaves no directory behind`, async () => {
      const out = join(dir, `stopped-${signal}`);
      const child = spawn(process.execPath, [CLI, 'forecast', weekly, '--method', 'sarima', '--out', out], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        const was = stderr;
        stderr += d.toString();
        if (!was.includes('backtest: sarima done') && stderr.includes('backtest: sarima done'))
          child.kill(signal);
      });
      const exit = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
      assert.equal(exit, code, stderr);
      assert.equal(existsSync(out), false);
    });
});
