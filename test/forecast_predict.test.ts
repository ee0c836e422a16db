/**
 * Saved forecasters (issue #16, item 7): `recur forecast … --out DIR` saves the chosen forecaster of one series or of
 * a panel, and `recur forecast predict DIR CSV` forecasts from new history without retraining. Checked: the round trip
 * gives the training run's forecast and intervals exactly (networks to the last bit, statistical methods re-estimated
 * on the same history); history extended by k points is forecast from its new end; a panel round trip and an id not
 * seen in training; bad input (wrong frequency, too short, damaged manifest, missing member files, unsaved levels) is
 * exit 2 with one line; `--overwrite` deletes only recur's files; version-1 directories still load; and a seeded fuzz
 * of the manifest loader. Small generated series and few epochs.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Random } from '../src/core/random.js';
import { FORECAST_DEFAULTS, RNNForecaster } from '../src/forecast/network.js';
import { forecastSaved } from '../src/forecast/saved.js';
import { thetaForecast } from '../src/forecast/theta.js';
import { loadForecaster, loadForecasterDir } from '../src/node/forecaster_io.js';
import { saveV1Forecaster } from './forecaster_v1.js';
import '../src/node/forecast.js';
import { runCli, type CliResult } from './cli_helpers.js';
import { mutateBytes } from './fuzz_helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'recur-fpredict-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const pad = (n: number): string => String(n).padStart(2, '0');
const month = (t: number): string => `${2000 + Math.floor(t / 12)}-${pad((t % 12) + 1)}`;

/** A positive seasonal series with a trend and a deterministic wiggle; `k` varies it. */
function wave(n: number, k = 0): number[] {
  return Array.from({ length: n }, (_, t) =>
    Number(
      (
        100 +
        20 * k +
        (8 + 2 * k) * Math.sin((2 * Math.PI * t) / 12) +
        0.4 * t +
        3 * Math.sin(t * (1.7 + k))
      ).toFixed(3),
    ),
  );
}

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const monthlyCsv = (values: readonly number[]): string =>
  'month,value\n' + values.map((v, t) => `${month(t)},${v}`).join('\n') + '\n';

const IDS = ['north', 'south', 'east'];
function panelCsv(ids: readonly string[], n: number): string {
  const rows = ids.flatMap((id, k) => wave(n, k).map((v, t) => `${id},${month(t)},${v}`));
  return 'id,month,sales\n' + rows.join('\n') + '\n';
}

