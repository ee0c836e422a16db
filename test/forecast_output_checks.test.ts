/**
 * What `recur forecast` prints besides its results (QA): nothing on stderr under --quiet or --json, even when the
 * arima package prints its search's diagnostics; a line per backtested candidate when stderr is not a terminal; a
 * failed SARIMA fit says what failed. --candidates with a method it does not apply to is bad usage up front, and so
 * is an --output or --chart in a directory that is not there.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import '../src/node/forecast.js'; // the Node loaders of the baselines' wasm
import {
  baselineLoaders,
  sarimaHere,
  setBaselineLoaders,
  type ArimaConstructor,
} from '../src/forecast/baselines.js';
import { forecastSvg } from '../src/forecast/chart.js';
import { writeFileAtomic } from '../src/node/atomic.js';
import { runCli } from './cli_helpers.js';

const year = (t: number): string => String(1900 + t);
/** A yearly series with a steep, curving trend: AutoARIMA passes over non-stationary orders and says so. */
const GROWTH = Array.from({ length: 50 }, (_, t) => 100 * 1.03 ** t + 3 * Math.sin(t * 1.7));

describe('recur forecast: stderr under --quiet and --json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-forecast-output-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'growth.csv');
  writeFileSync(file, ['year,v', ...GROWTH.map((v, t) => `${year(t)},${v.toFixed(3)}`)].join('\n') + '\n');
  const base = [file, '--candidates', 'theta', '--baselines', 'sarima', '--threads', '1'];

  it('the arima package prints during the fit, yet the run without flags shows no unexplained line', () => {
    const r = runCli(['forecast', ...base]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /non-stationary/);
    assert.match(r.stdout, /^sarima\s/m, 'SARIMA should be scored on the hold-out');
  });

  it('stderr not a terminal: a progress line per candidate as its backtest folds finish', () => {
    const r = runCli([
      'forecast',
      file,
      '--candidates',
      'theta,damped',
      '--baselines',
      'none',
      '--threads',
      '1',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^backtest: theta done \(5\/10 fits, [\d.]+ s\)$/m);
    assert.match(r.stderr, /^backtest: damped done \(10\/10 fits, [\d.]+ s\)$/m);
    const q = runCli(['forecast', file, '--candidates', 'theta,damped', '--threads', '1', '--quiet']);
    assert.doesNotMatch(q.stderr, /backtest:/);
  });

  it('--quiet: stdout says which table is the backtest and which the hold-out', () => {
    const r = runCli([
      'forecast',
      file,
      '--candidates',
      'theta,damped',
      '--baselines',
      'naive',
      '--threads',
      '1',
      '--quiet',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /^Backtest \(mean over 5 fold\(s\); \* = chosen; combination = mean of [a-z, ]+\):\nmethod /,
    );
    assert.match(
      r.stdout,
      /\n\nHeld-out last 12 points \(1938 … 1949\), fitted on the 38 before [^\n]*:\nmethod /,
    );
  });

  for (const flag of ['--quiet', '--json'])
    it(`${flag}: stderr is empty`, () => {
      const r = runCli(['forecast', ...base, flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
    });
});

describe('SARIMA: a failure inside the arima package says what failed', () => {
  it("a bare wasm error is named as SARIMA's, with the length of the series", async () => {
    const saved = baselineLoaders();
    const failing = class {
      train(): void {
        throw new RangeError('offset is out of bounds');
      }
      predict(): number[][] {
        return [[]];
      }
      destroy(): void {}
    } as unknown as ArimaConstructor;
    setBaselineLoaders({ ...saved, arima: () => Promise.resolve(failing) });
    try {
      await assert.rejects(
        sarimaHere(GROWTH, 4, 1),
        /^Error: SARIMA failed on 50 points in the arima package: offset is out of bounds$/,
      );
    } finally {
      setBaselineLoaders(saved);
    }
  });
});

describe('--candidates with --method, --baselines without a hold-out (bad usage, exit 2 before any work)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-forecast-candidates-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const one = join(dir, 'one.csv');
  writeFileSync(one, ['year,v', ...GROWTH.map((v, t) => `${year(t)},${v.toFixed(3)}`)].join('\n') + '\n');
  const many = join(dir, 'many.csv');
  writeFileSync(
    many,
    ['id,t,v', ...['a', 'b'].flatMap((id) => GROWTH.map((v, t) => `${id},${t + 1},${v.toFixed(3)}`))].join(
      '\n',
    ) + '\n',
  );
  const panel = [many, '--id-column', 'id', '--season', '1'];
  for (const [args, pattern] of [
    [
      [one, '--method', 'combination', '--candidates', 'ets'],
      /combination averages the best of at least two/,
    ],
    [[one, '--method', 'theta', '--candidates', 'ets,damped'], /--method theta fixes the method/],
    [
      [...panel, '--method', 'combination', '--candidates', 'theta'],
      /combination averages the best of at least two/,
    ],
    [[...panel, '--method', 'global', '--candidates', 'ets,theta'], /--method global fixes the method/],
    // No --method given: the default mean (its members among the candidates) is named as the default, with the fix.
    [
      [...panel, '--candidates', 'ets,theta,global,damped'],
      /without --method, many series with ets, theta, global among the candidates use their mean, ets\+theta\+global, which fixes the method: add --method auto to choose among ets, theta, global, damped$/m,
    ],
    [[one, '--holdout', '0', '--baselines', 'naive'], /--baselines are scored on the hold-out/],
    [[...panel, '--holdout', '0', '--baselines', 'drift'], /--baselines are scored on the hold-out/],
  ] as [string[], RegExp][])
    it(args.slice(1).join(' '), () => {
      const r = runCli(['forecast', ...args, '--threads', '1']);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, pattern);
    });
});

describe('--output and --chart in a directory that is not there', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-forecast-outdir-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'growth.csv');
  writeFileSync(file, ['year,v', ...GROWTH.map((v, t) => `${year(t)},${v.toFixed(3)}`)].join('\n') + '\n');

  for (const flag of ['--output', '--chart'])
    it(`${flag}: exit 2 before any work, naming the user's path and its directory`, () => {
      const target = join(dir, 'missing', flag === '--chart' ? 'f.svg' : 'f.csv');
      const r = runCli(['forecast', file, '--candidates', 'theta', '--threads', '1', flag, target]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '', 'nothing was forecast');
      assert.equal(
        r.stderr,
        `recur: ${flag} ${target}: the directory ${join(dir, 'missing')} does not exist\n`,
      );
    });

  it('a file where its directory should be is named as not a directory', () => {
    const r = runCli(['forecast', file, '--candidates', 'theta', '--output', join(file, 'f.csv')]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /growth\.csv is not a directory/);
  });

  it('--chart with a name that is no .svg is refused before any work: the chart is SVG, whatever the name', () => {
    const theta = (...more: string[]): string[] => [
      'forecast',
      file,
      '--candidates',
      'theta',
      '--threads',
      '1',
      ...more,
    ];
    for (const name of ['plot.png', 'plot.pdf', 'plot']) {
      const r = runCli(theta('--chart', join(dir, name)));
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '', 'nothing was forecast');
      assert.match(r.stderr, /--chart \S+: the chart is an SVG image; give a name ending in \.svg/);
      assert.ok(!existsSync(join(dir, name)));
    }
    const svg = runCli(theta('-q', '--chart', join(dir, 'plot.SVG')));
    assert.equal(svg.code, 0, svg.stderr);
    assert.match(readFileSync(join(dir, 'plot.SVG'), 'utf8'), /^<svg /);
  });

  it('--output with an extension it does not write is refused before any work, as --chart is', () => {
    const theta = ['forecast', file, '--candidates', 'theta', '--threads', '1', '-q'];
    // `--output f.txt` wrote CSV into a .txt; the format is the extension's.
    for (const name of ['f.txt', 'f.xlsx', 'f']) {
      const r = runCli([...theta, '--output', join(dir, name)]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '', 'nothing was forecast');
      assert.match(r.stderr, /^recur: --output \S+: the forecast is written as \.csv, \.tsv .* or \.json/);
      assert.ok(!existsSync(join(dir, name)));
    }
    const tsv = runCli([...theta, '--output', join(dir, 'f.TSV')]);
    assert.equal(tsv.code, 0, tsv.stderr);
    assert.match(readFileSync(join(dir, 'f.TSV'), 'utf8'), /^date\tforecast\t/);
  });
});

