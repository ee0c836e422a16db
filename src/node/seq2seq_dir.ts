/**
 * A seq2seq model directory on disk, single model or seed ensemble (src/models/seed_ensemble.ts), behind one loader:
 * `seq2seq eval`, `seq2seq predict`, `recur serve` and the inference pool's payload never ask which it is. An
 * ensemble decodes with the log of its members' mean next-token probabilities (src/seq2seq/decode.ts).
 */
import { InvalidInputError, noSuchPath } from '../core/errors.js';
import type { EnsembleRecord } from '../models/seed_ensemble.js';
import { Seq2Seq, checkSeq2SeqFits, parseSeq2SeqMetadata, type Seq2SeqMetadata } from '../seq2seq/seq2seq.js';
import { existsSync, readFileSync } from 'node:fs';
import {
  jointNgramFromJson,
  jointNgramHeader,
  jointNgramToJson,
  type WeightedJointNgram,
} from '../seq2seq/joint_ngram.js';
import { writeFileAtomic } from './atomic.js';
import {
  isModelDir,
  loadFunctionalModel,
  readModelMetadata,
  refuseFileForModelDir,
  refuseOtherTask,
} from './model_io.js';
import { parseFunctionalModelJson } from '../models/functional_serialization.js';
import type { TargetOrder } from '../seq2seq/model.js';
import { jointNgramPath } from './run_files.js';
import { ensembleMemberDirs, isEnsembleDir, readEnsembleFile } from './seed_ensemble_dir.js';

export type Seq2SeqEnsembleRecord = EnsembleRecord<'recur-seq2seq-ensemble'>;

export interface LoadedSeq2Seq {
  /** The model (an ensemble: all its members, member 1 as `app.model`). */
  app: Seq2Seq;
  /** The metadata (an ensemble's: member 1's, whose split seed, data and tokenizers are the ensemble's). */
  meta: Seq2SeqMetadata;
  metadata: Record<string, unknown>;
  /** The model directories: [dir] for a single model, the members' for an ensemble. */
  memberDirs: string[];
  /** The ensemble's record, or null for a single model. */
  ensemble: Seq2SeqEnsembleRecord | null;
  /**
   * What the members' loaders noted (a default taken, weights not verified: loadFunctionalModel's notes, each naming
   * its member's model.json), each once: the commands and `recur serve` say them as they say a text model's.
   */
  notes: string[];
}

/** A seq2seq ensemble directory's record, checked (InvalidInputError naming the file). */
export function readSeq2SeqEnsembleRecord(dir: string): Seq2SeqEnsembleRecord {
  return readEnsembleFile(dir, 'recur-seq2seq-ensemble');
}

/** The model directories of the seq2seq model in `dir`: [dir], or an ensemble's listed members'. */
export function seq2seqMemberDirs(dir: string): string[] {
  return ensembleMemberDirs(dir, 'recur-seq2seq-ensemble', 'recur seq2seq train');
}

/** Why two members cannot decode together, or null when they can (the same tokens, split and data). */
function mismatch(a: Seq2SeqMetadata, b: Seq2SeqMetadata): string | null {
  const same = (x: unknown, y: unknown): boolean => JSON.stringify(x) === JSON.stringify(y);
  if (!same(a.sourceTokens, b.sourceTokens)) return 'its source tokens differ from member 1';
  if (!same(a.targetTokens, b.targetTokens)) return 'its target tokens differ from member 1';
  for (const k of ['sourceMode', 'targetMode', 'normalization', 'seed'] as const)
    if (a.settings[k] !== b.settings[k]) return `its settings.${k} differs from member 1`;
  if (a.data !== b.data) return `it was trained on ${b.data}, member 1 on ${a.data}`;
  return null;
}

/** The joint n-gram of a seq2seq model or ensemble (jointNgramPath: the file its manifest names), or null when it has none. */
export function readJointNgram(dir: string, meta: Seq2SeqMetadata): WeightedJointNgram | null {
  const file = jointNgramPath(dir);
  if (file === null) return null;
  return jointNgramFromJson(readFileSync(file, 'utf8'), meta.sourceTokens, meta.targetTokens, file);
}

/**
 * The order and weight of the joint n-gram of the model in `dir` (checked, not built), or null when it has none;
 * `file`: another n-gram file there (a run's own, before its model replaces the one in `dir`).
 */
export function readJointNgramHeader(
  dir: string,
  file: string | null = jointNgramPath(dir),
): { order: number; weight: number } | null {
  return file !== null && existsSync(file) ? jointNgramHeader(readFileSync(file, 'utf8'), file) : null;
}

