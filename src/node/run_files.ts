/**
 * Every file `recur train` writes into a run directory, listed in this one place. `--overwrite` deletes these and
 * nothing else; a new start removes the temp files a killed run left of them. Whatever else sits in the directory
 * (the user's notes, the corpus itself) is never touched.
 *
 *   <dir>/model.json, <dir>/weights-<hex>.bin              the best model (saveModel)
 *   <dir>/log.csv                                           one row per epoch (CSVLogger)
 *   <dir>/joint-ngram.json                                  a seq2seq model's joint n-gram (seq2seq/joint_ngram.ts)
 *   <dir>/joint-ngram-<hex>.json                            the same, of a run that --overwrite started beside the
 *                                                           model it replaces (its model.json or record names it)
 *   <dir>/checkpoint/model.json, …/weights-<hex>.bin        the resumable state (saveModel)
 *   <dir>/checkpoint/states-<hex>.bin                       a mid-epoch checkpoint's carried states (carried_states.ts)
 *   .<one of the above>.<pid>.<ms>.tmp beside each          an atomic write in flight (writeFileAtomic)
 *
 * A seed ensemble (`recur classify train --ensemble N`, `recur seq2seq train --ensemble N`) writes <dir>/ensemble.json and, in each of
 * <dir>/members/1 … <dir>/members/N, the files above (removeEnsembleFiles deletes them). One that --overwrite trains
 * in place of a model there writes <dir>/ensemble-next.json and <dir>/members-<hex>/K until its first member is
 * finished: then ensemble-next.json's record is written as ensemble.json (the switch) and the old model's files go.
 *
 * and, while a run lives, <dir>/recur.lock (run_lock.ts), which is the running process's and never a target here.
 */
import {
  existsSync,
  lstatSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmdirSync,
  unlinkSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, parse, resolve } from 'node:path';
import { holdsModelJson } from './model_io.js';
import {
  ENSEMBLE_FILE,
  ENSEMBLE_FORMATS,
  JOINT_NGRAM_NAME_RE,
  MEMBERS_DIR_RE,
  NEXT_ENSEMBLE_FILE,
} from '../models/seed_ensemble.js';
import { JOINT_NGRAM_FILE, JOINT_NGRAM_FORMAT } from '../seq2seq/joint_ngram.js';
import { parseAtomicTempName, processAlive, writeFileAtomic } from './atomic.js';

/** The checkpoint's subdirectory of a run directory. */
export const CHECKPOINT_DIR = 'checkpoint';
/** The per-epoch log of a run directory. */
export const LOG_FILE = 'log.csv';

/** Files saveModel writes in a model directory (the old single `weights.bin` included). */
const MODEL_FILE_RE = /^(model\.json|weights(-[0-9a-f]+)?\.bin)$/;

/** Whether saveModel writes a file of this name in a model directory. */
export function isModelFileName(name: string): boolean {
  return MODEL_FILE_RE.test(name);
}

/** Whether recur writes a file of this name directly in a run directory. */
export function isRunFileName(name: string): boolean {
  return (
    MODEL_FILE_RE.test(name) ||
    name === LOG_FILE ||
    name === ENSEMBLE_FILE ||
    name === NEXT_ENSEMBLE_FILE ||
    JOINT_NGRAM_NAME_RE.test(name)
  );
}

/** A member's directory name under <dir>/members. */
const MEMBER_NAME_RE = /^[1-9][0-9]*$/;

/**
 * Deletes a seed ensemble's files in `dir`: each member's run files (removeRunFiles), the member directories and
 * members/ (or members-<hex>/) itself when nothing else is left in them, and ensemble.json. Returns the deleted paths.
 */
export function removeEnsembleFiles(dir: string): string[] {
  const removed: string[] = [];
  for (const n of readdirSync(dir)) if (MEMBERS_DIR_RE.test(n)) removed.push(...removeMembers(dir, n));
  removed.push(...removeRunFiles(dir));
  return removed;
}

/** Deletes the members in `dir`/`membersDir` (recur's files only), and the directories left empty. */
export function removeMembers(dir: string, membersDir: string): string[] {
  const removed: string[] = [];
  const members = join(dir, membersDir);
  if (!isRealDirectory(members)) return removed;
  for (const n of readdirSync(members)) {
    const m = join(members, n);
    if (!MEMBER_NAME_RE.test(n) || !isRealDirectory(m)) continue;
    removed.push(...removeRunFiles(m));
    if (readdirSync(m).length === 0) {
      rmdirSync(m);
      removed.push(m);
    }
  }
  if (readdirSync(members).length === 0) {
    rmdirSync(members);
    removed.push(members);
  }
  return removed;
}

