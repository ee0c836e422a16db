/**
 * How Node loads the baselines' wasm libraries: augurs' wasm read from node_modules, and `arima` built with its output
 * sent to stderr, so nothing a library prints can land on stdout (where `recur forecast --json` writes its JSON).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArimaConstructor, BaselineLoaders } from '../forecast/baselines.js';

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
  arima: () => loadArima((line) => void process.stderr.write(line + '\n')),
};

/**
 * The `arima` package built with `print` for everything its wasm prints. We build the emscripten module ourselves (as
 * arima/index.js does) because its default print is console.log, and AutoARIMA prints lines such as
 * "non-stationary AR part".
 */
export function loadArima(print: (line: string) => void): Promise<ArimaConstructor> {
  const dir = dirname(require.resolve('arima'));
  const createModule = require(join(dir, 'wasm', 'native-sync.js')) as (
    o: Record<string, unknown>,
  ) => unknown;
  const wasmBinary = require(join(dir, 'wrapper', 'native.bin.js')) as unknown;
  const load = require(join(dir, 'load.js')) as (m: unknown) => ArimaConstructor;
  return Promise.resolve(load(createModule({ wasmBinary, print, printErr: print })));
}
