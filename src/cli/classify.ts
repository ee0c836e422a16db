/**
 * `recur classify train | eval | predict` — text classification end to end. `train` reads labelled texts (a CSV/TSV,
 * JSON Lines, a directory of class folders, or by default the SpamAssassin corpus), splits them (stratified, seeded),
 * fits the tokenizer on the training split, trains the classifier recipe (src/classify/model.ts) with the progress
 * bar, checkpoints, exact resume and Ctrl-C handling of `recur train`, keeps the best model by validation macro-F1
 * (or loss), and scores it on the test split next to the majority-class and naive Bayes baselines. `eval` and
 * `predict` need only the model directory: the tokenizer, the classes and where the data came from are saved in it.
 *
 * Output directory layout: as `recur train` (model.json + weights, checkpoint/, log.csv; src/node/run_files.ts).
 */
import { readStdinLines } from '../node/text_file.js';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NEXT_ENSEMBLE_FILE } from '../models/seed_ensemble.js';
import { kernels } from '../core/backend.js';
import { InvalidInputError } from '../core/errors.js';
import {
  classesOf,
  classifierDataset,
  encodeLabelSets,
  encodeLabels,
  fewestForValidation,
  firstLabelStrata,
  multiLabelDataset,
  multiLabelsOf,
  stratifiedSplit,
  subset,
  type LabelledTexts,
} from '../classify/dataset.js';
import {
  baselineScores,
  multiLabelBaselineScores,
  multiLabelNetworkReport,
  multiLabelProbabilityReport,
  MultiLabelValidationMetrics,
  networkReport,
  probabilityReport,
  ValidationMetrics,
  type EvaluationReport,
  type MultiLabelEvaluationReport,
} from '../classify/evaluate.js';
import {
  classifierMetadata,
  checkClassifierFits,
  parseClassifierMetadata,
  type ClassifierData,
  type ClassifierMetadata,
  type ClassifierTrainingState,
} from '../classify/metadata.js';
import { ensembleProbabilities, type ClassifierModels } from '../classify/ensemble.js';
import type { ClassMetrics } from '../classify/metrics.js';
import { DEFAULT_THRESHOLD, classificationsOf, labelsAtThreshold } from '../classify/predict.js';
import {
  buildClassifier,
  classWeightsFor,
  classifierSettings,
  compileClassifier,
  learningRateAt,
  outputUnits,
  type ClassWeightSpec,
  type ClassifierOverrides,
  type ClassifierPooling,
  type ClassifierSettings,
} from '../classify/model.js';
import { Tokenizer, type PunctuationMode, type TokenLevel, type Truncating } from '../classify/tokenizer.js';
import {
  Callback,
  EarlyStopping,
  LearningRateScheduler,
  TerminateOnNaN,
  type Logs,
} from '../models/callbacks.js';
import type { EpochProgress, Sequential } from '../models/sequential.js';
import {
  SPAM_ASSASSIN,
  dataName,
  fingerprintOf,
  loadLabelledTexts,
  loadTextColumn,
  spamAssassin,
  pickedColumn,
  type ColumnChoice,
  type LoadedTexts,
} from '../node/classify_data.js';
import { CountProgress, CSVLogger, ModelCheckpoint, ProgressBar } from '../node/callbacks.js';
import { yieldToSignals } from '../node/terminal_bar.js';
import { DECODE_RUN_BATCHES } from '../inference/pool.js';
import { isEnsembleDir, loadClassifierDir, type LoadedClassifier } from '../node/classifier_dir.js';
import { isModelDir, loadModel, saveModel } from '../node/model_io.js';
import { withInferencePool } from '../node/inference_pool.js';
import { defaultThreads } from '../node/pool.js';
import { CHECKPOINT_DIR, LOG_FILE, dropReplacedEnsemble, hasMembersDirs } from '../node/run_files.js';
import { isBlankText } from '../text/blank.js';
import type { BudgetOptions } from './flags.js';
import { stdoutChunks, OUTPUT_CHUNK_CHARS, UsageError, type Output } from './output.js';
import { classifyTrainEnsemble, memberFigures, memberTable } from './classify_ensemble.js';
import { assertFits, estimateClassifierBytes } from './memory.js';
import {
  EpochRecorder,
  TrainingBudget,
  TrainingInterrupt,
  finishedRunInterrupted,
  nothingLeftToTrain,
  announceStop,
  continueWith,
  csvRowsOf,
  restoreLog,
  nonFiniteLossError,
  prepareRunDir,
  signalsDelivered,
  saveUnsavedModel,
  givenIfOff,
  refuseChangedFlags,
  refuseFewerEpochs,
  runThreads,
  stepsPerEpochOf,
} from './run_dir.js';
import { makeDirectories } from '../node/atomic.js';