/** The `membersDir` a recur ensemble record in `dir` names (absent: members), or null when it is not one. */
function membersDirIn(dir: string, name: string): string | null {
  const path = join(dir, name);
  if (!existsSync(path) || !isRecurRunFile(path)) return null;
  const m = (JSON.parse(readFileSync(path, 'utf8')) as { membersDir?: unknown }).membersDir;
  return typeof m === 'string' && MEMBERS_DIR_RE.test(m) ? m : 'members';
}

/**
 * An --overwrite run's ensemble in `dir` that has not replaced the model there yet (its record is still
 * ensemble-next.json): its members and record go. One that has (a kill between the switch to it and the old model's
 * removal) is finished instead (tidyReplacedFiles). Returns the deleted paths.
 */
export function removeStagedEnsemble(dir: string): string[] {
  if (tidyReplacedFiles(dir)) return [];
  const staged = membersDirIn(dir, NEXT_ENSEMBLE_FILE);
  if (staged === null) return [];
  const removed = removeMembers(dir, staged);
  unlinkSync(join(dir, NEXT_ENSEMBLE_FILE));
  return [...removed, join(dir, NEXT_ENSEMBLE_FILE), ...removeUnreferencedNgrams(dir)];
}

/**
 * After an --overwrite run's ensemble replaced the model in `dir` (ensemble.json names the members' directory its
 * ensemble-next.json names): the files of the model it replaced go — the other members' directories, a single model's
 * files, its log and checkpoint, a joint n-gram — and the staged record last (so a kill in between is finished by the
 * next call). Returns false, doing nothing, when no such switch is unfinished.
 */
export function tidyReplacedFiles(dir: string): boolean {
  const current = membersDirIn(dir, ENSEMBLE_FILE);
  if (current === null || membersDirIn(dir, NEXT_ENSEMBLE_FILE) !== current) return false;
  for (const n of readdirSync(dir)) if (MEMBERS_DIR_RE.test(n) && n !== current) removeMembers(dir, n);
  removeCheckpointFiles(dir);
  for (const n of plainEntries(dir))
    if (
      isRunFileName(n) &&
      n !== ENSEMBLE_FILE &&
      n !== NEXT_ENSEMBLE_FILE &&
      !JOINT_NGRAM_NAME_RE.test(n) &&
      isRecurRunFile(join(dir, n))
    )
      unlinkSync(join(dir, n));
  // The replaced model's n-gram; the new ensemble's own (which its record names) stays.
  removeUnreferencedNgrams(dir);
  unlinkSync(join(dir, NEXT_ENSEMBLE_FILE));
  return true;
}

/**
 * A single model's run replacing an ensemble (--overwrite), once its model is saved in `dir`: the switch is the
 * removal of ensemble.json (loading then reads the model); the members' directories go after it (a kill in between
 * leaves them for the run's next call, after its resume).
 */
export function dropReplacedEnsemble(dir: string): void {
  const record = join(dir, ENSEMBLE_FILE);
  if (existsSync(record) && isRecurRunFile(record)) unlinkSync(record);
  if (existsSync(record) || existsSync(join(dir, NEXT_ENSEMBLE_FILE))) return;
  for (const n of readdirSync(dir)) if (MEMBERS_DIR_RE.test(n)) removeMembers(dir, n);
  removeUnreferencedNgrams(dir);
}

/**
 * The joint n-gram file (a name beside it) a manifest of recur's names: a model.json's userDefinedMetadata.jointNgram
 * or an ensemble record's jointNgram; null: none; undefined: the manifest is missing, not recur's or names none
 * (older ones, and a run in a directory of its own: then joint-ngram.json, if there, is its n-gram).
 */
