/**
 * How Node loads the baselines' wasm libraries: augurs' wasm read from node_modules, and `arima` built with its output
 * sent to stderr, so nothing a library prints can land on stdout (where `recur forecast --json` writes its JSON).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arimaFromParts, type ArimaParts } from '../forecast/arima_model.js';
import type { BaselineLoaders } from '../forecast/baselines.js';

const require = createRequire(import.meta.url);

export const nodeBaselineLoaders: BaselineLoaders = {
  async augurs() {
    const mstl = await import('@bsull/augurs/mstl');
    const ets = await import('@bsull/augurs/ets');
    // In Node the wasm must be handed over explicitly (initSync): wasm-bindgen's default init would fetch a file: URL.
    const dir = dirname(fileURLToPath(import.meta.resolve('@bsull/augurs/mstl')));
    mstl.initSync({ module: readFileSync(join(dir, 'mstl_bg.wasm')) });
    ets.initSync({ module: readFileSync(join(dir, 'ets_bg.wasm')) });
    return { mstl, ets };
  },
  // Built by recur (src/forecast/arima_model.ts) because the package's own print is console.log, and AutoARIMA
  // prints lines such as "non-stationary AR part".
  arima: () =>
    Promise.resolve(arimaFromParts(nodeArimaParts(), (line) => void process.stderr.write(line + '\n'))),
};

/** The package's parts from node_modules (its exports name only index.js, which builds the module with console.log). */
export function nodeArimaParts(): ArimaParts {
  const dir = dirname(require.resolve('arima'));
  return {
    createModule: require(join(dir, 'wasm', 'native-sync.js')) as ArimaParts['createModule'],
    load: require(join(dir, 'load.js')) as ArimaParts['load'],
    wasmBinary: require(join(dir, 'wrapper', 'native.bin.js')) as unknown,
  };
}
