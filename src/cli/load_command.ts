/**
 * A command's module is imported when that command runs, not when the CLI starts: `recur --help`, a typo'd flag and
 * every usage error answer without loading the library, the HTTP server or the forecasters (≈ 0.5 s of module loading
 * on this machine's Node 20), and each command loads only what it uses.
 */
export async function loadCommand<M>(load: () => Promise<M>): Promise<M> {
  // What recur's Node half installs (the worker pool, model.save(path)), not all of recur/node: the command's module
  // imports the rest it needs.
  await import('../node/install.js');
  return load();
}
