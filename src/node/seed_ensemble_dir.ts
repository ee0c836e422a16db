/**
 * A seed ensemble's directory on disk (src/models/seed_ensemble.ts): ensemble.json and its listed members, read with
 * checks, for every kind of model (src/node/classifier_dir.ts and src/node/seq2seq_dir.ts build their loaders on it).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidInputError } from '../core/errors.js';
import {
  ENSEMBLE_FILE,
  parseEnsembleRecord,
  type EnsembleFormat,
  type EnsembleRecord,
} from '../models/seed_ensemble.js';
import { isModelDir } from './model_io.js';

/** Whether `dir` is a seed ensemble (holds ensemble.json). */
export function isEnsembleDir(dir: string): boolean {
  return existsSync(join(dir, ENSEMBLE_FILE));
}

/**
 * An ensemble directory's record, checked to be of `format` (InvalidInputError naming the file); `name`: the record's
 * file (an --overwrite run's own is ensemble-next.json until it replaces the model there).
 */
export function readEnsembleFile<F extends EnsembleFormat>(
  dir: string,
  format: F,
  name = ENSEMBLE_FILE,
): EnsembleRecord<F> {
  const file = join(dir, name);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new InvalidInputError(`${file}: cannot be read (${(e as Error).message})`);
  }
  return parseEnsembleRecord(text, file, format);
}

/**
 * The model directories of the model in `dir`: [dir] for a single model, the listed members' for an ensemble of
 * `format` (each checked to hold a model.json). `resume` is the command that continues an unfinished run.
 */
export function ensembleMemberDirs(dir: string, format: EnsembleFormat, resume: string): string[] {
  if (!isEnsembleDir(dir)) return [dir];
  const rec = readEnsembleFile(dir, format);
  if (rec.members.length === 0)
    throw new InvalidInputError(
      `${join(dir, ENSEMBLE_FILE)}: no finished members yet; continue the run with ${resume} --out ${dir} --resume`,
    );
  return rec.members.map((m) => {
    const d = join(dir, m);
    if (!isModelDir(d))
      throw new InvalidInputError(
        `${d}: member listed in ${join(dir, ENSEMBLE_FILE)} has no model.json (missing or damaged ensemble)`,
      );
    return d;
  });
}

/**
 * The `format` an ensemble directory's ensemble.json (or the record `name`) claims, or null when it has none readable
 * (checked later).
 */
export function claimedEnsembleFormat(dir: string, name = ENSEMBLE_FILE): string | null {
  try {
    const raw = JSON.parse(readFileSync(join(dir, name), 'utf8')) as { format?: unknown };
    return typeof raw?.format === 'string' ? raw.format : null;
  } catch {
    return null;
  }
}
