/**
 * Model files of every format recur reads, on Node, by path: a recur/tfjs model directory (or its model.json), a
 * Keras .h5/.hdf5 file, or a Keras 3 .keras archive — told by the extension (a directory is a recur model; a file
 * of another name by its bytes).
 * Reads only the given file (and, for a model directory, the weights files inside it); writes atomically.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { InvalidInputError, describeValue, noSuchPath } from '../core/errors.js';
import { parseJsonText } from '../core/json_text.js';
import { Functional } from '../models/functional.js';
import type { SaveOptions } from '../models/serialization.js';
import { Sequential } from '../models/sequential.js';
import { isZip } from '../keras/archive.js';
import { isHdf5 } from '../keras/h5.js';
import { saveKerasArchive, saveKerasH5 } from '../keras/save.js';
import {
  loadKerasModel,
  loadKerasWeights,
  type LoadedKerasModel,
  type WeightsReport,
} from '../keras/load.js';
import { makeDirectories, writeFileAtomic } from './atomic.js';
import {
  loadFunctionalModel,
  loadModel,
  modelJsonPath,
  notAModelFile,
  saveModel,
  startsLikeJsonObject,
} from './model_io.js';

export type ModelFormat = 'recur' | 'keras-h5' | 'keras';

/** The format a path names: .keras → Keras 3 archive, .h5/.hdf5 → Keras HDF5, anything else a recur directory. */
export function modelFormatOf(path: string): ModelFormat {
  const ext = extname(path).toLowerCase();
  if (ext === '.keras') return 'keras';
  if (ext === '.h5' || ext === '.hdf5') return 'keras-h5';
  return 'recur';
}

export interface LoadedAnyModel {
  model: Sequential | Functional;
  format: ModelFormat;
  /**
   * userDefinedMetadata of a recur/tfjs model; of a Keras file, what recur kept in it when it wrote it from a recur
   * model ({} for Keras's own files).
   */
  metadata: Record<string, unknown>;
  notes: string[];
  /** Keras files: the training_config / compile_config they record (null when none, and for recur models). */
  trainingConfig?: unknown;
  /** Keras files: the keras_version they record. */
  kerasVersion?: string;
}

function classNameOf(file: string): string {
  let json: unknown;
  try {
    json = parseJsonText(readFileSync(file, 'utf8'), file);
  } catch (e) {
    throw new InvalidInputError((e as Error).message);
  }
  const topo = (json as { modelTopology?: { class_name?: unknown; model_config?: { class_name?: unknown } } })
    ?.modelTopology;
  const name = topo?.model_config?.class_name ?? topo?.class_name;
  return typeof name === 'string' ? name : '';
}

/**
 * A model from any file recur reads: a recur/tfjs model directory (Sequential or functional), a Keras .h5/.hdf5 or
 * a .keras file — or the bytes of a Keras file (`name` then names it in errors). Async because the HDF5 library
 * loads on first use.
 */
