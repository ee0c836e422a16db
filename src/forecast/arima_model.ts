/**
 * The `arima` package built from its parts, shared by the Node loader (src/node/baseline_loaders.ts) and the page's
 * SARIMA worker (src/web/page/sarima_worker.ts): its emscripten module created with recur's `print` (the package's
 * own index.js prints to console.log), and the model an AutoARIMA fit chose read from that module's memory. Each
 * adapter supplies the parts as its platform loads them; everything here is browser-safe.
 */
import {
  baselineLoaders,
  sarimaHere,
  setBaselineLoaders,
  type ArimaChosenModel,
  type ArimaConstructor,
} from './baselines.js';

/** What recur reads of the package's emscripten module. */
export interface ArimaWasm {
  HEAP32: Int32Array;
  HEAPF64: Float64Array;
}

/** The package's pieces: wasm/native-sync.js (the module factory), load.js, and the wasm's bytes. */
export interface ArimaParts {
  createModule(options: Record<string, unknown>): unknown;
  load(wasm: unknown): ArimaConstructor;
  wasmBinary: unknown;
}

/** The package's constructor on a module whose output (and error output) goes to `print`, with `chosenModel`. */
export function arimaFromParts(parts: ArimaParts, print: (line: string) => void): ArimaConstructor {
  const wasm = parts.createModule({ wasmBinary: parts.wasmBinary, print, printErr: print }) as ArimaWasm;
  const ARIMA = parts.load(wasm);
  ARIMA.chosenModel = (m) => chosenModel(wasm, m as unknown as TrainedArima);
  return ARIMA;
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
function chosenModel(wasm: ArimaWasm, m: TrainedArima): ArimaChosenModel {
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

/** The distinct lines the arima package printed during a failed fit, as a note on its error (a few at most). */
export function printedNote(printed: readonly string[]): string {
  const lines = [...new Set(printed.map((l) => l.trim()).filter((l) => l !== ''))];
  if (lines.length === 0) return '';
  return ` (the arima package printed: ${lines.slice(0, 3).join('; ')}${lines.length > 3 ? '; …' : ''})`;
}

/** A SARIMA worker's answer (Node's worker thread, the page's Web Worker): a forecast or an error, and what it printed. */
export interface SarimaWorkerReply {
  forecast?: number[];
  error?: string;
  printed: string[];
}

/** How long one SARIMA fit may run before its worker is terminated (the CLI's default; the page's always). */
export const SARIMA_BUDGET_MS = 120_000;

/** The error of a fit stopped at its budget. */
export function sarimaPastBudget(ms: number): Error {
  return new Error(`SARIMA ran past its time budget of ${ms / 1000} s and was stopped`);
}

/** The forecast of a worker's reply, or its error with what the package printed (its search's noise otherwise). */
export function sarimaReplyForecast(m: SarimaWorkerReply): number[] {
  if (m.forecast) return m.forecast;
  throw new Error(`${m.error ?? 'SARIMA failed'}${printedNote(m.printed)}`);
}

/**
 * A SARIMA worker's whole job: one fit here (sarimaHere) on the package built from `parts`, what it prints kept for
 * the reply (the worker's own output could be cut off when it is terminated).
 */
export async function sarimaWorkerReply(
  train: readonly number[],
  h: number,
  season: number,
  parts: () => Promise<ArimaParts>,
): Promise<SarimaWorkerReply> {
  const printed: string[] = [];
  const print = (line: string): void => void printed.push(line);
  setBaselineLoaders({ ...baselineLoaders(), arima: async () => arimaFromParts(await parts(), print) });
  try {
    return { forecast: await sarimaHere(train, h, season), printed };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e), printed };
  }
}
