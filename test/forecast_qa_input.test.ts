/**
 * One series with missing values (QA): an empty or NA value cell is a missing value, as in a panel — named with its
 * lines and filled by --interpolate, not "not a number" whatever the flag.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseSeriesCsv, SeriesInputError } from '../src/forecast/series.js';
import { runCli } from './cli_helpers.js';

const month = (t: number): string => `${2000 + Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')}`;
const values = Array.from({ length: 48 }, (_, t) => 100 + t + 10 * Math.sin((2 * Math.PI * t) / 12));
/** Monthly CSV text with the value cells at `missing` replaced by `cell`. */
function withMissing(missing: readonly number[], cell: string): string {
  const rows = values.map((v, t) => `${month(t)},${missing.includes(t) ? cell : v.toFixed(3)}`);
  return ['month,sales', ...rows].join('\n') + '\n';
}

describe('one series: missing values', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-qa-missing-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const cell of ['', 'NA', 'NaN']) {
    it(`a value cell ${JSON.stringify(cell)} is a missing value naming its lines; --interpolate fills it`, () => {
      const text = withMissing([10, 11], cell);
      assert.throws(
        () => parseSeriesCsv(text, { source: 'f.csv' }),
        (e: Error) =>
          e instanceof SeriesInputError &&
          /2 missing value\(s\) in column 'sales' \(line 12, 13\); fix the data or pass --interpolate/.test(
            e.message,
          ),
      );
      const s = parseSeriesCsv(text, { source: 'f.csv', interpolate: true });
      assert.equal(s.values.length, 48);
      assert.equal(s.interpolated, 2);
      assert.equal(s.dates[10], '2000-11');
      // Linear between the neighbours, as a missing date is.
      const step = (values[12] - values[9]) / 3;
      assert.ok(Math.abs(s.values[10] - (values[9] + step)) < 1e-3);
      assert.ok(Math.abs(s.values[11] - (values[9] + 2 * step)) < 1e-3);
    });
  }

  it('without a date column a missing value cannot be interpolated and says so', () => {
    assert.throws(
      () => parseSeriesCsv('v\n1\n2\nNA\n4\n5\n', { source: 'u.csv', interpolate: true }),
      /1 missing value\(s\) in column 'v' \(line 4\); without a date column/,
    );
  });

  it('recur forecast: exit 2 naming the line without --interpolate, a forecast with it', () => {
    const file = join(dir, 'sales.csv');
    writeFileSync(file, withMissing([30], ''));
    const bad = runCli(['forecast', file, '--candidates', 'theta', '--threads', '1', '--quiet']);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /1 missing value\(s\) in column 'sales' \(line 32\)/);
    const ok = runCli([
      'forecast',
      file,
      '--candidates',
      'theta',
      '--threads',
      '1',
      '--interpolate',
      '--json',
    ]);
    assert.equal(ok.code, 0, ok.stderr);
    const o = JSON.parse(ok.stdout) as { interpolated: number; forecast: number[] };
    assert.equal(o.interpolated, 1);
    assert.equal(o.forecast.length, 12);
  });
});
