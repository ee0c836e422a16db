/**
 * `npm run bench:forecast:regressors` — how well regressors.ts estimates β, on levels (lag 0), on first differences
 * (lag 1) and on seasonal differences (lag 12, the default for monthly series): the RMSE of β over 200 synthetic
 * monthly series of 96 points, y = level + 10·sin(2πt/12) + 3·x + noise, for three kinds of level (a linear trend, a
 * random walk, a stationary AR(1)) and four kinds of covariate (white noise, AR(1) with φ = 0.9, seasonal, a random
 * walk). Pure arithmetic: seconds of CPU.
 */
import { Random } from '../src/core/random.js';
import { fitRegression } from '../src/forecast/regressors.js';

const LEVELS = ['linear trend', 'random walk', 'stationary AR'] as const;
const COVARIATES = ['white noise', 'AR(1) 0.9', 'seasonal', 'random walk'] as const;
const LAGS = [0, 1, 12];
const REPEATS = 200;
const N = 96;

const rows: string[][] = [];
for (const level of LEVELS)
  for (const covariate of COVARIATES) {
    const rng = new Random(2026);
    const sq = LAGS.map(() => 0);
    for (let r = 0; r < REPEATS; r++) {
      let walk = 100;
      let ar = 0;
      let xa = 0;
      const y: number[] = [];
      const x: number[][] = [];
      for (let t = 0; t < N; t++) {
        ar = 0.7 * ar + 3 * rng.normal();
        walk += 2 * rng.normal();
        const l = level === 'linear trend' ? 100 + 0.5 * t : level === 'random walk' ? walk : 100 + ar;
        xa =
          covariate === 'white noise'
            ? rng.normal()
            : covariate === 'AR(1) 0.9'
              ? 0.9 * xa + 0.44 * rng.normal()
              : covariate === 'random walk'
                ? xa + 0.3 * rng.normal()
                : Math.sin((2 * Math.PI * t) / 12) + 0.3 * rng.normal();
        x.push([xa]);
        y.push(l + 10 * Math.sin((2 * Math.PI * t) / 12) + 3 * xa + rng.normal());
      }
      LAGS.forEach((lag, i) => (sq[i] += (fitRegression(y, x, lag).perUnit[0] - 3) ** 2 / REPEATS));
    }
    rows.push([level, covariate, ...sq.map((s) => Math.sqrt(s).toFixed(3))]);
  }
const head = ['level', 'covariate', ...LAGS.map((l) => (l === 0 ? 'levels' : `lag ${l}`))];
const w = head.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)));
const line = (r: string[]): string => r.map((c, j) => (j < 2 ? c.padEnd(w[j]) : c.padStart(w[j]))).join('  ');
console.log(`RMSE of β (true 3) over ${REPEATS} series of ${N} monthly points`);
console.log([line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n'));