export async function loadAnyModel(
  pathOrBytes: string | Uint8Array,
  name = 'model',
): Promise<LoadedAnyModel> {
  if (!(pathOrBytes instanceof Uint8Array) && typeof pathOrBytes !== 'string')
    throw new InvalidInputError(
      `loadModel: expected a path (a string) or a model file's bytes (a Uint8Array), got ${describeArgument(pathOrBytes)}`,
    );
  if (pathOrBytes instanceof Uint8Array) {
    return fromKeras(await loadKerasModel(pathOrBytes, name));
  }
  const path = pathOrBytes;
  const format = modelFormatOf(path);
  if (format === 'recur' && isFile(path)) {
    // A file that is not named .h5/.keras is a model.json to recur, unless its bytes say otherwise: a Keras file
    // under another name (weights.best, model.zip) is read as one, and anything else that is not JSON is named as
    // not a model file, rather than "not valid JSON" about a file the user never meant as JSON.
    const head = fileHead(path, 8);
    if (isHdf5(head) || isZip(head))
      return fromKeras(await loadKerasModel(new Uint8Array(readFileSync(path)), path));
    if (!/\.json$/i.test(path) && !startsLikeJsonObject(path)) throw notAModelFile(path);
  }
  if (format === 'recur') {
    try {
      const file = modelJsonPath(path);
      if (['Functional', 'Model'].includes(classNameOf(file))) {
        const r = loadFunctionalModel(path);
        return { model: r.model, format, metadata: r.metadata, notes: r.notes };
      }
      const r = loadModel(path);
      return { model: r.model, format, metadata: r.metadata, notes: r.notes };
    } catch (e) {
      // A directory that holds no usable model is bad input, as for `recur generate` (src/cli/text_model.ts).
      if (e instanceof Error && !(e instanceof TypeError) && !(e as NodeJS.ErrnoException).code)
        throw new InvalidInputError(e.message);
      throw e;
    }
  }
  // As a missing model directory is (modelJsonPath): one line naming the path, not fs's "ENOENT: …, stat".
  if (!existsSync(path)) throw new InvalidInputError(noSuchPath(path));
  if (statSync(path).isDirectory())
    throw new InvalidInputError(
      `${path}: is a directory, not a Keras ${format === 'keras' ? '.keras' : '.h5'} file`,
    );
  return fromKeras(await loadKerasModel(new Uint8Array(readFileSync(path)), path));
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The first `n` bytes of a file (fewer when it is shorter). */
function fileHead(path: string, n: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const head = new Uint8Array(n);
    return head.subarray(0, readSync(fd, head, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

function fromKeras(r: LoadedKerasModel): LoadedAnyModel {
  return {
    model: r.model,
    format: r.format,
    metadata: r.metadata,
    notes: r.notes,
    trainingConfig: r.trainingConfig,
    kerasVersion: r.kerasVersion,
  };
}

/** Applies a Keras weights file (save_weights / ModelCheckpoint) to a model of the same architecture, by layer name. */
export async function loadKerasWeightsFile(
  model: Sequential | Functional,
  path: string,
): Promise<WeightsReport> {
  // As loadModel's: one line naming the path, not fs's "ENOENT: …, open" or "EISDIR".
  if (!existsSync(path))
    throw new InvalidInputError(noSuchPath(path, 'a Keras weights file (.h5 or .keras)'));
  if (statSync(path).isDirectory())
    throw new InvalidInputError(`${path}: is a directory, not a Keras weights file (.h5 or .keras)`);
  return loadKerasWeights(model, new Uint8Array(readFileSync(path)), path);
}

/**
 * Saves a model in the format its path names: .keras (Keras 3 archive), .h5/.hdf5 (Keras HDF5), else a recur model
 * directory (saveModel), making missing parent directories. `opts.metadata` goes into a Keras file too (see
 * saveKerasArchive, saveKerasH5), where loadAnyModel finds it. Returns notes on what other programs cannot read.
 */
export async function saveAnyModel(
  model: Sequential | Functional,
  path: string,
  opts: SaveOptions = {},
): Promise<{ notes: string[] }> {
  if (!(model instanceof Sequential || model instanceof Functional))
    throw new InvalidInputError(
      `saveModel: expected a model (sequential() or model()), got ${describeArgument(model)}`,
    );
  if (typeof path !== 'string')
    throw new InvalidInputError(`saveModel: expected a path (a string), got ${describeArgument(path)}`);
  const format = modelFormatOf(path);
  if (format === 'recur') return saveModel(model, path, opts);
  const metadata = opts.metadata ?? {};
  let r: Awaited<ReturnType<typeof saveKerasH5>>;
  try {
    r =
      format === 'keras'
        ? await saveKerasArchive(model, new Date(), metadata)
        : await saveKerasH5(model, metadata);
  } catch (e) {
    // What the file cannot hold (a hard sigmoid of the other Keras version…) is said of the file being written.
    if (e instanceof InvalidInputError && !e.message.startsWith(`${path}: `))
      throw new InvalidInputError(`${path}: ${e.message}`);
    throw e;
  }
  // Missing parent directories are made, as saveModel makes a model directory's.
  makeDirectories(dirname(resolve(path)));
  writeFileAtomic(path, r.bytes);
  return { notes: r.notes };
}

/** What a wrong argument was, for the errors above: its class for objects (an ArrayBuffer, a Layer), else its value. */
function describeArgument(v: unknown): string {
  if (v instanceof ArrayBuffer) return 'an ArrayBuffer (wrap it: new Uint8Array(buffer))';
  const cls = v !== null && typeof v === 'object' ? v.constructor?.name : undefined;
  return cls && cls !== 'Object' && cls !== 'Array' ? `a ${cls}` : describeValue(v);
}
