// The `arima` package's parts that the page's SARIMA worker bundles (its exports name only index.js, which builds the
// module with console.log for its output and hides the module's memory). scripts/browser_bundle.mjs resolves them.
declare module 'arima/wasm/native-sync.js' {
  const createModule: (options: Record<string, unknown>) => unknown;
  export default createModule;
}
declare module 'arima/load.js' {
  import type { ArimaConstructor } from '../../forecast/baselines.js';
  const load: (wasm: unknown) => ArimaConstructor;
  export default load;
}
