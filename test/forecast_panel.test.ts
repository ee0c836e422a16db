/**
 * Many series in one command (issue #16, item 5): long-format (--id-column) and wide (--wide) CSVs read into the same
 * series, each forecast exactly as `recur forecast` forecasts it alone, per-series failures reported and not fatal,
 * bad input stopped with exit 2 naming line and column, the aggregate over series checked by hand, --json lines,
 * the --output file's shape, undated series with an index column, and Ctrl-C keeping the finished series.
 * Fast: short generated series and statistical candidates only (no network trains).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import type { Metrics } from '../src/forecast/metrics.js';
import {
  parsePanelCsv,
  summarizePanel,
  type SeriesForecast,
  type SeriesOutcome,
} from '../src/forecast/panel.js';
import { SeriesInputError } from '../src/forecast/series.js';
import { CLI, DATA_KEYED, expectSnakeKeys, runCli } from './cli_helpers.js';
import { JUNK_CELLS, damageCells, mutateBytes } from './fuzz_helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'recur-panel-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const pad = (n: number): string => String(n).padStart(2, '0');
const month = (t: number): string => `${2000 + Math.floor(t / 12)}-${pad((t % 12) + 1)}`;

/** A seasonal series with a trend and a deterministic wiggle; `k` varies its level, amplitude and wiggle. */
function wave(n: number, k: number): number[] {
  return Array.from({ length: n }, (_, t) =>
    Number(
      (
        100 +
        20 * k +
        (5 + 2 * k) * Math.sin((2 * Math.PI * t) / 12) +
        0.3 * t +
        2 * Math.sin(t * (1.3 + k))
      ).toFixed(3),
    ),
  );
}

const IDS = ['north', 'south', 'east'];
const N = 48;
const SERIES = IDS.map((_, k) => wave(N, k));
const FAST = [
  '--candidates',
  'ets,theta,seasonal naive',
  '--baselines',
  'naive',
  '--horizon',
  '6',
  '--threads',
  '2',
];

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** Long format with the rows of the series interleaved and the dates out of order (a panel need not be sorted). */
function longCsv(ids = IDS, series = SERIES): string {
  const rows: string[] = [];
  for (let t = N - 1; t >= 0; t--)
    ids.forEach((id, k) => series[k][t] !== undefined && rows.push(`${id},${month(t)},${series[k][t]}`));
  return 'id,month,sales\n' + rows.join('\n') + '\n';
}

function wideCsv(): string {
  return (
    'month,' +
    IDS.join(',') +
    '\n' +
    Array.from({ length: N }, (_, t) => [month(t), ...SERIES.map((s) => s[t])].join(',')).join('\n') +
    '\n'
  );
}

