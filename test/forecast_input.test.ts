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
import { parsePanelCsv } from '../src/forecast/panel.js';
import {
  datesAfter,
  dateFormat,
  escapeText,
  parseDecimal,
  parseSeriesCsv,
  SeriesInputError,
} from '../src/forecast/series.js';
import { Random } from '../src/core/random.js';
import { expectSnakeKeys, runCli, type CliResult } from './cli_helpers.js';

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

/** A cell quoted as CSV does it (a quote doubled), so any text survives the reader. */
const csvCell = (text: string): string => `"${text.replace(/"/g, '""')}"`;

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

/**
 * `recur forecast` with `extra` flags over files in a temporary directory (removed after the enclosing describe):
 * `bad` expects exit 2 and one line on stderr matching `pattern`.
 */
function forecastCli(prefix: string, extra: readonly string[]) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, data: string | Uint8Array): string => {
    writeFileSync(join(dir, name), data);
    return join(dir, name);
  };
  const run = (args: string[]): CliResult => runCli(['forecast', ...args, ...extra]);
  const bad = (args: string[], pattern: RegExp): void => {
    const r = run(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], pattern);
  };
  return { dir, write, run, bad };
}

describe('recur forecast: awkward input (CLI)', () => {
  const { dir, write, run, bad } = forecastCli('recur-fcin-', '--epochs 2 --seeds 1 --units 4'.split(' '));

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
    const r = run([file, '--holdout', '0', '--json', '--output', out]);
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

  it('--json: stdout is JSON only, and stderr stays empty, when the arima library prints ("non-stationary AR part")', () => {
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
    // The library's search diagnostics are kept only to explain a failed fit (src/node/forecast.ts).
    assert.equal(r.stderr, '');
    const j = JSON.parse(r.stdout) as { metrics: Record<string, unknown> };
    assert.ok('sarima' in j.metrics);
  });
});

