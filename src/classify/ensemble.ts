/**
 * Seed ensembles of text classifiers: N models trained on the same split from different member seeds (initial
 * weights, batch order, dropout), whose per-CLASS probabilities are averaged — a sigmoid model's p, a softmax model's
 * vectors, a multi-label model's per-label p. (Averaging each member's own winning label's probability instead would
 * be wrong: the members disagree on which label that is.) On SST-2 six regularized members reached 85.1% dev accuracy
 * where single models averaged 84.0% (BENCHMARKS.md). Browser-safe: the directory layout and loading live in
 * src/node/classifier_dir.ts.
 */
import { z } from 'zod';
import { InvalidInputError } from '../core/errors.js';
import type { Sequential } from '../models/sequential.js';
import { predictProbabilities } from './model.js';

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

/**
 * Member k's seed (k from 1): member 1 trains with the run's --seed itself (so member 1 of any ensemble is the single
 * model of that seed), the others with a 31-bit hash of the seed and k. The data split always uses the run's seed.
 */
export function memberSeed(seed: number, k: number): number {
  if (!Number.isInteger(k) || k < 1) throw new Error(`memberSeed: member ${k} (members count from 1)`);
  if (k === 1) return seed;
  // murmur3's 32-bit finalizer over the seed mixed with k: nearby seeds and members give unrelated values.
  let h = (seed ^ Math.imul(k, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 1;
}

/** The file in an ensemble directory that lists its members. */
export const ENSEMBLE_FILE = 'ensemble.json';
/** The members' directories under an ensemble directory: members/1 … members/N. */
export const MEMBERS_DIR = 'members';

/**
 * ensemble.json: the planned size and the run's seed, and the members that make up the ensemble now (directories
 * relative to the ensemble's, each a normal classifier directory), in member order.
 */
export interface EnsembleRecord {
  format: 'recur-classifier-ensemble';
  version: 1;
  /** Members planned (--ensemble N). */
  size: number;
  /** The run's --seed: the data split, and member 1's seed. */
  seed: number;
  /** Member seeds, one per planned member. */
  memberSeeds: number[];
  /** The finished members' directories (relative), e.g. "members/1"; fewer than `size` if the run was cut short. */
  members: string[];
  /**
   * How members are trained, so a resumed run starts its remaining members exactly as the first: the data file
   * (absolute; null: the default corpus) and the training flags of the first command (camelCase names).
   */
  training: { data: string | null; options: Record<string, unknown> };
}

const ENSEMBLE_RECORD = z.strictObject({
  format: z.literal('recur-classifier-ensemble'),
  version: z.literal(1),
  size: z.number().int().min(1),
  seed: z.number().int().min(0),
  memberSeeds: z.array(z.number().int().min(0)),
  members: z.array(z.string().regex(/^members\/[1-9][0-9]*$/, 'a path members/K')),
  training: z.strictObject({ data: z.string().nullable(), options: z.record(z.string(), z.unknown()) }),
});

/** ensemble.json's text, checked; `where` names the file in errors (InvalidInputError naming the field). */
export function parseEnsembleRecord(text: string, where: string): EnsembleRecord {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new InvalidInputError(`${where}: not valid JSON (${(e as Error).message})`);
  }
  const r = ENSEMBLE_RECORD.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new InvalidInputError(
      `${where}: ${issue.path.length > 0 ? issue.path.join('.') : '(top level)'}: ${issue.message}`,
    );
  }
  const rec = r.data as EnsembleRecord;
  if (rec.memberSeeds.length !== rec.size)
    throw new InvalidInputError(
      `${where}: memberSeeds: ${rec.memberSeeds.length} seeds for an ensemble of size ${rec.size}`,
    );
  const seen = new Set<string>();
  for (const [i, m] of rec.members.entries()) {
    const k = Number(m.slice(MEMBERS_DIR.length + 1));
    if (k > rec.size) throw new InvalidInputError(`${where}: members.${i}: ${m} is past size ${rec.size}`);
    if (seen.has(m)) throw new InvalidInputError(`${where}: members.${i}: ${m} is listed twice`);
    seen.add(m);
  }
  return rec;
}
