/**
 * The training loop both model kinds share (Sequential.fitDataset and Functional.fitDataset, and through them fit):
 * epochs and batches, callbacks, running sums for the epoch logs, Ctrl-C-style stops, and exact resume of an
 * interrupted epoch (`interruptedAt` / `resumeFrom`). What differs between the kinds — checking a batch, one training
 * step (on this thread or the worker pool), validation, carried states — comes in as FitLoopSteps.
 */
import { InvalidInputError, describeValue } from '../core/errors.js';
import type { Random } from '../core/random.js';
import {
  Callback,
  History,
  LambdaCallback,
  TerminateOnNaN,
  type CallbackModel,
  type LambdaCallbackArgs,
  type Logs,
} from './callbacks.js';
import type { Layer } from '../layers/layer.js';
import { carriesState, type CarriedStates } from './pool_model.js';

/** Options of evaluateDataset (Sequential and functional models). */
export interface EvaluateDatasetOptions {
  /** Score at most this many batches. */
  maxBatches?: number;
  /** Called after each batch with its logs and its rows (`size`): for a progress display. */
  onBatchEnd?: (batch: number, logs: Logs) => void;
}

/**
 * How far an epoch got: the state an interrupted fit needs to continue exactly. Plain numbers, so it can be stored as
 * JSON in a checkpoint — all but a stateful model's `states`, which are tensors.
 */
export interface EpochProgress {
  /** The epoch (0-based). */
  epoch: number;
  /** Batches of the epoch already trained on. */
  batch: number;
  /** Running sums of the per-batch logs (loss and every metric), each weighted by its batch's sample count. */
  sums: Logs;
  /** Samples behind `sums`: the divisor of every one of them. */
  seen: number;
  /** `trainRng`'s state when the epoch began (before the dataset shuffled), to replay the epoch's random draws. */
  epochRng: number[];
  /**
   * What the stateful layers carried at the interruption (each stream's recurrent state), restored before the next
   * batch; absent for a model without carried state. Tensors, not JSON: recur's CLI keeps them in a file of their own
   * beside the checkpoint (src/node/carried_states.ts).
   */
  states?: CarriedStates;
}

/** Refuses an EpochProgress that cannot be a real one (e.g. a hand-edited checkpoint). */
export function checkEpochProgress(p: EpochProgress, initialEpoch: number | undefined): void {
  const bad = (what: string): never => {
    throw new Error(`fit: resumeFrom.${what}`);
  };
  if (!Number.isInteger(p.epoch) || p.epoch < 0) bad(`epoch must be a non-negative integer, got ${p.epoch}`);
  if (initialEpoch !== undefined && initialEpoch !== p.epoch)
    bad(`epoch (${p.epoch}) contradicts initialEpoch (${initialEpoch}); pass one of them`);
  if (!Number.isInteger(p.batch) || p.batch < 0) bad(`batch must be a non-negative integer, got ${p.batch}`);
  if (!(Number.isFinite(p.seen) && p.seen >= 0)) bad(`seen must be a non-negative number, got ${p.seen}`);
  if ((p.batch === 0) !== (p.seen === 0)) bad(`seen (${p.seen}) does not fit batch (${p.batch})`);
  for (const [k, v] of Object.entries(p.sums))
    if (typeof v !== 'number' || Number.isNaN(v)) bad(`sums.${k} must be a number, got ${String(v)}`);
  if (!Array.isArray(p.epochRng) || p.epochRng.length !== 4)
    bad('epochRng must hold the 4 words of a Random state');
}

/** What the loop needs of a model besides its steps. */
export interface FitLoopModel extends CallbackModel {
  stopTraining: boolean;
  interruptedAt: EpochProgress | null;
  /** One draw per training step (its dropout seed): a resumed epoch replays one per skipped batch. */
  readonly trainRng: Random;
}

/** A source of batches, called once per epoch. */
export interface FitLoopDataset<B> {
  batches(epoch: number): Iterable<B> | AsyncIterable<B>;
  readonly batchesPerEpoch?: number;
  readonly samplesPerEpoch?: number;
}

