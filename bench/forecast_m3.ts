/**
 * `npm run bench:forecast:m3` — recur's default for many series (`ets+theta+global`: the mean of ETS, Theta and one
 * global LSTM trained across all the series, src/forecast/global.ts; conformal 80/95% intervals from its backtest) on
 * the M3 competition's monthly series (../shared/eval/m3, or M3_DIR; see its README): each series' training part is everything but
 * its last 18 points, the forecast is scored on those 18 with sMAPE (200|e|/(|y|+|ŷ|)) and MASE (seasonal naive scale,
 * m = 12), the same as the README's baselines. The choice, the global network and the calibration see the training
 * parts only (the network's backtest model sees each series only up to its first fold origin).
 *
 *   node dist/bench/forecast_m3.js                 the 100-series sample (every 14.28th series of the 1,428, in order)
 *   node dist/bench/forecast_m3.js --all           all 1,428
 *   --workers N          worker threads (default 2)        --limit N            the first N series of the selection
 *   --method M           default ets+theta+global; auto chooses per series (every method is scored either way)
 *   --candidates a,b,c   default ets,theta,seasonal naive,global (network, hybrid, sarima: the per-series ones)
 *   --seeds N            per-series network ensemble size  --global-seeds N      global network members (default 3)
 *   --global-epochs N    (default 20)                      --global-windows N    windows per series (default all)
 *   --out FILE       one JSON line per series, appended as each finishes (a stopped run keeps what it did)
 *   --summarize FILE print the tables from such a file (no fitting)
 *
 * The whole long-format file is read by the same reader as `recur forecast monthly.csv --id-column id --season 12
 * --horizon 18` (src/forecast/panel.ts) and the series run through the same many-series path (src/node/forecast_panel.ts:
 * the global network first, in this thread, then one worker thread per core, each series the single-series pipeline
 * with the network's forecasts as a candidate); this file only picks the sample and prints the M3 tables (held-out,
 * and the backtest's, on which the default was chosen).
 */
import '../src/node/index.js';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Random } from '../src/core/random.js';
import { COMBINATION } from '../src/forecast/auto.js';
import { FORECAST_DEFAULTS } from '../src/forecast/network.js';
import {
  isFailure,
  PANEL_CANDIDATES,
  PANEL_DEFAULT_CANDIDATES,
  PANEL_DEFAULT_METHOD,
  PANEL_METHODS,
  PANEL_MEANS,
  type PanelCandidate,
  type PanelMethod,
  type PanelSettings,
  type SeriesForecast,
} from '../src/forecast/panel.js';
import { forecastPanel, type GlobalStage } from '../src/node/forecast_panel.js';
import { readM3 } from './m3_data.js';

const here = dirname(fileURLToPath(import.meta.url));
// ../shared beside the checkout, or M3_DIR (a git worktree elsewhere), as bench/forecast_saved_m3.py.
const M3 = process.env.M3_DIR ?? join(here, '..', '..', '..', 'shared', 'eval', 'm3');
const H = 18;
const SEASON = 12;
const LEVELS = [0.8, 0.95];

