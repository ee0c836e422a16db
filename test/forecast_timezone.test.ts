/**
 * Dates with a UTC offset (exported timestamps: `2024-01-01T00:00:00+02:00`, `…Z`): read at the wall clock written,
 * so daily and monthly exports at local midnight keep their days and months; an hourly series whose offsets change
 * (daylight saving time) is read at its UTC instants, so the hour its clock repeats or skips is no duplicate or gap.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import '../src/node/forecast.js'; // the Node loaders of the baselines' wasm
import { parsePanelCsv } from '../src/forecast/panel.js';
import { dateFormat, instantMs, parseDate, parseSeriesCsv } from '../src/forecast/series.js';
import { runCli } from './cli_helpers.js';

const pad = (n: number): string => String(n).padStart(2, '0');

/** An ISO timestamp of UTC instant `ms` written at offset `hours` (+02:00). */
function stamp(ms: number, hours: number): string {
  const t = new Date(ms + hours * 3_600_000);
  const sign = hours < 0 ? '-' : '+';
  return `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}T${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:00${sign}${pad(Math.abs(hours))}:00`;
}

/** Europe/Berlin's offset at a UTC instant in 2024: +2 from 03-31 01:00 UTC to 10-27 01:00 UTC, else +1. */
function berlin(ms: number): number {
  return ms >= Date.UTC(2024, 2, 31, 1) && ms < Date.UTC(2024, 9, 27, 1) ? 2 : 1;
}

const value = (i: number): string => (100 + 10 * Math.sin((2 * Math.PI * i) / 24) + 0.05 * i).toFixed(3);