const run = (args: string[]): CliResult => runCli(['forecast', ...args]);
function ok(args: string[]): string {
  const r = run(args);
  assert.equal(r.code, 0, `recur forecast ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
/** Exit 2 with one line on stderr matching `pattern`. */
function bad(args: string[], pattern: RegExp): void {
  const r = run(args);
  assert.equal(r.code, 2, `recur forecast ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
}

interface SeriesJson {
  method: string;
  dates: string[];
  forecast: number[];
  intervals: { level: number; lower: number[]; upper: number[] }[];
}

const series = wave(96);
const seriesFile = write('s.csv', monthlyCsv(series));
const NET = ['--epochs', '3', '--seeds', '2', '--folds', '3', '--holdout', '0'];

describe('forecast predict: one series', () => {
  const net = join(dir, 'net');
  const stats = join(dir, 'stats');
  it('a network on Box-Cox: save → predict on the same history gives the same forecast and intervals, bit for bit', () => {
    const trained = JSON.parse(
      ok([seriesFile, '--method', 'network', '--transform', 'box-cox', ...NET, '--out', net, '--json']),
    ) as SeriesJson;
    assert.equal(trained.method, 'network (box-cox)');
    const csvOut = join(dir, 'net-predict.csv');
    const again = JSON.parse(
      ok(['predict', net, seriesFile, '--json', '--output', csvOut, '--chart', join(dir, 'net.svg')]),
    ) as SeriesJson;
    assert.deepEqual(again.forecast, trained.forecast);
    assert.deepEqual(again.intervals, trained.intervals);
    assert.deepEqual(again.dates, trained.dates);
    assert.match(
      readFileSync(csvOut, 'utf8'),
      /^date,forecast,lower_80,upper_80,lower_95,upper_95\n2008-01,/,
    );
    assert.match(readFileSync(join(dir, 'net.svg'), 'utf8'), /^<svg/);
    // --model is the same thing; without a CSV it forecasts after the saved history.
    const model = JSON.parse(ok(['--model', net, '--json'])) as SeriesJson;
    assert.deepEqual(model.forecast, trained.forecast);
    // A subset of the saved levels.
    const only80 = JSON.parse(ok(['predict', net, seriesFile, '--json', '--level', '80'])) as SeriesJson;
    assert.deepEqual(only80.intervals, [trained.intervals[0]]);
  });
  it('statistical methods: the combination round-trips, and history extended by k points is forecast from its end', async () => {
    const trained = JSON.parse(
      ok([
        seriesFile,
        '--method',
        'combination',
        '--candidates',
        'ets,theta,seasonal naive',
        '--folds',
        '4',
        '--holdout',
        '0',
        '--out',
        stats,
        '--json',
      ]),
    ) as SeriesJson & { combination: string[] };
    assert.equal(trained.combination.length, 3);
    const again = JSON.parse(ok(['predict', stats, seriesFile, '--json'])) as SeriesJson & {
      members: string[];
    };
    assert.deepEqual(again.members, trained.combination);
    assert.deepEqual(again.forecast, trained.forecast);
    assert.deepEqual(again.intervals, trained.intervals);
    // Three more months: forecast from the new end, the members re-estimated on the longer history.
    const longer = wave(99);
    const extended = JSON.parse(
      ok(['predict', stats, write('s99.csv', monthlyCsv(longer)), '--json']),
    ) as SeriesJson;
    assert.equal(extended.dates[0], month(99));
    assert.equal(extended.dates.length, 12);
    assert.notDeepEqual(extended.forecast, trained.forecast);
    const { manifest, networks } = loadForecasterDir(stats);
    const direct = await forecastSaved(manifest.series[0], longer, networks.get(manifest.series[0].id)!);
    assert.deepEqual(extended.forecast, direct.point);
    assert.deepEqual(direct.members.get('theta'), thetaForecast(longer, 12, 12));
    // Each interval is the saved half-width around the new forecast.
    const w = manifest.series[0].intervals[0].halfWidths;
    assert.deepEqual(
      extended.intervals[0].lower,
      extended.forecast.map((f, h) => f - w[h]),
    );
  });
  it('a daily series: ETS on the weekly and yearly seasons round-trips with both', () => {
    // Three years of days with a weekly and a yearly pattern (multi-season MSTL-ETS at predict time too).
    const start = Date.UTC(2001, 0, 1);
    const lines = ['date,value'];
    for (let t = 0; t < 3 * 365 + 60; t++) {
      const d = new Date(start + t * 86_400_000).toISOString().slice(0, 10);
      const v =
        100 +
        10 * Math.sin((2 * Math.PI * t) / 7) +
        30 * Math.sin((2 * Math.PI * t) / 365) +
        ((t * 37) % 11) / 5;
      lines.push(`${d},${v.toFixed(3)}`);
    }
    const daily = write('daily.csv', lines.join('\n') + '\n');
    const out = join(dir, 'daily');
    const trained = JSON.parse(
      ok([
        daily,
        '--method',
        'ets',
        '--horizon',
        '14',
        '--folds',
        '2',
        '--holdout',
        '0',
        '--out',
        out,
        '--json',
      ]),
    ) as SeriesJson & { seasons: number[]; ets_seasons: number[] };
    assert.deepEqual(trained.seasons, [7, 365]);
    assert.deepEqual(trained.ets_seasons, [7, 365]);
    assert.deepEqual(loadForecasterDir(out).manifest.series[0].seasons, [7, 365]);
    const again = JSON.parse(ok(['predict', out, daily, '--json'])) as SeriesJson;
    assert.deepEqual(again.forecast, trained.forecast);
  });
  it('bad input is exit 2 with one line naming what is wrong', () => {
    const quarterly =
      'quarter,value\n' +
      series
        .slice(0, 40)
        .map((v, t) => `${2000 + Math.floor(t / 4)}-Q${(t % 4) + 1},${v}`)
        .join('\n') +
      '\n';
    bad(
      ['predict', stats, write('q.csv', quarterly)],
      /has quarterly dates, but the forecaster was trained on monthly dates/,
    );
    bad(
      ['predict', stats, write('short.csv', monthlyCsv(series.slice(0, 10)))],
      /10 points are too few for this forecaster: it needs at least 24/,
    );
    bad(
      ['predict', net, seriesFile, '--level', '90'],
      /--level 90: the forecaster was saved with intervals at 80, 95 only/,
    );
    bad(['predict', net, seriesFile, '--epochs', '3'], /--epochs does not apply to 'recur forecast predict'/);
    bad([seriesFile, '--model', net, '--horizon', '3'], /--horizon does not apply with --model/);
    bad(
      ['predict', join(dir, 'nowhere'), seriesFile],
      /nowhere: no such file or directory; expected a directory written by/,
    );
    // A model's directory is named as one, not offered as the place to save a forecaster.
    const modelDir = join(dir, 'a-text-model');
    mkdirSync(modelDir);
    writeFileSync(join(modelDir, 'model.json'), '{}');
    bad(
      ['predict', modelDir, seriesFile],
      /a-text-model holds a model \(model\.json\), not a saved forecaster \(no forecaster\.json\); give a directory written by 'recur forecast … --out DIR'/,
    );
    // A damaged manifest, a bad field, a missing member file.
    const broken = join(dir, 'broken');
    ok([seriesFile, '--method', 'network', ...NET, '--seeds', '1', '--level', '80', '--out', broken]);
    const manifest = readFileSync(join(broken, 'forecaster.json'), 'utf8');
    writeFileSync(join(broken, 'forecaster.json'), manifest.slice(0, 200));
    bad(['predict', broken, seriesFile], /forecaster\.json: not valid JSON/);
    const m = JSON.parse(manifest) as { series: { horizon: unknown }[] };
    m.series[0].horizon = -3;
    writeFileSync(join(broken, 'forecaster.json'), JSON.stringify(m));
    bad(
      ['predict', broken, seriesFile],
      /forecaster\.json: series\[0\]\.horizon: expected a positive integer, got -3/,
    );
    writeFileSync(join(broken, 'forecaster.json'), JSON.stringify({ ...JSON.parse(manifest), version: 3 }));
    bad(['predict', broken, seriesFile], /forecaster\.json: version: expected 1 or 2 .*got 3/);
    writeFileSync(join(broken, 'forecaster.json'), manifest);
    const member = join(broken, 'network-0', 'member-0');
    unlinkSync(
      join(
        member,
        readdirSync(member).find((f) => f.endsWith('.bin'))!,
      ),
    );
    bad(['predict', broken, seriesFile], /member-0/);
  });
  it('--out refuses a directory recur did not write; --overwrite replaces only its own files', () => {
    const foreign = join(dir, 'foreign');
    mkdirSync(foreign);
    writeFileSync(join(foreign, 'notes.txt'), 'mine');
    const fast = ['--method', 'theta', '--holdout', '0'];
    bad([seriesFile, ...fast, '--out', foreign], /is not empty and holds no saved forecaster/);
    bad([seriesFile, ...fast, '--out', foreign, '--overwrite'], /is not empty and holds no saved forecaster/);
    assert.equal(readFileSync(join(foreign, 'notes.txt'), 'utf8'), 'mine');
    // A forecaster with a network, and the user's files beside and inside its directories.
    const d = join(dir, 'over');
    ok([seriesFile, '--method', 'network', ...NET, '--seeds', '1', '--out', d]);
    writeFileSync(join(d, 'notes.txt'), 'mine');
    writeFileSync(join(d, 'network-0', 'member-0', 'mine.txt'), 'mine too');
    bad([seriesFile, ...fast, '--out', d], /already holds a saved forecaster; pass --overwrite/);
    ok([seriesFile, ...fast, '--out', d, '--overwrite']);
    assert.equal(readFileSync(join(d, 'notes.txt'), 'utf8'), 'mine');
    assert.equal(readFileSync(join(d, 'network-0', 'member-0', 'mine.txt'), 'utf8'), 'mine too');
    assert.deepEqual(readdirSync(join(d, 'network-0', 'member-0')), ['mine.txt']);
    assert.equal(loadForecasterDir(d).manifest.series[0].method, 'theta');
    // The old forecaster goes only once a new one is complete: a run that saves nothing (every series too short)
    // leaves it as it was, and a killed run's staging directory (a dead pid's) is swept at the next start.
    const short = write(
      'short-panel.csv',
      ['id,month,value', ...['a', 'b'].flatMap((id) => [1, 2, 3].map((t) => `${id},2001-0${t},${t}`))].join(
        '\n',
      ) + '\n',
    );
    const failed = runCli(['forecast', short, '--id-column', 'id', '--out', d, '--overwrite', ...fast]);
    assert.equal(failed.code, 1, failed.stderr);
    assert.equal(loadForecasterDir(d).manifest.series[0].method, 'theta');
    mkdirSync(join(d, '.recur-staging-999999', 'network-0', 'member-0'), { recursive: true });
    writeFileSync(join(d, '.recur-staging-999999', 'network-0', 'member-0', 'model.json'), '{}');
    ok([seriesFile, ...fast, '--out', d, '--overwrite']);
    assert.ok(!existsSync(join(d, '.recur-staging-999999')));
    assert.equal(readFileSync(join(d, 'notes.txt'), 'utf8'), 'mine');
    // A model directory the manifest does not name (this theta forecaster names none) is not recur's to delete or
    // save over, even where recur would put one.
    mkdirSync(join(d, 'network-1', 'member-0'), { recursive: true });
    writeFileSync(join(d, 'network-1', 'member-0', 'model.json'), '{"mine":true}');
    bad(
      [seriesFile, ...fast, '--out', d, '--overwrite'],
      /network-1\/member-0 holds model files the saved forecaster/,
    );
    assert.equal(readFileSync(join(d, 'network-1', 'member-0', 'model.json'), 'utf8'), '{"mine":true}');
    // A forecaster.json that is not recur's is never replaced.
    const mine = join(dir, 'mine');
    mkdirSync(mine);
    writeFileSync(join(mine, 'forecaster.json'), '{"mine":1}');
    for (const more of [[], ['--overwrite']])
      bad([seriesFile, ...fast, '--out', mine, ...more], /forecaster\.json that is not a recur forecaster/);
    assert.equal(readFileSync(join(mine, 'forecaster.json'), 'utf8'), '{"mine":1}');
    // What a stopped panel save leaves (member directories, no manifest) is recur's: replaced with --overwrite only.
    const stopped = join(dir, 'stopped');
    mkdirSync(join(stopped, 'series-0', 'network-0', 'member-0'), { recursive: true });
    writeFileSync(join(stopped, 'series-0', 'network-0', 'member-0', 'model.json'), '{}');
    bad(
      [seriesFile, ...fast, '--out', stopped],
      /part of a forecaster whose save was stopped; pass --overwrite/,
    );
    ok([seriesFile, ...fast, '--out', stopped, '--overwrite']);
    assert.deepEqual(readdirSync(stopped), ['forecaster.json']);
    // …and so is one beside the user's files, when its members are models recur saved for a forecaster.
    const beside = join(dir, 'stopped-beside');
    mkdirSync(join(beside, 'series-0', 'network-0', 'member-0'), { recursive: true });
    writeFileSync(join(beside, 'notes.txt'), 'mine');
    writeFileSync(
      join(beside, 'series-0', 'network-0', 'member-0', 'model.json'),
      JSON.stringify({ userDefinedMetadata: { task: 'forecast' } }),
    );
    bad(
      [seriesFile, ...fast, '--out', beside],
      /part of a forecaster whose save was stopped; pass --overwrite/,
    );
    ok([seriesFile, ...fast, '--out', beside, '--overwrite']);
    assert.deepEqual(readdirSync(beside).sort(), ['forecaster.json', 'notes.txt']);
    // --output and --chart: never the series file, each other or a forecaster's file; an existing file only with
    // --overwrite.
    const series = readFileSync(seriesFile, 'utf8');
    bad(
      [seriesFile, ...fast, '--output', seriesFile, '--overwrite'],
      /--output .* is the series file itself/,
    );
    bad([seriesFile, ...fast, '--chart', seriesFile, '--overwrite'], /--chart .* is the series file itself/);
    assert.equal(readFileSync(seriesFile, 'utf8'), series);
    const both = join(dir, 'both.csv');
    bad([seriesFile, ...fast, '--output', both, '--chart', both], /name the same file/);
    const manifestPath = join(d, 'forecaster.json');
    const saved = readFileSync(manifestPath, 'utf8');
    bad(
      ['predict', d, seriesFile, '--output', manifestPath, '--overwrite'],
      /inside the forecaster directory/,
    );
    bad([seriesFile, '--model', d, '--chart', join(d, 'c.svg')], /inside the forecaster directory/);
    assert.equal(readFileSync(manifestPath, 'utf8'), saved);
    const users = join(dir, 'users.csv');
    writeFileSync(users, 'mine');
    bad([seriesFile, ...fast, '--output', users], /--output .*users\.csv already exists; add --overwrite/);
    bad(['predict', d, seriesFile, '--chart', users], /--chart .*users\.csv already exists; add --overwrite/);
    assert.equal(readFileSync(users, 'utf8'), 'mine');
    ok(['predict', d, seriesFile, '--output', users, '--overwrite']);
    assert.match(readFileSync(users, 'utf8'), /^date,forecast,/);
    // --save is the older name of --out.
    ok([seriesFile, ...fast, '--save', join(dir, 'saved-old-name')]);
    assert.ok(existsSync(join(dir, 'saved-old-name', 'forecaster.json')));
  });
  it('a version-1 directory (a network saved before #16) loads with --model and forecast predict', async () => {
    const v1 = join(dir, 'v1');
    const f = new RNNForecaster({
      ...FORECAST_DEFAULTS,
      method: 'network',
      units: 4,
      epochs: 2,
      lookback: 12,
      horizon: 12,
      season: 12,
      seeds: [1, 2],
    });
    await f.fit(series);
    const widths = [{ level: 0.8, halfWidths: Array.from({ length: 12 }, (_, h) => 1 + h) }];
    saveV1Forecaster(
      f,
      { name: 'v', dates: series.map((_, t) => month(t)), values: series, frequency: 'monthly' },
      v1,
      widths,
    );
    // Computed in this process, whose kernels may differ from the CLI's in the last bits: compared to 1e-9.
    const expected = (await f.predict(series)).mean;
    const a = JSON.parse(ok(['predict', v1, seriesFile, '--json'])) as SeriesJson;
    const b = JSON.parse(ok(['--model', v1, '--json'])) as SeriesJson;
    a.forecast.forEach((v, h) =>
      assert.ok(Math.abs(v - expected[h]) < 1e-9 * Math.abs(expected[h]), `${v} vs ${expected[h]}`),
    );
    assert.deepEqual(b.forecast, a.forecast);
    assert.deepEqual(
      a.intervals[0].upper,
      a.forecast.map((v, h) => v + 1 + h),
    );
    // Saved before recur recorded frequencies: its monthly dates say what it was trained on, and quarterly data is
    // refused as a version-2 directory refuses it (it used to be forecast as if monthly).
    const old = join(dir, 'v1-no-frequency');
    saveV1Forecaster(f, { name: 'v', dates: series.map((_, t) => month(t)), values: series }, old, widths);
    assert.equal(loadForecasterDir(old).manifest.series[0].frequency, 'monthly');
    assert.equal(loadForecaster(old).history.frequency, 'monthly');
    assert.deepEqual(
      (JSON.parse(ok(['predict', old, seriesFile, '--json'])) as SeriesJson).forecast,
      a.forecast,
    );
    const quarterly = series
      .slice(0, 40)
      .map((v, t) => `${2000 + Math.floor(t / 4)}-Q${(t % 4) + 1},${v}`)
      .join('\n');
    bad(
      ['predict', old, write('v1-q.csv', `quarter,value\n${quarterly}\n`)],
      /has quarterly dates, but the forecaster was trained on monthly dates/,
    );
    // Saved from an undated series (its history labelled t1, t2, …): trained on no dates, so dated data is refused as
    // a version-2 directory refuses it, saying how to give the series (it used to be forecast whatever its frequency).
    const undated = join(dir, 'v1-undated');
    saveV1Forecaster(
      f,
      { name: 'v', dates: series.map((_, t) => `t${t + 1}`), values: series },
      undated,
      widths,
    );
    assert.equal(loadForecasterDir(undated).manifest.series[0].frequency, undefined);
    bad(
      ['predict', undated, write('v1-undated-q.csv', `quarter,value\n${quarterly}\n`)],
      /has quarterly dates, but the forecaster was trained on no dates; give the series without its date column/,
    );
    bad(
      ['predict', undated, seriesFile],
      /has monthly dates, but the forecaster was trained on no dates; give the series without its date column/,
    );
    const plain = write('v1-undated.csv', 'value\n' + series.join('\n') + '\n');
    assert.deepEqual(
      (JSON.parse(ok(['predict', undated, plain, '--json'])) as SeriesJson).forecast,
      a.forecast,
    );
  });
});

describe('forecast predict: a panel', () => {
  const pdir = join(dir, 'panel');
  const file = write('panel.csv', panelCsv(IDS, 60));
  it('round trip: the same forecasts for the same histories; an unseen id gets the fallback and scaled intervals', () => {
    const args = [
      file,
      '--id-column',
      'id',
      '--horizon',
      '6',
      '--holdout',
      '0',
      '--epochs',
      '3',
      '--seeds',
      '2',
    ];
    const lines = ok([...args, '--threads', '2', '--out', pdir, '--json'])
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as SeriesJson & { id?: string });
    const trained = new Map(lines.filter((l) => l.id && l.forecast).map((l) => [l.id!, l]));
    assert.equal(trained.size, 3);
    const { manifest } = loadForecasterDir(pdir);
    assert.equal(manifest.kind, 'panel');
    assert.equal(manifest.panel!.global.length, 1);
    assert.equal(manifest.layout.idColumn, 'id');
    // New file: the same three histories and a fourth id never seen; the layout is remembered from training.
    const more = write('panel4.csv', panelCsv([...IDS, 'west'], 60));
    const out = join(dir, 'panel-predict.csv');
    const predicted = ok(['predict', pdir, more, '--json', '--output', out])
      .trim()
      .split('\n')
      .map(
        (l) => JSON.parse(l) as SeriesJson & { id?: string; seen?: boolean; summary?: { unseen: number } },
      );
    for (const id of IDS) {
      const p = predicted.find((x) => x.id === id)!;
      assert.equal(p.seen, true);
      assert.deepEqual(p.forecast, trained.get(id)!.forecast, id);
      assert.deepEqual(p.intervals, trained.get(id)!.intervals, id);
    }
    const west = predicted.find((x) => x.id === 'west')!;
    assert.equal(west.seen, false);
    assert.equal(west.method, manifest.panel!.fallback.method);
    assert.equal(west.forecast.length, 6);
    assert.ok(west.forecast.every(Number.isFinite));
    assert.ok(west.intervals.length > 0 && west.intervals[0].lower.every((l, h) => l < west.forecast[h]));
    assert.equal(predicted[predicted.length - 1].summary!.unseen, 1);
    const text = readFileSync(out, 'utf8');
    assert.match(text, /^id,month,forecast,lower_80,upper_80,lower_95,upper_95\n/);
    assert.equal(text.trim().split('\n').length, 1 + 4 * 6);
    // The panel's layout: a single-series file is not what it forecasts.
    bad(['predict', pdir, seriesFile], /no id column named 'id'/);
    bad(['predict', pdir, more, '--chart', join(dir, 'x.svg')], /--chart draws one series/);
  });
});

