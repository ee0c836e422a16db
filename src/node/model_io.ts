/**
 * Saving and loading model directories (model.json + one weights file) on Node.
 *
 * Saves are crash-safe: the weights go to a new, uniquely named file first, then model.json — which names that file —
 * is replaced atomically, and only then are older weight files removed (both written to temp files before either is
 * renamed, so a kill between the renames leaves model.json's temp file marking the new weights as a killed save's).
 * At every instant the directory holds a complete model, so an interrupted save (Ctrl-C, kill, power loss) leaves
 * the previous one intact.
 *
 * Loading reads only files inside the model's directory: a manifest path that leads outside it (`../x`, an absolute
 * path, a symbolic link pointing out) is an error naming the path.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  lstatSync,
  openSync,
  readFileSync,
  readSync,
  readdirSync,
  realpathSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import {
  makeDirectories,
  parseAtomicTempName,
  prepareAtomicWrite,
  processAlive,
  type PreparedWrite,
} from './atomic.js';
import { InvalidInputError, noSuchPath } from '../core/errors.js';
import { otherTaskMessage, RECORDED_TASKS, type RecordedTask } from '../core/tasks.js';
import { parseModelJson } from '../models/model_file.js';
import {
  ModelFileError,
  deserializeModel,
  modelJsonFor,
  serializeModel,
  type LoadedModel,
  type ModelJson,
  type SaveOptions,
  type WeightFile,
} from '../models/serialization.js';
import type { Sequential } from '../models/sequential.js';
import { Functional } from '../models/functional.js';
import { tfjsCompatibilityNotes } from '../models/tfjs_compat.js';
import { MEMBERS_DIR, MEMBERS_DIR_RE } from '../models/seed_ensemble.js';
import {
  deserializeFunctional,
  parseFunctionalModelJson,
  serializeFunctional,
  type LoadedFunctional,
} from '../models/functional_serialization.js';

/** The name every save gives its weights: `weights-` and 8 random hex digits, new per save. */
export const SAVED_WEIGHTS_RE = /^weights-[0-9a-f]{8}\.bin$/;

/** The weights files (of `dir` itself) its model.json names; null when it has none recur can read. */
function weightsNamedIn(dir: string): Set<string> | null {
  const named = new Set<string>();
  try {
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
      weightsManifest?: { paths?: unknown[] }[];
    };
    if (!Array.isArray(json.weightsManifest)) return null;
    for (const group of json.weightsManifest)
      for (const p of group.paths ?? []) if (typeof p === 'string' && /^[^/\\]+\.bin$/.test(p)) named.add(p);
  } catch {
    return null;
  }
  return named;
}

/**
 * Deletes the weights files of recur's naming in model directory `dir` that its model.json does not name: those a
 * save replaced, left by a kill -9 between its model.json and their removal. The next save into `dir` removes them,
 * but a finished run, or a best model no later epoch improves on, has none. Returns the deleted paths; nothing
 * without a model.json recur can read (a killed first save's files are killedSaveFiles's).
 */
export function removeUnreferencedWeights(dir: string): string[] {
  const named = weightsNamedIn(dir);
  if (named === null) return [];
  const removed: string[] = [];
  for (const f of readdirSync(dir))
    if (SAVED_WEIGHTS_RE.test(f) && !named.has(f) && lstatSync(join(dir, f)).isFile()) {
      unlinkSync(join(dir, f));
      removed.push(join(dir, f));
    }
  return removed;
}

/**
 * The weights files a save into `dir` replaces: those the model.json it overwrites names (a model directory is
 * replaced whole), and those of recur's own naming left by a save killed before its model.json, with the temp files
 * such a save's writes left (as large as the weights). Any other file is someone else's and stays, a `weights.bin`
 * beside no model included.
 */
function replacedWeightsFiles(dir: string, keep: string): string[] {
  // No model.json, or not one recur can read: it names nothing to replace.
  const named = weightsNamedIn(dir) ?? new Set<string>();
  const killedSaveTemp = (f: string): boolean => {
    const t = parseAtomicTempName(f);
    return (
      t !== null && (SAVED_WEIGHTS_RE.test(t.target) || t.target === 'model.json') && !processAlive(t.pid)
    );
  };
  return readdirSync(dir).filter(
    (f) => f !== keep && (named.has(f) || SAVED_WEIGHTS_RE.test(f) || killedSaveTemp(f)),
  );
}

/**
 * Writes `dir/model.json` and its weights file. Refuses a model with NaN or infinite weights, naming the weight.
 * Returns notes on what TensorFlow.js cannot read in the saved file (a GRU with reset_after=true); none when it can.
 */
