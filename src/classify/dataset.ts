/**
 * Labelled texts as a classifier trains on them: labels ↔ class indices, a stratified train / validation / test
 * split, and length-bucketed batches. Each batch is padded (with id 0, which the Embedding masks) only to its own
 * longest text, and batches are made of texts of similar length, so a batch of five-word reviews is not padded to
 * the length of a long email.
 */
import { InvalidInputError, nameList } from '../core/errors.js';
import { Random } from '../core/random.js';
import { IndexTensor, Tensor } from '../core/tensor.js';
import type { Batch, BatchDataset } from '../models/sequential.js';
import { PAD_ID } from './tokenizer.js';

/** Texts with their labels; `where` names each record in errors ("reviews.csv row 12"). */
export interface LabelledTexts {
  texts: string[];
  labels: string[];
  where: string[];
  /** What the texts came from (a file, a directory, a package). */
  source: string;
  /**
   * Multi-label data only: each record's label set (distinct, sorted; possibly empty). `labels` then holds each set
   * joined by the separator it was read with, so fingerprints and messages still see one string per record.
   */
  labelSets?: string[][];
}

/**
 * The classes of a training set, sorted, checked: at least two, none empty. A label set with one class is an error
 * naming `labelField` (the column or field it came from).
 */
export function classesOf(data: LabelledTexts, labelField = 'label'): string[] {
  const classes = [...new Set(data.labels)].sort();
  if (data.texts.length === 0) throw new InvalidInputError(`${data.source}: no labelled texts`);
  if (classes.length < 2)
    throw new InvalidInputError(
      `${data.source}: the ${labelField} has only one class ('${classes[0]}'); a classifier needs at least two`,
    );
  return classes;
}

/** Class indices of labels; a label the model does not know is an error naming its record. */
export function encodeLabels(data: LabelledTexts, classes: readonly string[]): Int32Array {
  const index = new Map(classes.map((c, i) => [c, i]));
  return Int32Array.from(data.labels, (l, i) => {
    const k = index.get(l);
    if (k === undefined)
      throw new InvalidInputError(
        `${data.where[i]}: label '${l}' is not one of the model's classes (${nameList(classes)})`,
      );
    return k;
  });
}

export interface SplitIndices {
  train: Int32Array;
  validation: Int32Array;
  test: Int32Array;
}

/** How many of a class's `n` records go to the test and validation sets: rounded shares, one left to train on. */
function classShares(
  n: number,
  fractions: { validation: number; test: number },
): { test: number; validation: number } {
  let nt = Math.round(n * fractions.test);
  let nv = Math.round(n * fractions.validation);
  while (nt + nv >= n && nt + nv > 0) {
    if (nv >= nt && nv > 0) nv--;
    else nt--;
  }
  return { test: nt, validation: nv };
}

/** The fewest records a class needs to give the validation set one (stratifiedSplit's shares; validation > 0). */
export function fewestForValidation(fractions: { validation: number; test: number }): number {
  let n = 1;
  while (classShares(n, fractions).validation === 0) n++;
  return n;
}

/**
 * A stratified split: each class's records are shuffled by `seed` and dealt out in the given fractions (rounded per
 * class), so every split keeps the class balance. Every class keeps at least one training record. Indices ascend.
 */
export function stratifiedSplit(
  labels: ArrayLike<number>,
  classes: number,
  fractions: { validation: number; test: number },
  seed: number,
): SplitIndices {
  const { validation: fv, test: ft } = fractions;
  if (!(fv >= 0 && ft >= 0 && fv + ft < 1))
    throw new InvalidInputError(
      `validation (${fv}) and test (${ft}) fractions must be ≥ 0 and sum to less than 1`,
    );
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]].push(i);
  const rng = new Random(seed);
  const out = { train: [] as number[], validation: [] as number[], test: [] as number[] };
  for (const rows of byClass) {
    rng.shuffle(rows);
    const { test: nt, validation: nv } = classShares(rows.length, fractions);
    // Loops, not push(...rows): spreading a class of 100,000s of rows overflows the call stack.
    rows.forEach((r, i) => (i < nt ? out.test : i < nt + nv ? out.validation : out.train).push(r));
  }
  const sorted = (a: number[]): Int32Array => Int32Array.from(a).sort();
  return { train: sorted(out.train), validation: sorted(out.validation), test: sorted(out.test) };
}

