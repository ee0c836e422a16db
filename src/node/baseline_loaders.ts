/**
 * How Node loads the baselines' wasm libraries: augurs' wasm read from node_modules, and `arima` built with its output
 * sent to stderr, so nothing a library prints can land on stdout (where `recur forecast --json` writes its JSON).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArimaChosenModel, ArimaConstructor, BaselineLoaders } from '../forecast/baselines.js';

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
  const wasm = createModule({ wasmBinary, print, printErr: print }) as {
    HEAP32: Int32Array;
    HEAPF64: Float64Array;
  };
  const ARIMA = load(wasm);
  ARIMA.chosenModel = (m) => chosenModel(wasm, m as unknown as TrainedArima);
  return Promise.resolve(ARIMA);
}

/** What arima/load.js keeps on a trained instance: the fitted model's handle, the series' length, the options. */
interface TrainedArima {
  model: number;
  lin: number;
  options: { p: number; d: number; q: number };
}

/**
 * The model an AutoARIMA fit chose, read from the package's wasm memory (it has no call for it). Its model handle
 * points at a pointer to ctsa's auto_arima_set, whose leading ints are N, Nused, method, optmethod, pmax, dmax, qmax,
 * Pmax, Dmax, Qmax, p, d, q, s, P, D, Q, and whose mean (the double after 20 ints and 8 pointers) is the one its
 * predictor adds at d = 0. The length and the maximum orders recur passed are checked first, so that a package laid out
 * otherwise fails loudly instead of being misread.
 */
function chosenModel(wasm: { HEAP32: Int32Array; HEAPF64: Float64Array }, m: TrainedArima): ArimaChosenModel {
  // Looked up now: the package replaces its views when its memory grows.
  const { HEAP32: heap, HEAPF64: doubles } = wasm;
  const at = heap[m.model >> 2];
  const int = (k: number): number => heap[(at >> 2) + k];
  const o = m.options;
  if (int(0) !== m.lin || int(4) !== o.p || int(5) !== o.d || int(6) !== o.q)
    throw new Error(
      `SARIMA: the arima package's fitted model is not laid out as recur reads it (length ${int(0)}, maximum orders ${int(4)}, ${int(5)}, ${int(6)}; expected ${m.lin}, ${o.p}, ${o.d}, ${o.q}); is the installed arima package the version recur was built with?`,
    );
  return { p: int(10), d: int(11), q: int(12), P: int(14), Q: int(16), mean: doubles[(at + 112) >> 3] };
}
