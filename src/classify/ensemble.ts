/**
 * Seed ensembles of text classifiers: N models trained on the same split from different member seeds (initial
 * weights, batch order, dropout), whose per-CLASS probabilities are averaged — a sigmoid model's p, a softmax model's
 * vectors, a multi-label model's per-label p. (Averaging each member's own winning label's probability instead would
 * be wrong: the members disagree on which label that is.) On SST-2 six regularized members reached 85.1% dev accuracy
 * where single models averaged 84.0% (BENCHMARKS.md). Browser-safe: the directory layout and loading live in
 * src/node/classifier_dir.ts.
 */
import {
  parseEnsembleRecord as parseSeedEnsembleRecord,
  type EnsembleRecord as SeedEnsembleRecord,
} from '../models/seed_ensemble.js';
import type { Sequential } from '../models/sequential.js';
import { predictProbabilities } from './model.js';

export { ENSEMBLE_FILE, MEMBERS_DIR, memberSeed } from '../models/seed_ensemble.js';

/** One classifier, or the members of a seed ensemble (whose class probabilities are averaged). */
export type ClassifierModels = Sequential | readonly Sequential[];

/** The models of `m`, as a list. */
export function modelsOf(m: ClassifierModels): readonly Sequential[] {
  return Array.isArray(m) ? (m as readonly Sequential[]) : [m as Sequential];
}

/**
 * The element-wise mean of the members' probability arrays (each [texts × classes], the same shape), summed in
 * float64 in member order and rounded once to float32, so every caller gets the same numbers.
 */
export function averageProbabilities(members: readonly Float32Array[]): Float32Array {
  if (members.length === 0) throw new Error('averageProbabilities: no members');
  if (members.length === 1) return members[0];
  const n = members[0].length;
  for (const [k, m] of members.entries())
    if (m.length !== n)
      throw new Error(`averageProbabilities: member ${k + 1} has ${m.length} probabilities, member 1 ${n}`);
  const sum = new Float64Array(n);
  for (const m of members) for (let i = 0; i < n; i++) sum[i] += m[i];
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = sum[i] / members.length;
  return out;
}

/** Every class's probability for each of `sequences` ([texts × classes]); for an ensemble, the members' mean. */
export function ensembleProbabilities(
  models: ClassifierModels,
  sequences: readonly Int32Array[],
  classes: number,
  batchSize?: number,
): Float32Array {
  return averageProbabilities(
    modelsOf(models).map((m) => predictProbabilities(m, sequences, classes, batchSize)),
  );
}

/** A classifier ensemble's ensemble.json (src/models/seed_ensemble.ts). */
export type EnsembleRecord = SeedEnsembleRecord<'recur-classifier-ensemble'>;

/** A classifier ensemble's ensemble.json text, checked; `where` names the file in errors. */
export function parseEnsembleRecord(text: string, where: string): EnsembleRecord {
  return parseSeedEnsembleRecord(text, where, 'recur-classifier-ensemble');
}