/** The records of `data` at `rows`, in that order. */
export function subset(data: LabelledTexts, rows: ArrayLike<number>): LabelledTexts {
  const pick = <T>(a: T[]): T[] => Array.from(rows, (i) => a[i]);
  return {
    texts: pick(data.texts),
    labels: pick(data.labels),
    where: pick(data.where),
    source: data.source,
    ...(data.labelSets ? { labelSets: pick(data.labelSets) } : {}),
  };
}

function labelSetsOf(data: LabelledTexts): string[][] {
  if (!data.labelSets) throw new Error(`${data.source}: not multi-label data (no label sets)`);
  return data.labelSets;
}

/**
 * The labels of a multi-label training set: the sorted union of its label sets, at least two (with one label the
 * task is binary classification: train without --multi-label).
 */
export function multiLabelsOf(data: LabelledTexts, labelField = 'label'): string[] {
  if (data.texts.length === 0) throw new InvalidInputError(`${data.source}: no labelled texts`);
  const labels = [...new Set(labelSetsOf(data).flat())].sort();
  if (labels.length < 2)
    throw new InvalidInputError(
      `${data.source}: the ${labelField} has ${labels.length === 0 ? 'no labels at all' : `only one label ('${labels[0]}')`}; ` +
        'a multi-label classifier needs at least two (for one label, train a binary classifier without --multi-label)',
    );
  return labels;
}

/**
 * Multi-label targets: an [N × labels] row-major 0/1 matrix. A label the model does not know is an error naming its
 * record.
 */
export function encodeLabelSets(data: LabelledTexts, labels: readonly string[]): Uint8Array {
  const index = new Map(labels.map((c, i) => [c, i]));
  const L = labels.length;
  const out = new Uint8Array(data.texts.length * L);
  labelSetsOf(data).forEach((set, i) => {
    for (const l of set) {
      const k = index.get(l);
      if (k === undefined)
        throw new InvalidInputError(
          `${data.where[i]}: label '${l}' is not one of the model's labels (${nameList(labels)})`,
        );
      out[i * L + k] = 1;
    }
  });
  return out;
}

/**
 * The stratum a multi-label record is split by: its first label (in label order), or `labels` for an empty set.
 * Stratifying by it keeps every label's leading records in every split without the combinatorics of label sets.
 */
export function firstLabelStrata(targets: Uint8Array, labels: number): Int32Array {
  const N = targets.length / labels;
  return Int32Array.from({ length: N }, (_, i) => {
    for (let k = 0; k < labels; k++) if (targets[i * labels + k]) return k;
    return labels;
  });
}

export interface BucketOptions {
  batchSize: number;
  /** Shuffle records and batches every epoch (training); otherwise batches in order of length (inference). */
  shuffle: boolean;
  /** Seed of the per-epoch shuffles; epoch e always draws the same batches (exact resume needs that). */
  seed?: number;
  /** How many batches' worth of records are sorted by length together: larger pads less, mixes less. */
  bucketBatches?: number;
}

/** One padded batch and the record indices of its rows. */
export interface PaddedBatch {
  rows: Int32Array;
  xs: IndexTensor;
}

/** Right-pads the sequences at `rows` with PAD_ID to their longest (at least one step) as an [N, T] tensor. */
export function padBatch(sequences: readonly Int32Array[], rows: Int32Array): IndexTensor {
  let T = 1;
  for (const r of rows) T = Math.max(T, sequences[r].length);
  const data = new Int32Array(rows.length * T).fill(PAD_ID);
  rows.forEach((r, i) => data.set(sequences[r], i * T));
  return new IndexTensor(data, [rows.length, T]);
}

/**
 * Length-bucketed batches of `sequences`. With shuffle, each epoch permutes the records (keyed by seed and epoch),
 * sorts each chunk of `bucketBatches` batches by length, cuts it into batches and shuffles the batches' order; without
 * it, all records are sorted by length (stable) and cut in order.
 */
