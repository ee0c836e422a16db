// How recur's library is bundled for a browser, shared by the page build (build-web.mjs) and the bare page of
// `npm run test:browser` (test/browser/check.ts), so that both bundle it the same way.
import { join } from 'node:path';

/** esbuild options for browser bundles of the library; `root` is the repository. */
export function browserBundleOptions(root) {
  return {
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    // The package's index.js (the library's browser loader, for a user's own bundler) stays out of the bundles: the
    // page's SARIMA worker builds the module from the package's parts (src/web/page/sarima_worker.ts).
    external: ['arima'],
    plugins: [
      {
        // Those parts are not in the package's exports; the wasm is fetched beside the bundles (build-web.mjs).
        name: 'arima-parts',
        setup(b) {
          b.onResolve({ filter: /^arima\/(load|wasm\/native-sync)\.js$/ }, (a) => ({
            path: join(root, 'node_modules', a.path),
          }));
        },
      },
      {
        // csv-parse's Node build uses Buffer; its browser build carries its own.
        name: 'csv-parse-browser',
        setup(b) {
          b.onResolve({ filter: /^csv-parse\/sync$/ }, () => ({
            path: join(root, 'node_modules', 'csv-parse', 'dist', 'esm', 'sync.js'),
          }));
        },
      },
    ],
    logLevel: 'warning',
  };
}
