/**
 * `npm run bench:forecast:m3` — recur's default forecaster (`--method auto`: backtest over network, hybrid, ETS, SARIMA,
 * Theta, seasonal naive and the mean of the best 3, conformal 80/95% intervals) on the M3 competition's monthly series
 * (../shared/eval/m3; see its README): each series' training part is everything but its last 18 points, the forecast
 * is scored on those 18 with sMAPE (200|e|/(|y|+|ŷ|)) and MASE (seasonal naive scale, m = 12), the same as the
 * README's baselines. The choice and the calibration see the training part only.
 *
 *   node dist/bench/forecast_m3.js                 the 100-series sample (every 14.28th series of the 1,428, in order)
 *   node dist/bench/forecast_m3.js --all           all 1,428
 *   --workers N      child processes (default 2)          --candidates a,b,c   what auto chooses from (default all)
 *   --seeds N        network ensemble size (default 5)    --limit N            the first N series of the selection
 *   --out FILE       one JSON line per series, appended as each finishes (a stopped run keeps what it did)
 *   --summarize FILE print the tables from such a file (no fitting)
 *
 * Series run in child processes (one core each): the forecasters are single-threaded and series are independent.
 */
import '../src/node/index.js';
import { fork } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { Random } from '../src/core/random.js';
import { autoForecast, CANDIDATES, COMBINATION, type CandidateName } from '../src/forecast/auto.js';
import { winkler } from '../src/forecast/conformal.js';
import { metrics } from '../src/forecast/metrics.js';
import { FORECAST_DEFAULTS, type NetworkOptions } from '../src/forecast/network.js';

const here = dirname(fileURLToPath(import.meta.url));
const M3 = join(here, '..', '..', '..', 'shared', 'eval', 'm3');
const H = 18;
const SEASON = 12;
const LEVELS = [0.8, 0.95];

interface SeriesResult {
  id: string;
  category: string;
  n: number;
  chosen: string;
  seconds: number;
  /** CPU seconds of its process (user + system): the cost without the machine's other load. */
  cpuSeconds?: number;
  smape: Record<string, number>;
  mase: Record<string, number>;
  /** Of the chosen method's intervals on the 18 test points: share inside and mean Winkler score, per level. */
  intervals: { level: number; coverage: number; winkler: number }[];
}

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function loadM3(): { meta: Record<string, string>[]; values: Map<string, number[]> } {
  const meta = parse(readFileSync(join(M3, 'series.csv'), 'utf8'), { columns: true }) as Record<
    string,
    string
  >[];
  const rows = parse(readFileSync(join(M3, 'monthly.csv'), 'utf8'), { columns: true }) as Record<
    string,
    string
  >[];
  const values = new Map<string, number[]>();
  for (const r of rows) {
    const v = values.get(r.id) ?? values.set(r.id, []).get(r.id)!;
    const t = Number(r.t);
    if (t !== v.length + 1) throw new Error(`monthly.csv: series ${r.id} is not in t order at t=${t}`);
    v.push(Number(r.value));
  }
  return { meta, values };
}

async function runSeries(
  id: string,
  category: string,
  values: number[],
  candidates: CandidateName[],
  seeds: number,
) {
  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  const train = values.slice(0, values.length - H);
  const test = values.slice(values.length - H);
  const network: NetworkOptions = {
    ...FORECAST_DEFAULTS,
    method: 'network',
    season: SEASON,
    lookback: 2 * SEASON,
    horizon: H,
    seeds: Array.from({ length: seeds }, (_, i) => i + 1),
  };
  const r = await autoForecast(train, {
    horizon: H,
    season: SEASON,
    method: 'auto',
    candidates,
    folds: 5,
    levels: LEVELS,
    network,
    fitAll: true,
  });
  const smape: Record<string, number> = {};
  const mase: Record<string, number> = {};
  const score = (name: string, f: number[]): void => {
    const m = metrics(test, f, train, SEASON);
    smape[name] = m.smape;
    mase[name] = m.mase;
  };
  score('auto', r.point);
  for (const [name, f] of r.forecasts) score(name, f);
  const result: SeriesResult = {
    id,
    category,
    n: values.length,
    chosen: r.chosen,
    seconds: (Date.now() - t0) / 1000,
    cpuSeconds: ((c) => (c.user + c.system) / 1e6)(process.cpuUsage(cpu0)),
    smape,
    mase,
    intervals: r.intervals.map((iv) => ({
      level: iv.level,
      coverage: test.filter((y, h) => y >= iv.lower[h] && y <= iv.upper[h]).length / H,
      winkler: test.reduce((s, y, h) => s + winkler(iv.lower[h], iv.upper[h], y, iv.level), 0) / H,
    })),
  };
  return result;
}