function ngramNamedIn(manifest: string): string | null | undefined {
  if (!existsSync(manifest)) return undefined;
  try {
    const json = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, unknown> | null;
    const holder =
      parse(manifest).base === 'model.json'
        ? (json?.userDefinedMetadata as Record<string, unknown> | undefined)
        : json;
    const name = holder?.jointNgram;
    return name === null || (typeof name === 'string' && JOINT_NGRAM_NAME_RE.test(name)) ? name : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The joint n-gram of the seq2seq model in `dir` as loading reads it (an ensemble's record first, else model.json):
 * its path, or null when it has none. The manifest names the file, so a run replacing the model fits its own n-gram
 * beside the old one's and the one atomic write of its manifest switches both (a model with no name recorded: the
 * joint-ngram.json beside it, if any).
 */
export function jointNgramPath(dir: string): string | null {
  const record = join(dir, ENSEMBLE_FILE);
  const named = ngramNamedIn(existsSync(record) ? record : join(dir, 'model.json'));
  if (named === null) return null;
  const file = join(dir, named ?? JOINT_NGRAM_FILE);
  return existsSync(file) ? file : null;
}

/**
 * Which manifest of the model in `dir` names its joint n-gram file (an ensemble's record, or model.json), or null when
 * the model names none (its n-gram, if any, is joint-ngram.json).
 */
export function jointNgramManifest(dir: string): string | null {
  const record = join(dir, ENSEMBLE_FILE);
  const manifest = existsSync(record) ? record : join(dir, 'model.json');
  return ngramNamedIn(manifest) !== undefined ? manifest : null;
}

/**
 * Names `name` as the joint n-gram of the model in `dir` whose manifest names one (jointNgramManifest): each write
 * atomic, model.json (or the record) last, the switch; a model's checkpoint first, so that a resumed run keeps it.
 */
export function recordJointNgram(dir: string, name: string): void {
  const manifest = jointNgramManifest(dir);
  if (manifest === null) return;
  const rename = (file: string, model: boolean, indent: number): void => {
    const json = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const holder = model ? (json.userDefinedMetadata as Record<string, unknown>) : json;
    holder.jointNgram = name;
    writeFileAtomic(file, JSON.stringify(json, null, indent) + '\n');
  };
  const model = parse(manifest).base === 'model.json';
  const ckpt = join(dir, CHECKPOINT_DIR, 'model.json');
  if (model && ngramNamedIn(ckpt) !== undefined) rename(ckpt, true, 1);
  rename(manifest, model, model ? 1 : 2);
}

/**
 * Deletes the joint n-grams of recur's in `dir` that no manifest there names (model.json, checkpoint/model.json,
 * ensemble.json, ensemble-next.json; one naming none reads joint-ngram.json): those of a model that was replaced, or
 * of a run killed before it saved a model. Returns the deleted paths.
 */
export function removeUnreferencedNgrams(dir: string): string[] {
  const manifests = [
    join(dir, 'model.json'),
    join(dir, CHECKPOINT_DIR, 'model.json'),
    join(dir, ENSEMBLE_FILE),
    join(dir, NEXT_ENSEMBLE_FILE),
  ].filter((m) => existsSync(m));
  // A manifest naming none (null) keeps no file; one that says nothing (undefined) reads joint-ngram.json.
  const named = new Set(
    manifests.map((m) => ngramNamedIn(m)).map((n) => (n === undefined ? JOINT_NGRAM_FILE : n)),
  );
  const removed: string[] = [];
  for (const n of plainEntries(dir))
    if (JOINT_NGRAM_NAME_RE.test(n) && !named.has(n) && isRecurRunFile(join(dir, n))) {
      unlinkSync(join(dir, n));
      removed.push(join(dir, n));
    }
  return removed;
}

/** Whether `dir` holds members' directories (members/, members-<hex>/) of an ensemble. */
export function hasMembersDirs(dir: string): boolean {
  return (
    isRealDirectory(dir) &&
    readdirSync(dir).some((n) => MEMBERS_DIR_RE.test(n) && isRealDirectory(join(dir, n)))
  );
}

/** The carried states of a stateful model's mid-epoch checkpoint (one per save; the name is random, like weights'). */
export const CARRIED_STATES_FILE_RE = /^states-[0-9a-f]+\.bin$/;

/** Whether recur writes a file of this name in a run's checkpoint directory. */
export function isCheckpointFileName(name: string): boolean {
  return MODEL_FILE_RE.test(name) || CARRIED_STATES_FILE_RE.test(name);
}

/** Whether this is a temp name of an atomic write of one of recur's files (`ours` tells which names are recur's). */
export function isOwnTemp(name: string, ours: (n: string) => boolean): boolean {
  const t = parseAtomicTempName(name);
  return t !== null && ours(t.target);
}

/** Entries of dir that are plain files or symbolic links (never followed), by name. */
export function plainEntries(dir: string): string[] {
  if (!isRealDirectory(dir)) return [];
  return readdirSync(dir).filter((n) => {
    const st = lstatSync(join(dir, n));
    return st.isFile() || st.isSymbolicLink();
  });
}

export function isRealDirectory(p: string): boolean {
  return existsSync(p) && lstatSync(p).isDirectory();
}

/**
 * Why `dir` must not be cleared by --overwrite, or null when it may: the file-system root, the home directory and the
 * working directory itself are refused, as is a checkpoint/ that is a symbolic link (recur would delete through it).
 */
export function overwriteRefusal(dir: string): string | null {
  const real = (p: string): string => (existsSync(p) ? realpathSync(p) : resolve(p));
  const target = real(dir);
  if (target === parse(target).root) return `${dir} is the root of the file system`;
  if (target === real(homedir())) return `${dir} is your home directory`;
  if (target === real(process.cwd())) return `${dir} is the current working directory itself`;
  const ckpt = join(dir, CHECKPOINT_DIR);
  if (existsSync(ckpt) && !isRealDirectory(ckpt))
    return `${ckpt} is not a plain directory (a symbolic link or a file); recur will not delete through it`;
  return null;
}

/** The `format` each of recur's JSON run files (beside the model's) says it is (a joint n-gram's: JOINT_NGRAM_FORMAT). */
const RUN_JSON_FORMATS: Record<string, readonly string[]> = {
  [ENSEMBLE_FILE]: ENSEMBLE_FORMATS,
  [NEXT_ENSEMBLE_FILE]: ENSEMBLE_FORMATS,
};

/**
 * Whether `path`, of one of the names recur gives its JSON run files (ensemble.json, joint-ngram.json), is recur's:
 * names this generic are also the user's, so the content says — a recur format; a model.json, a model's
 * (holdsModelJson). Other run file names are recur's.
 */
export function isRecurRunFile(path: string): boolean {
  const base = parse(path).base;
  if (base === 'model.json') return holdsModelJson(dirname(path));
  const formats = JOINT_NGRAM_NAME_RE.test(base) ? [JOINT_NGRAM_FORMAT] : RUN_JSON_FORMATS[base];
  if (formats === undefined) return true;
  try {
    const format = (JSON.parse(readFileSync(path, 'utf8')) as { format?: unknown } | null)?.format;
    return typeof format === 'string' && formats.includes(format);
  } catch {
    return false;
  }
}

/**
 * Deletes recur's own files in a run directory (see the header) and its checkpoint/, which goes too when nothing
 * else is left in it. Returns the deleted paths. Call `overwriteRefusal` first.
 */
export function removeRunFiles(dir: string): string[] {
  const removed = removeCheckpointFiles(dir);
  for (const n of plainEntries(dir))
    if ((isRunFileName(n) && isRecurRunFile(join(dir, n))) || isOwnTemp(n, isRunFileName)) {
      unlinkSync(join(dir, n));
      removed.push(join(dir, n));
    }
  return removed;
}

/**
 * Deletes a run directory's checkpoint: recur's files in its checkpoint/, and checkpoint/ itself when nothing else is
 * left in it. Returns the deleted paths. Call `overwriteRefusal` first.
 */
export function removeCheckpointFiles(dir: string): string[] {
  const removed: string[] = [];
  const ckpt = join(dir, CHECKPOINT_DIR);
  for (const n of plainEntries(ckpt))
    if (isCheckpointFileName(n) || isOwnTemp(n, isCheckpointFileName)) {
      unlinkSync(join(ckpt, n));
      removed.push(join(ckpt, n));
    }
  if (isRealDirectory(ckpt) && readdirSync(ckpt).length === 0) {
    rmdirSync(ckpt);
    removed.push(ckpt);
  }
  return removed;
}

/**
 * Deletes the temp files of recur's own atomic writes that a killed run (kill -9, power loss) left in a run directory
 * and its checkpoint/. A temp file of a process still running is left alone. Returns the deleted paths.
 */
export function removeStaleTemps(dir: string): string[] {
  const removed: string[] = [];
  const sweep = (d: string, ours: (n: string) => boolean): void => {
    for (const n of plainEntries(d)) {
      const t = parseAtomicTempName(n);
      if (t && ours(t.target) && !processAlive(t.pid)) {
        unlinkSync(join(d, n));
        removed.push(join(d, n));
      }
    }
  };
  sweep(dir, isRunFileName);
  sweep(join(dir, CHECKPOINT_DIR), isCheckpointFileName);
  return removed;
}
