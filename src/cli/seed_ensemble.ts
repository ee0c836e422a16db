/**
 * What the seed-ensemble training commands share (`recur classify train --ensemble N`, src/cli/classify_ensemble.ts;
 * `recur seq2seq train --ensemble N`, src/cli/seq2seq_ensemble.ts): the training flags kept in ensemble.json, the
 * members' tagged output, and writing the record.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ENSEMBLE_FILE,
  NEXT_ENSEMBLE_FILE,
  memberSeed,
  type EnsembleFormat,
  type EnsembleRecord,
} from '../models/seed_ensemble.js';
import { writeFileAtomic } from '../node/atomic.js';
import { acquireRunLock } from '../node/run_lock.js';
import { isModelDir, removeUnreferencedWeights } from '../node/model_io.js';
import { CHECKPOINT_DIR, removeStaleTemps, tidyReplacedFiles } from '../node/run_files.js';
import { isEnsembleDir, readEnsembleFile } from '../node/seed_ensemble_dir.js';
import { prepareRunDir, restoreLog, runThreads } from './run_dir.js';
import { UsageError, type Output } from './output.js';
import type { RecordedTask } from '../core/tasks.js';

/** The flags of the command running now (never stored: a resumed run may change them). */
const RUNTIME_FLAGS = [
  'out',
  'resume',
  'overwrite',
  'json',
  'quiet',
  'threads',
  'timeLimit',
  'cpuTimeLimit',
  'ensemble',
];

/** The flags that shape the members (stored in ensemble.json), with `paths` made absolute, and the run's seed. */
export function trainingOptionsOf(
  o: object,
  seed: number,
  paths: readonly string[] = [],
): Record<string, unknown> {
  const kept = Object.entries(o).filter(([k, v]) => !RUNTIME_FLAGS.includes(k) && v !== undefined);
  return {
    ...Object.fromEntries(kept),
    ...Object.fromEntries(
      paths.flatMap((k) => {
        const v = (o as Record<string, unknown>)[k];
        return typeof v === 'string' ? [[k, resolve(v)]] : [];
      }),
    ),
    seed,
  };
}

/** A member's output: every JSON line says which member it is about. */
export function memberOutput(out: Output, index: number, count: number): Output {
  return {
    progress: out.progress,
    info: (l) => out.info(l),
    note: (l) => out.note(l),
    error: (l) => out.error(l),
    sample: (t, x, f) => out.sample(t, x, f),
    json: (obj) => out.json({ member: index, members: count, ...obj }),
  };
}

/**
 * Writes the record. An --overwrite run's (staged: ensemble-next.json is there) stays ensemble-next.json until a member
 * is listed: then it is written as ensemble.json — the atomic switch from the model it replaces, whose files then go.
 */
export function writeEnsembleRecord(outDir: string, rec: EnsembleRecord): void {
  const staged = existsSync(join(outDir, NEXT_ENSEMBLE_FILE));
  const text = JSON.stringify(rec, null, 2) + '\n';
  if (staged && rec.members.length === 0) writeFileAtomic(join(outDir, NEXT_ENSEMBLE_FILE), text);
  else {
    writeFileAtomic(join(outDir, ENSEMBLE_FILE), text);
    if (staged) tidyReplacedFiles(outDir);
  }
}

/**
 * The threads the members train on now (runThreads of those recorded) and the record that says so: a resume on other
 * threads records them, so that a later bare --resume goes on as this one did, as a single run's checkpoint does.
 */
export function ensembleThreads<F extends EnsembleFormat>(
  outDir: string,
  rec: EnsembleRecord<F>,
  given: number | undefined,
  out: Output,
): { threads: number; rec: EnsembleRecord<F> } {
  const recorded = rec.training.options.threads;
  const threads = runThreads(given, typeof recorded === 'number' ? recorded : undefined, out);
  if (threads === recorded) return { threads, rec };
  const now = { ...rec, training: { ...rec.training, options: { ...rec.training.options, threads } } };
  writeEnsembleRecord(outDir, now);
  return { threads, rec: now };
}

/**
 * The record an ensemble run works to. On --resume: the one in `outDir`, which --ensemble (if given) and the data file
 * (if given) must match. Otherwise a new one for --ensemble members from `seed` (member 1's seed is `seed` itself),
 * written before any member trains.
 */
