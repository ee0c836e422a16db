/**
 * `recur convert IN OUT` — between recur/tfjs model directories, Keras .h5/.hdf5 files and Keras 3 .keras archives,
 * each format told by the extension (no extension: a recur model directory). The model's metadata goes along: into
 * model.json, or into a place in the Keras file that Keras ignores (metadata.json of a .keras, a root attribute of an
 * .h5), from where converting back restores it.
 */
import { existsSync, lstatSync, statSync } from 'node:fs';
import { extname, join, resolve } from 'node:path';
import { ENSEMBLE_FILE } from '../models/seed_ensemble.js';
import { loadAnyModel, modelFormatOf, saveAnyModel } from '../node/keras_io.js';
import { holdsModelJson } from '../node/model_io.js';
import { isModelFileName, plainEntries } from '../node/run_files.js';
import { killedSaveFiles } from './run_dir.js';
import { UsageError, type Output } from './output.js';

const FORMAT_NAMES = {
  recur: 'recur model directory',
  'keras-h5': 'Keras HDF5 (.h5)',
  keras: 'Keras 3 archive (.keras)',
};

/**
 * Extensions of other frameworks' model files, and of text and data files: a new OUT ending in one is a mistake, not
 * a directory name (a recur directory's name has no extension of its own; `convert m.h5 m.txt` made a directory).
 */
const OTHER_MODEL_FILES = new Set([
  '.txt',
  '.csv',
  '.tsv',
  '.jsonl',
  '.md',
  '.py',
  '.onnx',
  '.pt',
  '.pth',
  '.pb',
  '.tflite',
  '.safetensors',
  '.ckpt',
  '.bin',
  '.npz',
  '.pkl',
  '.zip',
]);

/** The manifests of recur's directories that are not one model. */
const OTHER_RUNS: readonly (readonly [string, string])[] = [
  [ENSEMBLE_FILE, 'a seed ensemble'],
  // forecaster_io's FORECASTER_FILE; named here so convert does not load the forecasting modules.
  ['forecaster.json', 'a saved forecaster'],
];

/**
 * What of a model's metadata the converted model keeps: everything (a text model's vocabulary, settings and prime, a
 * classifier's labels, recur's seed and compile settings), but for the sha256 of the source's files (the new files
 * get their own) and a checkpoint's training state (it goes with the optimizer's slots, which convert does not write).
 */
function convertedMetadata(meta: Record<string, unknown>): Record<string, unknown> {
  const kept = { ...meta };
  delete kept.state;
  const recur = kept.recur;
  if (recur && typeof recur === 'object' && !Array.isArray(recur)) {
    kept.recur = { ...recur };
    delete (kept.recur as Record<string, unknown>).sha256;
  }
  return kept;
}

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
    // A recur/tfjs model is a directory (model.json and weights files): OUT named like a file would become a
    // directory of that name.
    const foreign = extname(output).toLowerCase();
    if (!existsSync(output) && OTHER_MODEL_FILES.has(foreign))
      throw new UsageError(
        `${output}: recur writes a recur/tfjs model directory, a Keras .h5/.hdf5 file or a Keras 3 .keras archive, told by OUT's extension; '${foreign}' is none of them (a directory named ${output} would be written): give .keras, .h5 or a directory name`,
      );
    if (!existsSync(output) && /\.json$/i.test(output))
      throw new UsageError(
        `${output}: a recur/tfjs model is a directory holding model.json and its weights; give the directory (e.g. ${output.replace(/\.json$/i, '')})`,
      );
    // A seed ensemble or a saved forecaster is read by its own manifest: a model.json written beside it would be a
    // second model in one directory, which the commands would read differently (--overwrite would not replace it).
    for (const [file, what] of OTHER_RUNS)
      if (existsSync(join(output, file)))
        throw new UsageError(`${output}: holds ${what} (${file}); give another directory for the model`);
    // Without a model here, a weights file is the user's (unless a killed save left it beside its model.json's temp
    // file), and saving a model would delete it as an older model's: refused, --overwrite or not, as recur train
    // refuses such an --out. A model.json that is no model's (holdsModelJson) is the user's file too.
    if (existsSync(output) && !holdsModelJson(output)) {
      const killed = killedSaveFiles(output, isModelFileName);
      const theirs = plainEntries(output).find(
        (n) =>
          isModelFileName(n) &&
          !killed.includes(n) &&
          (lstatSync(join(output, n)).isSymbolicLink() || lstatSync(join(output, n)).size > 0),
      );
      if (theirs !== undefined)
        throw new UsageError(
          `${join(output, theirs)} is not part of a recur model here and saving one would replace it; give OUT a directory of its own`,
        );
    }
    if (holdsModelJson(output) && !opts.overwrite)
      throw new UsageError(`${output}: already holds a model; add --overwrite to replace it`);
  } else if (existsSync(output)) {
    if (statSync(output).isDirectory()) throw new UsageError(`${output}: is a directory, not a file`);
    if (!opts.overwrite) throw new UsageError(`${output}: already exists; add --overwrite to replace it`);
  }
  const loaded = await loadAnyModel(input);
  for (const n of loaded.notes) out.note(n);
  const saved = await saveAnyModel(loaded.model, output, {
    includeOptimizer: false,
    metadata: convertedMetadata(loaded.metadata),
  });
  for (const n of saved.notes) out.note(n);
  out.info(`${input} (${FORMAT_NAMES[loaded.format]}) → ${output} (${FORMAT_NAMES[format]})`);
  // The notes (what the new file's readers cannot load, what was left out) go along in --json's object too.
  // Its `event` names what was done, as the other commands' that write files (export's 'exported').
  const notes = [...loaded.notes, ...saved.notes];
  out.json({
    event: 'converted',
    input,
    output,
    from: loaded.format,
    to: format,
    layers: loaded.model.layers.length,
    notes,
  });
  return 0;
}
