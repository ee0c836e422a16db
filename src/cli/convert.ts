/**
 * `recur convert IN OUT` — between recur/tfjs model directories, Keras .h5/.hdf5 files and Keras 3 .keras archives,
 * each format told by the extension (no extension: a recur model directory).
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadAnyModel, modelFormatOf, saveAnyModel } from '../node/keras_io.js';
import { UsageError, type Output } from './output.js';

const FORMAT_NAMES = {
  recur: 'recur model directory',
  'keras-h5': 'Keras HDF5 (.h5)',
  keras: 'Keras 3 archive (.keras)',
};

export async function convert(
  input: string,
  output: string,
  opts: { overwrite?: boolean },
  out: Output,
): Promise<number> {
  if (resolve(input) === resolve(output)) throw new UsageError('IN and OUT are the same path');
  const format = modelFormatOf(output);
  if (format === 'recur') {
    if (existsSync(output) && !statSync(output).isDirectory())
      throw new UsageError(`${output}: is a file; OUT must end in .keras, .h5 or .hdf5, or be a directory`);
    if (existsSync(join(output, 'model.json')) && !opts.overwrite)
      throw new UsageError(`${output}: already holds a model; add --overwrite to replace it`);
  } else if (existsSync(output)) {
    if (statSync(output).isDirectory()) throw new UsageError(`${output}: is a directory, not a file`);
    if (!opts.overwrite) throw new UsageError(`${output}: already exists; add --overwrite to replace it`);
  }
  const loaded = await loadAnyModel(input);
  for (const n of loaded.notes) out.info(`note: ${n}`);
  const { notes } = await saveAnyModel(loaded.model, output, { includeOptimizer: false });
  for (const n of notes) out.info(`note: ${n}`);
  out.info(`${input} (${FORMAT_NAMES[loaded.format]}) → ${output} (${FORMAT_NAMES[format]})`);
  out.json({ input, output, from: loaded.format, to: format, layers: loaded.model.layers.length });
  return 0;
}
