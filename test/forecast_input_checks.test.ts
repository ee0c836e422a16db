/**
 * One series with missing values (QA): an empty or NA value cell is a missing value, as in a panel — named with its
 * lines and filled by --interpolate, not "not a number" whatever the flag. Hourly data stamped at a minute past the
 * hour (00:30, 01:30, …) is hourly, not "finer than hourly or irregular". A quote never closed is named at the line
 * it opens on, not at the end of the file. Weekly dates with one a day off are not a daily series with 86% of it
 * missing (which --interpolate filled in), and two dates in one month of a monthly series are named as such.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { csvRecords, datesAfter, parseSeriesCsv, SeriesInputError } from '../src/forecast/series.js';
import { parsePanelCsv } from '../src/forecast/panel.js';
import { runCli } from './cli_helpers.js';

const month = (t: number): string => `${2000 + Math.floor(t / 12)}-${String((t % 12) + 1).padStart(2, '0')}`;
const values = Array.from({ length: 48 }, (_, t) => 100 + t + 10 * Math.sin((2 * Math.PI * t) / 12));
/** Monthly CSV text with the value cells at `missing` replaced by `cell`. */
function withMissing(missing: readonly number[], cell: string): string {
  const rows = values.map((v, t) => `${month(t)},${missing.includes(t) ? cell : v.toFixed(3)}`);
  return ['month,sales', ...rows].join('\n') + '\n';
}