describe('writeFileAtomic: a failure names the file asked for, not its temp file', () => {
  it('a missing directory', () => {
    const target = join(tmpdir(), 'recur-forecast-no-such-dir', 'x.csv');
    assert.throws(
      () => writeFileAtomic(target, 'x'),
      (e: NodeJS.ErrnoException) => e.code === 'ENOENT' && e.path === target,
    );
  });
});

describe('--chart: each line has the colour of its role, whatever the names sort as', () => {
  /** The stroke of the line mark of each series in a forecastSvg chart. */
  const strokes = (svg: string): Map<string, string> =>
    new Map(
      [
        ...svg.matchAll(
          /aria-label="[^"]*series: ([^"]+)"[^>]*aria-roledescription="line mark"[^>]*stroke="(#[0-9a-f]+)"/g,
        ),
      ].map((m) => [m[1], m[2]]),
    );
  const dates = Array.from({ length: 30 }, (_, t) => year(t));
  const values = dates.map((_, t) => 10 + t);
  const forecast = [40, 41, 42];
  for (const baseline of ['combination', 'sarima', 'theta'])
    it(`forecast blue (as its band), history orange, actual black, baseline grey: ${baseline}`, async () => {
      const svg = await forecastSvg({
        title: 't',
        dates,
        values,
        start: 27,
        forecast,
        lower: forecast.map((v) => v - 1),
        upper: forecast.map((v) => v + 1),
        actual: [37, 38, 39],
        baseline: { name: baseline, values: [39, 40, 41] },
        frequency: 'yearly',
        label: 'ets forecast',
      });
      assert.deepEqual(Object.fromEntries(strokes(svg)), {
        history: '#ff7f0e',
        'ets forecast': '#1f77b4',
        'held-out actual': '#000000',
        [baseline]: '#7f7f7f',
      });
    });
  it('without a hold-out or a baseline the forecast is still blue', async () => {
    const svg = await forecastSvg({
      title: 't',
      dates,
      values,
      start: 30,
      forecast,
      lower: forecast,
      upper: forecast,
    });
    assert.deepEqual(Object.fromEntries(strokes(svg)), { history: '#ff7f0e', forecast: '#1f77b4' });
  });
});

describe('--chart of an undated series (t1 … t30): the positions in their order, not sorted as text', () => {
  it('the history runs left to right and the forecast follows it', async () => {
    const dates = Array.from({ length: 30 }, (_, t) => `t${t + 1}`);
    const forecast = [40, 41, 42];
    const svg = await forecastSvg({
      title: 't',
      dates,
      values: dates.map((_, t) => 10 + t),
      start: 27,
      forecast,
      lower: forecast.map((v) => v - 1),
      upper: forecast.map((v) => v + 1),
      actual: [37, 38, 39],
    });
    /** The x coordinates of the line mark of a series. */
    const xs = (series: string): number[] => {
      const m = new RegExp(`series: ${series}"[^>]*? d="([^"]+)"`).exec(svg);
      assert.ok(m, `no line of ${series}`);
      return [...m[1].matchAll(/[ML](-?[\d.]+),/g)].map((p) => Number(p[1]));
    };
    const history = xs('history');
    assert.equal(history.length, 27);
    assert.ok(
      history.every((x, i) => i === 0 || x > history[i - 1]),
      history.join(' '),
    ); // t10 was drawn before t2
    const ahead = xs('forecast');
    assert.ok(ahead[0] > history[26], `${ahead[0]} after ${history[26]}`);
  });
});

describe('recur forecast: a series of small values (rates of 0.01–0.05)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-forecast-rates-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const month = (t: number): string =>
    `${2000 + Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')}`;
  const file = join(dir, 'rate.csv');
  const rates = Array.from(
    { length: 72 },
    (_, t) => 0.03 + 0.0002 * t + 0.005 * Math.sin((2 * Math.PI * t) / 12),
  );
  writeFileSync(
    file,
    ['month,rate', ...rates.map((v, t) => `${month(t)},${v.toFixed(5)}`)].join('\n') + '\n',
  );

  it('errors, Winkler scores, the chart axis and predict’s forecast keep their digits (they printed 0.00, 0.0, 0.04 … 0.04)', () => {
    const saved = join(dir, 'fc');
    const r = runCli(['forecast', file, '--candidates', 'ets,theta', '--holdout', '0', '--out', saved]);
    assert.equal(r.code, 0, r.stderr);
    const ets = /^ets \*?\s+(\S+)\s+(\S+)/m.exec(r.stdout);
    assert.ok(ets && Number(ets[1]) > 0 && Number(ets[2]) > 0, r.stdout);
    assert.doesNotMatch(r.stdout, /Winkler score 0\.00\b(?!\d)/);
    // Every axis label of the terminal chart differs from the next.
    const labels = [...r.stderr.matchAll(/^\s*(\S+) [┤┼]/gm)].map((m) => m[1]);
    assert.ok(labels.length > 5 && new Set(labels).size === labels.length, labels.join(' '));
    const p = runCli(['forecast', 'predict', saved, file]);
    assert.equal(p.code, 0, p.stderr);
    const [, point, lower, upper] = /^2006-01 {2}(\S+) {2}80%: (\S+) … (\S+)/m.exec(p.stdout) ?? [];
    assert.ok(Number(lower) < Number(point) && Number(point) < Number(upper), p.stdout);
  });
});
