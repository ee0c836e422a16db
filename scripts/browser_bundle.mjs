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
    // SARIMA's emscripten module is never loaded in the page (its fit cannot be interrupted); keep it out of the bundle.
    external: ['arima'],
    plugins: [
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