describe('dates with UTC offsets', () => {
  const dir = mkdtempSync(join(tmpdir(), 'recur-tz-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('parses Z, ±HH:MM, ±HHMM and ±HH after a time; keeps the wall clock and records the offset', () => {
    const d = parseDate('2024-01-01T00:00:00+02:00')!;
    assert.equal(d.ms, Date.UTC(2024, 0, 1));
    assert.equal(d.offsetMinutes, 120);
    assert.equal(instantMs(d), Date.UTC(2023, 11, 31, 22));
    assert.equal(parseDate('2024-01-01 13:30Z')!.offsetMinutes, 0);
    assert.equal(parseDate('2024-01-01T13:30:00.250-0530')!.offsetMinutes, -330);
    assert.equal(parseDate('2024-01-01T13:00-05')!.offsetMinutes, -300);
    assert.equal(parseDate('2024-01-01T13:00')!.offsetMinutes, undefined);
    // Not offsets: one on a date without a time, an impossible one, a stray sign.
    for (const bad of [
      '2024-01-01+02:00',
      '2024-01-01T13:00+15:00',
      '2024-01-01T13:00+02:75',
      '2024-01-01T13:00+',
    ])
      assert.equal(parseDate(bad), null, bad);
    // The format's offset part is its form, not its sign or value: DST may change both within a file.
    assert.equal(dateFormat('2024-01-01T00:00:00+02:00'), 'YYYY-MM-DDTHH:MM:SS±HH:MM');
    assert.equal(dateFormat('2024-07-01T00:00:00-01:00'), 'YYYY-MM-DDTHH:MM:SS±HH:MM');
    assert.equal(dateFormat('2024-01-01 00:00Z'), 'YYYY-MM-DD HH:MMZ');
    assert.equal(dateFormat('1962-01'), 'YYYY-MM');
  });

  it('a monthly export at local midnight keeps its months, daylight saving time or not', () => {
    const rows = ['month,value'];
    for (let m = 0; m < 48; m++) {
      const offset = m % 12 >= 3 && m % 12 <= 9 ? 2 : 1;
      rows.push(`${2020 + Math.floor(m / 12)}-${pad((m % 12) + 1)}-01T00:00:00+0${offset}:00,${value(m)}`);
    }
    const s = parseSeriesCsv(rows.join('\n'), { source: 'm.csv' });
    assert.equal(s.frequency, 'monthly');
    assert.equal(s.offsets, 'wall clock');
    assert.equal(s.dates[0], '2020-01'); // not 2019-12, the UTC instant's month
    assert.equal(s.dates[47], '2023-12');
  });

  it('an hourly series across the autumn change is read at its UTC instants: no duplicate hour', () => {
    const start = Date.UTC(2024, 9, 25, 0);
    const rows = ['time,value'];
    for (let i = 0; i < 24 * 5; i++)
      rows.push(`${stamp(start + i * 3_600_000, berlin(start + i * 3_600_000))},${value(i)}`);
    // The repeated wall-clock hour is there twice, with its two offsets.
    assert.ok(rows.includes(`2024-10-27T02:00:00+02:00,${value(48)}`));
    assert.ok(rows.includes(`2024-10-27T02:00:00+01:00,${value(49)}`));
    const s = parseSeriesCsv(rows.join('\n'), { source: 'h.csv' });
    assert.equal(s.frequency, 'hourly');
    assert.equal(s.offsets, 'utc');
    assert.equal(s.values.length, 120);
    assert.equal(s.dates[0], '2024-10-25 00:00');
    assert.equal(s.dates[49], '2024-10-27 01:00');
    // The same rows shuffled in a long-format file: sorted by instant, not by the repeated wall clock.
    const long = [
      'id,' + rows[0],
      ...rows
        .slice(1)
        .reverse()
        .map((r) => `a,${r}`),
    ];
    const p = parsePanelCsv(long.join('\n'), { idColumn: 'id', source: 'p.csv' });
    assert.deepEqual(p.series[0].series?.values, s.values);
  });

  it('an hourly series across the spring change: no gap where the clock skips an hour', () => {
    const start = Date.UTC(2024, 2, 29, 0);
    const rows = ['time,value'];
    for (let i = 0; i < 24 * 5; i++)
      rows.push(`${stamp(start + i * 3_600_000, berlin(start + i * 3_600_000))},${value(i)}`);
    assert.ok(!rows.some((r) => r.startsWith('2024-03-31T02:')));
    const s = parseSeriesCsv(rows.join('\n'), { source: 'h.csv' });
    assert.equal(s.frequency, 'hourly');
    assert.equal(s.values.length, 120);
    assert.equal(s.interpolated, 0);
  });

  it('a bad date names the offsets among the formats, in one file or many series', () => {
    assert.throws(
      () => parseSeriesCsv('date,v\n2024-01-01T00:00+02:00,1\n2024-01-02+02:00,2\n', { source: 'b.csv' }),
      /not dates like .*UTC offset such as Z or \+02:00/,
    );
    assert.throws(
      () =>
        parsePanelCsv('id,date,v\na,2024-01-01T00:00+02:00,1\na,2024-01-02+02:00,2\n', {
          idColumn: 'id',
          source: 'b.csv',
        }),
      /not a date like .*UTC offset such as Z or \+02:00/,
    );
  });

  it('offsets written in different ISO forms (Z, +00:00, +0000) are one format; a missing offset is another', () => {
    // Two exports concatenated: one writes UTC as Z, the other as +00:00 (and a third as +0000).
    const forms = ['Z', '+00:00', '+0000'];
    const rows = ['date,value'];
    for (let m = 0; m < 36; m++)
      rows.push(
        `${2020 + Math.floor(m / 12)}-${pad((m % 12) + 1)}-01T00:00:00${forms[Math.floor(m / 12)]},${value(m)}`,
      );
    const s = parseSeriesCsv(rows.join('\n'), { source: 'cat.csv' });
    assert.equal(s.frequency, 'monthly');
    assert.equal(s.values.length, 36);
    const long = [
      'id,' + rows[0],
      ...rows.slice(1).map((r) => `a,${r}`),
      ...rows.slice(1).map((r) => `b,${r}`),
    ];
    const p = parsePanelCsv(long.join('\n'), { idColumn: 'id', source: 'cat.csv' });
    assert.deepEqual(p.series[1].series?.values, s.values);
    // Genuinely mixed formats are still refused, naming the line: no offset, or no seconds, among offsets.
    const noOffset = [...rows];
    noOffset[20] = `2021-07-01T00:00:00,${value(19)}`;
    assert.throws(
      () => parseSeriesCsv(noOffset.join('\n'), { source: 'cat.csv' }),
      /cat\.csv, line 21: date "2021-07-01T00:00:00" .* not in the format of the first date, YYYY-MM-DDTHH:MM:SSZ \(line 2\)/,
    );
    const noSeconds = [...rows];
    noSeconds[20] = `2021-07-01T00:00+00:00,${value(19)}`;
    assert.throws(
      () => parseSeriesCsv(noSeconds.join('\n'), { source: 'cat.csv' }),
      /cat\.csv, line 21: date/,
    );
    assert.throws(
      () =>
        parsePanelCsv(['id,' + noOffset[0], ...noOffset.slice(1).map((r) => `a,${r}`)].join('\n'), {
          idColumn: 'id',
          source: 'cat.csv',
        }),
      /cat\.csv, line 21, column 'date': date "2021-07-01T00:00:00" is not in the format of the first date/,
    );
  });

  it("a local clock's repeated autumn hour (no offsets) is a duplicate that says how to tell the two apart", () => {
    const rows = ['time,value'];
    for (let i = 0; i < 48; i++) {
      const t = new Date(Date.UTC(2024, 9, 26) + i * 3_600_000);
      const cell = `${t.toISOString().slice(0, 10)} ${pad(t.getUTCHours())}:00`;
      rows.push(`${cell},${value(i)}`);
      if (cell === '2024-10-27 02:00') rows.push(`${cell},${value(i)}`);
    }
    assert.throws(
      () => parseSeriesCsv(rows.join('\n'), { source: 'l.csv' }),
      /duplicate date 2024-10-27 02:00 on lines 28 and 29; .*daylight saving time ends: write the times with their UTC offsets \(2024-10-27 02:00\+02:00, then \+01:00\) or in UTC/,
    );
    // A duplicate day is no clock's.
    assert.throws(
      () => parseSeriesCsv('d,v\n2024-10-26,1\n2024-10-27,2\n2024-10-27,3\n', { source: 'd.csv' }),
      (e: Error) => /duplicate date 2024-10-27 on lines 3 and 4$/.test(e.message),
    );
  });

  it('a constant offset keeps the wall clock: hourly labels as written', () => {
    const rows = ['time,value'];
    for (let i = 0; i < 72; i++)
      rows.push(`${stamp(Date.UTC(2024, 0, 1) - 7_200_000 + i * 3_600_000, 2)},${value(i)}`);
    const s = parseSeriesCsv(rows.join('\n'), { source: 'c.csv' });
    assert.equal(s.frequency, 'hourly');
    assert.equal(s.offsets, 'wall clock');
    assert.equal(s.dates[0], '2024-01-01 00:00');
  });

  it('recur forecast reads them and says how; the forecast dates follow the series', () => {
    const rows = ['date,value'];
    for (let d = 0; d < 120; d++)
      rows.push(`${stamp(Date.UTC(2024, 0, 1) - 3_600_000 + d * 86_400_000, 1)},${value(d * 3.43)}`);
    const file = join(dir, 'daily.csv');
    writeFileSync(file, rows.join('\n') + '\n');
    const r = runCli(['forecast', file, '--candidates', 'theta,seasonal naive', '--horizon', '7', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      frequency: string;
      offsets: string;
      dates: string[];
    };
    assert.equal(out.frequency, 'daily');
    assert.equal(out.offsets, 'wall clock');
    assert.equal(out.dates[0], '2024-04-23'); // the held-out week's first day, as written
    const plain = runCli(['forecast', file, '--candidates', 'theta,seasonal naive', '--horizon', '7']);
    assert.match(
      plain.stdout + plain.stderr,
      /2024-01-01 … 2024-04-29, oldest-first, at the local time written, UTC offsets dropped/,
    );
  });
});
