/**
 * Values near ±1e308 (QA): a forecaster given one failed inside a method (ETS: "trend model error: no model found",
 * Theta and the damped trend: "a non-finite forecast", intervals of NaN, from serve a 422 of the model's words). Values
 * beyond ±1e30 are now refused before any fit, naming the line (a file), the series (a panel, which goes on with the
 * others) and the range accepted; the library's autoForecast and forecastSaved: forecast_library_checks.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parsePanelCsv } from '../src/forecast/panel.js';
import { parseSeriesCsv, SeriesInputError } from '../src/forecast/series.js';
import { runCli } from './cli_helpers.js';

const month = (t: number): string => `${2000 + Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')}`;
const Y = Array.from({ length: 48 }, (_, t) => 100 + t + 10 * Math.sin((2 * Math.PI * t) / 12));
const RANGE = /is beyond ±1e30, the range of values recur forecasts .*; rescale it/;
/** Monthly rows `month,value` with the value at t = 30 (line 32) replaced by `cell`. */
const rows = (cell: string): string[] => Y.map((v, t) => `${month(t)},${t === 30 ? cell : v.toFixed(3)}`);

describe('values beyond ±1e30', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-forecast-range-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const cell of ['1.7e308', '-1.7976931348623157e308', '2e30'])
    it(`one series: ${cell} is refused naming its line and the range`, () => {
      assert.throws(
        () => parseSeriesCsv(['month,sales', ...rows(cell)].join('\n'), { source: 'f.csv' }),
        (e: Error) =>
          e instanceof SeriesInputError &&
          e.message.startsWith(`f.csv, line 32: value ${cell} in column 'sales' `) &&
          RANGE.test(e.message),
      );
    });

  it('the range itself is accepted', () => {
    const s = parseSeriesCsv(['month,sales', ...rows('-1e30')].join('\n'), {
      source: 'f.csv',
    });
    assert.equal(s.values[30], -1e30);
  });

  it('recur forecast: exit 2 and the line, no stack, before any fit', () => {
    const file = join(dir, 'huge.csv');
    writeFileSync(file, ['month,sales', ...rows('1.5e308')].join('\n') + '\n');
    const r = runCli(['forecast', file, '--candidates', 'ets,theta']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /huge\.csv, line 32: value 1\.5e308 in column 'sales' is beyond ±1e30/);
    assert.doesNotMatch(r.stderr, /ETS|\n\s+at /);
  });

  it('a panel: the series fails alone, named with its line; the others go on', () => {
    const text = [
      'id,month,sales',
      ...rows('1e308').map((r) => `a,${r}`),
      ...rows(Y[30].toFixed(3)).map((r) => `b,${r}`),
    ].join('\n');
    const p = parsePanelCsv(text, { idColumn: 'id', source: 'p.csv' });
    const [a, b] = p.series;
    assert.ok(
      a.error !== undefined && a.error.includes('value 1e+308 on line 32') && RANGE.test(a.error),
      a.error,
    );
    assert.equal(b.series?.values.length, 48);
  });

  it('a covariate beyond ±1e30 (its spread was NaN) stops the file naming its line and column', () => {
    const withPrice = (t: number): string => (t === 10 ? '1e300' : (10 + (t % 3)).toFixed(2));
    const single = ['month,price,sales', ...Y.map((v, t) => `${month(t)},${withPrice(t)},${v.toFixed(3)}`)];
    assert.throws(
      () => parseSeriesCsv(single.join('\n'), { source: 'x.csv', regressors: ['price'] }),
      (e: Error) => e.message.startsWith(`x.csv, line 12: regressor 'price' has 1e300, beyond ±1e30`),
    );
    const panel = ['id,month,price,sales', ...single.slice(1).map((r) => `a,${r}`)];
    assert.throws(
      () => parsePanelCsv(panel.join('\n'), { idColumn: 'id', source: 'x.csv', regressors: ['price'] }),
      (e: Error) =>
        e.message.startsWith(`x.csv, line 12, column 'price': regressor value 1e300 is beyond ±1e30`),
    );
  });
});