describe('forecast predict: a panel of per-series networks', () => {
  it('each worker saves its series network; predict reproduces every forecast', () => {
    const pn = join(dir, 'panel-networks');
    const file = write('panel-n.csv', panelCsv(IDS, 48));
    const args = ['--id-column', 'id', '--horizon', '6', '--holdout', '0', '--method', 'network'];
    const fast = ['--epochs', '2', '--seeds', '1', '--folds', '2', '--threads', '2'];
    const lines = (text: string): (SeriesJson & { id?: string })[] =>
      text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as SeriesJson & { id?: string });
    const trained = lines(ok([file, ...args, ...fast, '--out', pn, '--json'])).filter((l) => l.forecast);
    assert.equal(trained.length, 3);
    const { manifest } = loadForecasterDir(pn);
    assert.ok(
      manifest.series.every(
        (s) => s.networks.length === 1 && /^series-\d+\/network-0$/.test(s.networks[0].dir),
      ),
    );
    const again = lines(ok(['predict', pn, file, '--json'])).filter((l) => l.forecast);
    for (const t of trained) assert.deepEqual(again.find((a) => a.id === t.id)!.forecast, t.forecast, t.id);
  });
});

/** Seasonal + trend + effect·promo + noise, promo random and known `future` rows ahead (value cell empty there). */
function promoCsv(ids: readonly string[], n: number, future: number, effect = 12): string {
  const rows: string[] = [];
  ids.forEach((id, k) => {
    const rng = new Random(11 + k);
    for (let t = 0; t < n + future; t++) {
      const promo = rng.normal();
      const y =
        100 + 10 * k + 0.2 * t + 10 * Math.sin((2 * Math.PI * t) / 12) + effect * promo + 0.5 * rng.normal();
      rows.push(
        `${ids.length > 1 ? `${id},` : ''}${month(t)},${promo.toFixed(4)},${t < n ? y.toFixed(3) : ''}`,
      );
    }
  });
  return `${ids.length > 1 ? 'id,' : ''}month,promo,sales\n` + rows.join('\n') + '\n';
}