export function saveModel(
  model: Sequential | Functional,
  dir: string,
  opts: SaveOptions = {},
  commitFirst: readonly PreparedWrite[] = [],
): { notes: string[] } {
  // Said plainly, before any work (mkdir's EEXIST named neither the file nor the way out).
  if (existsSync(dir) && !statSync(dir).isDirectory())
    throw new InvalidInputError(
      `${dir}: is a file, not a model directory (a path ending in .keras, .h5 or .hdf5 saves a Keras file)`,
    );
  // Until they are committed, the files are temp files: a save that fails before (non-finite weights, a full disk)
  // deletes them, the caller's too.
  const prepared: PreparedWrite[] = [...commitFirst];
  let json: ModelJson;
  let weightsFile: string;
  try {
    const art = model instanceof Functional ? serializeFunctional(model, opts) : serializeModel(model, opts);
    makeDirectories(dir);
    weightsFile = `weights-${randomBytes(4).toString('hex')}.bin`;
    json = modelJsonFor(art, weightsFile);
    // Both written before either is renamed into place: until model.json is, its temp file marks the new weights as
    // a killed save's (killedSaveFiles), never a lone weights file a new start would take for the user's.
    prepared.push(prepareAtomicWrite(join(dir, weightsFile), art.weightData));
    prepared.push(prepareAtomicWrite(join(dir, 'model.json'), JSON.stringify(json, null, 1) + '\n'));
  } catch (e) {
    for (const w of prepared) w.abandon();
    throw e;
  }
  const replaced = replacedWeightsFiles(dir, weightsFile);
  // In order: files model.json names beside its weights (a checkpoint's carried states, the caller's), the weights,
  // then model.json.
  for (const w of prepared) w.commit();
  for (const f of replaced) {
    try {
      unlinkSync(join(dir, f));
    } catch {
      // a concurrent reader may still hold it; harmless
    }
  }
  return { notes: tfjsCompatibilityNotes(json.modelTopology) };
}