export interface FitLoopArgs {
  epochs: number;
  initialEpoch: number;
  /** Already checked (checkEpochProgress and, for states, the model's own check). */
  resumeFrom: EpochProgress | null;
  callbacks?: Callback[] | LambdaCallbackArgs;
  verbose?: number;
  /** Reported to callbacks. */
  batchSize: number | null;
  /** Stop each epoch after this many batches. */
  batchesPerEpoch?: number;
}

/** The model-specific parts of the loop. */
export interface FitLoopSteps<B> {
  /** Prefix of the loop's errors (e.g. 'fit'). */
  what: string;
  /** Checks batch `index` and returns its rows and how to train on it (one trainRng draw, optimizer step). */
  prepare(batch: B, index: number): { size: number; train: () => Logs | Promise<Logs> };
  /** The validation logs after an epoch (without the val_ prefix), or null for none. */
  validate: (() => Logs | Promise<Logs>) | null;
  /** What the layers carry into the next batch, for a model with carried states. */
  getStates?: () => Promise<CarriedStates>;
  /** Restores carried states before the first batch a resumed epoch trains on. */
  setStates?: (states: CarriedStates) => Promise<void>;
}

/** Gives the event loop a turn, so signals (Ctrl-C) and timers run during long fits. */
function tick(): Promise<void> {
  return new Promise((resolve) =>
    typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0),
  );
}

/** The options every fit and fitDataset takes. */
const FIT_BASE_OPTIONS = [
  'epochs',
  'initialEpoch',
  'callbacks',
  'verbose',
  'resumeFrom',
  'threads',
  'batchSize',
];
/** fit's options (Sequential and Functional). */
export const FIT_OPTIONS = [...FIT_BASE_OPTIONS, 'shuffle', 'validationSplit', 'validationData'] as const;
/** fitDataset's options (Functional's take no batchesPerEpoch). */
export const FIT_DATASET_OPTIONS = [...FIT_BASE_OPTIONS, 'validationData', 'batchesPerEpoch'] as const;

/**
 * A misspelt fit option would train with its default without a word: it is refused, as layers and optimizers refuse
 * theirs (`where`: 'fit', 'fitDataset').
 */
export function checkFitOptions(args: object, known: readonly string[], where: string): void {
  for (const k of Object.keys(args))
    if (!known.includes(k))
      throw new InvalidInputError(`${where}: unknown option '${k}' (it takes ${known.join(', ')})`);
  const { epochs, initialEpoch } = args as { epochs?: unknown; initialEpoch?: unknown };
  if (epochs !== undefined) checkEpochCount(epochs, 'epochs', where);
  if (initialEpoch !== undefined) checkEpochCount(initialEpoch, 'initialEpoch', where);
}

/**
 * The batch size of fit, predict or evaluate: a positive integer (predict with 0 or a negative size looped forever,
 * growing memory until the process died). `args` are the call's options; `known` the names the call takes.
 */
/**
 * What predict and evaluate take (Keras's and tfjs's names): the batch size, and `verbose`, which they accept for code
 * written for Keras or tfjs and ignore — recur's library prints no progress (the CLI shows its own).
 */
export interface InferenceOptions {
  batchSize?: number;
  verbose?: number | boolean | 'auto';
}

/** The option names InferenceOptions has, for checkFitOptions. */
export const INFERENCE_OPTIONS = ['batchSize', 'verbose'] as const;

/** InferenceOptions' batch size (`fallback` when not given), its options checked: `verbose` 0, 1, 2, 'auto' or a boolean. */
export function inferenceBatchSize(args: InferenceOptions, where: string, fallback: number): number {
  const v: unknown = args.verbose;
  if (!(v === undefined || v === 'auto' || typeof v === 'boolean' || v === 0 || v === 1 || v === 2))
    throw new InvalidInputError(
      `${where}: verbose must be 0, 1, 2, 'auto' or a boolean, got ${describeValue(v)}`,
    );
  return batchSizeOption(args, INFERENCE_OPTIONS, where, fallback);
}

export function batchSizeOption(
  args: object,
  known: readonly string[],
  where: string,
  fallback: number,
): number {
  checkFitOptions(args, known, where);
  const bs = (args as { batchSize?: unknown }).batchSize ?? fallback;
  if (!(typeof bs === 'number' && Number.isInteger(bs) && bs > 0))
    throw new InvalidInputError(`${where}: batchSize must be a positive integer, got ${describeValue(bs)}`);
  return bs;
}