describe('one series: missing values', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-forecast-missing-'));
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

describe('hourly series stamped at a minute past the hour', () => {
  const hour = (k: number, minute: number): string => {
    const t = new Date(Date.UTC(2024, 0, 1, 0, minute) + k * 3_600_000);
    const p = (n: number): string => String(n).padStart(2, '0');
    return `${t.getUTCFullYear()}-${p(t.getUTCMonth() + 1)}-${p(t.getUTCDate())} ${p(t.getUTCHours())}:${p(t.getUTCMinutes())}`;
  };
  const text = (minute: number, skip = -1): string =>
    [
      'ts,load',
      ...Array.from({ length: 72 }, (_, k) => k)
        .filter((k) => k !== skip)
        .map((k) => `${hour(k, minute)},${(10 + Math.sin(k / 3)).toFixed(3)}`),
    ].join('\n') + '\n';

  it('00:30, 01:30, … is hourly, labelled at its minute, and so is the future', () => {
    const s = parseSeriesCsv(text(30), { source: 'h.csv' });
    assert.equal(s.frequency, 'hourly');
    assert.equal(s.dates[0], '2024-01-01 00:30');
    assert.equal(s.dates[71], '2024-01-03 23:30');
    assert.deepEqual(datesAfter(s.dates, 2, s.frequency), ['2024-01-04 00:30', '2024-01-04 01:30']);
  });

  it('a missing hour is a gap named at its minute, filled by --interpolate', () => {
    assert.throws(
      () => parseSeriesCsv(text(30, 10), { source: 'h.csv' }),
      /1 missing hour\(s\) in 1 gap\(s\): 2024-01-01 09:30 … 2024-01-01 11:30/,
    );
    const s = parseSeriesCsv(text(30, 10), { source: 'h.csv', interpolate: true });
    assert.equal(s.dates[10], '2024-01-01 10:30');
    assert.equal(s.interpolated, 1);
  });

  it('on the hour stays as it was; a minute that changes is irregular', () => {
    assert.equal(parseSeriesCsv(text(0), { source: 'h.csv' }).dates[1], '2024-01-01 01:00');
    const mixed = text(30).replace('2024-01-01 05:30', '2024-01-01 05:45');
    assert.throws(() => parseSeriesCsv(mixed, { source: 'h.csv' }), /finer than hourly or irregular/);
  });
});

describe('a quoted cell never closed', () => {
  it('is named at the line its quote opens on, in one series and in a panel', () => {
    const rows = values.map((v, t) => `${month(t)},${t === 9 ? '"' : ''}${v.toFixed(3)}`);
    assert.throws(
      () => parseSeriesCsv(['month,sales', ...rows].join('\n') + '\n', { source: 'q.csv' }),
      /^Error: q\.csv, line 11: a quoted cell is never closed/,
    );
    const long = ['id,month,sales', ...rows.map((r, t) => `${t === 20 ? '"a' : 'a'},${r.replace('"', '')}`)];
    assert.throws(
      () => parsePanelCsv(long.join('\n') + '\n', { idColumn: 'id', source: 'p.csv' }),
      /^Error: p\.csv, line 22: a quoted cell is never closed/,
    );
  });
});

describe('a row with more or fewer cells than the first', () => {
  it('is named at its line with both counts, in one series and in a panel, not in csv-parse words', () => {
    const rows = values.map((v, t) => `${month(t)},${v.toFixed(3)}${t === 9 ? ',7' : ''}`);
    assert.throws(
      () => parseSeriesCsv(['month,sales', ...rows].join('\n') + '\n', { source: 'r.csv' }),
      /^Error: r\.csv, line 11: 3 cells, but the first line has 2; every row needs one cell per column \(quote a cell that holds the separator\)$/,
    );
    const long = [
      'id,month,sales',
      ...rows.map((r, t) => (t === 20 ? `a,${month(t)}` : `a,${r.replace(/,7$/, '')}`)),
    ];
    assert.throws(
      () => parsePanelCsv(long.join('\n') + '\n', { idColumn: 'id', source: 'p.csv' }),
      /^Error: p\.csv, line 22: 2 cells, but the first line has 3; every row needs one cell per column/,
    );
  });

  it('a quote that runs a cell on over the next line is named at the line it opens on', () => {
    for (const eol of ['\n', '\r\n']) {
      // Line 11's value opens a quote that line 12's date closes: one row of 3 cells, over lines 11 and 12.
      const rows = values.map((v, t) => `${month(t)},${t === 9 ? '"' : ''}${v.toFixed(3)}`);
      rows[10] = rows[10].replace(',', '",');
      assert.throws(
        () => parseSeriesCsv(['month,sales', ...rows].join(eol) + eol, { source: 'r.csv' }),
        /^Error: r\.csv, line 11: 3 cells, but the first line has 2 \(a quoted cell runs from it to line 12: is a quote misplaced\?\); every row/,
        JSON.stringify(eol),
      );
    }
  });

  it('a row with a line break in a quoted cell is numbered by its first line, the rows after it by their own', () => {
    for (const eol of ['\n', '\r\n']) {
      const text = ['month,sales', '2001-01,1', `2001-02,"2${eol}${eol}"`, '2001-03,x', ''].join(eol);
      assert.deepEqual(
        csvRecords(text, 'b.csv').map((r) => r.info.lines),
        [1, 2, 3, 6],
        JSON.stringify(eol),
      );
    }
  });
});

describe('dates a step apart, but for one', () => {
  const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
  const weekly = (shift: number): string =>
    [
      'week,v',
      ...Array.from({ length: 120 }, (_, i) => {
        const ms = Date.UTC(2018, 0, 7) + (7 * i + (i === 60 ? shift : 0)) * 86_400_000;
        return `${day(ms)},${(50 + 10 * Math.sin(i / 3)).toFixed(2)}`;
      }),
    ].join('\n') + '\n';

  it('weekly dates with one a day late are refused, naming it, even with --interpolate', () => {
    for (const interpolate of [false, true])
      assert.throws(
        () => parseSeriesCsv(weekly(1), { source: 'w.csv', interpolate }),
        /^Error: w\.csv: weekly dates \(mostly 7 days apart\), but line 62 \(2019-03-04\) is 8 days after the date before it; every date of a weekly series must be a whole number of weeks \(7 days\) after the one before$/,
      );
    assert.throws(
      () => parseSeriesCsv(weekly(-1), { source: 'w.csv' }),
      /: weekly dates \(mostly 7 days apart\), but line 62 \(2019-03-02\) is 6 days after the date before it;/,
    );
    assert.equal(parseSeriesCsv(weekly(0), { source: 'w.csv' }).frequency, 'weekly');
  });

  it('two dates in one month of a monthly series are named', () => {
    const rows = values.map((v, t) => `${month(t)}-15,${v.toFixed(2)}`);
    rows[20] = `${month(19)}-16,${values[20].toFixed(2)}`;
    assert.throws(
      () => parseSeriesCsv(['d,v', ...rows].join('\n') + '\n', { source: 'm.csv', interpolate: true }),
      /^Error: m\.csv: monthly dates, but line 22 \(2001-08-16\) is in the same month as line 21 \(2001-08-15\)$/,
    );
  });

  it('a regular series with a few gaps still reads, and --interpolate fills them', () => {
    const rows = values.map((v, t) => `${month(t)},${v.toFixed(2)}`).filter((_, t) => t !== 10 && t !== 30);
    const s = parseSeriesCsv(['m,v', ...rows].join('\n') + '\n', { source: 'g.csv', interpolate: true });
    assert.equal(s.values.length, 48);
    assert.equal(s.interpolated, 2);
  });
});

describe('a failed series of a panel', () => {
  it('is named with its id quoted, as every other message names a series', () => {
    const dir = mkdtempSync(join(tmpdir(), 'recur-forecast-failed-'));
    after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'panel.csv');
    const rows = ['id,t,v'];
    for (let i = 0; i < 40; i++) rows.push(`a,${i + 1},${10 + (i % 4)}`);
    for (let i = 0; i < 3; i++) rows.push(`b,${i + 1},${5 + i}`);
    writeFileSync(file, rows.join('\n') + '\n');
    const r = runCli(['forecast', file, '--id-column', 'id', '--season', '1', '--method', 'theta', '-q']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^b: failed: series "b" has 3 points; at least 4 are needed/m);
  });
});