interface SeriesResult {
  id: string;
  category: string;
  n: number;
  chosen: string;
  seconds: number;
  /** CPU seconds of its process (user + system); only in files written by the former child-process driver. */
  cpuSeconds?: number;
  smape: Record<string, number>;
  mase: Record<string, number>;
  /** Of the chosen method's intervals on the 18 test points: share inside and mean Winkler score, per level. */
  intervals: { level: number; coverage: number; winkler: number }[];
  /** Backtest (inside the training part) sMAPE / MASE per method and fold. */
  backtest?: SeriesForecast['backtest'];
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** A panel series' outcome in the bench's line format ('auto' is the chosen method's score). */
function asResult(r: SeriesForecast, category: string): SeriesResult {
  const smape: Record<string, number> = { auto: r.metrics![r.method].smape };
  const mase: Record<string, number> = { auto: r.metrics![r.method].mase };
  for (const [name, m] of Object.entries(r.metrics!)) {
    smape[name] = m.smape;
    mase[name] = m.mase;
  }
  return {
    id: r.id,
    category,
    n: r.points,
    chosen: r.method,
    seconds: r.seconds,
    smape,
    mase,
    intervals: (r.heldOutIntervals ?? []).map((i) => ({ ...i, level: i.level / 100 })),
    ...(r.backtest ? { backtest: r.backtest } : {}),
  };
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

async function parent(): Promise<void> {
  const all = process.argv.includes('--all');
  const m3 = readM3(M3, all);
  if (!m3) return;
  const { meta, panel } = m3;
  const category = new Map(meta.map((m) => [m.id, m.category]));
  const byId = new Map(panel.series.map((s) => [s.id, s]));
  let ids = m3.ids;
  const limit = flag('--limit');
  if (limit) ids = ids.slice(0, Number(limit));
  // Run in a seeded random order: the ids are grouped by category, and a stopped run should still be a fair sample.
  const rng = new Random(16);
  for (let i = ids.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  const workers = Number(flag('--workers') ?? 2);
  const seeds = Number(flag('--seeds') ?? FORECAST_DEFAULTS.seedCount);
  const candidates = (flag('--candidates')?.split(',') ?? PANEL_DEFAULT_CANDIDATES) as PanelCandidate[];
  for (const c of candidates) if (!PANEL_CANDIDATES.includes(c)) throw new Error(`unknown candidate ${c}`);
  const method = (flag('--method') ?? PANEL_DEFAULT_METHOD) as PanelMethod;
  if (!PANEL_METHODS.includes(method)) throw new Error(`unknown method ${method}`);
  const globalEpochs = flag('--global-epochs');
  const globalSeeds = flag('--global-seeds');
  const globalWindows = flag('--global-windows');
  const settings: PanelSettings = {
    season: SEASON,
    horizon: H,
    method,
    candidates,
    folds: 5,
    levels: LEVELS,
    transform: 'none',
    network: {
      ...FORECAST_DEFAULTS,
      method: 'network',
      seeds: Array.from({ length: seeds }, (_, i) => i + 1),
    },
    baselines: [],
    global: {
      ...(globalEpochs ? { epochs: Number(globalEpochs) } : {}),
      ...(globalSeeds ? { seeds: Array.from({ length: Number(globalSeeds) }, (_, i) => i + 1) } : {}),
      ...(globalWindows ? { windowsPerSeries: Number(globalWindows) } : {}),
    },
  };
  const items = ids.map((id) => {
    const s = byId.get(id);
    if (!s?.series) throw new Error(`monthly.csv: series ${id} ${s?.error ?? 'is missing'}`);
    return { id, series: s.series };
  });
  const results: SeriesResult[] = [];
  const errors: string[] = [];
  const t0 = Date.now();
  const out = flag('--out');
  if (out) writeFileSync(out, '');
  let done = 0;
  const c0 = process.cpuUsage();
  let stages: GlobalStage[] = [];
  await forecastPanel(items, settings, {
    workers,
    onGlobalEpoch: (p) =>
      process.stderr.write(
        `\rglobal network, ${p.stage}: member ${p.member + 1}/${p.members}, epoch ${p.epoch}/${p.epochs}, loss ${p.loss.toFixed(4)}   `,
      ),
    onGlobalStage: (g) => {
      stages = g;
      process.stderr.write('\n');
    },
    onResult: (r) => {
      done++;
      if (isFailure(r)) errors.push(`${r.id}: ${r.error}`);
      else {
        const line = asResult(r, category.get(r.id) ?? '');
        results.push(line);
        if (out) appendFileSync(out, JSON.stringify(line) + '\n');
      }
      const secs = (Date.now() - t0) / 1000;
      process.stderr.write(
        `\r${done}/${ids.length} series, ${secs.toFixed(0)} s, ETA ${((secs / done) * (ids.length - done)).toFixed(0)} s   `,
      );
    },
  });
  process.stderr.write('\n');
  for (const e of errors) console.error(`failed: ${e}`);
  const wall = (Date.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  console.log(
    `${results.length} of ${ids.length} M3 monthly series (${all ? 'all' : 'the 100-series sample'}), h = 18; method ${method}; candidates ${candidates.join(', ')}; per-series networks ${seeds} seed(s); ${workers} worker thread(s); wall ${(wall / 60).toFixed(1)} min, CPU ${((cpu.user + cpu.system) / 60e6).toFixed(1)} min (the process, all threads)`,
  );
  for (const g of stages)
    console.log(
      `global network: ${g.error ? `failed: ${g.error}` : `${g.backtestWindows} backtest + ${g.finalWindows} final training windows, ${g.seconds.toFixed(0)} s wall, ${g.cpuSeconds.toFixed(0)} CPU s`}`,
    );
  summarize(results, candidates);
}

/**
 * The backtest table (inside the training parts only; never the test window): each method's mean sMAPE / MASE over
 * the series where it ran on every fold, and — to compare a fixed method with choosing per series honestly — every
 * method scored on each series' last fold, with "auto" choosing by the earlier folds' MASE.
 */
function backtestSummary(results: SeriesResult[]): void {
  const rs = results.filter((r) => r.backtest !== undefined);
  if (rs.length === 0) return;
  const methods: string[] = [];
  for (const r of rs) for (const m of Object.keys(r.backtest!)) if (!methods.includes(m)) methods.push(m);
  const both = rs.filter((r) => methods.every((m) => m in r.backtest!));
  console.log('');
  console.log(
    `Backtest (5 rolling origins inside each training part), the ${both.length} series where every method ran:`,
  );
  console.log('| method | mean sMAPE | mean MASE | last fold sMAPE | last fold MASE |');
  console.log('|---|---:|---:|---:|---:|');
  const last = (r: SeriesResult, m: string): { smape: number; mase: number } => {
    const f = r.backtest![m].folds;
    return f[f.length - 1];
  };
  for (const m of methods)
    console.log(
      `| ${m} | ${mean(both.map((r) => r.backtest![m].smape)).toFixed(2)} | ${mean(both.map((r) => r.backtest![m].mase)).toFixed(3)} | ${mean(both.map((r) => last(r, m).smape)).toFixed(2)} | ${mean(both.map((r) => last(r, m).mase)).toFixed(3)} |`,
    );
  // auto chosen on folds 1..k-1 (lowest mean MASE), scored on fold k.
  const picked = both
    .filter((r) => r.backtest![methods[0]].folds.length >= 2)
    .map((r) => {
      const early = (m: string): number => {
        const f = r.backtest![m].folds;
        return mean(f.slice(0, -1).map((x) => x.mase));
      };
      const best = methods.reduce((a, b) => (early(b) < early(a) ? b : a));
      return last(r, best);
    });
  if (picked.length > 0)
    console.log(
      `| auto, chosen per series on the earlier folds (${picked.length} series) | | | ${mean(picked.map((p) => p.smape)).toFixed(2)} | ${mean(picked.map((p) => p.mase)).toFixed(3)} |`,
    );
}

function summarize(results: SeriesResult[], candidates: readonly string[]): void {
  const cpu = results.filter((r) => r.cpuSeconds !== undefined).map((r) => r.cpuSeconds!);
  console.log(
    `mean ${mean(results.map((r) => r.seconds)).toFixed(1)} s per series (wall, in its worker)${cpu.length ? `, ${mean(cpu).toFixed(1)} CPU s` : ''}`,
  );
  console.log('');
  console.log(
    '| method | series | mean sMAPE | mean MASE | auto on the same series: sMAPE / MASE | chosen by auto |',
  );
  console.log('|---|---:|---:|---:|---:|---:|');
  const methods = ['auto', ...candidates, COMBINATION, ...Object.keys(PANEL_MEANS)];
  for (const m of methods) {
    const rs = results.filter((r) => m in r.smape);
    if (rs.length === 0) continue;
    const chosen = m === 'auto' ? '' : String(results.filter((r) => r.chosen === m).length);
    const same =
      m === 'auto'
        ? ''
        : `${mean(rs.map((r) => r.smape.auto)).toFixed(2)} / ${mean(rs.map((r) => r.mase.auto)).toFixed(3)}`;
    console.log(
      `| ${m === 'auto' ? '**default**' : m} | ${rs.length} | ${mean(rs.map((r) => r.smape[m])).toFixed(2)} | ${mean(rs.map((r) => r.mase[m])).toFixed(3)} | ${same} | ${chosen} |`,
    );
  }
  console.log('| Naive2, published (all 1,428) | | 16.91 | | | |');
  console.log('| Theta, published (all 1,428) | | 13.85 | | | |');
  console.log('');
  for (const level of LEVELS) {
    const iv = results.flatMap((r) => r.intervals.filter((i) => i.level === level));
    if (iv.length === 0) continue;
    console.log(
      `- ${level * 100}% interval of the chosen method on the test points: coverage ${(100 * mean(iv.map((i) => i.coverage))).toFixed(1)}% (${iv.length} series), mean Winkler score ${mean(iv.map((i) => i.winkler)).toFixed(1)}`,
    );
  }
  backtestSummary(results);
}

if (flag('--summarize')) {
  const results = readFileSync(flag('--summarize')!, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as SeriesResult);
  console.log(`${results.length} M3 monthly series from ${flag('--summarize')}`);
  summarize(results, (flag('--candidates')?.split(',') ?? PANEL_DEFAULT_CANDIDATES) as string[]);
} else await parent();