/** A stateful layer and the batch size it was declared for. */
export interface StatefulBatch {
  layer: Layer;
  batchSize: number;
}

/**
 * The batch size a model's stateful layers were declared for (Keras: `batch_input_shape` / `batch_size` on the first
 * layer or the Input, or on the layer itself), or null when no stateful layer has one. A stateful layer carries row i
 * of one batch into row i of the next, so, as in Keras, every batch must have exactly that many rows.
 * `modelBatchSize` is the batch size the model's inputs declare.
 */
export function statefulBatch(layers: readonly Layer[], modelBatchSize: number | null): StatefulBatch | null {
  for (const layer of layers) {
    if (!carriesState(layer)) continue;
    const batchSize = layer.declaredBatchSize ?? modelBatchSize;
    if (batchSize !== null) return { layer, batchSize };
  }
  return null;
}

function statefulWhat(s: StatefulBatch): string {
  return `${s.layer.className} '${s.layer.name}' is stateful with batch size ${s.batchSize}`;
}

/** Refuses a batch of another size than a stateful model's declared one (`where`: 'fit: batch 3', 'predict'…). */
export function checkStatefulRows(s: StatefulBatch | null, rows: number, where: string): void {
  if (s === null || rows === s.batchSize) return;
  throw new InvalidInputError(
    `${where}: ${statefulWhat(s)}, but got a batch of ${rows}: every batch of a stateful model must have ` +
      `${s.batchSize} rows (declare another batch size, or leave stateful off)`,
  );
}

/**
 * The batch size of fit, predict or evaluate on a model with a stateful layer declared for batches of B rows:
 * B when the call gives none (Keras 2's static batch size), refused when it gives another, and `samples` (each set
 * of rows the call splits into batches, e.g. training and validation) must be multiples of B — Keras expects every
 * batch of a stateful model to be full, so a last partial batch is refused before anything runs rather than midway.
 */
export function statefulBatchSize(
  s: StatefulBatch | null,
  given: number | undefined,
  bs: number,
  samples: readonly { what: string; rows: number }[],
  where: string,
): number {
  if (s === null) return bs;
  if (given !== undefined && given !== s.batchSize)
    throw new InvalidInputError(
      `${where}: ${statefulWhat(s)}, but batchSize is ${given}: give batchSize ${s.batchSize} or leave it out`,
    );
  for (const { what, rows } of samples)
    if (rows % s.batchSize !== 0)
      throw new InvalidInputError(
        `${where}: ${statefulWhat(s)}, but ${what} has ${rows} samples, not a multiple of ${s.batchSize}: ` +
          `the last batch would have ${rows % s.batchSize} (drop or pad samples to a multiple of ${s.batchSize})`,
      );
  return s.batchSize;
}

/** An epoch number: an integer ≥ 0 (epochs is the one to stop before, as Keras's; a resumed run may train none). */
function checkEpochCount(value: unknown, name: string, where: string): void {
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= 0))
    throw new InvalidInputError(`${where}: ${name} must be an integer ≥ 0, got ${describeValue(value)}`);
}