/** Writes a model's joint n-gram into `file` (atomically). */
export function writeJointNgram(file: string, ngram: WeightedJointNgram, meta: Seq2SeqMetadata): void {
  writeFileAtomic(file, jointNgramToJson(ngram, meta.sourceTokens, meta.targetTokens));
}

/**
 * Loads the seq2seq model in `dir`, a single model or a seed ensemble. Errors are bad input (exit 2) naming the
 * directory or member file: not a seq2seq model, a member missing or damaged, members that disagree. With
 * `jointNgram: false` the model comes without its joint n-gram (`seq2seq ngram`, replacing it, need not build it; a
 * caller whose decoding may run on the pool's workers reads the directory with readSeq2SeqDir instead).
 */
export function loadSeq2SeqDir(dir: string, opts: { jointNgram?: boolean } = {}): LoadedSeq2Seq {
  const notes = new Set<string>();
  const { members, ...read } = readMembers(dir, (d) => {
    const loaded = loadFunctionalModel(d);
    for (const n of loaded.notes) notes.add(n);
    return {
      metadata: loaded.metadata,
      model: loaded.model,
      fits: (meta) => checkSeq2SeqFits(loaded.model, meta, d),
    };
  });
  const models = members.map((m) => ({ model: m.model, targetOrder: m.meta.settings.targetOrder }));
  return {
    app: Seq2Seq.fromMetadata(
      models[0].model,
      read.meta,
      models.slice(1),
      opts.jointNgram === false ? null : readJointNgram(dir, read.meta),
    ),
    ...read,
    notes: [...notes],
  };
}

/**
 * The seq2seq model in `dir` as loadSeq2SeqDir checks it (its model.json files, members that disagree, the joint
 * n-gram's header), without its weights or building its n-gram: what a caller needs whose inference pool builds them
 * (which checks they fit the metadata). `memberOrders`: each member's target order; `ngramWeight`: 0 without one.
 * With `jointNgram: false` (decoding at weight 0) the n-gram's file is not read: `ngramWeight` is 0.
 */
export function readSeq2SeqDir(
  dir: string,
  opts: { jointNgram?: boolean } = {},
): Omit<LoadedSeq2Seq, 'app' | 'notes'> & { memberOrders: TargetOrder[]; ngramWeight: number } {
  const { members, ...read } = readMembers(dir, (d) => ({
    metadata: readModelMetadata(d, parseFunctionalModelJson),
    model: null,
  }));
  return {
    ...read,
    memberOrders: members.map((m) => m.meta.settings.targetOrder),
    ngramWeight: opts.jointNgram === false ? 0 : (readJointNgramHeader(dir)?.weight ?? 0),
  };
}

/** The members of the seq2seq model in `dir`, each read by `member` and checked against member 1. */
function readMembers<M>(
  dir: string,
  member: (d: string) => {
    metadata: Record<string, unknown>;
    model: M;
    fits?: (meta: Seq2SeqMetadata) => void;
  },
): Omit<LoadedSeq2Seq, 'app' | 'notes'> & { members: { model: M; meta: Seq2SeqMetadata }[] } {
  const ensemble = isEnsembleDir(dir) ? readSeq2SeqEnsembleRecord(dir) : null;
  if (!existsSync(dir))
    throw new InvalidInputError(noSuchPath(dir, 'a directory written by recur seq2seq train'));
  // A model.json given for its directory would otherwise read "model.json: no model.json here".
  refuseFileForModelDir(dir, 'recur seq2seq train');
  if (!ensemble && !isModelDir(dir))
    throw new InvalidInputError(
      `${dir}: no model.json here (nor a seed ensemble's ensemble.json); give a directory written by recur seq2seq train`,
    );
  const memberDirs = seq2seqMemberDirs(dir);
  const members: { model: M; meta: Seq2SeqMetadata }[] = [];
  let first: { meta: Seq2SeqMetadata; metadata: Record<string, unknown> } | null = null;
  for (const d of memberDirs) {
    refuseOtherTask(d, 'seq2seq');
    let loaded: ReturnType<typeof member>;
    try {
      loaded = member(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code && !(e instanceof InvalidInputError)) throw e;
      const message = (e as Error).message;
      throw new InvalidInputError(message.includes(d) ? message : `${d}: ${message}`);
    }
    const meta = parseSeq2SeqMetadata(loaded.metadata, d);
    loaded.fits?.(meta);
    if (first) {
      const why = mismatch(first.meta, meta);
      if (why)
        throw new InvalidInputError(`${d}: this ensemble member cannot decode with the others: ${why}`);
    } else first = { meta, metadata: loaded.metadata };
    members.push({ model: loaded.model, meta });
  }
  return { ...first!, memberDirs, ensemble, members };
}
