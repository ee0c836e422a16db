/**
 * `model.save(path)` for both model kinds. Writing files is not the browser-safe library's business, so the models
 * delegate to a saver that an environment installs: `recur/node` installs one that writes the format the path names
 * (a recur/tfjs directory, a Keras .h5/.hdf5 or a Keras 3 .keras file). Without one — in a browser — save() says
 * how to get the bytes instead.
 */
import type { Functional } from './functional.js';
import type { Sequential } from './sequential.js';

export interface SaveResult {
  /** What the format could not keep exactly, in words (e.g. a Keras 2 activation written as its Keras 3 twin). */
  notes: string[];
}

export type ModelSaver = (model: Sequential | Functional, path: string) => Promise<SaveResult>;

let installed: ModelSaver | null = null;

/** Installs the saver behind `model.save(path)` (recur/node does this when imported). */
export function installModelSaver(saver: ModelSaver | null): void {
  installed = saver;
}

export function saveWithInstalledSaver(model: Sequential | Functional, path: string): Promise<SaveResult> {
  if (!installed)
    return Promise.reject(
      new Error(
        `model.save('${path}'): no file system here. In Node, import 'recur/node' first (it installs the file ` +
          `writer); in a browser, keras.saveKerasArchive(model) / keras.saveKerasH5(model) give a Keras file's bytes`,
      ),
    );
  return installed(model, path);
}
