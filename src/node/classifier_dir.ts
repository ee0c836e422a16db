/**
 * A classifier directory on disk, single model or seed ensemble, behind one loader: `classify eval`, `classify
 * predict`, `recur serve` and the inference pool call loadClassifierDir / classifierMemberDirs and never ask which it
 * is. A single model is a tfjs LayersModel directory whose model.json carries the classifier metadata
 * (src/classify/metadata.ts); an ensemble directory holds ensemble.json (src/classify/ensemble.ts) and its members,
 * each such a directory, in members/1 … members/N.
 */
import { existsSync } from 'node:fs';
import type { ClassifierModels, EnsembleRecord } from '../classify/ensemble.js';
import {
  checkClassifierFits,
  parseClassifierMetadata,
  type ClassifierMetadata,
} from '../classify/metadata.js';
import { Tokenizer } from '../classify/tokenizer.js';
import { InvalidInputError, noSuchPath } from '../core/errors.js';
import {
  isModelDir,
  loadModel,
  readModelMetadata,
  refuseFileForModelDir,
  refuseOtherTask,
} from './model_io.js';
import { ensembleMemberDirs, isEnsembleDir, readEnsembleFile } from './seed_ensemble_dir.js';

/** A loaded classifier: one model, or an ensemble's members (which share classes, tokenizer and text length). */
export interface LoadedClassifier {
  dir: string;
  /** The classifier's metadata (an ensemble's: member 1's, whose split seed and data are the ensemble's). */
  meta: ClassifierMetadata;
  tokenizer: Tokenizer;
  /** The model, or the members (their class probabilities are averaged: src/classify/ensemble.ts). */
  models: ClassifierModels;
  /** The model directories: [dir] for a single model, the members' for an ensemble. */
  memberDirs: string[];
  /** The ensemble's record, or null for a single model. */
  ensemble: EnsembleRecord | null;
  /**
   * What the members' loaders noted (a default taken, weights not verified: loadModel's notes, each naming its
   * member's model.json), each once: the commands and `recur serve` say them as they say a text model's.
   */
  notes: string[];
}

export { isEnsembleDir } from './seed_ensemble_dir.js';

/** A classifier ensemble directory's record, checked (InvalidInputError naming the file). */
export function readEnsembleRecord(dir: string): EnsembleRecord {
  return readEnsembleFile(dir, 'recur-classifier-ensemble');
}

/**
 * The model directories of the classifier in `dir`: [dir] for a single model, the listed members' for an ensemble
 * (each checked to hold a model.json).
 */
export function classifierMemberDirs(dir: string): string[] {
  return ensembleMemberDirs(dir, 'recur-classifier-ensemble', 'recur classify train');
}

/** Why two members' metadata cannot be averaged, or null when they can. */
function mismatch(a: ClassifierMetadata, b: ClassifierMetadata): string | null {
  if (a.classes.join('\u0000') !== b.classes.join('\u0000')) return 'its classes differ from member 1';
  if (JSON.stringify(a.tokenizer) !== JSON.stringify(b.tokenizer))
    return 'its tokenizer differs from member 1';
  const keys = ['maxLength', 'truncating', 'output', 'multiLabel'] as const;
  for (const k of keys) if (a.settings[k] !== b.settings[k]) return `its ${k} differs from member 1`;
  return null;
}

/**
 * Loads the classifier in `dir`, a single model or an ensemble. Errors are bad input (exit 2) naming the directory
 * or member file: not a classifier, a member missing or damaged, members that disagree.
 */
export function loadClassifierDir(dir: string): LoadedClassifier {
  const notes = new Set<string>();
  const { models, ensemble, ...read } = readMembers(dir, (d) => {
    const loaded = loadModel(d);
    for (const n of loaded.notes) notes.add(n);
    return {
      metadata: loaded.metadata,
      model: loaded.model,
      fits: (meta) => checkClassifierFits(loaded.model, meta, d),
    };
  });
  return {
    ...read,
    models: models.length === 1 && !ensemble ? models[0] : models,
    ensemble,
    notes: [...notes],
  };
}

/**
 * The classifier in `dir` as loadClassifierDir checks it (its model.json files, members that disagree), without its
 * weights: what a caller needs whose inference pool builds the networks (which checks they fit the metadata).
 */
export function readClassifierDir(dir: string): Omit<LoadedClassifier, 'models' | 'notes'> {
  return readMembers(dir, (d) => ({ metadata: readModelMetadata(d), model: null }));
}

/** The members of the classifier in `dir`, each read by `member` and checked against member 1. */
function readMembers<M>(
  dir: string,
  member: (d: string) => {
    metadata: Record<string, unknown>;
    model: M;
    fits?: (meta: ClassifierMetadata) => void;
  },
): Omit<LoadedClassifier, 'models' | 'notes'> & { models: M[] } {
  const ensemble = isEnsembleDir(dir) ? readEnsembleRecord(dir) : null;
  if (!existsSync(dir))
    throw new InvalidInputError(noSuchPath(dir, 'a directory written by recur classify train'));
  // A model.json given for its directory would otherwise read "model.json: no model.json here".
  refuseFileForModelDir(dir, 'recur classify train');
  if (!ensemble && !isModelDir(dir))
    throw new InvalidInputError(
      `${dir}: no model.json here (nor a seed ensemble's ensemble.json); give a directory written by recur classify train`,
    );
  const memberDirs = classifierMemberDirs(dir);
  const models: M[] = [];
  let first: ClassifierMetadata | null = null;
  for (const d of memberDirs) {
    refuseOtherTask(d, 'classify');
    let loaded: ReturnType<typeof member>;
    try {
      loaded = member(d);
    } catch (e) {
      const message = (e as Error).message;
      throw new InvalidInputError(message.includes(d) ? message : `${d}: ${message}`);
    }
    const meta = parseClassifierMetadata(loaded.metadata, d);
    loaded.fits?.(meta);
    if (first) {
      const why = mismatch(first, meta);
      if (why)
        throw new InvalidInputError(`${d}: this ensemble member cannot be averaged with the others: ${why}`);
    } else first = meta;
    models.push(loaded.model);
  }
  const meta = first!;
  return { dir, meta, tokenizer: Tokenizer.fromJSON(meta.tokenizer), models, memberDirs, ensemble };
}