/** Whether a file's first non-blank character (after a BOM) opens a JSON object, as a model.json's does; reads only its first bytes. */
export function startsLikeJsonObject(file: string): boolean {
  const head = Buffer.alloc(256);
  const fd = openSync(file, 'r');
  try {
    const n = readSync(fd, head, 0, head.length, 0);
    return /^\uFEFF?\s*\{/.test(head.subarray(0, n).toString('utf8'));
  } finally {
    closeSync(fd);
  }
}

/** A file given where a model goes that is none (a text, a CSV, another framework's file), named with what to give. */
export function notAModelFile(path: string): InvalidInputError {
  return new InvalidInputError(
    `${path}: not a model file recur reads; expected a recur/tfjs model directory (or its model.json), a Keras .h5/.hdf5 file or a Keras 3 .keras archive`,
  );
}

/** Where the ensemble.json in `dir` keeps its members (an --overwrite run's members-<hex>), for messages. */
export function ensembleMembersDir(dir: string): string {
  try {
    const m = (JSON.parse(readFileSync(join(dir, 'ensemble.json'), 'utf8')) as { membersDir?: unknown })
      .membersDir;
    return typeof m === 'string' && MEMBERS_DIR_RE.test(m) ? m : MEMBERS_DIR;
  } catch {
    return MEMBERS_DIR;
  }
}

/** Path of model.json for a directory or a model.json path; throws a clear error when absent. */
export function modelJsonPath(pathOrDir: string): string {
  const p = resolve(pathOrDir);
  if (!existsSync(p)) throw new InvalidInputError(noSuchPath(pathOrDir, 'a model directory'));
  const isDirectory = statSync(p).isDirectory();
  const file = isDirectory ? join(p, 'model.json') : p;
  // A text or CSV file given where the model goes (arguments swapped) is named as such, not as a model.json of bad JSON.
  if (!isDirectory && !/\.json$/i.test(p) && !startsLikeJsonObject(p)) throw notAModelFile(pathOrDir);
  if (!existsSync(file)) {
    // A directory of recur's other kinds is named for what it holds, not only for what it lacks.
    const held = existsSync(join(p, 'forecaster.json'))
      ? 'a saved forecaster (forecaster.json), not a model'
      : existsSync(join(p, 'ensemble.json'))
        ? `a seed ensemble (ensemble.json; its models are ${ensembleMembersDir(p)}/1 … ${ensembleMembersDir(p)}/N), not one model`
        : null;
    throw new Error(
      held !== null
        ? `${pathOrDir} holds ${held}`
        : `${pathOrDir}: no model.json here; not a model directory`,
    );
  }
  return file;
}

/** True when `child` is `parent` or lies below it (both absolute and normalised). */
function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/**
 * Reads one weights file the manifest names, refusing any path that leads outside the model directory `base`,
 * lexically or through symbolic links.
 */
function readWeightsFile(file: string, base: string, realBase: string, p: string, field: string): WeightFile {
  const wp = resolve(base, p);
  if (!isInside(base, wp))
    throw new ModelFileError(
      file,
      field,
      `'${p}' is outside the model directory; recur reads weights only from files inside ${base}`,
    );
  if (!existsSync(wp)) throw new ModelFileError(file, field, `names '${p}', which does not exist`);
  const real = realpathSync(wp);
  if (!isInside(realBase, real))
    throw new ModelFileError(
      file,
      field,
      `'${p}' is a link to ${real}, outside the model directory; recur reads weights only from files inside ${base}`,
    );
  if (!statSync(real).isFile()) throw new ModelFileError(file, field, `'${p}' is not a file`);
  return { path: p, data: new Uint8Array(readFileSync(real)), location: wp };
}

/**
 * Reads model.json and the weights files its manifest names (all inside the model directory); `weightData` is
 * their bytes concatenated.
 */
export function readModelFiles(
  pathOrDir: string,
  parse: (text: string, where: string) => ModelJson = parseModelJson,
): {
  json: ModelJson;
  weightData: Uint8Array;
  weightFiles: WeightFile[];
  file: string;
} {
  const file = modelJsonPath(pathOrDir);
  const json = parse(readFileSync(file, 'utf8'), file);
  const base = dirname(file);
  const realBase = realpathSync(base);
  const weightFiles = json.weightsManifest.flatMap((group, g) =>
    group.paths.map((p, i) => readWeightsFile(file, base, realBase, p, `weightsManifest[${g}].paths[${i}]`)),
  );
  const weightData = new Uint8Array(Buffer.concat(weightFiles.map((f) => f.data)));
  return { json, weightData, weightFiles, file };
}

/**
 * Loads a model saved by recur or by TensorFlow.js (`model.save('file://…')`). Every problem is a ModelFileError
 * naming the file and the field; `notes` says what could not be verified (a file without recur's sha256).
 */
export function loadModel(pathOrDir: string): LoadedModel {
  const { json, weightFiles, file } = readModelFiles(pathOrDir);
  return deserializeModel(json, weightFiles, file);
}

/** Loads a functional model saved by recur or by TensorFlow.js (class "Functional" or "Model"). */
export function loadFunctionalModel(pathOrDir: string): LoadedFunctional {
  const { json, weightFiles, file } = readModelFiles(pathOrDir, parseFunctionalModelJson);
  return deserializeFunctional(json, weightFiles, file);
}

/**
 * The userDefinedMetadata of the model in `pathOrDir`, its model.json checked as loading checks it but no weights read:
 * what a caller needs whose inference pool holds the networks.
 */
export function readModelMetadata(
  pathOrDir: string,
  parse: (text: string, where: string) => ModelJson = parseModelJson,
): Record<string, unknown> {
  const file = modelJsonPath(pathOrDir);
  return parse(readFileSync(file, 'utf8'), file).userDefinedMetadata ?? {};
}

/**
 * Refuses a file given where a model directory is wanted (`recur seq2seq predict run/model.json`): that the path is a
 * file, and for a model.json or ensemble.json the directory to give instead. `writer`: the command that writes one.
 */
export function refuseFileForModelDir(dir: string, writer: string): void {
  if (statSync(dir).isDirectory()) return;
  const holder = ['model.json', 'ensemble.json'].includes(basename(dir))
    ? ` (for this file: ${dirname(dir)})`
    : '';
  throw new InvalidInputError(
    `${dir} is a file, not a directory; give the directory written by ${writer}${holder}`,
  );
}

/** True when dir holds a model. */
export function isModelDir(dir: string): boolean {
  return existsSync(join(dir, 'model.json'));
}

/**
 * True when dir's model.json is a model's: a JSON object with a modelTopology, as every LayersModel file has. A
 * model.json of anything else (notes, another tool's settings) is the user's file of that name: a run neither
 * replaces it with --overwrite nor calls the directory one holding a model.
 */
export function holdsModelJson(dir: string): boolean {
  try {
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as unknown;
    return typeof json === 'object' && json !== null && !Array.isArray(json) && 'modelTopology' in json;
  } catch {
    return false;
  }
}

/** The task the model.json in `dir` records (userDefinedMetadata.task); undefined when it records none or is unreadable. */
export function recordedTask(dir: string): unknown {
  try {
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as {
      userDefinedMetadata?: { task?: unknown };
    } | null;
    return json?.userDefinedMetadata?.task;
  } catch {
    return undefined;
  }
}

/**
 * Refuses (InvalidInputError) a model directory whose model.json records another of recur's tasks than `task`,
 * naming what it holds, before the model is parsed: a classifier given to `seq2seq predict` would otherwise fail on
 * its topology with a message about model classes. A file that records no task, or cannot be read, passes: the
 * loader then says what is wrong with it.
 */
export function refuseOtherTask(dir: string, task: RecordedTask): void {
  const other = otherTaskMessage(dir, recordedTask(dir), task);
  if (other)
    throw new InvalidInputError(`${other}; give a directory written by ${RECORDED_TASKS[task].command}`);
}
