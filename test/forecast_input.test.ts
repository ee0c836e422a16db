/**
 * Forecasting on awkward input (issue #10, items 11–14): baselines that fail or cost too much are skipped with their
 * reason; dates are parsed strictly, their order and frequency detected and reported, gaps never skipped silently;
 * `--log` applied by the hybrid; stdout under `--json` is JSON only; src/forecast stays free of node: imports.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { setSarimaBudget } from '../src/node/forecast.js'; // also installs the Node loaders of the baselines' wasm
import {
  baselineForecasts,
  baselineLoaders,
  SARIMA_MAX_SEASON,
  setBaselineLoaders,
  type AugursModules,
} from '../src/forecast/baselines.js';
import { FORECAST_DEFAULTS, RNNForecaster, type NetworkOptions } from '../src/forecast/network.js';
import { datesAfter, parseSeriesCsv } from '../src/forecast/series.js';
import { runCli, type CliResult } from './cli_helpers.js';

const here = dirname(fileURLToPath(import.meta.url));

/** Trend + season + a deterministic wiggle. */
function wave(n: number, season: number, base = 200): number[] {
  return Array.from(
    { length: n },
    (_, t) => base + 0.8 * t + 25 * Math.sin((2 * Math.PI * t) / season) + Math.sin(t * 5.7) * 4,
  );
}

const pad = (n: number): string => String(n).padStart(2, '0');
const iso = (ms: number): string => {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
};
const monthly = (t: number): string => `${1990 + Math.floor(t / 12)}-${pad((t % 12) + 1)}`;

function csv(dates: string[], values: number[], header = 'date,value'): string {
  return header + '\n' + dates.map((d, i) => `${d},${values[i].toFixed(3)}`).join('\n') + '\n';
}

