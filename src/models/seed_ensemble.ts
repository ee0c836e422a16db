/**
 * The directory record of a seed ensemble, whatever its models are (classifiers, seq2seq): N members trained on ONE
 * data split (the run's seed), each from its own member seed, kept as ordinary model directories members/1 … N
 * beside an ensemble.json that lists the finished ones. Browser-safe: the files are read in src/node.
 */
import { z } from 'zod';
import { InvalidInputError } from '../core/errors.js';
import { parseJsonText } from '../core/json_text.js';

/** The file in an ensemble directory that lists its members. */
export const ENSEMBLE_FILE = 'ensemble.json';
/** The members' directories under an ensemble directory: members/1 … members/N. */
export const MEMBERS_DIR = 'members';
/**
 * The record of an ensemble an --overwrite run trains in place of the model in its directory, until its first member
 * is finished: then it becomes ensemble.json, one atomic rename that switches from the old model to the new ensemble.
 */
export const NEXT_ENSEMBLE_FILE = 'ensemble-next.json';
/** The names of the members' directories: members/, or an --overwrite run's members-<hex>/ beside the old ones. */
export const MEMBERS_DIR_RE = /^members(-[0-9a-f]{8})?$/;
/**
 * The names a seq2seq model's joint n-gram file has beside it: joint-ngram.json, or joint-ngram-<hex>.json for one an
 * --overwrite run fitted beside the model it replaces (its manifest names it; src/node/run_files.ts).
 */
export const JOINT_NGRAM_NAME_RE = /^joint-ngram(-[0-9a-f]{8})?\.json$/;

/** What an ensemble.json's `format` says its members are. */
export const ENSEMBLE_FORMATS = ['recur-classifier-ensemble', 'recur-seq2seq-ensemble'] as const;
export type EnsembleFormat = (typeof ENSEMBLE_FORMATS)[number];

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

/**
 * ensemble.json: the planned size and the run's seed, and the members that make up the ensemble now (directories
 * relative to the ensemble's, each a normal model directory), in member order.
 */
export interface EnsembleRecord<F extends EnsembleFormat = EnsembleFormat> {
  format: F;
  version: 1;
  /** Members planned (--ensemble N). */
  size: number;
  /** The run's --seed: the data split, and member 1's seed. */
  seed: number;
  /** Member seeds, one per planned member. */
  memberSeeds: number[];
  /** The finished members' directories (relative), e.g. "members/1"; fewer than `size` if the run was cut short. */
  members: string[];
  /** Where the members are trained (relative; MEMBERS_DIR_RE); absent: members. */
  membersDir?: string;
  /**
   * A seq2seq ensemble's joint n-gram file beside the record (JOINT_NGRAM_NAME_RE), null: none; absent (older
   * records, and a run in a directory of its own): joint-ngram.json if there is one.
   */
  jointNgram?: string | null;
  /**
   * How members are trained, so a resumed run starts its remaining members exactly as the first: the data file
   * (absolute; null: the default data) and the training flags of the first command (camelCase names).
   */
  training: { data: string | null; options: Record<string, unknown> };
}

const ENSEMBLE_RECORD = z.strictObject({
  format: z.enum(ENSEMBLE_FORMATS),
  version: z.literal(1),
  size: z.number().int().min(1),
  seed: z.number().int().min(0),
  memberSeeds: z.array(z.number().int().min(0)),
  members: z.array(z.string().regex(/^members(-[0-9a-f]{8})?\/[1-9][0-9]*$/, 'a path members/K')),
  membersDir: z.string().regex(MEMBERS_DIR_RE, 'members or members-<8 hex digits>').optional(),
  jointNgram: z
    .string()
    .regex(JOINT_NGRAM_NAME_RE, 'joint-ngram.json or joint-ngram-<8 hex digits>.json')
    .nullable()
    .optional(),
  training: z.strictObject({ data: z.string().nullable(), options: z.record(z.string(), z.unknown()) }),
});

/** The directory (relative to the ensemble's) a record's members are trained in. */
export function membersDirOf(rec: Pick<EnsembleRecord, 'membersDir'>): string {
  return rec.membersDir ?? MEMBERS_DIR;
}

/** Member k's directory (relative to the ensemble's) in a record. */
export function memberPath(rec: Pick<EnsembleRecord, 'membersDir'>, k: number): string {
  return `${membersDirOf(rec)}/${k}`;
}

/** The member number of a listed member's path ("members/3": 3). */
export function memberNumber(path: string): number {
  return Number(path.slice(path.indexOf('/') + 1));
}

/**
 * ensemble.json's text, checked, of an ensemble of `format` (another kind's is an error saying what it holds);
 * `where` names the file in errors (InvalidInputError naming the field).
 */
export function parseEnsembleRecord<F extends EnsembleFormat>(
  text: string,
  where: string,
  format: F,
): EnsembleRecord<F> {
  const raw = parseJsonText(text, where);
  const r = ENSEMBLE_RECORD.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new InvalidInputError(
      `${where}: ${issue.path.length > 0 ? issue.path.join('.') : '(top level)'}: ${issue.message}`,
    );
  }
  if (r.data.format !== format)
    throw new InvalidInputError(
      `${where}: format: this is a ${r.data.format.replace(/^recur-|-ensemble$/g, '')} ensemble, not a ${format.replace(/^recur-|-ensemble$/g, '')} one`,
    );
  const rec = r.data as EnsembleRecord<F>;
  if (rec.memberSeeds.length !== rec.size)
    throw new InvalidInputError(
      `${where}: memberSeeds: ${rec.memberSeeds.length} seeds for an ensemble of size ${rec.size}`,
    );
  const seen = new Set<string>();
  for (const [i, m] of rec.members.entries()) {
    if (!m.startsWith(`${membersDirOf(rec)}/`))
      throw new InvalidInputError(`${where}: members.${i}: ${m} is not in ${membersDirOf(rec)}/`);
    const k = memberNumber(m);
    if (k > rec.size) throw new InvalidInputError(`${where}: members.${i}: ${m} is past size ${rec.size}`);
    if (seen.has(m)) throw new InvalidInputError(`${where}: members.${i}: ${m} is listed twice`);
    seen.add(m);
  }
  return rec;
}