export function* bucketedBatches(
  sequences: readonly Int32Array[],
  opts: BucketOptions,
  epoch = 0,
): Generator<PaddedBatch> {
  const N = sequences.length;
  const bs = opts.batchSize;
  if (!(Number.isInteger(bs) && bs > 0))
    throw new InvalidInputError(`batchSize must be a positive integer, got ${bs}`);
  const order = Int32Array.from({ length: N }, (_, i) => i);
  const byLength = (a: number, b: number): number => sequences[a].length - sequences[b].length || a - b;
  const cuts: Int32Array[] = [];
  if (opts.shuffle) {
    const rng = new Random(((opts.seed ?? 0) ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
    rng.shuffle(order);
    const chunk = bs * (opts.bucketBatches ?? 20);
    for (let c = 0; c < N; c += chunk) {
      const part = order.subarray(c, Math.min(N, c + chunk)).sort(byLength);
      for (let i = 0; i < part.length; i += bs) cuts.push(part.slice(i, Math.min(part.length, i + bs)));
    }
    const perm = rng.shuffle(Int32Array.from({ length: cuts.length }, (_, i) => i));
    const shuffled = Array.from(perm, (i) => cuts[i]);
    cuts.splice(0, cuts.length, ...shuffled);
  } else {
    order.sort(byLength);
    for (let i = 0; i < N; i += bs) cuts.push(order.slice(i, Math.min(N, i + bs)));
  }
  for (const rows of cuts) yield { rows, xs: padBatch(sequences, rows) };
}

/**
 * A BatchDataset of bucketed batches with their targets: class indices (softmax) or [N, 1] 0/1 floats (a single
 * sigmoid unit for two classes). With `classWeights` (softmax only), targets are one-hot rows scaled by the class's
 * weight: for categorical cross-entropy, −Σ_k w·y_k log p_k = w·CE and its logits gradient is w·(p − y), so this is
 * exactly a per-sample weighted loss, still averaged over the batch.
 */
export function classifierDataset(
  sequences: readonly Int32Array[],
  classes: Int32Array,
  opts: BucketOptions & { sigmoid: boolean; classWeights?: Float32Array | null },
): BatchDataset {
  const N = sequences.length;
  if (classes.length !== N) throw new Error(`classifierDataset: ${N} sequences but ${classes.length} labels`);
  const weights = opts.classWeights ?? null;
  if (weights && opts.sigmoid) throw new Error('classifierDataset: class weights need softmax targets');
  return {
    batchesPerEpoch: Math.ceil(N / opts.batchSize),
    samplesPerEpoch: N,
    *batches(epoch: number): Iterable<Batch> {
      for (const { rows, xs } of bucketedBatches(sequences, opts, epoch)) {
        const picked = Int32Array.from(rows, (r) => classes[r]);
        let ys: Tensor | IndexTensor;
        if (opts.sigmoid) ys = new Tensor(Float32Array.from(picked), [rows.length, 1]);
        else if (weights) {
          const K = weights.length;
          const dense = new Float32Array(rows.length * K);
          picked.forEach((c, i) => (dense[i * K + c] = weights[c]));
          ys = new Tensor(dense, [rows.length, K]);
        } else ys = new IndexTensor(picked, [rows.length]);
        yield { xs, ys };
      }
    },
  };
}

/** A BatchDataset of bucketed batches with [N, labels] 0/1 targets, for sigmoid outputs and binary cross-entropy. */
export function multiLabelDataset(
  sequences: readonly Int32Array[],
  targets: Uint8Array,
  labels: number,
  opts: BucketOptions,
): BatchDataset {
  const N = sequences.length;
  if (targets.length !== N * labels)
    throw new Error(`multiLabelDataset: ${N} sequences but ${targets.length / labels} label rows`);
  return {
    batchesPerEpoch: Math.ceil(N / opts.batchSize),
    samplesPerEpoch: N,
    *batches(epoch: number): Iterable<Batch> {
      for (const { rows, xs } of bucketedBatches(sequences, opts, epoch)) {
        const ys = new Float32Array(rows.length * labels);
        rows.forEach((r, i) => {
          for (let k = 0; k < labels; k++) ys[i * labels + k] = targets[r * labels + k];
        });
        yield { xs, ys: new Tensor(ys, [rows.length, labels]) };
      }
    },
  };
}