async function child(): Promise<void> {
  const { meta, values } = loadM3();
  const cat = new Map(meta.map((m) => [m.id, m.category]));
  process.on('message', (msg: { ids: string[]; candidates: CandidateName[]; seeds: number }) => {
    void (async () => {
      for (const id of msg.ids) {
        try {
          process.send!({
            result: await runSeries(id, cat.get(id)!, values.get(id)!, msg.candidates, msg.seeds),
          });
        } catch (e) {
          process.send!({ error: `${id}: ${(e as Error).message}` });
        }
      }
      process.exit(0);
    })();
  });
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

async function parent(): Promise<void> {
  if (!existsSync(join(M3, 'monthly.csv'))) {
    console.error(`M3 data not found at ${M3} (../shared/eval/m3): nothing to run`);
    return;
  }
  const { meta } = loadM3();
  const all = process.argv.includes('--all');
  let ids = all
    ? meta.map((m) => m.id)
    : Array.from({ length: 100 }, (_, i) => meta[Math.floor((i * meta.length) / 100)].id);
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
  const candidates = (flag('--candidates')?.split(',') ?? CANDIDATES) as CandidateName[];
  for (const c of candidates) if (!CANDIDATES.includes(c)) throw new Error(`unknown candidate ${c}`);
  const results: SeriesResult[] = [];
  const errors: string[] = [];
  const t0 = Date.now();
  const out = flag('--out');
  if (out) writeFileSync(out, '');
  await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const mine = ids.filter((_, i) => i % workers === w);
      if (mine.length === 0) return Promise.resolve();
      const p = fork(fileURLToPath(import.meta.url), ['--child'], {
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      });
      p.send({ ids: mine, candidates, seeds });
      p.on('message', (m: { result?: SeriesResult; error?: string }) => {
        if (m.result) results.push(m.result);
        if (m.result && out) appendFileSync(out, JSON.stringify(m.result) + '\n');
        if (m.error) errors.push(m.error);
        const done = results.length + errors.length;
        const secs = (Date.now() - t0) / 1000;
        process.stderr.write(
          `\r${done}/${ids.length} series, ${secs.toFixed(0)} s, ETA ${((secs / done) * (ids.length - done)).toFixed(0)} s   `,
        );
      });
      return new Promise<void>((resolve) => p.on('exit', () => resolve()));
    }),
  );
  process.stderr.write('\n');
  for (const e of errors) console.error(`failed: ${e}`);
  const wall = (Date.now() - t0) / 1000;
  console.log(
    `${results.length} of ${ids.length} M3 monthly series (${all ? 'all' : 'the 100-series sample'}), h = 18; candidates ${candidates.join(', ')}; networks ${seeds} seed(s); ${workers} worker process(es); wall ${(wall / 60).toFixed(1)} min`,
  );
  summarize(results, candidates);
}

function summarize(results: SeriesResult[], candidates: readonly string[]): void {
  const cpu = results.filter((r) => r.cpuSeconds !== undefined).map((r) => r.cpuSeconds!);
  console.log(
    `mean ${mean(results.map((r) => r.seconds)).toFixed(1)} s per series (wall, in its process)${cpu.length ? `, ${mean(cpu).toFixed(1)} CPU s` : ''}`,
  );
  console.log('');
  console.log(
    '| method | series | mean sMAPE | mean MASE | auto on the same series: sMAPE / MASE | chosen by auto |',
  );
  console.log('|---|---:|---:|---:|---:|---:|');
  const methods = ['auto', ...candidates, COMBINATION];
  for (const m of methods) {
    const rs = results.filter((r) => m in r.smape);
    if (rs.length === 0) continue;
    const chosen = m === 'auto' ? '' : String(results.filter((r) => r.chosen === m).length);
    const same =
      m === 'auto'
        ? ''
        : `${mean(rs.map((r) => r.smape.auto)).toFixed(2)} / ${mean(rs.map((r) => r.mase.auto)).toFixed(3)}`;
    console.log(
      `| ${m === 'auto' ? '**auto (default)**' : m} | ${rs.length} | ${mean(rs.map((r) => r.smape[m])).toFixed(2)} | ${mean(rs.map((r) => r.mase[m])).toFixed(3)} | ${same} | ${chosen} |`,
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
}

if (process.argv.includes('--child')) await child();
else if (flag('--summarize')) {
  const results = readFileSync(flag('--summarize')!, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as SeriesResult);
  console.log(`${results.length} M3 monthly series from ${flag('--summarize')}`);
  summarize(results, (flag('--candidates')?.split(',') ?? CANDIDATES) as string[]);
} else await parent();