describe('forecast predict: with regressors', () => {
  const xFile = write('promo.csv', promoCsv(['s'], 96, 12));
  const X = ['--regressors', 'promo', '--value-column', 'sales', '--folds', '3'];
  it('ETS + x: the regression is re-estimated with ETS on the new history; the round trip is exact', async () => {
    const out = join(dir, 'ets-x');
    const trained = JSON.parse(ok([xFile, ...X, '--method', 'ets', '--out', out, '--json'])) as SeriesJson;
    assert.equal(trained.method, 'ets + x');
    const { manifest } = loadForecasterDir(out);
    assert.deepEqual(manifest.layout.regressors, ['promo']);
    assert.deepEqual(manifest.series[0].members, [
      { name: 'ets + x', method: 'ets', transform: 'none', covariates: true },
    ]);
    const again = JSON.parse(ok(['predict', out, xFile, '--json'])) as SeriesJson;
    assert.deepEqual(again.forecast, trained.forecast);
    assert.deepEqual(again.intervals, trained.intervals);
    assert.deepEqual(again.dates, trained.dates);
    // Three more months of history: forecast from the new end, β re-estimated with ETS on it.
    const longer = write('promo99.csv', promoCsv(['s'], 99, 12));
    const extended = JSON.parse(ok(['predict', out, longer, '--json'])) as SeriesJson;
    assert.equal(extended.dates[0], month(99));
    assert.equal(extended.forecast.length, 12);
    assert.notDeepEqual(extended.forecast, trained.forecast);
    // --model with the same --regressors is the same thing.
    const model = JSON.parse(ok([xFile, '--model', out, '--regressors', 'promo', '--json'])) as SeriesJson;
    assert.deepEqual(model.forecast, trained.forecast);
  });
  it('network + x: the network runs as trained on what its saved regression leaves, bit for bit', () => {
    const out = join(dir, 'net-x');
    const trained = JSON.parse(
      ok([xFile, ...X, '--method', 'network', '--epochs', '3', '--seeds', '1', '--out', out, '--json']),
    ) as SeriesJson;
    assert.equal(trained.method, 'network + x');
    const member = loadForecasterDir(out).manifest.series[0].members[0];
    assert.equal(member.covariates, true);
    assert.equal(member.regression!.lag, 12);
    assert.ok(Math.abs(member.regression!.perUnit[0] - 12) < 1, `β ${member.regression!.perUnit[0]}`);
    const again = JSON.parse(ok(['predict', out, xFile, '--json'])) as SeriesJson;
    assert.deepEqual(again.forecast, trained.forecast);
    assert.deepEqual(again.intervals, trained.intervals);
    // recur serve serves single networks only: one with regressors cannot be, and says so.
    assert.throws(() => loadForecaster(out), /without a transform or regressors is served here/);
  });
  it('missing regressors, too few known future rows: exit 2 with one line naming them', () => {
    const out = join(dir, 'ets-x');
    const noPromo = write(
      'nopromo.csv',
      'month,sales\n' + series.map((v, t) => `${month(t)},${v}`).join('\n') + '\n',
    );
    bad(['predict', out, noPromo], /promo/);
    bad(
      ['predict', out, write('promo-short.csv', promoCsv(['s'], 96, 5))],
      /regressor 'promo' has none for 2008-06; there are 5 such row\(s\): add rows \(the forecaster was saved with horizon 12\)/,
    );
    bad(['--model', out, '--json'], /forecasts with regressors promo: give a CSV/);
    // A network member with covariates needs its regression, of one value per regressor.
    const netX = join(dir, 'net-x');
    const manifest = readFileSync(join(netX, 'forecaster.json'), 'utf8');
    const m = JSON.parse(manifest) as { series: { members: { regression?: { means: number[] } }[] }[] };
    m.series[0].members[0].regression!.means.push(1);
    writeFileSync(join(netX, 'forecaster.json'), JSON.stringify(m));
    bad(
      ['predict', netX, xFile],
      /series\[0\]\.members\[0\]\.regression\.means: expected 1 value\(s\) \(one per regressor\), got 2/,
    );
    delete m.series[0].members[0].regression;
    writeFileSync(join(netX, 'forecaster.json'), JSON.stringify(m));
    bad(
      ['predict', netX, xFile],
      /members\[0\]\.regression: the network member 'network \+ x' with regressors needs/,
    );
    writeFileSync(join(netX, 'forecaster.json'), manifest);
    ok(['predict', netX, xFile]);
    bad(
      [xFile, '--model', out, '--regressors', 'price'],
      /--regressors price: the forecaster was saved with regressors promo/,
    );
  });
  it('a panel with the global network + x: seen series reproduce exactly; an unseen one fits its own regression', () => {
    const pdir = join(dir, 'panel-x');
    const file = write('panel-x.csv', promoCsv(IDS, 60, 6));
    const lines = (text: string): (SeriesJson & { id?: string; seen?: boolean })[] =>
      text
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as SeriesJson & { id?: string; seen?: boolean });
    const trained = lines(
      ok([
        file,
        ...X,
        '--id-column',
        'id',
        '--method',
        'global',
        '--epochs',
        '3',
        '--seeds',
        '1',
        '--out',
        pdir,
        '--json',
      ]),
    ).filter((l) => l.id && l.forecast);
    assert.equal(trained.length, 3);
    const { manifest } = loadForecasterDir(pdir);
    for (const s of manifest.series) {
      assert.equal(s.method, 'global + x');
      assert.equal(s.members[0].regression!.perUnit.length, 1);
    }
    assert.deepEqual(manifest.panel!.fallback.members, [
      { name: 'global + x', method: 'global', transform: 'none', covariates: true },
    ]);
    const more = write('panel-x4.csv', promoCsv([...IDS, 'west'], 60, 6));
    const predicted = lines(ok(['predict', pdir, more, '--json'])).filter((l) => l.id && l.forecast);
    for (const t of trained) {
      const p = predicted.find((x) => x.id === t.id)!;
      assert.equal(p.seen, true);
      assert.deepEqual(p.forecast, t.forecast, t.id);
      assert.deepEqual(p.intervals, t.intervals, t.id);
    }
    const west = predicted.find((x) => x.id === 'west')!;
    assert.equal(west.seen, false);
    assert.equal(west.method, 'global + x');
    assert.ok(west.forecast.length === 6 && west.forecast.every(Number.isFinite));
    // A series without enough known future fails alone (as in training); a file without the column is exit 2.
    const short = promoCsv(['north'], 60, 2)
      .split('\n')
      .slice(1)
      .map((l) => (l ? `north,${l}` : l));
    const mixed = write(
      'panel-x-short.csv',
      [...promoCsv(IDS.slice(1), 60, 6).trimEnd().split('\n'), ...short].join('\n'),
    );
    const r = run(['predict', pdir, mixed]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /north: failed: .*regressor 'promo' has none for 2005-03/);
    bad(['predict', pdir, file.replace('panel-x', 'panel')], /promo/);
  });
});