export function openEnsembleRecord<F extends EnsembleFormat>(
  outDir: string,
  o: { resume?: boolean; ensemble?: number },
  file: string | undefined,
  run: {
    format: F;
    read: (dir: string) => EnsembleRecord<F>;
    /** What the run trains on without a data file ('CMUdict'). */
    defaultData: string;
    seed: number;
    options: Record<string, unknown>;
    /**
     * The run replaces the model in outDir (--overwrite): its members train in a members-<hex>/ of their own and its
     * record is ensemble-next.json, so the old model stays loadable until the first member is finished.
     */
    staged?: boolean;
    /**
     * The joint n-gram file a staged record names (null: none), given its members' directory; a record not staged
     * names none (its n-gram, if any, is joint-ngram.json).
     */
    jointNgram?: (membersDir: string) => string | null;
  },
): EnsembleRecord<F> {
  if (o.resume) {
    const rec = run.read(outDir);
    if (o.ensemble !== undefined && o.ensemble !== rec.size)
      throw new UsageError(
        `--ensemble ${o.ensemble}: ${outDir} holds an ensemble of ${rec.size} members; resume it without --ensemble or with --ensemble ${rec.size}`,
      );
    if (file !== undefined && resolve(file) !== rec.training.data)
      throw new UsageError(
        `--resume: the ensemble was trained on ${rec.training.data ?? run.defaultData}, not ${file}`,
      );
    return rec;
  }
  const size = o.ensemble ?? 1;
  const membersDir = `members-${randomBytes(4).toString('hex')}`;
  const rec: EnsembleRecord<F> = {
    format: run.format,
    version: 1,
    size,
    seed: run.seed,
    memberSeeds: Array.from({ length: size }, (_, k) => memberSeed(run.seed, k + 1)),
    members: [],
    training: { data: file !== undefined ? resolve(file) : null, options: run.options },
    ...(run.staged ? { membersDir } : {}),
    ...(run.staged && run.jointNgram ? { jointNgram: run.jointNgram(membersDir) } : {}),
  };
  if (run.staged) writeFileAtomic(join(outDir, NEXT_ENSEMBLE_FILE), JSON.stringify(rec, null, 2) + '\n');
  else writeEnsembleRecord(outDir, rec);
  return rec;
}

/**
 * A member a resumed ensemble run skips (finished before a kill -9): its stale lock and recur's temp files of the
 * killed run go, as a member the run trains has them swept by its own start; so do weights its saves replaced, and
 * its log.csv gets the rows of its checkpoint's `history` (a kill after the last checkpoint left the last row out).
 */
export function tidyFinishedMember(dir: string, history: Record<string, number>[] | undefined): void {
  const lock = acquireRunLock(dir, `recur ${process.argv.slice(2).join(' ')}`.slice(0, 200));
  try {
    removeStaleTemps(dir);
    for (const d of [dir, join(dir, CHECKPOINT_DIR)]) if (isModelDir(d)) removeUnreferencedWeights(d);
    if (history !== undefined) restoreLog(dir, history);
  } finally {
    lock.release();
  }
}

/**
 * prepareRunDir for an ensemble run. `stage`: an --overwrite run trains its ensemble beside the model or ensemble in
 * outDir, which stays loadable until the new one has a finished member (writeEnsembleRecord switches, atomically);
 * given only when outDir holds one. Returns whether it does. A resume first finishes the removal of a replaced
 * model a kill interrupted.
 */
export function prepareEnsembleRunDir(
  outDir: string,
  o: { task: RecordedTask; resume: boolean; overwrite: boolean; output: Output },
  stage: boolean,
  inputs: (string | undefined)[],
): boolean {
  const staged =
    stage &&
    !o.resume &&
    o.overwrite &&
    (isEnsembleDir(outDir) || isModelDir(outDir) || existsSync(join(outDir, NEXT_ENSEMBLE_FILE)));
  prepareRunDir(
    outDir,
    {
      task: o.task,
      resume: o.resume,
      overwrite: o.overwrite,
      ensembleRun: true,
      stageEnsemble: staged,
      output: o.output,
    },
    inputs,
  );
  if (o.resume) tidyReplacedFiles(outDir);
  return staged;
}

/** Reads the record of the ensemble being trained in a directory: an --overwrite run's not yet switched to, or its own. */
export function trainingRecordReader<F extends EnsembleFormat>(
  format: F,
): (dir: string) => EnsembleRecord<F> {
  return (d) =>
    readEnsembleFile(d, format, existsSync(join(d, NEXT_ENSEMBLE_FILE)) ? NEXT_ENSEMBLE_FILE : ENSEMBLE_FILE);
}