const jsonLines = (stdout: string): Record<string, unknown>[] =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('forecast many series: long and wide files', () => {
  it('reads the same series from a long file (any row order) and a wide file', () => {
    const long = parsePanelCsv(longCsv(), { idColumn: 'id', source: 'long.csv' });
    const wide = parsePanelCsv(wideCsv(), { wide: true, source: 'wide.csv' });
    assert.equal(long.format, 'long');
    assert.equal(wide.format, 'wide');
    assert.deepEqual(
      long.series.map((s) => s.id),
      IDS,
    );
    for (const [k, id] of IDS.entries()) {
      const a = long.series.find((s) => s.id === id)!.series!;
      const b = wide.series.find((s) => s.id === id)!.series!;
      assert.deepEqual(a.values, SERIES[k]);
      assert.deepEqual(b.values, SERIES[k]);
      assert.deepEqual(a.dates, b.dates);
      assert.equal(a.frequency, 'monthly');
    }
  });

  it('a wide file: shorter series padded with empty cells before their start and after their end', () => {
    const text =
      'month,a,b\n' +
      Array.from(
        { length: 30 },
        (_, t) => `${month(t)},${t < 4 ? '' : SERIES[0][t]},${t >= 27 ? '' : SERIES[1][t]}`,
      ).join('\n') +
      '\n';
    const p = parsePanelCsv(text, { wide: true });
    const a = p.series.find((x) => x.id === 'a')!.series!;
    const b = p.series.find((x) => x.id === 'b')!.series!;
    assert.deepEqual(a.values, SERIES[0].slice(4, 30));
    assert.equal(a.dates[0], month(4));
    assert.deepEqual(b.values, SERIES[1].slice(0, 27));
    assert.equal(b.dates[b.dates.length - 1], month(26));
  });

  it('one-series mode is not guessed into many: it forecasts the last numeric column and says how to get all', () => {
    const v = runCli(['forecast', write('wide1.csv', wideCsv()), ...FAST]);
    assert.equal(v.code, 0, v.stderr);
    assert.match(
      v.stderr,
      /has other numeric columns \(north, south\); forecasting 'east', the last — give --value-column to pick one, or --wide to forecast each/,
    );
  });

  it('forecasts each series exactly as `recur forecast` does alone, from either format', () => {
    const long = write('long.csv', longCsv());
    const wide = write('wide.csv', wideCsv());
    const l = runCli(['forecast', long, '--id-column', 'id', ...FAST, '--json']);
    assert.equal(l.code, 0, l.stderr);
    const w = runCli(['forecast', wide, '--wide', ...FAST, '--json']);
    assert.equal(w.code, 0, w.stderr);
    const byId = (lines: Record<string, unknown>[]): Map<string, Record<string, unknown>> =>
      new Map(lines.filter((x) => 'id' in x).map((x) => [x.id as string, x]));
    const ls = byId(jsonLines(l.stdout));
    const ws = byId(jsonLines(w.stdout));
    for (const [k, id] of IDS.entries()) {
      const one = write(
        `${id}.csv`,
        'month,sales\n' + SERIES[k].map((v, t) => `${month(t)},${v}`).join('\n') + '\n',
      );
      const s = runCli(['forecast', one, ...FAST, '--json']);
      assert.equal(s.code, 0, s.stderr);
      const alone = JSON.parse(s.stdout) as {
        method: string;
        forecast: number[];
        dates: string[];
        intervals: unknown[];
        metrics: Record<string, Metrics>;
      };
      for (const many of [ls.get(id)!, ws.get(id)!]) {
        assert.equal(many.method, alone.method, id);
        assert.deepEqual(many.forecast, alone.forecast, id);
        assert.deepEqual(many.dates, alone.dates, id);
        assert.deepEqual(many.intervals, alone.intervals, id);
        assert.deepEqual(many.metrics, alone.metrics, id);
      }
    }
  });

  it('--json: one line per series and a summary line; --output: long-format forecasts with intervals, written whole', () => {
    const long = write('long2.csv', longCsv());
    const output = join(dir, 'forecasts.csv');
    const r = runCli([
      'forecast',
      long,
      '--id-column',
      'id',
      ...FAST,
      '--level',
      '80,95',
      '--json',
      '--output',
      output,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const lines = jsonLines(r.stdout);
    assert.equal(lines.length, IDS.length + 1);
    const summary = lines[lines.length - 1].summary as { series: number; forecast: number; failed: number };
    assert.equal(summary.series, 3);
    assert.equal(summary.forecast, 3);
    assert.equal(summary.failed, 0);
    const rows = readFileSync(output, 'utf8').trim().split('\n');
    assert.equal(rows[0], 'id,month,forecast,lower_80,upper_80,lower_95,upper_95,actual');
    assert.equal(rows.length, 1 + 6 * IDS.length);
    for (const [k, id] of IDS.entries()) {
      const mine = rows.slice(1).filter((x) => x.startsWith(`${id},`));
      assert.equal(mine.length, 6);
      const line = lines.find((x) => x.id === id) as unknown as SeriesForecast;
      mine.forEach((row, i) => {
        const c = row.split(',');
        assert.equal(c[1], month(N - 6 + i));
        assert.equal(Number(c[2]), line.forecast[i]);
        assert.ok(Number(c[3]) <= Number(c[2]) && Number(c[2]) <= Number(c[4]), row);
        assert.ok(Number(c[5]) <= Number(c[3]) && Number(c[4]) <= Number(c[6]), row);
        assert.equal(Number(c[7]), SERIES[k][N - 6 + i]);
      });
    }
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.tmp')),
      [],
      'no temp file left',
    );
  });

  it('the human report: a per-series table and the aggregate table on stdout', () => {
    const long = write('long3.csv', longCsv());
    const r = runCli(['forecast', long, '--id-column', 'id', ...FAST]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^series\s+points\s+method\s+MASE\s+sMAPE %\s+RMSE\s+80% cov\s+95% cov$/m);
    for (const id of IDS) assert.match(r.stdout, new RegExp(`^${id}\\s+48\\s+\\S`, 'm'));
    assert.match(r.stdout, /^default \(chosen per series\)\s+3\s/m);
    assert.doesNotMatch(r.stdout, / $/m, 'no line ends in a space');
    assert.match(r.stdout, /^naive\s+3\s/m);
    assert.match(r.stdout, /80% intervals of the default: held-out coverage/);
    assert.match(r.stderr, /long format, 3 series \(id column 'id', date column 'month'\)/);
    // Off a terminal, a line per series with the rate since the series started, not since the first one finished
    // (which read 60000 series/min: one series in the clock's 1 ms floor).
    const rates = [...r.stderr.matchAll(/^\d+\/3 \S+: .*\(([\d.]+) series\/min\)$/gm)].map((m) =>
      Number(m[1]),
    );
    assert.equal(rates.length, 3, r.stderr);
    assert.ok(rates[0] < 6000, `the first series at ${rates[0]} series/min: ${r.stderr}`);
  });
});

describe('forecast many series: failures of one series and bad input', () => {
  it('a constant, a too-short, a non-finite and a gappy series fail with their reasons; the rest is forecast (exit 0)', () => {
    const rows = ['id,month,sales'];
    SERIES[0].forEach((v, t) => rows.push(`good,${month(t)},${v}`));
    for (let t = 0; t < N; t++) rows.push(`flat,${month(t)},7`);
    for (let t = 0; t < 10; t++) rows.push(`short,${month(t)},${SERIES[1][t]}`);
    SERIES[2].forEach((v, t) => rows.push(`inf,${month(t)},${t === 20 ? 'inf' : v}`));
    SERIES[2].forEach((v, t) => t !== 30 && rows.push(`gap,${month(t)},${v}`));
    SERIES[1].forEach((v, t) => rows.push(`na,${month(t)},${t === 5 ? 'NA' : v}`));
    const file = write('mixed.csv', rows.join('\n') + '\n');
    const r = runCli(['forecast', file, '--id-column', 'id', ...FAST, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const lines = jsonLines(r.stdout);
    const err = (id: string): string => String(lines.find((x) => x.id === id)?.error);
    assert.ok(Array.isArray(lines.find((x) => x.id === 'good')?.forecast));
    assert.match(err('flat'), /constant \(7\)/);
    assert.match(err('short'), /10 points; at least/);
    assert.match(err('inf'), /non-finite value on line \d+/);
    assert.match(err('gap'), /missing month.*2002-06 … 2002-08.*--interpolate/);
    assert.match(err('na'), /1 missing value\(s\) \(line \d+\).*--interpolate/);
    const summary = lines[lines.length - 1].summary as { forecast: number; failed: number };
    assert.equal(summary.forecast, 1);
    assert.equal(summary.failed, 5);
    // --interpolate fills the gap and the missing value.
    const i = runCli(['forecast', file, '--id-column', 'id', ...FAST, '--json', '--interpolate']);
    assert.equal(i.code, 0, i.stderr);
    const li = jsonLines(i.stdout);
    for (const id of ['good', 'gap', 'na'])
      assert.ok(Array.isArray(li.find((x) => x.id === id)?.forecast), id);
  });

  it('exit 1 when no series could be forecast', () => {
    const rows = ['id,month,sales'];
    for (const id of ['a', 'b']) for (let t = 0; t < 30; t++) rows.push(`${id},${month(t)},3`);
    const r = runCli(['forecast', write('flat.csv', rows.join('\n') + '\n'), '--id-column', 'id', ...FAST]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /0 of 2 series forecast, 2 failed/);
  });

  it('bad input stops the run with exit 2 naming the file, line and column', () => {
    const good = longCsv();
    const cases: [string, string, string[], RegExp][] = [
      [
        'noid.csv',
        good,
        ['--id-column', 'store'],
        /noid\.csv: no id column named 'store' \(columns: id, month, sales\)/,
      ],
      [
        'dup.csv',
        good + `south,${month(3)},1\n`,
        ['--id-column', 'id'],
        /dup\.csv: duplicate rows for series "south" at 'month' 2000-04: lines \d+ and 146/,
      ],
      [
        'text.csv',
        good.replace(/\nnorth,2001-01,[^\n]+/, '\nnorth,2001-01,lots'),
        ['--id-column', 'id'],
        /text\.csv, line \d+, column 'sales': value "lots" is not a number/,
      ],
      [
        'date.csv',
        good.replace(/\neast,2001-02,/, '\neast,Feb 2001,'),
        ['--id-column', 'id'],
        /date\.csv, line \d+, column 'month': "Feb 2001" is not a date/,
      ],
      [
        'twice.csv',
        'month,a,a\n2000-01,1,2\n',
        ['--wide'],
        /twice\.csv: two series columns are named 'a' \(columns 1 and 2\)/,
      ],
      ['both.csv', good, ['--id-column', 'id', '--wide'], /--wide and --id-column contradict each other/],
      [
        'nodate.csv',
        'a,b\n1.5,2.5\n2.5,3.5\n',
        ['--wide'],
        /a wide file needs a date \(or integer index\) column/,
      ],
      [
        'chart.csv',
        good,
        ['--id-column', 'id', '--chart', join(dir, 'c.svg')],
        /--chart works on one series/,
      ],
      [
        'noheader.csv',
        'a,2000-01,1\na,2000-02,2\n',
        ['--id-column', '0'],
        /line 1: the first row must be a header/,
      ],
    ];
    for (const [name, text, flags, message] of cases) {
      const output = join(dir, `${name}.out.csv`);
      const r = runCli(['forecast', write(name, text), ...flags, ...FAST, '--output', output]);
      assert.equal(r.code, 2, `${name}: ${r.stderr}`);
      assert.match(r.stderr, message, name);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${name}: one line\n${r.stderr}`);
      assert.ok(!existsSync(output), name);
    }
  });

  it('the panel reader either reads a file or throws SeriesInputError (seeded fuzz of cells)', () => {
    const rng = new Random(16);
    const junk = [...JUNK_CELLS, 'id'];
    const base = longCsv().split('\n');
    for (let i = 0; i < 300; i++) {
      const text = damageCells(base, rng, junk).join('\n');
      const opts = rng.int(2) === 0 ? { idColumn: 'id' } : { idColumn: 'id', interpolate: true };
      try {
        const p = parsePanelCsv(text, { ...opts, source: 'f.csv' });
        for (const s of p.series) {
          assert.ok((s.series === undefined) !== (s.error === undefined), `case ${i}: a series or a reason`);
          if (s.series) assert.ok(s.series.values.every(Number.isFinite), `case ${i}: finite values`);
        }
      } catch (e) {
        assert.ok(e instanceof SeriesInputError, `case ${i}: ${(e as Error).stack}\n${text.slice(0, 300)}`);
        assert.match(e.message, /^f\.csv/, `case ${i}`);
        assert.doesNotMatch(e.message, /[\n\r]/, `case ${i}: one line`);
      }
    }
  });

  it('the wide reader either reads a file or throws SeriesInputError (seeded fuzz of cells and bytes)', () => {
    const rng = new Random(17);
    const junk = [...JUNK_CELLS, 'month', IDS[0]];
    const base = wideCsv().split('\n');
    const bytes = Buffer.from(wideCsv());
    for (let i = 0; i < 300; i++) {
      // Cells overwritten, or the file's bytes damaged (decoded leniently: the CLI refuses invalid UTF-8 before).
      const text =
        i % 3 === 2
          ? Buffer.from(mutateBytes(bytes, rng).bytes).toString('utf8')
          : damageCells(base, rng, junk).join('\n');
      const interpolate = rng.int(2) === 0;
      try {
        const p = parsePanelCsv(text, { wide: true, interpolate, source: 'f.csv' });
        for (const s of p.series) {
          assert.ok((s.series === undefined) !== (s.error === undefined), `case ${i}: a series or a reason`);
          if (s.series) assert.ok(s.series.values.every(Number.isFinite), `case ${i}: finite values`);
        }
      } catch (e) {
        assert.ok(e instanceof SeriesInputError, `case ${i}: ${(e as Error).stack}\n${text.slice(0, 300)}`);
        assert.match(e.message, /^f\.csv/, `case ${i}`);
        assert.doesNotMatch(e.message, /[\n\r]/, `case ${i}: one line`);
      }
    }
  });
});

describe('forecast many series: the aggregate over series', () => {
  const m = (smape: number, mase: number): Metrics => ({ rmse: 1, mae: 1, mape: 1, smape, mase });
  const s = (
    id: string,
    method: string,
    metrics: Record<string, Metrics>,
    coverage: number[],
  ): SeriesForecast => ({
    id,
    points: 30,
    season: 12,
    horizon: 2,
    method,
    dates: ['a', 'b'],
    forecast: [1, 2],
    intervals: [],
    actual: [1, 2],
    metrics,
    heldOutIntervals: coverage.map((c, i) => ({ level: [80, 95][i], coverage: c, winkler: 10 * (i + 1) })),
    notes: [],
    seconds: 2,
  });
  it('means of the default and of each method on the same series, chosen counts, coverage per level', () => {
    const outcomes: SeriesOutcome[] = [
      s('a', 'ets', { ets: m(10, 1), theta: m(20, 2) }, [1, 1]),
      s('b', 'theta', { ets: m(30, 3), theta: m(6, 0.5) }, [0.5, 1]),
      // MASE not finite (a training part without seasonal-naive error): left out of the rows that need it.
      s('c', 'ets', { ets: m(4, Infinity), theta: m(8, 4) }, [0, 0.5]),
      { id: 'd', error: 'the series is constant (3)' },
    ];
    const sum = summarizePanel(outcomes);
    assert.equal(sum.series, 4);
    assert.equal(sum.forecast, 3);
    assert.equal(sum.failed, 1);
    assert.equal(sum.scored, 3);
    const row = (name: string) => sum.rows.find((r) => r.method === name)!;
    // Default: a's ets (10, 1) and b's theta (6, 0.5); c's chosen MASE is infinite.
    assert.deepEqual(row('default'), { method: 'default', series: 2, smape: 8, mase: 0.75, chosen: 2 });
    // ETS on a and b: (10 + 30) / 2, (1 + 3) / 2; the default on the same two: 8, 0.75; chosen on a and c.
    assert.deepEqual(row('ets'), {
      method: 'ets',
      series: 2,
      smape: 20,
      mase: 2,
      defaultSmape: 8,
      defaultMase: 0.75,
      chosen: 2,
    });
    // Theta: c's own score is finite but its default is not, so also a and b only.
    assert.deepEqual(row('theta'), {
      method: 'theta',
      series: 2,
      smape: 13,
      mase: 1.25,
      defaultSmape: 8,
      defaultMase: 0.75,
      chosen: 1,
    });
    assert.deepEqual(sum.coverage, [
      { level: 80, series: 3, coverage: 0.5, winkler: 10 },
      { level: 95, series: 3, coverage: 2.5 / 3, winkler: 20 },
    ]);
    assert.equal(sum.meanSeconds, 2);
  });
});

describe('forecast many series: undated series and Ctrl-C', () => {
  it('a long file with an integer index column (the M3 layout: id,t,value) runs with --season', () => {
    const rows = ['id,t,value'];
    IDS.forEach((id, k) => SERIES[k].forEach((v, t) => rows.push(`${id},${t + 1},${v}`)));
    const file = write('m3like.csv', rows.join('\n') + '\n');
    const no = runCli(['forecast', file, '--id-column', 'id', ...FAST]);
    assert.equal(no.code, 2);
    assert.match(no.stderr, /^recur: .*no dates \('t' holds positions, not dates\).*give --season N/);
    const output = join(dir, 'm3like.out.csv');
    const r = runCli([
      'forecast',
      file,
      '--id-column',
      'id',
      '--season',
      '12',
      ...FAST,
      '--baselines',
      'none', // scored on a hold-out, and --holdout 0 keeps none
      '--holdout',
      '0',
      '--json',
      '--output',
      output,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const first = jsonLines(r.stdout)[0] as unknown as SeriesForecast;
    assert.deepEqual(first.dates, ['49', '50', '51', '52', '53', '54']);
    assert.equal(first.actual, undefined);
    assert.equal(
      readFileSync(output, 'utf8').split('\n')[0],
      'id,t,forecast,lower_80,upper_80,lower_95,upper_95',
    );
  });

  /**
   * A panel of 30 series forecast with `args`, stopped by `signal` as soon as the first series' line is out: its exit
   * code, its stdout and the summary line.
   */
  async function stoppedPanelRun(
    signal: NodeJS.Signals,
    name: string,
    args: string[],
  ): Promise<{
    code: number | null;
    stdout: string;
    summary: { forecast: number; stopped: boolean; not_run: number };
  }> {
    const ids = Array.from({ length: 30 }, (_, i) => `s${i}`);
    const file = write(
      name,
      longCsv(
        ids,
        ids.map((_, k) => wave(N, k % 5)),
      ),
    );
    const child = spawn(
      process.execPath,
      [CLI, 'forecast', file, '--id-column', 'id', ...FAST, '--threads', '1', '--json', ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let signalled = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (!signalled && stdout.includes('\n')) {
        signalled = true;
        child.kill(signal);
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    const lines = jsonLines(stdout);
    const summary = lines[lines.length - 1].summary as {
      forecast: number;
      stopped: boolean;
      not_run: number;
    };
    return { code, stdout, summary };
  }

  it('Ctrl-C stops the run, keeps and writes the finished series, exit 130', async () => {
    const output = join(dir, 'stopped.csv');
    const { code, stdout, summary } = await stoppedPanelRun('SIGINT', 'many.csv', ['--output', output]);
    assert.equal(code, 130);
    expectSnakeKeys(stdout, [...DATA_KEYED, 'backtest']);
    assert.equal(summary.stopped, true);
    assert.ok(summary.forecast >= 1 && summary.not_run >= 1, JSON.stringify(summary));
    const rows = readFileSync(output, 'utf8').trim().split('\n');
    assert.equal(rows.length, 1 + 6 * summary.forecast);
  });

  // SIGTERM (a service manager's stop) was not handled: the run died at once, and with --out left the directory it
  // had made holding its lock. It now stops as Ctrl-C does, with exit 143.
  it('SIGTERM stops the run as Ctrl-C does: the finished series kept, --out left as it was, exit 143', async () => {
    const saveDir = join(dir, 'terminated');
    const { code, summary } = await stoppedPanelRun('SIGTERM', 'many-term.csv', ['--out', saveDir]);
    assert.equal(code, 143);
    assert.equal(summary.stopped, true);
    assert.ok(summary.forecast >= 1, JSON.stringify(summary));
    assert.equal(
      existsSync(saveDir),
      false,
      'the --out directory the stopped run made is gone, lock and all',
    );
  });
});

describe('forecast many series: the global network (the default for many series)', () => {
  const strip = (lines: Record<string, unknown>[]): Record<string, unknown>[] =>
    lines.filter((l) => 'id' in l).map(({ seconds: _s, ...rest }) => rest);

  it("a mean whose network had no backtest: the fallback's note comes after the reason it points to (see above)", () => {
    // 68 points, horizon 18, no hold-out: the first fold origin leaves 26 points, fewer than the backtest model needs,
    // while the final model trains on whole series.
    const rows = IDS.flatMap((id, k) => wave(68, k).map((v, t) => `${id},${month(t)},${v}`));
    const file = write('no-global-backtest.csv', 'id,month,sales\n' + rows.join('\n') + '\n');
    const r = runCli([
      'forecast',
      file,
      '--id-column',
      'id',
      '--horizon',
      '18',
      '--holdout',
      '0',
      '--epochs',
      '1',
      '--seeds',
      '1',
      '--threads',
      '1',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const series = jsonLines(r.stdout).filter((l) => 'id' in l) as unknown as SeriesForecast[];
    assert.equal(series.length, 3);
    for (const s of series) {
      const reason = s.notes.findIndex((n) => /^global: skipped: no backtest for the global network/.test(n));
      const fallback = s.notes.findIndex((n) =>
        /^ets\+theta\+global did not run in the backtest \(see above\)/.test(n),
      );
      assert.ok(reason >= 0 && fallback > reason, `${s.id}: ${s.notes.join(' | ')}`);
    }
  });

  it('--out: Ctrl-C as soon as the run holds the lock stops it with its message, exit 130, the directory as it was', () => {
    const long = write('global-stopped.csv', longCsv());
    const saveDir = join(dir, 'global-stopped');
    const args = ['forecast', long, '--id-column', 'id', '--epochs', '1', '--seeds', '1', '--threads', '1'];
    // A real SIGINT as the lock is taken, while the file is read: it used to end the run outright, its lock left.
    const r = runCli([...args, '--out', saveDir], { env: { RECUR_TEST_INTERRUPT_AT_START: '1' } });
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /stopping \(Ctrl-C\): the finished series are kept/);
    assert.equal(
      existsSync(saveDir),
      false,
      'the --out directory the stopped run made is gone, lock and all',
    );
  });

  it('without --out: Ctrl-C before the file is read stops it with the same message, exit 130', () => {
    const long = write('global-stopped-no-out.csv', longCsv());
    const args = ['forecast', long, '--id-column', 'id', '--epochs', '1', '--seeds', '1', '--threads', '1'];
    const r = runCli(args, { env: { RECUR_TEST_INTERRUPT_AT_START: '1' } });
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /stopping \(Ctrl-C\): the finished series are kept/);
  });

  it('by default: one network trained across the series, averaged with ETS and Theta; reproducible; --method global', () => {
    const long = write('global.csv', longCsv());
    const args = ['forecast', long, '--id-column', 'id', '--horizon', '6', '--epochs', '3', '--threads', '1'];
    const r = runCli([...args, '--json']);
    assert.equal(r.code, 0, r.stderr);
    expectSnakeKeys(r.stdout, [...DATA_KEYED, 'backtest']);
    const lines = jsonLines(r.stdout);
    const stage = lines.find((l) => 'global' in l)!.global as {
      series: number;
      backtest_windows: number;
      final_windows: number;
    };
    assert.equal(stage.series, 3);
    assert.ok(
      stage.backtest_windows > 0 && stage.final_windows > stage.backtest_windows,
      JSON.stringify(stage),
    );
    const series = lines.filter((l) => 'id' in l) as unknown as SeriesForecast[];
    assert.equal(series.length, 3);
    for (const s of series) {
      assert.equal(s.method, 'ets+theta+global', s.notes.join('; '));
      for (const m of ['ets', 'theta', 'global', 'ets+theta+global', 'naive', 'drift'])
        assert.ok(m in s.metrics!, `${s.id}: ${m} scored on the hold-out`);
      assert.ok('global' in s.backtest! && 'ets+theta+global' in s.backtest!, `${s.id}: backtested`);
      assert.equal(s.intervals.length, 2);
    }
    // The same command again: the same forecasts (the global network is seeded).
    assert.deepEqual(strip(jsonLines(runCli([...args, '--json']).stdout)), strip(lines));
    // The rows in reverse order (so the series come in another order): the same forecast for every series.
    const [header, ...rows] = longCsv().trim().split('\n');
    const reversed = write('global-reversed.csv', [header, ...rows.reverse()].join('\n') + '\n');
    const byId = (ls: Record<string, unknown>[]): Record<string, unknown>[] =>
      strip(ls).sort((a, b) => String(a.id).localeCompare(String(b.id)));
    const again = jsonLines(runCli(['forecast', reversed, ...args.slice(2), '--json']).stdout);
    assert.notEqual(again.filter((l) => 'id' in l)[0].id, series[0].id);
    assert.deepEqual(byId(again), byId(lines));
    // The global network alone.
    const g = runCli([...args, '--method', 'global', '--json']);
    assert.equal(g.code, 0, g.stderr);
    for (const s of jsonLines(g.stdout).filter((l) => 'id' in l) as unknown as SeriesForecast[]) {
      assert.equal(s.method, 'global');
      assert.deepEqual(Object.keys(s.backtest!), ['global']);
    }
    // The human report names the global stage.
    const h = runCli(args);
    assert.equal(h.code, 0, h.stderr);
    assert.match(
      h.stderr,
      /global network \(season 12, horizon 6, 3 series\): trained on \d+ windows for the backtest and \d+ for the forecasts/,
    );
    assert.match(h.stderr, /method ets\+theta\+global \(the mean of ets, theta, global\)/);
  });

  it('--epochs given applies to the global network even when it equals the per-series default (100)', () => {
    const long = write('epochs.csv', longCsv());
    const args = [
      'forecast',
      long,
      '--id-column',
      'id',
      '--horizon',
      '6',
      '--method',
      'global',
      '--seeds',
      '1',
    ];
    // stderr is not a terminal: the global network's progress is a line every 5 epochs, naming the epoch count.
    const given = runCli([...args, '--epochs', '100', '--threads', '1']);
    assert.equal(given.code, 0, given.stderr);
    assert.match(given.stderr, /global network, final fit: epoch 100\/100,/);
    const unset = runCli([...args, '--threads', '1']);
    assert.equal(unset.code, 0, unset.stderr);
    assert.match(unset.stderr, /global network, final fit: epoch 20\/20,/);
    // --help states both defaults.
    assert.match(
      runCli(['forecast', '--help']).stdout.replace(/\s+/g, ' '),
      /default 100; the global network of many series: 20\)/,
    );
  });

  it('--candidates without the global network: auto among them, no global stage', () => {
    const long = write('noglobal.csv', longCsv());
    const r = runCli(['forecast', long, '--id-column', 'id', ...FAST]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /method auto of ets, theta, seasonal naive;/);
    assert.doesNotMatch(r.stderr, /global network/);
  });
});
