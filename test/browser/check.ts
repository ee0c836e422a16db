/**
 * `npm run test:browser` — recur in a real browser: bundles test/browser/check_page.ts with esbuild as a user's
 * bundler would bundle `recur` and `recur/web`, serves it and the repository with the headers that make a page
 * cross-origin isolated (COOP/COEP, needed for SharedArrayBuffer), opens test/browser/page.html in headless Chromium
 * through playwright-core, and checks that the page ran the wasm kernels, installed the Web Worker pool, and that
 * training with 2 threads (Web Workers) matches 1 thread within float tolerance.
 * Needs a Chromium binary (Debian: `apt-get install chromium`; or set CHROMIUM=/path); it is not part of `npm test`
 * because CI machines have no browser and no way to download one.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import type { PageResult } from './check_page.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const browserPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
if (!existsSync(browserPath)) {
  console.error(
    `test:browser: no Chromium at ${browserPath} (install Debian's chromium or set CHROMIUM=/path)`,
  );
  process.exit(1);
}

// The page's script, bundled as the page build bundles the library (the compiled library imports zod and other
// packages by bare name, which a browser cannot resolve).
// scripts/ is not compiled into dist/: import it from the repository.
const { browserBundleOptions } = (await import(
  pathToFileURL(join(root, 'scripts', 'browser_bundle.mjs')).href
)) as typeof import('../../scripts/browser_bundle.mjs');
const bundled = await build({
  entryPoints: [join(root, 'dist', 'test', 'browser', 'check_page.js')],
  ...browserBundleOptions(root),
  write: false,
});
const pageScript = bundled.outputFiles[0].contents;

const types: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.map': 'application/json',
};
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (url.pathname === '/favicon.ico') {
    res.writeHead(204).end();
    return;
  }
  const isolation = {
    'cross-origin-opener-policy': 'same-origin',
    'cross-origin-embedder-policy': 'require-corp',
  };
  if (url.pathname === '/check/page.js') {
    res.writeHead(200, { 'content-type': 'text/javascript', ...isolation }).end(pageScript);
    return;
  }
  const path = normalize(join(root, decodeURIComponent(url.pathname)));
  if (!path.startsWith(root) || !existsSync(path)) {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream', ...isolation });
  res.end(readFileSync(path));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const port = (server.address() as AddressInfo).port;

const browser = await chromium.launch({ executablePath: browserPath });
let failed = false;
try {
  const page = await browser.newPage();
  page.on('console', (m) => console.log(`[page] ${m.text()}`));
  // An error the page's script throws while loading would otherwise show only as the wait's timeout.
  page.on('pageerror', (e) => console.log(`[page error] ${e.message}`));
  await page.goto(`http://127.0.0.1:${port}/test/browser/page.html`);
  await page.waitForFunction(() => (window as unknown as { result?: unknown }).result !== undefined, null, {
    timeout: 120_000,
  });
  const r = (await page.evaluate(() => (window as unknown as { result: unknown }).result)) as PageResult;
  if (r.error) throw new Error(r.error);
  let maxDiff = 0;
  r.one.weights.forEach((w, i) =>
    w.forEach((v, j) => (maxDiff = Math.max(maxDiff, Math.abs(v - r.two.weights[i][j])))),
  );
  const checks: [string, boolean][] = [
    ['page is cross-origin isolated', r.crossOriginIsolated],
    ['wasm kernels', r.kernels.startsWith('wasm-')],
    ['Web Worker pool installed', r.installed],
    ['2 threads ≡ 1 thread (max |Δw| ≤ 1e-4)', maxDiff <= 1e-4],
    ['loss decreases', r.two.loss[2] < r.two.loss[0]],
  ];
  // Not bit-identical: the 2-thread run sums two shards' gradients, so a zero difference would mean the pool was
  // not used.
  checks.push(['the batches were split (|Δw| > 0)', maxDiff > 0]);
  for (const [what, ok] of checks) {
    console.log(`${ok ? 'ok' : 'FAILED'}: ${what}`);
    failed ||= !ok;
  }
  console.log(
    `kernels ${r.kernels}, ${r.cores} cores; 1 thread ${r.one.ms.toFixed(0)} ms, 2 threads ${r.two.ms.toFixed(0)} ms; max |Δw| ${maxDiff.toExponential(1)}`,
  );
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