describe('input handling (QA): BOM, decimal numbers, UTF-8, one-line messages, one date format', () => {
  const BOM = '\ufeff';
  const v = wave(40, 12);
  const d = v.map((_, t) => monthly(t));
  const milk = csv(d, v, 'month,value');
  const long = (header = 'id,month,value'): string =>
    header +
    '\n' +
    ['a', 'b'].flatMap((id, k) => d.map((m, t) => `${id},${m},${(v[t] + 10 * k).toFixed(3)}`)).join('\n') +
    '\n';

  it('a UTF-8 BOM is no part of the first header name: one series, long, wide, regressors', () => {
    const s = parseSeriesCsv(BOM + milk, { dateColumn: 'month', source: 'bom.csv' });
    assert.equal(s.frequency, 'monthly');
    assert.deepEqual(s.values, parseSeriesCsv(milk).values);
    const p = parsePanelCsv(BOM + long(), { idColumn: 'id', source: 'bom.csv' });
    assert.equal(p.idName, 'id');
    assert.equal(p.dateName, 'month');
    const w = parsePanelCsv(BOM + 'month,a\n' + d.map((m, t) => `${m},${v[t]}`).join('\n'), { wide: true });
    assert.equal(w.dateName, 'month');
    assert.deepEqual(
      w.series.map((x) => x.id),
      ['a'],
    );
    // The first column is a regressor: named without the BOM.
    const r = parseSeriesCsv(
      BOM + 'promo,month,value\n' + d.map((m, t) => `${t % 2},${m},${v[t]}`).join('\n'),
      {
        regressors: ['promo'],
      },
    );
    assert.deepEqual(r.covariates?.names, ['promo']);
  });

  it('semicolon- and tab-separated files are read as comma ones: one series, long, wide; a decimal comma is named', () => {
    for (const sep of [';', '\t']) {
      const as = (text: string): string => text.replace(/,/g, sep);
      const s = parseSeriesCsv(as(milk), { source: 'sep.csv' });
      assert.equal(s.frequency, 'monthly');
      assert.equal(s.name, 'value');
      assert.deepEqual(s.values, parseSeriesCsv(milk).values);
      const p = parsePanelCsv(as(long()), { idColumn: 'id', source: 'sep.csv' });
      assert.deepEqual(
        p.series.map((x) => x.id),
        ['a', 'b'],
      );
      assert.equal(p.dateName, 'month');
      const w = parsePanelCsv(as('month,a,b\n' + d.map((m, t) => `${m},${v[t]},${v[t] + 1}`).join('\n')), {
        wide: true,
      });
      assert.deepEqual(
        w.series.map((x) => x.id),
        ['a', 'b'],
      );
    }
    // Headerless, with a decimal comma: the semicolon still separates, and the comma is named rather than the columns.
    const europe = d.map((m, t) => `${m};${v[t].toFixed(1).replace('.', ',')}`).join('\n');
    assert.throws(
      () => parseSeriesCsv(europe, { source: 'eu.csv' }),
      (e: Error) =>
        e instanceof SeriesInputError && /eu\.csv: .*"\d+,\d" has a decimal comma/.test(e.message),
    );
    // A comma file keeps commas, also when a header name holds a semicolon the data rows do not repeat.
    assert.equal(
      parseSeriesCsv('month,sales;EUR\n' + d.map((m, t) => `${m},${v[t]}`).join('\n')).name,
      'sales;EUR',
    );
    // A comma file keeps commas, also when a quoted cell holds semicolons.
    const quoted = parseSeriesCsv('"month;when",value\n' + d.map((m, t) => `${m},${v[t]}`).join('\n'));
    assert.equal(quoted.values.length, d.length);
  });

  it('a row of empty cells (",," below a spreadsheet\'s data) is a blank line, not a missing value', () => {
    const rows = milk.trimEnd().split('\n');
    const text = [...rows.slice(0, 10), ' , ', ...rows.slice(10), ',', ''].join('\n');
    const s = parseSeriesCsv(text, { source: 'blank.csv' });
    assert.deepEqual(s.values, parseSeriesCsv(milk).values);
    assert.equal(s.lines?.[9], 12);
    const p = parsePanelCsv(long() + ',,\n', { idColumn: 'id' });
    assert.equal(p.series.length, 2);
    // A row with a date and no value is still a missing value.
    assert.throws(
      () => parseSeriesCsv([...rows, `${monthly(d.length)},`].join('\n'), { source: 'miss.csv' }),
      /miss\.csv: 1 missing value\(s\) in column 'value' \(line 42\)/,
    );
  });

  it('business days (every gap a weekend) are named as such, with what to do; other daily gaps are not', () => {
    const day0 = Date.UTC(2024, 0, 1); // a Monday
    const days = Array.from({ length: 70 }, (_, k) => day0 + k * 86_400_000);
    const weekdays = days.filter((ms) => ![0, 6].includes(new Date(ms).getUTCDay()));
    const text = (ms: number[]): string => csv(ms.map(iso), wave(ms.length, 5), 'date,value');
    assert.throws(
      () => parseSeriesCsv(text(weekdays), { source: 'bd.csv' }),
      (e: Error) =>
        e instanceof SeriesInputError &&
        /bd\.csv: daily series .* every missing day a Saturday or Sunday: business days; .*--season 5/.test(
          e.message,
        ),
    );
    // A gap on weekdays (and one on a weekend): the usual message.
    assert.throws(
      () => parseSeriesCsv(text(days.filter((_, k) => k !== 2 && k !== 5)), { source: 'gap.csv' }),
      (e: Error) => /gap\.csv: daily series .*; fix the data or pass --interpolate$/.test(e.message),
    );
  });

  it('one series with an index column (t, index, step… or --date-column): ordered by it, gaps found, labels kept', () => {
    const indexed = (ts: number[], header = 't,value'): string =>
      header + '\n' + ts.map((t, k) => `${t},${v[k]}`).join('\n') + '\n';
    const positions = v.map((_, k) => 101 + k);
    const up = parseSeriesCsv(indexed(positions));
    assert.deepEqual(up.values, v);
    assert.equal(up.dates[0], 't101');
    assert.deepEqual(datesAfter(up.dates, 2), ['t141', 't142']);
    // Newest-first: reversed, as dates are (it was forecast backwards in file order).
    const down = parseSeriesCsv(
      'index,value\n' +
        [...positions]
          .reverse()
          .map((t) => `${t},${v[t - 101]}`)
          .join('\n'),
    );
    assert.deepEqual(down.values, v);
    assert.equal(down.newestFirst, true);
    // Four-digit positions in a column named like an index are positions, not years; given as the date column, years.
    assert.equal(parseSeriesCsv(indexed(v.map((_, k) => 5001 + k))).dates[0], 't5001');
    assert.equal(
      parseSeriesCsv(
        indexed(
          v.map((_, k) => 1901 + k),
          'yr,value',
        ),
        { dateColumn: 'yr' },
      ).frequency,
      'yearly',
    );
    assert.equal(parseSeriesCsv(indexed(positions, 'n,value'), { dateColumn: 'n' }).dates[1], 't102');
    // A gap, a repeat, a step back: errors with lines; --interpolate fills the gap.
    const gapped = positions.filter((t) => t !== 110 && t !== 111);
    assert.throws(
      () => parseSeriesCsv(indexed(gapped), { source: 'g.csv' }),
      /g\.csv: the positions in column 't' have 1 gap\(s\): 109 … 112 \(line 11\); fix the data or pass --interpolate/,
    );
    const filled = parseSeriesCsv(indexed(gapped), { interpolate: true });
    assert.equal(filled.interpolated, 2);
    assert.equal(filled.dates[9], 't110');
    assert.throws(
      () => parseSeriesCsv(indexed([101, 102, 102, 103])),
      /position 102 in column 't' twice, on lines 3 and 4/,
    );
    assert.throws(
      () => parseSeriesCsv(indexed([101, 103, 102, 104])),
      /line 4: position 102 .* out of order/,
    );
  });

  it('numbers are plain decimals: 0x10, 0b1111, 0o17 are "not a number" in values, panels and regressors', () => {
    for (const ok of ['589', '-1.5e3', '.5', '+3', '5.', '1E-2', ' 7 '])
      assert.equal(parseDecimal(ok), Number(ok), ok);
    for (const no of [
      '0x10',
      '0X1f',
      '0b1111',
      '0o17',
      '1_000',
      'Infinity',
      '1e400',
      '',
      ' ',
      '1 000',
      '٣',
      '1.2.3',
    ])
      assert.equal(parseDecimal(no), null, no);
    const lines = milk.split('\n');
    for (const cell of ['0x10', '0b1111', '0o17']) {
      const one = [...lines];
      one[3] = `${d[2]},${cell}`;
      assert.throws(
        () => parseSeriesCsv(one.join('\n'), { source: 'hex.csv' }),
        new RegExp(`^Error: hex\\.csv, line 4: value "${cell}" in column 'value' is not a number$`),
      );
      const panel = long().split('\n');
      panel[5] = `a,${d[4]},${cell}`;
      assert.throws(
        () => parsePanelCsv(panel.join('\n'), { idColumn: 'id', valueColumn: 'value', source: 'p.csv' }),
        new RegExp(`p\\.csv, line 6, column 'value': value "${cell}" is not a number`),
      );
      const reg = long('id,month,promo').split('\n');
      reg[5] = `a,${d[4]},${cell}`;
      const withValue = reg.filter(Boolean).map((l, i) => `${l},${i === 0 ? 'value' : '1'}`);
      assert.throws(
        () => parsePanelCsv(withValue.join('\n'), { idColumn: 'id', regressors: ['promo'], source: 'r.csv' }),
        new RegExp(`r\\.csv, line 6, column 'promo': regressor value "${cell}" is not a number`),
      );
      const oneReg = lines.map((l, i) => `${l},${i === 0 ? 'promo' : i === 3 ? cell : '1'}`).slice(0, -1);
      assert.throws(
        () =>
          parseSeriesCsv(oneReg.join('\n'), { valueColumn: 'value', regressors: ['promo'], source: 'r.csv' }),
        new RegExp(`r\\.csv, line 4: regressor 'promo' has "${cell}", not a number`),
      );
    }
  });

  it('every date has the format of the first: a stray 1963 or 1963-01-31 23:00 among YYYY-MM is exit-2 input', () => {
    assert.equal(dateFormat('1962-01'), 'YYYY-MM');
    assert.equal(dateFormat('1962-1'), 'YYYY-MM');
    assert.equal(dateFormat('1963-01-31 23:00'), 'YYYY-MM-DD HH:MM');
    assert.equal(dateFormat('1962 q3'), 'YYYY Qn');
    for (const stray of ['1963', '1963-01-31 23:00', '1963-01-31', '1963-Q1', '1963/01']) {
      const dates = [...d];
      dates[12] = stray;
      assert.throws(
        () => parseSeriesCsv(csv(dates, v, 'month,value'), { source: 'mix.csv' }),
        new RegExp(
          `^Error: mix\\.csv, line 14: date ${JSON.stringify(stray)} in column 'month' is not in the format of the first date, YYYY-MM \\(line 2\\); every date must have the same format$`,
        ),
        stray,
      );
      // In a panel, across series: the whole file is refused, not one series.
      const panel = long().split('\n');
      panel[45] = panel[45].replace(/,[^,]+,/, `,${stray},`);
      assert.throws(
        () => parsePanelCsv(panel.join('\n'), { idColumn: 'id', source: 'p.csv' }),
        /p\.csv, line 46, column 'month': date .* is not in the format of the first date, YYYY-MM \(line 2\)/,
        stray,
      );
    }
    // Widths may vary within a format; every frequency still reads.
    assert.equal(
      parseSeriesCsv(csv(['2000-8', '2000-9', '2000-10', '2000-11'], [1, 2, 3, 4])).frequency,
      'monthly',
    );
  });

  it('names and values in messages are escaped: every message is one line', () => {
    const text = 'month,"val\nue"\n' + d.map((m) => `${m},abc`).join('\n');
    assert.throws(
      () => parseSeriesCsv(text, { valueColumn: 'val\nue', source: 'nl.csv' }),
      /^Error: nl\.csv, line 3: value "abc" in column 'val\\nue' is not a number$/,
    );
    assert.throws(
      () => parseSeriesCsv(milk, { dateColumn: 'mo\nnth', source: 'm.csv' }),
      /^Error: m\.csv: no date column named 'mo\\nnth' \(columns: month, value\)$/,
    );
    assert.equal(escapeText('a\r\n\tb\u0000\u2028'), 'a\\r\\n\\tb\\u0000\\u2028');
  });

  it('a column index counts from 0; one out of range names the valid range', () => {
    assert.equal(parseSeriesCsv(milk, { valueColumn: '1', dateColumn: '0' }).name, 'value');
    assert.throws(
      () => parseSeriesCsv(milk, { valueColumn: '2', source: 'm.csv' }),
      /^Error: m\.csv: value column 2 does not exist: the file has 2 columns; an index counts from 0, so give 0 to 1$/,
    );
    assert.throws(
      () => parsePanelCsv(long(), { idColumn: '3', source: 'p.csv' }),
      /^Error: p\.csv: id column 3 does not exist: the file has 3 columns; an index counts from 0, so give 0 to 2$/,
    );
  });

  it('seeded fuzz: numeric cells of every shape read as decimals or not at all; messages stay one line', () => {
    const rng = new Random(20260511);
    const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
    const digits = (): string => Array.from({ length: 1 + rng.int(4) }, () => String(rng.int(10))).join('');
    for (let i = 0; i < 2000; i++) {
      const decimal =
        pick(['', '+', '-']) +
        pick([digits(), `${digits()}.${digits()}`, `.${digits()}`, `${digits()}.`]) +
        pick(['', `e${digits()}`, `E-${digits()}`, `e+${rng.int(3)}`]);
      // A finite decimal reads as Number reads it; one beyond the doubles (1e999) is no number.
      const n = Number(decimal);
      assert.equal(parseDecimal(decimal), Number.isFinite(n) ? n : null, decimal);
      const junk = pick(['0x', '0X', '0b', '0o', '_', ' 1', 'x', 'e', '.', '\u0660', 'Infinity', '\n']);
      const at = rng.int(decimal.length + 1);
      const bad = decimal.slice(0, at) + junk + decimal.slice(at);
      const got = parseDecimal(bad);
      if (got !== null) {
        // Accepted only if still a plain decimal (junk that happened to fit: '.' or 'e' in the right place, a space).
        assert.match(bad.trim(), /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/, JSON.stringify(bad));
        assert.equal(got, Number(bad));
      }
      // Through the reader: a value is read as it is written, or the file is refused on one line naming it.
      const lines = milk.trimEnd().split('\n');
      const row = 1 + rng.int(lines.length - 1);
      lines[row] = `${d[row - 1]},${csvCell(bad)}`;
      const name = pick(['value', 'va"l', 'v\nal', 'v\u0085']);
      lines[0] = `month,${csvCell(name)}`;
      try {
        const s = parseSeriesCsv(lines.join('\n'), { source: 'f.csv' });
        assert.equal(s.values[row - 1], Number(bad.trim()), JSON.stringify(bad));
      } catch (e) {
        assert.ok(e instanceof SeriesInputError, `${JSON.stringify(bad)}: ${(e as Error).stack}`);
        assert.match(e.message, /^f\.csv/);
        assert.doesNotMatch(e.message, /[\n\r\u0085\u2028]/, e.message);
      }
    }
  });
});