/** Runs the epochs; returns the History. */
export async function runFitLoop<B>(
  model: FitLoopModel,
  dataset: FitLoopDataset<B>,
  args: FitLoopArgs,
  steps: FitLoopSteps<B>,
): Promise<History> {
  const { epochs, initialEpoch, what } = { ...args, what: steps.what };
  checkEpochCount(epochs, 'epochs', what);
  checkEpochCount(initialEpoch, 'initialEpoch', what);
  const resume = args.resumeFrom;
  const history = new History();
  const user = Array.isArray(args.callbacks)
    ? args.callbacks
    : args.callbacks
      ? [new LambdaCallback(args.callbacks)]
      : [];
  const callbacks: Callback[] = [history, ...user];
  const stepsPerEpoch = args.batchesPerEpoch ?? dataset.batchesPerEpoch ?? null;
  const params = {
    epochs,
    initialEpoch,
    steps: stepsPerEpoch,
    batchSize: args.batchSize,
    samples: dataset.samplesPerEpoch ?? null,
    verbose: args.verbose ?? 0,
    resuming: resume !== null,
  };
  for (const c of callbacks) {
    c.setModel(model);
    c.setParams(params);
  }
  model.stopTraining = false;
  model.interruptedAt = null;
  for (const c of callbacks) await c.onTrainBegin({});
  let lastTick = Date.now();
  for (let epoch = initialEpoch; epoch < epochs && !model.stopTraining; epoch++) {
    for (const c of callbacks) await c.onEpochBegin(epoch, {});
    // A resumed epoch starts from the carried sums, with trainRng back where the epoch began.
    const resuming = resume !== null && epoch === resume.epoch;
    if (resuming) model.trainRng.setState(resume.epochRng);
    const epochRng = model.trainRng.getState();
    const sums: Logs = resuming ? { ...resume.sums } : {};
    let seen = resuming ? resume.seen : 0;
    let batch = 0;
    const skip = resuming ? resume.batch : 0;
    let carried: CarriedStates | null = null;
    for await (const b of dataset.batches(epoch)) {
      if (args.batchesPerEpoch !== undefined && batch >= args.batchesPerEpoch) break;
      if (batch < skip) {
        // Done before the interruption: replay only its random draw (every training step makes exactly one).
        model.trainRng.nextUint32();
        batch++;
        continue;
      }
      // The streams continue from where the interruption left them (the dataset may have cleared them when the
      // epoch began).
      if (resuming && batch === skip && resume.states && steps.setStates)
        await steps.setStates(resume.states);
      const { size, train } = steps.prepare(b, batch);
      for (const c of callbacks) await c.onBatchBegin(batch, { batch, size });
      const logs = await train();
      for (const [k, v] of Object.entries(logs)) sums[k] = (sums[k] ?? 0) + v * size;
      seen += size;
      for (const c of callbacks) await c.onBatchEnd(batch, { batch, size, ...logs });
      batch++;
      if (Date.now() - lastTick > 50) {
        await tick();
        lastTick = Date.now();
      }
      if (model.stopTraining) {
        // Mid-epoch: what the layers carry into the next batch, taken before the dataset can clear it.
        if (steps.getStates && (stepsPerEpoch === null || batch < stepsPerEpoch))
          carried = await steps.getStates();
        break;
      }
    }
    if (batch < skip)
      throw new Error(
        `${what}: resuming epoch ${epoch} after batch ${skip}, but the dataset served only ${batch} batches`,
      );
    // A batch that went non-finite ends the run, even in an epoch's last batch: no epoch-end callbacks (its logs are
    // not numbers to record or compare), and no interruptedAt (ruined weights are nothing to resume).
    if (callbacks.some((c) => c instanceof TerminateOnNaN && c.reason !== null)) break;
    if (model.stopTraining && (stepsPerEpoch === null || batch < stepsPerEpoch)) {
      // Interrupted mid-epoch (e.g. Ctrl-C): not a finished epoch, so no epoch-end callbacks.
      if (steps.getStates) carried ??= await steps.getStates();
      model.interruptedAt = {
        epoch,
        batch,
        sums: { ...sums },
        seen,
        epochRng,
        ...(carried?.some((l) => l !== null) ? { states: carried } : {}),
      };
      break;
    }
    if (seen === 0) throw new Error(`${what}: epoch ${epoch} produced no batches`);
    const epochLogs: Logs = {};
    for (const [k, v] of Object.entries(sums)) epochLogs[k] = v / seen;
    if (steps.validate) {
      const v = await steps.validate();
      for (const [k, val] of Object.entries(v)) epochLogs[`val_${k}`] = val;
    }
    epochLogs.lr = model.optimizer!.learningRate;
    // TerminateOnNaN sees the epoch's logs first: an epoch whose validation went non-finite is, like one a batch of
    // went non-finite in, neither recorded, compared (plateaus, best models) nor checkpointed.
    const guards = callbacks.filter((c) => c instanceof TerminateOnNaN);
    for (const c of guards) await c.onEpochEnd(epoch, epochLogs);
    if (guards.some((c) => c.reason !== null)) break;
    for (const c of callbacks) if (!(c instanceof TerminateOnNaN)) await c.onEpochEnd(epoch, epochLogs);
  }
  for (const c of callbacks) await c.onTrainEnd({});
  // Every fit gives the event loop a turn, however short: a program training model after model in a loop gets the
  // finalizers that give dropped models' kernel memory back (src/core/wasm/memory.ts, installGarbageCollector).
  await tick();
  return history;
}