export interface ClassifyTrainOptions extends ColumnChoice, BudgetOptions {
  out?: string;
  test?: string;
  /** --tokens (its older name: --level). */
  level?: TokenLevel;
  lowercase?: boolean;
  punctuation?: PunctuationMode;
  maxVocab?: number;
  minCount?: number;
  maxLength?: number;
  truncating?: Truncating;
  embeddingDim?: number;
  cell?: 'lstm' | 'gru';
  units?: number;
  layers?: number;
  bidirectional?: boolean;
  dropout?: number;
  embeddingDropout?: number;
  pooling?: ClassifierPooling;
  classWeight?: Exclude<ClassWeightSpec, null>;
  /** --output-activation (its older name: --output). */
  output?: 'softmax' | 'sigmoid';
  optimizer?: string;
  lr?: number;
  lrDecay?: number;
  clipnorm?: number;
  batchSize?: number;
  epochs?: number;
  patience?: number;
  monitor?: 'val_macro_f1' | 'val_micro_f1' | 'val_loss';
  multiLabel?: boolean;
  labelSeparator?: string;
  validationSplit?: number;
  testSplit?: number;
  seed?: number;
  threads?: number;
  stepsPerEpoch?: number;
  /** Train a seed ensemble of this many members (1: a single model; src/cli/classify_ensemble.ts). */
  ensemble?: number;
  resume: boolean;
  overwrite: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** The data a source names: a file or directory, or the default corpus. */
function loadSource(path: string | undefined, columns: ColumnChoice): LoadedTexts {
  if (path === undefined || path === SPAM_ASSASSIN) {
    if (columns.textColumn !== undefined || columns.labelColumn !== undefined)
      throw new UsageError('--text-column and --label-column need a DATA file');
    if (columns.labelSeparator !== undefined)
      throw new UsageError(
        '--multi-label needs a DATA file (the SpamAssassin corpus has one label per email)',
      );
    return spamAssassin();
  }
  return loadLabelledTexts(path, columns);
}

/** The flags as settings overrides (absent flags keep the recipe's values). */
function overridesOf(o: ClassifyTrainOptions): ClassifierOverrides {
  // --test FILE is the test set, so no test split is drawn from DATA: a --test-split beside it would be ignored.
  if (o.test !== undefined && o.testSplit !== undefined)
    throw new UsageError(
      `--test-split ${o.testSplit} draws a test split from DATA, and --test ${o.test} is the test set: give one`,
    );
  const tokenizer = {
    ...(o.level !== undefined ? { level: o.level } : {}),
    ...(o.lowercase !== undefined ? { lowercase: o.lowercase } : {}),
    ...(o.punctuation !== undefined ? { punctuation: o.punctuation } : {}),
    ...(o.maxVocab !== undefined ? { maxVocab: o.maxVocab } : {}),
    ...(o.minCount !== undefined ? { minCount: o.minCount } : {}),
  };
  const pick = {
    maxLength: o.maxLength,
    truncating: o.truncating,
    embeddingDim: o.embeddingDim,
    cell: o.cell,
    units: o.units,
    layers: o.layers,
    bidirectional: o.bidirectional,
    dropout: o.dropout,
    embeddingDropout: o.embeddingDropout,
    pooling: o.pooling,
    classWeight: o.classWeight,
    output: o.output,
    optimizer: o.optimizer,
    learningRate: o.lr,
    lrDecay: o.lrDecay,
    clipnorm: o.clipnorm,
    batchSize: o.batchSize,
    epochs: o.epochs,
    patience: o.patience,
    monitor: o.monitor,
    multiLabel: o.multiLabel,
    validationSplit: o.validationSplit,
    testSplit: o.test !== undefined ? 0 : o.testSplit,
    seed: o.seed,
  };
  const set = Object.fromEntries(Object.entries(pick).filter(([, v]) => v !== undefined));
  return { ...set, tokenizer };
}

/** Adds constant columns to every epoch's logs (after the progress bar, before the recorder and the CSV log). */
class TagLogs extends Callback {
  constructor(private readonly tags: Logs) {
    super();
  }
  override async onEpochEnd(_epoch: number, logs: Logs): Promise<void> {
    Object.assign(logs, this.tags);
  }
}

/** The library's InvalidInputError about a setting, as a usage error naming the flag. */
function flagError(e: unknown): never {
  if (!(e instanceof InvalidInputError)) throw e;
  const names: Record<string, string> = {
    learningRate: 'lr',
    lrDecay: 'lr-decay',
    testSplit: 'test-split',
    output: 'output-activation',
    level: 'tokens',
  };
  throw new UsageError(
    e.message.replace(
      /^(\w+)/,
      (f) => `--${(names[f] ?? f).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
    ),
  );
}

/**
 * The prepared splits of a run: texts, encoded sequences, and class indices (single-label) or the [N × labels] 0/1
 * targets (multi-label; `labels` is then empty).
 */
export interface Split {
  texts: string[];
  labels: Int32Array;
  targets: Uint8Array | null;
  sequences: Int32Array[];
}

export function prepare(
  data: LabelledTexts,
  classes: readonly string[],
  tokenizer: Tokenizer,
  s: Pick<ClassifierSettings, 'maxLength' | 'truncating' | 'multiLabel'>,
): Split {
  return {
    texts: data.texts,
    labels: s.multiLabel ? new Int32Array(0) : encodeLabels(data, classes),
    targets: s.multiLabel ? encodeLabelSets(data, classes) : null,
    sequences: data.texts.map((t) => tokenizer.encode(t, s.maxLength, s.truncating)),
  };
}

/** The strata a split is stratified by: the class, or for multi-label data the first label (see firstLabelStrata). */
function strataOf(
  data: LabelledTexts,
  classes: readonly string[],
  multiLabel: boolean,
): { strata: Int32Array; count: number } {
  if (!multiLabel) return { strata: encodeLabels(data, classes), count: classes.length };
  return {
    strata: firstLabelStrata(encodeLabelSets(data, classes), classes.length),
    count: classes.length + 1,
  };
}

/** The multi-label evaluation table: the headline metrics next to the baselines, then per-label figures. */
export function multiLabelTable(
  r: MultiLabelEvaluationReport,
  labels: readonly string[],
  title: string,
): string {
  const lines: string[] = [title];
  const row = tableRow;
  const w = [16, 10, 10, 10, 10];
  lines.push(row(['', 'micro-F1', 'macro-F1', 'exact', 'Hamming'], w));
  const line = (name: string, m: MultiLabelBaselineLike): string =>
    row(
      [name, m.micro_f1.toFixed(4), m.macro_f1.toFixed(4), pct(m.subset_accuracy), m.hamming_loss.toFixed(4)],
      w,
    );
  lines.push(line('network', r));
  if (r.baselines) {
    lines.push(line('naive Bayes 1vR', r.baselines.naive_bayes));
    lines.push(line('frequent labels', r.baselines.frequent_labels));
  } else lines.push('(baselines skipped: the training data is not available)');
  lines.push(
    `labels predicted at probability ≥ ${r.threshold}; exact = subset accuracy (the whole label set right)`,
  );
  lines.push('');
  // Every label counts in the multi-label macro-F1, so every one may be among the lowest.
  lines.push(...perClassLines(labels, r.per_label, 'label', () => true));
  return lines.join('\n');
}

type MultiLabelBaselineLike = Pick<
  MultiLabelEvaluationReport,
  'micro_f1' | 'macro_f1' | 'subset_accuracy' | 'hamming_loss'
>;

/**
 * The columns a model's data was read with, as flags find them again: a column whose name another shares by its number
 * (as it was given; its name would be refused), others by name.
 */
function recordedColumns(
  text: string | null | undefined,
  textNumber: number | undefined,
  label: string | null | undefined,
  labelNumber: number | undefined,
  labelSeparator: string | null | undefined,
): ColumnChoice {
  const flag = (name: string | null | undefined, n: number | undefined): string | undefined =>
    n !== undefined ? String(n) : name || undefined;
  const textColumn = flag(text, textNumber);
  const labelColumn = flag(label, labelNumber);
  return {
    ...(textColumn !== undefined && { textColumn }),
    ...(labelColumn !== undefined && { labelColumn }),
    ...(labelSeparator ? { labelSeparator } : {}),
  };
}

/** The columns (and label separator) a model's training data was read with. */
export function columnsOf(meta: ClassifierMetadata): ColumnChoice {
  const d = meta.data;
  return recordedColumns(
    d.textColumn,
    d.textColumnNumber,
    d.labelColumn,
    d.labelColumnNumber,
    d.labelSeparator,
  );
}

/**
 * The columns a model's --test file was read with when it was trained (its own, guessed or given), or null for a
 * model from before they were recorded.
 */
export function testColumnsOf(meta: ClassifierMetadata): ColumnChoice | null {
  const d = meta.data;
  if (d.testTextColumn === undefined && d.testLabelColumn === undefined) return null;
  return recordedColumns(
    d.testTextColumn,
    d.testTextColumnNumber,
    d.testLabelColumn,
    d.testLabelColumnNumber,
    d.labelSeparator,
  );
}

const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;

/**
 * Up to this many classes, the evaluation table lists every class and the whole confusion matrix; beyond it (a
 * 300-class matrix is a megabyte of digits) it lists the classes with the lowest F1 and the most frequent confusions,
 * and --json still has everything.
 */
export const FULL_TABLE_MAX_CLASSES = 20;
/** The widest confusion matrix (characters) printed with the class names as column headers. */
const MATRIX_MAX_WIDTH = 120;
/** Classes (or labels) and confusions listed when there are more than FULL_TABLE_MAX_CLASSES. */
export const WORST_CLASSES_SHOWN = 10;

/** Fixed-width rows: the first cell left-aligned, the others right-aligned. */
function tableRow(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
}

/**
 * The per-class (per-label) figures: every name up to FULL_TABLE_MAX_CLASSES, else the WORST_CLASSES_SHOWN lowest
 * F1s (ties: the larger support first) among the names that occur (`occurs`), under a line saying so.
 */
function perClassLines(
  names: readonly string[],
  figures: Readonly<Record<string, ClassMetrics>>,
  heading: string,
  occurs: (name: string, k: number) => boolean,
): string[] {
  const lines: string[] = [];
  let shown = names;
  if (names.length > FULL_TABLE_MAX_CLASSES) {
    const present = names.filter((c, k) => occurs(c, k));
    shown = [...present]
      .sort((a, b) => figures[a].f1 - figures[b].f1 || figures[b].support - figures[a].support)
      .slice(0, WORST_CLASSES_SHOWN);
    const absent = names.length - present.length;
    lines.push(
      `the ${shown.length} ${heading === 'label' ? 'labels' : 'classes'} with the lowest F1 of ${names.length}` +
        (absent > 0 ? ` (${absent} neither in the data nor predicted are left out)` : '') +
        '; --json lists every one',
    );
  }
  const cw = Math.max(9, ...shown.map((c) => c.length + 1));
  lines.push(tableRow([heading, 'precision', 'recall', 'F1', 'support'], [cw, 10, 8, 8, 8]));
  for (const c of shown) {
    const m = figures[c];
    lines.push(
      tableRow(
        [c, m.precision.toFixed(4), m.recall.toFixed(4), m.f1.toFixed(4), String(m.support)],
        [cw, 10, 8, 8, 8],
      ),
    );
  }
  return lines;
}

/**
 * The confusion matrix up to FULL_TABLE_MAX_CLASSES classes, else the WORST_CLASSES_SHOWN largest off-diagonal
 * cells (ties: in class order), each with its share of the true class's texts.
 */
function confusionLines(confusion: readonly (readonly number[])[], classes: readonly string[]): string[] {
  if (classes.length <= FULL_TABLE_MAX_CLASSES) {
    const cw = Math.max(9, ...classes.map((c) => c.length + 1));
    const nw = Math.max(...confusion.flat().map((n) => String(n).length));
    // Columns as wide as the row names, else each as wide as its name or the counts (short names, as numbered
    // labels are, fit so), else numbered.
    for (const widths of [classes.map(() => cw), classes.map((c) => Math.max(c.length, nw))])
      if (cw + widths.reduce((sum, w) => sum + w + 2, 0) <= MATRIX_MAX_WIDTH)
        return [
          'confusion (rows: true, columns: predicted)',
          tableRow(['', ...classes], [cw, ...widths]),
          ...confusion.map((cells, k) => tableRow([classes[k], ...cells.map(String)], [cw, ...widths])),
        ];
    // Long names would make each row several terminal lines: the columns are numbered as the rows are, with a '#'
    // that a class named by a number ('2') cannot be read as.
    const rows = classes.map((c, k) => `#${k + 1} ${c}`);
    const rw = Math.max(...rows.map((r) => r.length));
    const numbered = Math.max(3, nw, String(classes.length).length + 1);
    return [
      'confusion (rows: true, columns: predicted, numbered as the rows)',
      tableRow(['', ...classes.map((_, k) => `#${k + 1}`)], [rw, ...classes.map(() => numbered)]),
      ...confusion.map((cells, k) =>
        tableRow([rows[k], ...cells.map(String)], [rw, ...classes.map(() => numbered)]),
      ),
    ];
  }
  const cells: { t: number; p: number; n: number }[] = [];
  confusion.forEach((row, t) => row.forEach((n, p) => n > 0 && p !== t && cells.push({ t, p, n })));
  cells.sort((a, b) => b.n - a.n || a.t - b.t || a.p - b.p);
  const top = cells.slice(0, WORST_CLASSES_SHOWN);
  const wrong = cells.reduce((sum, c) => sum + c.n, 0);
  if (top.length === 0) return [`no confusions (${classes.length} classes; --json has the matrix)`];
  const tw = Math.max(4, ...top.map((c) => classes[c.t].length));
  const pw = Math.max(9, ...top.map((c) => classes[c.p].length));
  const line = (t: string, p: string, n: string, share: string): string =>
    `${t.padEnd(tw)}  ${p.padEnd(pw)}  ${n.padStart(6)}  ${share.padStart(7)}`;
  return [
    `the ${top.length} most frequent confusions (of ${cells.length} true/predicted pairs, ${wrong} wrong texts; ` +
      `--json has the matrix of ${classes.length} classes)`,
    line('true', 'predicted', 'texts', 'of true'),
    ...top.map(({ t, p, n }) =>
      line(classes[t], classes[p], String(n), pct(n / confusion[t].reduce((x, y) => x + y, 0))),
    ),
  ];
}

/** The evaluation table: metrics and the baselines side by side, per-class figures, and the confusions. */
export function reportTable(r: EvaluationReport, classes: readonly string[], title: string): string {
  const lines: string[] = [title];
  const w = [14, 10, 10];
  lines.push(tableRow(['', 'accuracy', 'macro-F1'], w));
  lines.push(tableRow(['network', pct(r.accuracy), r.macro_f1.toFixed(4)], w));
  if (r.baselines) {
    lines.push(
      tableRow(
        ['naive Bayes', pct(r.baselines.naive_bayes.accuracy), r.baselines.naive_bayes.macro_f1.toFixed(4)],
        w,
      ),
    );
    lines.push(
      tableRow(['majority', pct(r.baselines.majority.accuracy), r.baselines.majority.macro_f1.toFixed(4)], w),
    );
  } else lines.push('(baselines skipped: the training data is not available)');
  if (r.auc !== null) lines.push(`ROC-AUC (${classes[1]}): ${r.auc.toFixed(4)}`);
  lines.push('');
  // A class occurs when it has true texts or predictions (those macro-F1 averages over).
  const occurs = (_c: string, k: number): boolean =>
    r.per_class[classes[k]].support > 0 || r.confusion.some((row) => row[k] > 0);
  lines.push(...perClassLines(classes, r.per_class, 'class', occurs));
  lines.push('');
  lines.push(...confusionLines(r.confusion, classes));
  return lines.join('\n');
}

/** Results go to stdout (progress and notes to stderr), unless --json (JSON only) or, where allowed, --quiet. */
function print(text: string): void {
  process.stdout.write(text + '\n');
}

/**
 * A loaded classifier directory: one model, or a seed ensemble's members (`model` then lists them). Its loader's notes
 * go to `out` as the text commands say theirs.
 */
function loadClassifier(
  dir: string,
  out: Output,
): {
  model: ClassifierModels;
  meta: ClassifierMetadata;
  tokenizer: Tokenizer;
  loaded: LoadedClassifier;
} {
  const c = loadClassifierDir(dir);
  for (const n of c.notes) out.note(n);
  return { model: c.models, meta: c.meta, tokenizer: c.tokenizer, loaded: c };
}

/** The training data a model's metadata names, checked against its fingerprint; null (with why) when unavailable. */
export function trainingDataOf(meta: ClassifierMetadata): { data: LoadedTexts | null; why: string } {
  const d = meta.data;
  let data: LoadedTexts;
  try {
    data = loadSource(d.source === SPAM_ASSASSIN ? undefined : d.source, columnsOf(meta));
  } catch (e) {
    return { data: null, why: `${d.source} cannot be read (${(e as Error).message})` };
  }
  if (fingerprintOf(data) !== d.fingerprint)
    return { data: null, why: `${d.source} has changed since the model was trained` };
  return { data, why: '' };
}

/** The train / validation / test split of a model's training data, as train made it. */
export function splitOf(
  meta: ClassifierMetadata,
  data: LabelledTexts,
): { train: LabelledTexts; validation: LabelledTexts; test: LabelledTexts } {
  const s = meta.settings;
  const { strata, count } = strataOf(data, meta.classes, s.multiLabel);
  const idx = stratifiedSplit(strata, count, { validation: s.validationSplit, test: s.testSplit }, s.seed);
  return {
    train: subset(data, idx.train),
    validation: subset(data, idx.validation),
    test: subset(data, idx.test),
  };
}

/**
 * One member of a seed ensemble being trained (src/cli/classify_ensemble.ts): where it goes, its seed (initial
 * weights, batch order, dropout; the split keeps the run's --seed), and what the members of one run share.
 */
export interface EnsembleMemberRun {
  /** 1-based. */
  index: number;
  count: number;
  seed: number;
  dir: string;
  budget: TrainingBudget;
  batchCounter: { n: number };
  /**
   * The flags of a --resume command that found no member checkpoint: checked against the settings the first
   * command's flags give, as a checkpoint's settings are checked.
   */
  resumeFlags?: ClassifyTrainOptions;
  /** The text normalisation of the members already trained (a resumed ensemble's), which a new member takes. */
  normalization?: 'none' | 'NFC';
}

/** How a member's training ended: finished, stopped by the time budget (with its best model so far), or an exit code. */
export type MemberOutcome = 'finished' | 'budget' | number;

/** Whether a checkpoint's training state is that of a finished run (all epochs, or early stopping fired). */
export function finishedState(state: ClassifierTrainingState, s: ClassifierSettings): boolean {
  if (state.batch > 0) return false;
  return (
    state.epoch >= s.epochs || (s.patience > 0 && state.epoch >= 2 && state.earlyStopping.wait >= s.patience)
  );
}

export async function classifyTrain(
  file: string | undefined,
  o: ClassifyTrainOptions,
  out: Output,
): Promise<number> {
  const outDir = o.out ?? join('runs', dataName(file));
  // (An --overwrite run's ensemble not yet in place of the old model is resumed too.)
  const stagedEnsemble = existsSync(join(outDir, NEXT_ENSEMBLE_FILE));
  // (A single run replacing an ensemble has a checkpoint of its own beside it, until its first save switches.)
  const singleReplacing = isModelDir(join(outDir, CHECKPOINT_DIR));
  if ((o.ensemble ?? 1) > 1 || (o.resume && (isEnsembleDir(outDir) || stagedEnsemble) && !singleReplacing))
    return classifyTrainEnsemble(file, o, out);
  const r = await trainClassifier(file, o, out);
  return typeof r === 'number' ? r : 0;
}

/** A --class-weight spec as the flag spells it. */
function classWeightText(spec: ClassWeightSpec | undefined): string | undefined {
  if (spec === undefined) return undefined;
  if (spec === null) return 'none';
  if (spec === 'balanced') return spec;
  // Names the pairs cannot spell are shown as the JSON object the flag also takes.
  if (Object.keys(spec).some((k) => /[,=]|^\s|\s$|^[{@]/.test(k))) return JSON.stringify(spec);
  return Object.entries(spec)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}

/**
 * A resumed classifier (or ensemble member) keeps the checkpoint's settings and, given `data`, how it read its data:
 * a flag that differs is bad usage.
 */
export function checkResumedClassifierFlags(
  o: ClassifyTrainOptions,
  saved: ClassifierSettings,
  data?: ClassifierData,
): void {
  if (data) {
    const shown = (name: string | null, number: number | undefined): string =>
      name === null ? 'no named column' : number === undefined ? name : `'${name}' (column ${number})`;
    // A column given by number (or a name in another case) is compared as the column it picks in the data: the run
    // reads the column it recorded (by number when another has its name), so another one given would be ignored.
    const column = (
      c: string | undefined,
      recorded: string | null,
      number: number | undefined,
    ): string | undefined => {
      if (c === undefined || recorded === null) return c;
      const picked = pickedColumn(data.source, c);
      if (picked === null) return c;
      if (picked.name === recorded && (number === undefined || picked.number === number))
        return shown(recorded, number);
      // A JSON Lines field has no number: it is a field, not a column.
      return picked.name === c
        ? c
        : `${c} (${picked.number === undefined ? 'field' : 'column'} '${picked.name}')`;
    };
    refuseChangedFlags([
      [
        '--text-column',
        column(o.textColumn, data.textColumn, data.textColumnNumber),
        shown(data.textColumn, data.textColumnNumber),
      ],
      [
        '--label-column',
        column(o.labelColumn, data.labelColumn, data.labelColumnNumber),
        shown(data.labelColumn, data.labelColumnNumber),
      ],
      [
        '--label-separator',
        o.labelSeparator,
        data.labelSeparator ?? 'one label per text (not --multi-label)',
      ],
      [
        '--test',
        o.test !== undefined ? resolve(o.test) : undefined,
        data.testSource ?? 'a test split of its data',
      ],
    ]);
  }
  refuseChangedFlags([
    ['--multi-label', o.multiLabel || undefined, saved.multiLabel],
    ['--class-weight', classWeightText(o.classWeight), classWeightText(saved.classWeight ?? null)],
    ['--tokens', o.level, saved.tokenizer.level],
    ['--no-lowercase', givenIfOff(o.lowercase), saved.tokenizer.lowercase],
    ['--punctuation', o.punctuation, saved.tokenizer.punctuation],
    ['--max-vocab', o.maxVocab, saved.tokenizer.maxVocab ?? 'no cap'],
    ['--min-count', o.minCount, saved.tokenizer.minCount],
    ['--max-length', o.maxLength, saved.maxLength],
    ['--truncating', o.truncating, saved.truncating],
    ['--embedding-dim', o.embeddingDim, saved.embeddingDim],
    ['--cell', o.cell, saved.cell],
    ['--units', o.units, saved.units],
    ['--layers', o.layers, saved.layers],
    ['--no-bidirectional', givenIfOff(o.bidirectional), saved.bidirectional],
    ['--dropout', o.dropout, saved.dropout],
    ['--embedding-dropout', o.embeddingDropout, saved.embeddingDropout ?? 'none'],
    ['--pooling', o.pooling, saved.pooling],
    ['--output-activation', o.output, saved.output],
    ['--optimizer', o.optimizer, saved.optimizer],
    ['--lr', o.lr, saved.learningRate],
    ['--lr-decay', o.lrDecay, saved.lrDecay],
    ['--clipnorm', o.clipnorm, saved.clipnorm ?? 'no clipping'],
    ['--batch-size', o.batchSize, saved.batchSize],
    ['--patience', o.patience, saved.patience],
    ['--monitor', o.monitor, saved.monitor],
    ['--validation-split', o.validationSplit, saved.validationSplit],
    ['--test-split', o.testSplit, saved.testSplit],
    ['--seed', o.seed, saved.seed],
  ]);
}

/**
 * Trains one classifier into `o.out` (or, with `member`, into the member's directory), then — a single model — scores
 * it on the test split next to the baselines. Returns the exit code, or for a member how its training ended.
 */
export async function trainClassifier(
  file: string | undefined,
  o: ClassifyTrainOptions,
  out: Output,
  member?: EnsembleMemberRun,
): Promise<MemberOutcome> {
  const outDir = member?.dir ?? o.out ?? join('runs', dataName(file));
  // --overwrite of an ensemble: it stays loadable until this run's first save (then dropReplacedEnsemble).
  const replacingEnsemble =
    !member &&
    ((o.overwrite && isEnsembleDir(outDir)) ||
      (o.resume && (isEnsembleDir(outDir) || hasMembersDirs(outDir))));
  const ckptDir = prepareRunDir(
    outDir,
    { ...o, task: 'classify', keepReplacedModel: true, keepReplacedEnsemble: true, output: out },
    [file, o.test],
  );
  const switchFromEnsemble = (): void => {
    if (replacingEnsemble && isModelDir(outDir)) dropReplacedEnsemble(outDir);
  };

  // Settings, tokenizer and classes: fresh, or exactly as the checkpoint left them.
  let model: Sequential | null = null;
  let meta: ClassifierMetadata | null = null;
  let state: ClassifierTrainingState | null = null;
  if (o.resume) {
    const loaded = loadModel(ckptDir);
    meta = parseClassifierMetadata(loaded.metadata, ckptDir);
    checkClassifierFits(loaded.model, meta, ckptDir);
    state = meta.state ?? null;
    if (!state) throw new Error(`${ckptDir}: the checkpoint has no training state to resume from`);
    refuseFewerEpochs(o.epochs, state, meta.settings.epochs);
    model = loaded.model;
    model.trainRng.setState(state.trainRng);
  }
  // (A resumed run is multi-label or not as its checkpoint says: checkResumedClassifierFlags compares the separator.)
  if (!meta && o.labelSeparator !== undefined && !o.multiLabel)
    throw new UsageError('--label-separator needs --multi-label');
  const columns: ColumnChoice = meta
    ? columnsOf(meta)
    : {
        ...(o.textColumn !== undefined ? { textColumn: o.textColumn } : {}),
        ...(o.labelColumn !== undefined ? { labelColumn: o.labelColumn } : {}),
        ...(o.multiLabel ? { labelSeparator: o.labelSeparator ?? '|' } : {}),
      };
  const source = meta ? (meta.data.source === SPAM_ASSASSIN ? undefined : meta.data.source) : file;
  if (meta && file !== undefined && resolve(file) !== meta.data.source)
    throw new UsageError(`--resume: the checkpoint was trained on ${meta.data.source}, not ${file}`);
  const data = loadSource(source, columns);
  const fingerprint = fingerprintOf(data);
  if (meta && fingerprint !== meta.data.fingerprint)
    throw new UsageError(`--resume: ${meta.data.source} has changed since the checkpoint was saved`);
  const multiLabel = meta ? meta.settings.multiLabel : (o.multiLabel ?? false);
  const labelField = data.labelColumn ? `label column '${data.labelColumn}'` : 'label';
  const classes =
    meta?.classes ?? (multiLabel ? multiLabelsOf(data, labelField) : classesOf(data, labelField));
  let settings: ClassifierSettings;
  if (meta) {
    const saved = meta.settings;
    checkResumedClassifierFlags(o, saved, meta.data);
    settings = { ...saved, ...(o.epochs !== undefined ? { epochs: o.epochs } : {}) };
  } else {
    try {
      settings = classifierSettings(classes.length, overridesOf(o));
    } catch (e) {
      flagError(e);
    }
    if (member?.normalization !== undefined)
      settings = { ...settings, tokenizer: { ...settings.tokenizer, normalization: member.normalization } };
  }
  const stepsPerEpoch = stepsPerEpochOf(o.stepsPerEpoch, state?.stepsPerEpoch);
  const testSource = meta ? meta.data.testSource : o.test !== undefined ? resolve(o.test) : null;

  // The split: stratified by class (multi-label: by first label), seeded; --test replaces the test split.
  const { strata, count: strataCount } = strataOf(data, classes, multiLabel);
  const idx = stratifiedSplit(
    strata,
    strataCount,
    { validation: settings.validationSplit, test: settings.testSplit },
    settings.seed,
  );
  const trainData = subset(data, idx.train);
  const valData = subset(data, idx.validation);
  // Read by the name the user gave (errors name it as typed); the metadata keeps the absolute path.
  const testFile =
    testSource !== null
      ? loadLabelledTexts(
          meta ? testSource : (o.test ?? testSource),
          (meta && testColumnsOf(meta)) ?? columns,
        )
      : null;
  const testData = testFile ?? subset(data, idx.test);
  if (trainData.texts.length === 0 || valData.texts.length === 0) {
    // Each class gives the validation set its share, rounded: none does when every class has too few records — as
    // when an id, a comment or the text itself was taken for the label, every value a class of its own.
    const fewest = fewestForValidation({ validation: settings.validationSplit, test: settings.testSplit });
    const column = data.labelColumn !== null ? ` '${data.labelColumn}'` : '';
    const why = multiLabel
      ? ''
      : ` (each of the ${classes.length} classes has fewer than ${fewest}, the fewest that give --validation-split ` +
        `${settings.validationSplit} one)` +
        (classes.length * 2 > data.texts.length
          ? `; is the label column${column} the one holding the labels? Give --label-column`
          : '');
    throw new UsageError(
      `${data.source}: ${data.texts.length} records are too few to split into training and validation sets${why}`,
    );
  }
  const tokenizer = meta
    ? Tokenizer.fromJSON(meta.tokenizer)
    : Tokenizer.fit(trainData.texts, settings.tokenizer);
  const train = prepare(trainData, classes, tokenizer, settings);
  const val = prepare(valData, classes, tokenizer, settings);
  const test = testData.texts.length > 0 ? prepare(testData, classes, tokenizer, settings) : null;
  const dataInfo: ClassifierData = {
    source: source === undefined ? SPAM_ASSASSIN : resolve(source),
    textColumn: data.textColumn,
    labelColumn: data.labelColumn,
    ...(data.textColumnNumber !== undefined && { textColumnNumber: data.textColumnNumber }),
    ...(data.labelColumnNumber !== undefined && { labelColumnNumber: data.labelColumnNumber }),
    labelSeparator: columns.labelSeparator ?? null,
    testSource,
    ...(testFile && { testTextColumn: testFile.textColumn, testLabelColumn: testFile.labelColumn }),
    ...(testFile?.textColumnNumber !== undefined && { testTextColumnNumber: testFile.textColumnNumber }),
    ...(testFile?.labelColumnNumber !== undefined && { testLabelColumnNumber: testFile.labelColumnNumber }),
    fingerprint,
    records: data.texts.length,
  };
  // An ensemble resumed before any member had a checkpoint: the flags given with --resume against what the stored
  // ones give, the data's columns and --test included (they were ignored).
  if (member?.resumeFlags) checkResumedClassifierFlags(member.resumeFlags, settings, dataInfo);

  // A member's own seed draws its weights, batch order and dropout; the split above used the run's seed.
  const trainSeed = member?.seed ?? settings.seed;
  if (!model) {
    // Before the weights are drawn: a model or batch too big for memory is refused now, not after minutes of init.
    const longest = train.sequences.reduce((m, seq) => Math.max(m, seq.length), 1);
    assertFits(
      estimateClassifierBytes(
        settings,
        tokenizer.size,
        outputUnits(settings, classes.length),
        Math.min(settings.batchSize, train.sequences.length),
        longest,
        o.threads ?? defaultThreads(),
      ),
      `this classifier (${settings.layers}×${settings.bidirectional ? 'bidirectional ' : ''}${settings.cell}(${settings.units}), ` +
        `vocabulary ${tokenizer.size}, batch ${settings.batchSize} of up to ${longest} tokens)`,
      'use fewer --units or --layers, a smaller --embedding-dim, --max-vocab or --batch-size, or a shorter --max-length',
    );
    model = buildClassifier({ ...settings, seed: trainSeed }, tokenizer.size, classes.length);
    compileClassifier(model, settings);
  }
  // A resumed single run keeps its threads unless given (a member gets its ensemble's): after kill -9 there is no
  // "Continue with:" line, and a bare --resume must sum each split batch as the uninterrupted run did.
  const threads = runThreads(o.threads, member ? undefined : state?.threads, out);
  model.threads = threads;

  const sigmoid = settings.output === 'sigmoid';
  const classWeights = (() => {
    try {
      return classWeightsFor(settings.classWeight, classes, train.labels);
    } catch (e) {
      return flagError(e);
    }
  })();
  const bucketing = { batchSize: settings.batchSize, shuffle: true, seed: trainSeed };
  const dataset = train.targets
    ? multiLabelDataset(train.sequences, train.targets, classes.length, bucketing)
    : classifierDataset(train.sequences, train.labels, { ...bucketing, sigmoid, classWeights });
  const monitor = settings.monitor;
  const mode = monitor === 'val_loss' ? 'min' : 'max';
  const history: Record<string, number>[] = state?.history ?? [];
  const metadata = (st?: ClassifierTrainingState): Record<string, unknown> => ({
    ...classifierMetadata(classes, tokenizer, settings, dataInfo, st),
    ...(member ? { ensembleMember: { index: member.index, count: member.count, seed: member.seed } } : {}),
  });
  const best = new ModelCheckpoint({
    filepath: outDir,
    monitor,
    mode,
    saveBestOnly: true,
    saveWeightsOnly: true,
    metadata: () => metadata(),
    onSave: (_p, epoch, logs) =>
      out.info(`Epoch ${epoch + 1}: ${monitor} improved to ${logs[monitor].toFixed(4)}, saved ${outDir}`),
  });
  if (state?.bestMonitored !== null && state?.bestMonitored !== undefined) best.best = state.bestMonitored;
  const early =
    settings.patience > 0 ? new EarlyStopping({ monitor, mode, patience: settings.patience }) : null;
  if (early && state) early.setState(state.earlyStopping);
  const stateNow = (epoch: number, batch: number, at?: EpochProgress): ClassifierTrainingState => ({
    epoch,
    batch,
    trainRng: model.trainRng.getState(),
    bestMonitored: Number.isFinite(best.best) ? best.best : null,
    earlyStopping: early?.getState() ?? { wait: 0, best: null },
    history,
    stepsPerEpoch: stepsPerEpoch ?? null,
    threads,
    ...(at ? { epochProgress: { sums: at.sums, seen: at.seen, epochRng: at.epochRng } } : {}),
  });
  // The error below reports the stop; no second line for it.
  const terminateOnNaN = new TerminateOnNaN({ warn: () => undefined });

  // A resumed run whose checkpoint is already that of a finished one (early stopping fired, or all its epochs): a
  // kill after its last epoch, or a resume of a finished run, trains nothing more — fit would run one more epoch
  // before early stopping looked again. (A member: killed before the ensemble recorded it.)
  const alreadyDone = state !== null && finishedState(state, settings);
  // Said before the interrupt listens: a Ctrl-C in the setup stops the run before its test scores.
  if (alreadyDone && !member) nothingLeftToTrain(true);
  const budget = member?.budget ?? new TrainingBudget(o);
  const interrupt = new TrainingInterrupt(model, out, () => !budget.exhausted);
  const recorder = new EpochRecorder({
    out,
    history,
    interrupt,
    terminateOnNaN,
    startEpoch: state?.epoch ?? 0,
    resumed: o.resume,
    budget,
    checkpoint: (epoch) => {
      saveModel(model, ckptDir, { metadata: metadata(stateNow(epoch + 1, 0)) });
      switchFromEnsemble();
    },
    ...(member ? { batchCounter: member.batchCounter } : {}),
  });
  interrupt.listen();

  makeDirectories(outDir);
  const counts = classes
    .map((c, k) => {
      let n = 0;
      if (train.targets)
        for (let i = 0; i < train.texts.length; i++) n += train.targets[i * classes.length + k];
      else n = train.labels.filter((l) => l === k).length;
      return `${c} ${n}`;
    })
    .join(', ');
  out.info(
    `Training on ${data.source}: ${data.texts.length.toLocaleString('en-US')} texts, ${classes.length} ${multiLabel ? 'labels (multi-label)' : 'classes'}; ` +
      `split ${train.texts.length} / ${val.texts.length} / ${test?.texts.length ?? 0} (train: ${counts}); ` +
      `${tokenizer.options.level} tokens, vocabulary ${tokenizer.size.toLocaleString('en-US')}, up to ${settings.maxLength} per text; ` +
      `${model.threads} thread(s); kernels: ${kernels().name}` +
      (o.resume
        ? `; resuming at epoch ${(state?.epoch ?? 0) + 1}${state?.batch ? `, batch ${state.batch + 1}` : ''}`
        : ''),
  );
  if (!o.resume && (member?.index ?? 1) === 1) model.summary((l) => out.info(l));

  const resumeFrom: EpochProgress | undefined =
    state && state.batch > 0 && state.epochProgress
      ? { epoch: state.epoch, batch: state.batch, ...state.epochProgress }
      : undefined;
  const callbacks: Callback[] = [
    // First: the others read the validation metrics it adds to the epoch's logs.
    val.targets
      ? new MultiLabelValidationMetrics(val.sequences, val.targets, classes.length)
      : new ValidationMetrics(val.sequences, val.labels, classes.length),
    ...(out.progress
      ? [new ProgressBar(process.stderr, member ? `Member ${member.index}/${member.count} · ` : '')]
      : []),
    terminateOnNaN,
    ...(early ? [early] : []),
    // The decayed rate is a function of the epoch alone, so a resumed run trains each epoch at the same rate.
    new LearningRateScheduler((epoch) => learningRateAt(settings, epoch)),
    best,
    // A member's epoch rows (JSON lines, log.csv, the checkpoint's history) say which member they are.
    ...(member ? [new TagLogs({ member: member.index, members: member.count })] : []),
    recorder,
    new CSVLogger(join(outDir, LOG_FILE), o.resume, o.resume ? csvRowsOf(history) : undefined),
  ];
  const started = Date.now();
  const cpuStarted = process.cpuUsage();
  if (alreadyDone && !member)
    out.info(`The run in ${outDir} has finished training; nothing to resume: scoring its best model`);
  if (alreadyDone) restoreLog(outDir, history);
  try {
    if (!alreadyDone) {
      // A Ctrl-C during the setup, which only queues it, is handled now: training stops after its first batch.
      await signalsDelivered();
      await model.fitDataset(dataset, {
        epochs: settings.epochs,
        initialEpoch: state?.epoch ?? 0,
        ...(resumeFrom ? { resumeFrom } : {}),
        ...(stepsPerEpoch !== undefined ? { batchesPerEpoch: stepsPerEpoch } : {}),
        callbacks,
      });
    }
  } finally {
    interrupt.close();
  }
  if (terminateOnNaN.reason !== null)
    throw nonFiniteLossError(recorder.currentEpoch, terminateOnNaN, recorder.checkpointedEpochs, ckptDir);
  const resumeHint = member
    ? continueWith('classify train', undefined, o.out!, { threads })
    : continueWith('classify train', file, outDir, { threads });
  // Whether the run stopped before its last epoch (Ctrl-C returns at once; the time budget goes on to finish).
  let stoppedEarly = false;
  if (model.interruptedAt) {
    const at = model.interruptedAt;
    saveModel(model, ckptDir, {
      metadata: metadata(stateNow(at.epoch, at.batch, at.batch === 0 ? undefined : at)),
    });
    const code = announceStop(out, ckptDir, resumeHint, budget, { epoch: at.epoch, batch: at.batch });
    if (code !== null) return code;
    stoppedEarly = true;
  } else if (
    interrupt.requested &&
    (early === null || early.stoppedEpoch === 0) &&
    history.length < settings.epochs
  ) {
    const code = announceStop(out, ckptDir, resumeHint, budget, {
      epoch: history.length,
      batch: 0,
      endOfEpoch: true,
    });
    if (code !== null) return code;
    stoppedEarly = true;
  }
  if (early && early.stoppedEpoch > 0)
    out.info(`Early stopping: ${monitor} has not improved for ${settings.patience} epochs`);
  // No epoch of this run saved a best model (a stop in the first): the model as it is.
  if (!Number.isFinite(best.best) || !isModelDir(outDir))
    saveUnsavedModel(outDir, history, () =>
      saveModel(model, outDir, { includeOptimizer: false, metadata: metadata() }),
    );
  switchFromEnsemble();
  // A member is scored with the others, as the ensemble (src/cli/classify_ensemble.ts).
  if (member) return stoppedEarly ? 'budget' : 'finished';
  if (await finishedRunInterrupted()) return 130;
  // A Ctrl-C since training ended (the final save is synchronous) stops the command here, the model saved
  // (runSignals), not after the test scores, as seq2seq train does.
  await signalsDelivered();
  const trainSeconds = (Date.now() - started) / 1000;
  // CPU time of the whole process (all threads): what the training cost, however loaded the machine was.
  const cpu = process.cpuUsage(cpuStarted);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;

  // The kept (best) model on the test split, next to the baselines fitted on the same training split.
  if (test && test.targets && train.targets) {
    const bestModel = loadModel(outDir).model;
    const report: MultiLabelEvaluationReport = {
      ...multiLabelNetworkReport(bestModel, classes, test.sequences, test.targets),
      baselines: multiLabelBaselineScores(classes, train.texts, train.targets, test.texts, test.targets),
    };
    if (!o.json && !o.quiet)
      print(
        multiLabelTable(
          report,
          classes,
          `Test set (${test.texts.length} texts${testSource ? `, ${testSource}` : ''}), best model by ${monitor}:`,
        ),
      );
    out.json({ event: 'test', train_seconds: trainSeconds, train_cpu_seconds: cpuSeconds, ...report });
  } else if (test) {
    const bestModel = loadModel(outDir).model;
    const report: EvaluationReport = {
      ...networkReport(bestModel, classes, test.sequences, test.labels),
      baselines: baselineScores(train.texts, train.labels, test.texts, test.labels, classes.length),
    };
    if (!o.json && !o.quiet)
      print(
        reportTable(
          report,
          classes,
          `Test set (${test.labels.length} texts${testSource ? `, ${testSource}` : ''}), best model by ${monitor}:`,
        ),
      );
    out.json({ event: 'test', train_seconds: trainSeconds, train_cpu_seconds: cpuSeconds, ...report });
  }
  out.info(
    `Done in ${trainSeconds.toFixed(0)} s. Model: ${outDir}. Classify with: recur classify predict ${outDir} "some text"`,
  );
  return 0;
}

export interface ClassifyEvalOptions extends Omit<ColumnChoice, 'labelSeparator'> {
  batchSize: number;
  /** Multi-label models: the probability at or above which a label is predicted (default 0.5). */
  threshold?: number;
  /** Score only the first n texts (of DATA or of the test split). */
  limit?: number;
  json?: boolean;
  /** Worker threads (default all cores); the texts' batches are split over them, with the one-thread scores. */
  threads?: number;
}

/**
 * The network's class probabilities [texts × classes] for `texts` (`sequences`: as the model reads them), on a worker
 * pool holding the model in `dir` (null: never) when the batches are worth one (classify predict's rule, and its numbers: the pool computes the one-thread
 * batches), else here. When `show`, on a terminal, for more than one batch: a bar over the texts (done, ETA, texts/s),
 * this thread then working in runs of a few whole batches of the one-thread call's length order — the same batches,
 * the same numbers — between which the bar draws and a Ctrl-C can end the run.
 */
async function probabilitiesWithProgress(
  dir: string | null,
  model: ClassifierModels,
  classes: readonly string[],
  texts: readonly string[],
  sequences: readonly Int32Array[],
  o: { batchSize: number; threads?: number | undefined },
  show: boolean,
  label = '',
): Promise<Float32Array> {
  const K = classes.length;
  const progress = new CountProgress(
    texts.length,
    'texts',
    process.stderr,
    show && texts.length > o.batchSize && process.stderr.isTTY === true,
    label,
  );
  try {
    const work = {
      threads: o.threads ?? defaultThreads(),
      items: texts.length,
      batchSize: o.batchSize,
      ...(o.threads === undefined ? { minBatchesPerWorker: PREDICT_POOL_MIN_BATCHES } : {}),
    };
    const pooled =
      dir === null
        ? null
        : await withInferencePool(dir, 'classify', work, (pool, m) =>
            pool.classify(m, texts, o.batchSize, progress.shown ? (n) => progress.add(n) : undefined),
          );
    const p = new Float32Array(texts.length * K);
    if (pooled) {
      pooled.forEach((r, i) => classes.forEach((c, k) => (p[i * K + k] = r.probabilities[c])));
      return p;
    }
    if (!progress.shown) return ensembleProbabilities(model, sequences, K, o.batchSize);
    const order = Array.from(sequences, (_, i) => i).sort(
      (a, b) => sequences[a].length - sequences[b].length || a - b,
    );
    const runRows = o.batchSize * DECODE_RUN_BATCHES;
    for (let from = 0; from < order.length; from += runRows) {
      const rows = order.slice(from, from + runRows);
      const part = ensembleProbabilities(
        model,
        rows.map((r) => sequences[r]),
        K,
        o.batchSize,
      );
      rows.forEach((r, i) => p.set(part.subarray(i * K, (i + 1) * K), r * K));
      progress.add(rows.length);
      await yieldToSignals();
    }
    return p;
  } finally {
    progress.stop();
  }
}

/** `recur classify eval DIR [DATA]`: the model on DATA (default: its test split), next to the baselines. */
export async function classifyEval(
  dir: string,
  file: string | undefined,
  o: ClassifyEvalOptions,
  out: Output,
): Promise<number> {
  const { model, meta, tokenizer, loaded } = loadClassifier(dir, out);
  const classes = meta.classes;
  const { data: source, why } = trainingDataOf(meta);
  const ensemble = Array.isArray(model);
  const multiLabel = meta.settings.multiLabel;
  if (o.threshold !== undefined && !multiLabel)
    throw new UsageError(`${dir}: --threshold applies to multi-label classifiers; this one is single-label`);
  const columns: ColumnChoice = {
    ...(o.textColumn !== undefined ? { textColumn: o.textColumn } : {}),
    ...(o.labelColumn !== undefined ? { labelColumn: o.labelColumn } : {}),
    ...(meta.data.labelSeparator ? { labelSeparator: meta.data.labelSeparator } : {}),
  };
  let evalData: LabelledTexts;
  let what: string;
  if (file !== undefined) {
    evalData = loadLabelledTexts(file, columns);
    what = file;
  } else if (meta.data.testSource !== null) {
    // The --test file train scored, read as train read it unless other columns are given.
    evalData = loadLabelledTexts(meta.data.testSource, { ...testColumnsOf(meta), ...columns });
    what = meta.data.testSource;
  } else {
    // The split is drawn from the training data read as train read it: a column flag would not change it.
    const flag =
      o.textColumn !== undefined ? '--text-column' : o.labelColumn !== undefined ? '--label-column' : null;
    if (flag)
      throw new UsageError(
        `${flag} applies to DATA; the test split of ${meta.data.source} is read with the columns the model was trained on`,
      );
    if (!source)
      throw new UsageError(`${dir}: give DATA to evaluate on: ${why}, so its test split cannot be rebuilt`);
    if (meta.settings.testSplit === 0)
      throw new UsageError(`${dir}: the model was trained without a test split; give DATA`);
    evalData = splitOf(meta, source).test;
    what = `the test split of ${meta.data.source}`;
  }
  if (o.limit !== undefined && o.limit < evalData.texts.length)
    evalData = subset(
      evalData,
      Array.from({ length: o.limit }, (_, i) => i),
    );
  const s = prepare(evalData, classes, tokenizer, meta.settings);
  const p = await probabilitiesWithProgress(dir, model, classes, s.texts, s.sequences, o, out.progress);
  // An ensemble's members are then scored alone, each as long as the ensemble's pass: a bar each.
  const memberBar = (member: Sequential, i: number, of: number): Promise<Float32Array> =>
    probabilitiesWithProgress(
      null,
      member,
      classes,
      s.texts,
      s.sequences,
      o,
      out.progress,
      ` member ${i + 1}/${of}`,
    );
  if (s.targets) {
    const threshold = o.threshold ?? DEFAULT_THRESHOLD;
    let mlBaselines: MultiLabelEvaluationReport['baselines'] = null;
    if (source) {
      const trainSplit = splitOf(meta, source).train;
      mlBaselines = multiLabelBaselineScores(
        classes,
        trainSplit.texts,
        encodeLabelSets(trainSplit, classes),
        s.texts,
        s.targets,
      );
    } else out.note(`baselines skipped: ${why}`);
    const report: MultiLabelEvaluationReport = {
      ...multiLabelProbabilityReport(classes, s.targets, p, threshold),
      baselines: mlBaselines,
    };
    const members = ensemble
      ? await memberFigures(loaded, s.sequences, { targets: s.targets }, threshold, o.batchSize, memberBar)
      : undefined;
    if (o.json) out.json({ ...report, ...(members && { members }) });
    else {
      print(multiLabelTable(report, classes, `${what}: ${s.texts.length} texts`));
      if (members) print(memberTable(members));
    }
    return 0;
  }
  let baselines: EvaluationReport['baselines'] = null;
  if (source) {
    const trainSplit = splitOf(meta, source).train;
    baselines = baselineScores(
      trainSplit.texts,
      encodeLabels(trainSplit, classes),
      s.texts,
      s.labels,
      classes.length,
    );
  } else out.note(`baselines skipped: ${why}`);
  const report: EvaluationReport = {
    ...probabilityReport(classes, s.labels, p),
    baselines,
  };
  const members = ensemble
    ? await memberFigures(loaded, s.sequences, { labels: s.labels }, 0.5, o.batchSize, memberBar)
    : undefined;
  if (o.json) out.json({ ...report, ...(members && { members }) });
  else {
    print(reportTable(report, classes, `${what}: ${s.labels.length} texts`));
    if (members) print(memberTable(members));
  }
  return 0;
}

export interface ClassifyPredictOptions {
  input?: string;
  /** Multi-label models: the probability at or above which a label is printed (default 0.5). */
  threshold?: number;
  textColumn?: string;
  batchSize: number;
  json?: boolean;
  /** No progress bar. */
  quiet?: boolean;
  /** Worker threads (default all cores); the texts' batches are split over them, with the one-thread answers. */
  threads?: number;
}

/**
 * Batches of texts each worker must have when the user gave no --threads: below ≈ 2,500 texts the pool's start-up and
 * model loads cost more than the second core saves (2,000 texts: 1.28–1.31 s on two threads, 1.15–1.16 s on one;
 * BENCHMARKS.md, "`classify predict` gets the same rule").
 */
export const PREDICT_POOL_MIN_BATCHES = 10;

/** `recur classify predict DIR [TEXT...]`: label and probability per text (arguments, --input CSV, or stdin lines). */
export async function classifyPredict(
  dir: string,
  texts: string[],
  o: ClassifyPredictOptions,
  out: Output,
): Promise<number> {
  const { model, meta, tokenizer } = loadClassifier(dir, out);
  const multiLabel = meta.settings.multiLabel;
  if (o.threshold !== undefined && !multiLabel)
    throw new UsageError(`${dir}: --threshold applies to multi-label classifiers; this one is single-label`);
  const threshold = o.threshold ?? DEFAULT_THRESHOLD;
  // An argument has no line to keep in step with: a blank one is a mistake. Stdin is answered line for line, a
  // blank line with an empty one (nothing to classify).
  texts.forEach((t, i) => {
    if (isBlankText(t))
      throw new UsageError(
        `text ${i + 1} is ${t === '' ? 'empty' : 'blank (only whitespace or invisible characters)'}; give a text to classify`,
      );
  });
  if (o.textColumn !== undefined && o.input === undefined)
    throw new UsageError(
      '--text-column names the column of the texts in --input FILE; give --input, or leave it out',
    );
  let lines: string[];
  if (o.input !== undefined) {
    if (texts.length > 0) throw new UsageError('give texts as arguments or --input, not both');
    lines = loadTextColumn(o.input, o.textColumn);
    // A header and no rows: nothing to classify, named as the file's (stdin's emptiness is readStdinLines's).
    if (lines.length === 0) throw new UsageError(`${o.input} holds no texts to classify (no rows)`);
  } else
    lines =
      texts.length > 0
        ? texts
        : readStdinLines({
            expected: 'give the texts to classify as arguments, --input FILE, or one per line',
          });
  const inputs = lines.filter((l) => !isBlankText(l));
  const sequences = inputs.map((t) => tokenizer.encode(t, meta.settings.maxLength, meta.settings.truncating));
  const results =
    inputs.length === 0
      ? []
      : classificationsOf(
          meta,
          inputs,
          await probabilitiesWithProgress(
            dir,
            model,
            meta.classes,
            inputs,
            sequences,
            o,
            o.quiet !== true && o.json !== true,
          ),
        );
  const sep = meta.data.labelSeparator ?? '|';
  const printed = stdoutChunks(OUTPUT_CHUNK_CHARS, Infinity);
  let next = 0;
  for (const line of lines) {
    if (isBlankText(line)) {
      printed.add(o.json ? JSON.stringify({ text: line, blank: true }) + '\n' : '\n');
      continue;
    }
    const r = results[next++];
    const oneLine = r.text.replace(/\s+/g, ' ').slice(0, 100);
    if (multiLabel) {
      // The threshold is applied here, on the probabilities, so the worker pool's answers need no threshold.
      const labels = labelsAtThreshold(r.probabilities, threshold);
      if (o.json) printed.add(JSON.stringify({ ...r, labels, threshold }) + '\n');
      else
        printed.add(
          `${labels.length > 0 ? labels.join(sep) : '(none)'}\t${labels.map((l) => r.probabilities[l].toFixed(4)).join(sep) || '-'}\t${oneLine}\n`,
        );
    } else if (o.json) printed.add(JSON.stringify({ ...r }) + '\n');
    else printed.add(`${r.label}\t${r.probability.toFixed(4)}\t${oneLine}\n`);
  }
  printed.flush();
  return 0;
}