describe('the manifest loader under damage (seeded fuzz)', () => {
  it('byte damage and wrong values in forecaster.json give clean errors or a forecaster that forecasts', async () => {
    // A single-series forecaster with a network, and the panel one of the test above.
    const single = join(dir, 'fuzz-single');
    ok([seriesFile, '--method', 'network', '--transform', 'log', ...NET, '--seeds', '1', '--out', single]);
    const rng = new Random(7);
    let loaded = 0;
    let refused = 0;
    // With the saved forecasters with regressors of the tests above (their regressions and covariate flags damaged too).
    for (const target of [single, join(dir, 'panel'), join(dir, 'net-x'), join(dir, 'panel-x')]) {
      if (!existsSync(join(target, 'forecaster.json'))) continue;
      const file = join(target, 'forecaster.json');
      const original = readFileSync(file);
      for (let i = 0; i < 120; i++) {
        let damaged: Uint8Array;
        if (i % 2 === 0) damaged = mutateBytes(original, rng).bytes;
        else {
          const json = JSON.parse(original.toString('utf8')) as unknown;
          mutateValue(json, rng);
          damaged = Buffer.from(JSON.stringify(json));
        }
        writeFileSync(file, damaged);
        try {
          const d = loadForecasterDir(target);
          const s = d.manifest.series[0];
          const g = d.globals.values().next().value;
          const history = wave(60);
          await forecastSaved(
            s,
            history,
            d.networks.get(s.id) ?? new Map(),
            g?.predict([{ values: history }])[0],
            Array.from({ length: 60 + s.horizon }, (_, t) =>
              (d.manifest.layout.regressors ?? []).map((_, j) => Math.sin(t + j)),
            ),
          ).catch((e: unknown) => {
            assert.ok(e instanceof Error && !(e instanceof TypeError), `mutation ${i}: ${String(e)}`);
          });
          loaded++;
        } catch (e) {
          assert.ok(e instanceof Error, `mutation ${i}: ${String(e)}`);
          assert.ok(
            !(e instanceof TypeError) && !(e instanceof RangeError),
            `mutation ${i}: ${(e as Error).stack}`,
          );
          assert.ok((e as Error).message.length > 0);
          refused++;
        }
      }
      writeFileSync(file, original);
    }
    assert.ok(refused > 50, `${refused} refused, ${loaded} loaded`);
  });
});

/** Replaces one value somewhere in a JSON tree with a random value of a random type. */
function mutateValue(root: unknown, rng: Random): void {
  const paths: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v))
      v.forEach((x, i) => {
        paths.push({ parent: v, key: i });
        walk(x);
      });
    else if (v !== null && typeof v === 'object')
      for (const [k, x] of Object.entries(v)) {
        paths.push({ parent: v as Record<string, unknown>, key: k });
        walk(x);
      }
  };
  walk(root);
  const { parent, key } = paths[rng.int(paths.length)];
  const choices: unknown[] = [null, -1, 0, 1e308, 2.5, 'x', '../../etc', [], {}, true, 1000, -0.5];
  (parent as Record<string | number, unknown>)[key] = choices[rng.int(choices.length)];
}