describe('baselines: failures and out-of-range costs are skipped with their reason', () => {
  it(`SARIMA with a season above ${SARIMA_MAX_SEASON} is refused up front; the other baselines still run`, async () => {
    const t0 = Date.now();
    const r = await baselineForecasts(wave(400, 132), 12, 132, ['naive', 'seasonal naive', 'sarima']);
    assert.ok(Date.now() - t0 < 5000, 'refused, not attempted');
    assert.deepEqual([...r.forecasts.keys()], ['naive', 'seasonal naive']);
    assert.match(r.skipped.get('sarima')!, /season 132 is above SARIMA's limit of 52/);
  });
  it('a SARIMA fit that runs past its wall-clock budget is stopped (its worker terminated) and skipped', async () => {
    setSarimaBudget(1);
    try {
      const r = await baselineForecasts(wave(120, 12), 12, 12, ['naive', 'sarima']);
      assert.deepEqual([...r.forecasts.keys()], ['naive']);
      assert.equal(r.skipped.get('sarima'), 'SARIMA ran past its time budget of 0.001 s and was stopped');
    } finally {
      setSarimaBudget(120_000);
    }
    // Within the budget it runs (in its worker) as before.
    const ok = await baselineForecasts(wave(120, 12), 12, 12, ['sarima']);
    assert.ok(ok.forecasts.get('sarima')!.every(Number.isFinite));
  });
  it('a library that throws a string (not an Error) is skipped with that text', async () => {
    const saved = baselineLoaders();
    // What the wasm libraries do: throw a string.
    const throwing = {
      fit(): never {
        throw 'Fit error: running STL: periods must not be empty';
      },
      predict: () => ({ point: [] }),
      free() {},
    };
    const fake = {
      mstl: { MSTL: { ets: () => throwing } },
      ets: {
        AutoETS: class {
          constructor() {
            return throwing;
          }
        },
      },
    } as unknown as AugursModules;
    setBaselineLoaders({ ...saved, augurs: () => Promise.resolve(fake) });
    try {
      const r = await baselineForecasts(wave(60, 12), 6, 1, ['drift', 'ets']);
      assert.deepEqual([...r.forecasts.keys()], ['drift']);
      assert.equal(r.skipped.get('ets'), 'ETS: Fit error: running STL: periods must not be empty');
    } finally {
      setBaselineLoaders(saved);
    }
  });
});

describe('dates: strict, ordered, any frequency, gaps reported', () => {
  it('US-style and text dates are errors naming every bad line', () => {
    const dates = Array.from({ length: 30 }, (_, t) => monthly(t));
    dates[0] = '01/31/1990';
    dates[1] = 'Feb 1990';
    dates[7] = '1990-02-30';
    assert.throws(
      () => parseSeriesCsv(csv(dates, wave(30, 12)), { source: 'us.csv' }),
      /^Error: us\.csv: 3 date\(s\) in column 'date' are not dates like .*: line 2 "01\/31\/1990", line 3 "Feb 1990", line 9 "1990-02-30"$/,
    );
    // Without a header, too: the text column is the date column, not something to pass over.
    assert.throws(
      () => parseSeriesCsv('01/31/1990,5\n02/28/1990,6\n1990-03-31,7\n', { source: 'nh.csv' }),
      /nh\.csv: 2 date\(s\) in column '0' .*line 1 "01\/31\/1990", line 2 "02\/28\/1990"/,
    );
  });
  it('newest-first is reversed and reported; a date out of order is an error with its line', () => {
    const v = wave(30, 12);
    const d = v.map((_, t) => monthly(t));
    const s = parseSeriesCsv(csv([...d].reverse(), [...v].reverse()));
    assert.equal(s.newestFirst, true);
    assert.deepEqual(s.dates, d);
    assert.deepEqual(
      s.values.map((x) => x.toFixed(3)),
      v.map((x) => x.toFixed(3)),
    );
    const shuffled = [...d];
    [shuffled[5], shuffled[6]] = [shuffled[6], shuffled[5]];
    assert.throws(
      () => parseSeriesCsv(csv(shuffled, v), { source: 'o.csv' }),
      /o\.csv, line 8: date .* out of order/,
    );
  });
  it('detects hourly, daily, weekly, monthly, quarterly and yearly series and continues their dates', () => {
    const start = Date.UTC(2020, 0, 6);
    const cases: [string, (i: number) => string, string, string][] = [
      ['hourly', (i) => `${iso(start)} ${pad(i)}:00`, '2020-01-06 03:00', '2020-01-06 04:00'],
      ['daily', (i) => iso(start + i * 86_400_000), '2020-01-09', '2020-01-10'],
      ['weekly', (i) => iso(start + i * 7 * 86_400_000), '2020-01-27', '2020-02-03'],
      ['monthly', (i) => `2020-${pad(i + 1)}-28`, '2020-04', '2020-05'],
      ['quarterly', (i) => `2020-Q${i + 1}`, '2020-Q4', '2021-Q1'],
      ['yearly', (i) => String(2020 + i), '2023', '2024'],
    ];
    for (const [frequency, date, last, next] of cases) {
      const s = parseSeriesCsv(csv([0, 1, 2, 3].map(date), [1, 2, 3, 4]));
      assert.equal(s.frequency, frequency);
      assert.equal(s.dates[3], last, frequency);
      assert.deepEqual(datesAfter(s.dates, 1, s.frequency), [next], frequency);
    }
    // Daily data is not "duplicate months".
    assert.equal(
      parseSeriesCsv(csv(['2020-01-01', '2020-01-02', '2020-01-03'], [1, 2, 3])).frequency,
      'daily',
    );
  });
  it('gaps are errors naming them, or filled with interpolate', () => {
    const d = ['2020-01-01', '2020-01-02', '2020-01-05', '2020-01-06'];
    assert.throws(
      () => parseSeriesCsv(csv(d, [1, 2, 5, 6]), { source: 'g.csv' }),
      /g\.csv: daily series with 2 missing day\(s\) in 1 gap\(s\): 2020-01-02 … 2020-01-05 \(line 4\); .*--interpolate/,
    );
    const s = parseSeriesCsv(csv(d, [1, 2, 5, 6]), { interpolate: true });
    assert.deepEqual(s.values, [1, 2, 3, 4, 5, 6]);
    assert.equal(s.dates[2], '2020-01-03');
    assert.equal(s.interpolated, 2);
  });
});

describe('hybrid with --log', () => {
  it('is applied: ETS and the network work on logs, and the forecast is exponentiated back', async () => {
    const values = wave(96, 12, 100).map((v, t) => v * (1 + t / 50));
    const opts = (log: boolean): NetworkOptions => ({
      ...FORECAST_DEFAULTS,
      method: 'hybrid',
      season: 12,
      lookback: 12,
      horizon: 6,
      seeds: [1],
      epochs: 3,
      units: 4,
      log,
    });
    const plain = new RNNForecaster(opts(false));
    await plain.fit(values);
    const logged = new RNNForecaster(opts(true));
    await logged.fit(values);
    const a = (await plain.predict(values)).mean;
    const b = (await logged.predict(values)).mean;
    assert.ok(b.every((v) => Number.isFinite(v) && v > 0));
    assert.notDeepEqual(a, b, '--log changed nothing: it was ignored');
    await assert.rejects(
      () => logged.predict([...values.slice(0, -1), 0]),
      /--log needs values > 0; value 96/,
    );
  });
});

describe('recur forecast: awkward input (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-fcin-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  const quick = ['--epochs', '2', '--seeds', '1', '--units', '4'];
  const run = (args: string[]): CliResult => runCli(['forecast', ...args, ...quick]);
  const bad = (args: string[], pattern: RegExp): void => {
    const r = run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], pattern);
  };

  it('bad dates, a directory, gaps and --log with a zero: exit 2 and one line naming file, line and problem', () => {
    const v = wave(80, 12);
    const d = v.map((_, t) => monthly(t));
    bad(
      [write('us.csv', csv(['01/31/1990', ...d.slice(1)], v))],
      /us\.csv: 1 date\(s\) .*line 2 "01\/31\/1990"/,
    );
    mkdirSync(join(dir, 'adir'));
    bad([join(dir, 'adir')], /adir: is a directory; expected a CSV file/);
    bad(
      [write('gap.csv', csv([...d.slice(0, 40), ...d.slice(42)], [...v.slice(0, 40), ...v.slice(42)]))],
      /2 missing month/,
    );
    const zero = [...v];
    zero[30] = 0;
    bad([write('zero.csv', csv(d, zero)), '--log'], /zero\.csv, line 32: --log needs values > 0, got 0/);
  });

  it('season 1 (a random walk) runs: the hybrid falls back to the network, reported; exit 0', () => {
    let x = 100;
    const v = Array.from({ length: 80 }, (_, t) => (x += Math.sin(t * 7.1) * 3));
    const r = run([
      write(
        'rw.csv',
        csv(
          v.map((_, t) => monthly(t)),
          v,
        ),
      ),
      '--season',
      '1',
      '--method',
      'hybrid',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { method: string; forecast: number[] };
    assert.equal(j.method, 'network');
    assert.equal(j.forecast.length, 12);
  });

  it('daily newest-first data: frequency, order and season 7 reported; future dates continue daily', () => {
    const v = wave(70, 7);
    const d = v.map((_, i) => iso(Date.UTC(2021, 0, 1) + i * 86_400_000));
    const file = write('daily.csv', csv([...d].reverse(), [...v].reverse()));
    const out = join(dir, 'daily-f.csv');
    const r = run([file, '--holdout', '0', '--baselines', 'seasonal naive', '--json', '--output', out]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { frequency: string; order: string; season: number; dates: string[] };
    assert.equal(j.frequency, 'daily');
    assert.equal(j.order, 'newest-first');
    assert.equal(j.season, 7);
    assert.deepEqual(j.dates.slice(0, 2), ['2021-03-12', '2021-03-13']);
    assert.match(
      readFileSync(out, 'utf8'),
      /^date,forecast,lower_80,upper_80,lower_95,upper_95\n2021-03-12,/,
    );
  });

  it('--json: stdout is JSON only, even when the arima library prints ("non-stationary AR part")', () => {
    const v = wave(132, 12);
    const file = write(
      'trend.csv',
      csv(
        v.map((_, t) => monthly(t)),
        v,
      ),
    );
    const r = run([file, '--season', '1', '--method', 'network', '--baselines', 'sarima', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /non-stationary AR part/, 'the series should make the library print');
    const j = JSON.parse(r.stdout) as { metrics: Record<string, unknown> };
    assert.ok('sarima' in j.metrics);
  });
});

describe('browser safety', () => {
  it('no file of the forecasting library imports a node: module', () => {
    const lib = join(here, '..', 'src', 'forecast');
    for (const f of readdirSync(lib).filter((n) => n.endsWith('.js'))) {
      const text = readFileSync(join(lib, f), 'utf8');
      assert.doesNotMatch(text, /from ['"]node:|import\(['"]node:|require\(/, f);
    }
  });
});
