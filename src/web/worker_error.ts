/**
 * The Error of a Web Worker's 'error' event. An error thrown in the worker comes as an ErrorEvent with its message; a
 * worker script that did not load (not found, or importing a module the browser cannot resolve, such as a package
 * named without a bundler) comes as a plain Event without one, which read "web worker: undefined".
 */
export function webWorkerError(e: Event, workerUrl: URL | string): Error {
  const message = (e as Partial<ErrorEvent>).message;
  return new Error(
    message
      ? `web worker: ${message}`
      : `web worker ${String(workerUrl)} did not load: the script, or a module it imports, could not be fetched or resolved (a bundler resolves the packages recur imports by name; pass the bundled worker's URL)`,
  );
}