describe('recur forecast: input handling (QA, CLI)', () => {
  const { dir, write, run, bad } = forecastCli(
    'recur-fcqa-',
    '--candidates theta --baselines none --threads 1'.split(' '),
  );
  const v = wave(60, 12);
  const d = v.map((_, t) => monthly(t));
  const milk = csv(d, v, 'month,value');
  const panel =
    'id,month,value\n' +
    ['a', 'b'].flatMap((id, k) => d.map((m, t) => `${id},${m},${(v[t] + 10 * k).toFixed(3)}`)).join('\n') +
    '\n';
  const bytes = (...parts: (string | number[])[]): Uint8Array =>
    Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from(p))));

  it('a BOM is ignored: --date-column, --id-column, --wide, auto-detected columns in --output, forecast predict', () => {
    const one = write('bom.csv', '\ufeff' + milk);
    assert.equal(run([one, '--date-column', 'month', '--quiet']).code, 0);
    const out = join(dir, 'bom-panel.csv');
    const p = run([
      write('bom-panel-in.csv', '\ufeff' + panel),
      '--id-column',
      'id',
      '--horizon',
      '6',
      '--quiet',
      '--output',
      out,
    ]);
    assert.equal(p.code, 0, p.stderr);
    assert.match(readFileSync(out, 'utf8'), /^id,month,forecast,/);
    const wideOut = join(dir, 'bom-wide.csv');
    const wide = write(
      'bom-wide-in.csv',
      '\ufeffmonth,a\n' + d.map((m, t) => `${m},${v[t]}`).join('\n') + '\n',
    );
    const w = run([wide, '--wide', '--horizon', '6', '--quiet', '--output', wideOut]);
    assert.equal(w.code, 0, w.stderr);
    assert.match(readFileSync(wideOut, 'utf8'), /^id,month,forecast,/);
    const saved = join(dir, 'bom-fc');
    assert.equal(run([write('plain.csv', milk), '--holdout', '0', '--out', saved, '--quiet']).code, 0);
    const again = runCli(['forecast', 'predict', saved, one, '--json']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { forecast: number[] }).forecast.length, 12);
  });

  it('bad input is exit 2 on one line: invalid UTF-8 (value, note column, header), 0x10, a newline in a name, mixed dates', () => {
    const lines = milk.split('\n');
    // Too short to read: the early check says why its minimum is 4, not the forecast's rule.
    bad(
      [write('three.csv', lines.slice(0, 4).join('\n') + '\n')],
      /three\.csv has 3 points; at least 4 are needed \(to read a series at all; a forecast then needs two seasons plus the horizon\)/,
    );
    // 'month,value\n' is 12 bytes, '1990-01,' 8 more: the bad byte is at offset 20 on line 2.
    bad(
      [write('latin1.csv', bytes('month,value\n1990-01,', [0xff], lines.slice(1).join('\n').slice(8)))],
      /latin1\.csv is not valid UTF-8 \(byte 0xff at offset 20, line 2\)/,
    );
    bad(
      [
        write(
          'note.csv',
          bytes(
            'month,value,note\n',
            lines.slice(1, 3).join(',x\n'),
            ',caf',
            [0xe9],
            '\n',
            lines.slice(3).join(',x\n'),
          ),
        ),
      ],
      /note\.csv is not valid UTF-8 \(byte 0xe9 at offset \d+, line 3\)/,
    );
    bad(
      [write('head.csv', bytes('mon', [0xc3, 0x28], 'th,value\n', lines.slice(1).join('\n')))],
      /head\.csv is not valid UTF-8 \(byte 0xc3 at offset 3, line 1\)/,
    );
    const hex = [...lines];
    hex[5] = `${d[4]},0x10`;
    bad(
      [write('hex.csv', hex.join('\n'))],
      /hex\.csv, line 6: value "0x10" in column 'value' is not a number/,
    );
    bad(
      [
        write(
          'nl.csv',
          'month,"val\nue"\n' +
            lines
              .slice(1)
              .join('\n')
              .replace(/,[\d.]+\n/, ',abc\n'),
        ),
        '--value-column',
        'val\nue',
      ],
      /nl\.csv, line 3: value "abc" in column 'val\\nue' is not a number/,
    );
    const mixed = [...lines];
    mixed[13] = mixed[13].replace(/^[^,]+/, '1991-01-31 23:00');
    bad(
      [write('mixed.csv', mixed.join('\n'))],
      /mixed\.csv, line 14: date "1991-01-31 23:00" in column 'month' is not in the format of the first date, YYYY-MM \(line 2\)/,
    );
    bad(
      [write('idx.csv', milk), '--value-column', '2'],
      /idx\.csv: value column 2 does not exist: .* give 0 to 1$/,
    );
  });

  it('--interpolate leaves out missing values at the start or end, and says so (lines, --json left_out)', () => {
    // Oldest-first with the last value missing, newest-first with it first in the file: the same date left out.
    const rows = milk.trimEnd().split('\n');
    const lastMissing = [...rows.slice(0, -1), `${d[d.length - 1]},NA`].join('\n') + '\n';
    const newestFirst = [rows[0], `${d[d.length - 1]},`, ...rows.slice(1, -1).reverse()].join('\n') + '\n';
    for (const [name, text, line] of [
      ['last-na.csv', lastMissing, 61],
      ['newest-na.csv', newestFirst, 2],
    ] as const) {
      const s = parseSeriesCsv(text, { interpolate: true, source: name });
      assert.deepEqual(s.leftOut, [line]);
      assert.equal(s.dates[s.dates.length - 1], d[d.length - 2]);
      const r = run([write(name, text), '--interpolate', '--holdout', '0']);
      assert.equal(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`1 missing value\\(s\\) at its start or end left out.*\\(line ${line}\\)`),
      );
      const j = run([write(name, text), '--interpolate', '--holdout', '0', '--json']);
      expectSnakeKeys(j.stdout);
      assert.deepEqual((JSON.parse(j.stdout) as { left_out?: number[] }).left_out, [line]);
    }
    // forecast predict says so too.
    const saved = join(dir, 'left-out-fc');
    assert.equal(run([write('full.csv', milk), '--holdout', '0', '--out', saved, '--quiet']).code, 0);
    const p = runCli(['forecast', 'predict', saved, join(dir, 'last-na.csv'), '--interpolate']);
    assert.equal(p.code, 0, p.stderr);
    assert.match(p.stderr, /1 missing value\(s\) at its start or end left out.*\(line 61\)/);
    // A missing value between two values is interpolated, not left out.
    const inner = [...rows.slice(0, 5), `${d[4]},`, ...rows.slice(6)].join('\n') + '\n';
    const s = parseSeriesCsv(inner, { interpolate: true });
    assert.equal(s.leftOut, undefined);
    assert.equal(s.interpolated, 1);
  });

  it('--output .tsv is tab-separated (one series, a panel, forecast predict), as .tsv files are read', () => {
    const one = join(dir, 'one.tsv');
    assert.equal(run([write('tsv-in.csv', milk), '--output', one, '--quiet']).code, 0);
    const lines = readFileSync(one, 'utf8').trimEnd().split('\n');
    assert.equal(
      lines[0],
      ['date', 'forecast', 'lower_80', 'upper_80', 'lower_95', 'upper_95', 'actual'].join('\t'),
    );
    assert.equal(lines[1].split('\t').length, 7);
    assert.ok(!lines[1].includes(','));
    const many = join(dir, 'many.tsv');
    const ids = panel.replace(/^b,/gm, '"b,\tc",');
    assert.equal(
      run([write('tsv-panel.csv', ids), '--id-column', 'id', '--output', many, '--quiet']).code,
      0,
    );
    const rows = readFileSync(many, 'utf8').trimEnd().split('\n');
    assert.equal(rows[0].split('\t')[0], 'id');
    assert.ok(
      rows.some((r) => r.startsWith('"b,\tc"\t')),
      rows.join('\n'),
    );
    const saved = join(dir, 'tsv-fc');
    assert.equal(run([write('tsv-in.csv', milk), '--holdout', '0', '--out', saved, '--quiet']).code, 0);
    const p = runCli(['forecast', 'predict', saved, join(dir, 'tsv-in.csv'), '--output', join(dir, 'p.tsv')]);
    assert.equal(p.code, 0, p.stderr);
    assert.match(readFileSync(join(dir, 'p.tsv'), 'utf8'), /^date\tforecast\t/);
  });

  it("many series: each series' notes are printed after the run (not only in --json); --quiet keeps them", () => {
    const short =
      panel +
      d
        .slice(0, 36)
        .map((m, t) => `s,${m},${v[t].toFixed(3)}`)
        .join('\n') +
      '\n';
    const file = write('notes-panel.csv', short);
    const r = run([file, '--id-column', 'id']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^note: s: no backtest: 24 points are too short for a backtest/m);
    assert.match(r.stderr, /^note: s: theta has no backtest, so no intervals$/m);
    assert.doesNotMatch(r.stderr, /^note: [ab]:/m);
    const quiet = run([file, '--id-column', 'id', '--quiet']);
    assert.deepEqual(
      quiet.stderr.split('\n').filter((l) => l.startsWith('note: ')),
      r.stderr.split('\n').filter((l) => l.startsWith('note: ')),
    );
  });

  it('--quiet never hides a failed series: one line each on stderr, exit status unchanged', () => {
    // 20 points a series: too few for season 12 and horizon 18.
    const short =
      'id,t,value\n' +
      ['s1', 's2', 's3']
        .flatMap((id) => v.slice(0, 20).map((x, t) => `${id},${t + 1},${x.toFixed(2)}`))
        .join('\n');
    const file = write('short.csv', short);
    const args = [
      file,
      '--id-column',
      'id',
      '--season',
      '12',
      '--horizon',
      '18',
      '--candidates',
      'ets,theta',
      '--threads',
      '1',
    ];
    const quiet = runCli(['forecast', ...args, '--quiet']);
    assert.equal(quiet.code, 1);
    assert.equal(quiet.stdout, '');
    const lines = quiet.stderr.trim().split('\n');
    assert.deepEqual(
      lines.map((l) => l.split(':')[0]),
      ['s1', 's2', 's3'],
      quiet.stderr,
    );
    for (const l of lines) assert.match(l, /: failed: series "s\d" has 20 points; at least 42 are needed/);
    // Without --quiet the same reasons are there (with the progress), and the exit status is the same.
    const loud = runCli(['forecast', ...args]);
    assert.equal(loud.code, 1);
    for (const l of lines) assert.ok(loud.stderr.includes(l.slice(l.indexOf('failed'))), loud.stderr);
  });

  it('--help: column indexes count from 0; the horizon default says the season-1 rule; --holdout is the horizon or 0', () => {
    const r = runCli(['forecast', '--help']);
    assert.equal(r.code, 0);
    const help = r.stdout.replace(/\s+/g, ' ');
    assert.match(
      help,
      /--value-column <name\|index> column of values, by header name or by index counting from 0/,
    );
    assert.match(help, /--date-column <name\|index> column of dates, by name or index from 0/);
    assert.match(help, /--horizon <n> points to forecast \(default: one season, or 12 when the season is 1;/);
    // Any other n is refused (exit 2): "the last n points" alone read as any n.
    assert.match(
      help,
      /--holdout <n> hold out the last n points to score the forecast: n is the horizon \(the default\) or 0 \(forecast the future\)/,
    );
    const other = runCli(['forecast', '--holdout', '6', '--candidates', 'ets', '-q']);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /--holdout must be 0 \(forecast the future\) or equal to --horizon \(12\)/);
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
