/**
 * Training callbacks (Keras semantics). These are browser-safe; callbacks that touch the file system
 * (ModelCheckpoint, CSVLogger) and the terminal progress bar live in `src/node/`.
 */
import { InvalidInputError, describeValue } from '../core/errors.js';
import type { Tensor } from '../core/tensor.js';
import type { Optimizer } from './optimizers.js';

export type Logs = Record<string, number>;

/** What a callback may see and change of the model being trained. */
export interface CallbackModel {
  stopTraining: boolean;
  /** Set when the last fit stopped mid-epoch (to be resumed from there); null after a fit that ran its epochs out. */
  readonly interruptedAt?: unknown;
  readonly optimizer: Optimizer | null;
  getWeights(): Tensor[];
  setWeights(weights: Tensor[]): void;
}

export interface TrainingParams {
  epochs: number;
  initialEpoch: number;
  /** Batches per epoch, when known. */
  steps: number | null;
  batchSize: number | null;
  samples: number | null;
  verbose: number;
  /**
   * This fit continues an epoch an earlier fit stopped in (`resumeFrom`): the same run goes on, so callbacks keep
   * their state, where a new fit (even one with `initialEpoch`) starts them afresh, as Keras's on_train_begin does.
   */
  resuming: boolean;
}

export abstract class Callback {
  model: CallbackModel | null = null;
  params: TrainingParams | null = null;
  setModel(model: CallbackModel): void {
    this.model = model;
  }
  setParams(params: TrainingParams): void {
    this.params = params;
  }
  async onTrainBegin(_logs: Logs): Promise<void> {}
  async onTrainEnd(_logs: Logs): Promise<void> {}
  async onEpochBegin(_epoch: number, _logs: Logs): Promise<void> {}
  async onEpochEnd(_epoch: number, _logs: Logs): Promise<void> {}
  async onBatchBegin(_batch: number, _logs: Logs): Promise<void> {}
  async onBatchEnd(_batch: number, _logs: Logs): Promise<void> {}
}

export interface LambdaCallbackArgs {
  onTrainBegin?: (logs: Logs) => void | Promise<void>;
  onTrainEnd?: (logs: Logs) => void | Promise<void>;
  onEpochBegin?: (epoch: number, logs: Logs) => void | Promise<void>;
  onEpochEnd?: (epoch: number, logs: Logs) => void | Promise<void>;
  onBatchBegin?: (batch: number, logs: Logs) => void | Promise<void>;
  onBatchEnd?: (batch: number, logs: Logs) => void | Promise<void>;
}

/** Wraps plain functions as a callback (Keras LambdaCallback, tfjs CustomCallback). */
const LAMBDA_HOOKS = [
  'onTrainBegin',
  'onTrainEnd',
  'onEpochBegin',
  'onEpochEnd',
  'onBatchBegin',
  'onBatchEnd',
];

export class LambdaCallback extends Callback {
  constructor(private readonly fns: LambdaCallbackArgs) {
    super();
    // A misspelt hook (onEpochEnds) would otherwise never run, silently.
    for (const [k, v] of Object.entries(fns)) {
      if (!LAMBDA_HOOKS.includes(k))
        throw new InvalidInputError(
          `callbacks: unknown hook '${k}' (the hooks are ${LAMBDA_HOOKS.join(', ')})`,
        );
      if (v !== undefined && typeof v !== 'function')
        throw new InvalidInputError(`callbacks: hook '${k}' must be a function, got ${typeof v}`);
    }
  }
  override async onTrainBegin(logs: Logs): Promise<void> {
    await this.fns.onTrainBegin?.(logs);
  }
  override async onTrainEnd(logs: Logs): Promise<void> {
    await this.fns.onTrainEnd?.(logs);
  }
  override async onEpochBegin(epoch: number, logs: Logs): Promise<void> {
    await this.fns.onEpochBegin?.(epoch, logs);
  }
  override async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    await this.fns.onEpochEnd?.(epoch, logs);
  }
  override async onBatchBegin(batch: number, logs: Logs): Promise<void> {
    await this.fns.onBatchBegin?.(batch, logs);
  }
  override async onBatchEnd(batch: number, logs: Logs): Promise<void> {
    await this.fns.onBatchEnd?.(batch, logs);
  }
}

/** Per-epoch logs of a fit, as returned by `fit()`. */
export class History extends Callback {
  epoch: number[] = [];
  history: Record<string, number[]> = {};
  override async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    this.epoch.push(epoch);
    for (const [k, v] of Object.entries(logs)) (this.history[k] ??= []).push(v);
  }
}

export type MonitorMode = 'auto' | 'min' | 'max';

/**
 * Refuses options a callback does not take: a misspelt or snake_case one (`restore_best_weights`, Keras's Python
 * spelling) would otherwise leave its default in force without a word, as layers and fit refuse theirs.
 */
export function checkCallbackOptions(where: string, args: unknown, known: readonly string[]): void {
  if (args === null || typeof args !== 'object' || Array.isArray(args))
    throw new InvalidInputError(`${where}: expected an options object, got ${String(args)}`);
  for (const k of Object.keys(args))
    if (!known.includes(k))
      throw new InvalidInputError(`${where}: unknown option '${k}' (it takes ${known.join(', ')})`);
}

/**
 * Which way a logged metric improves, from its name as Keras 3's EarlyStopping judges it (a loss falls; an accuracy
 * or AUC rises, whatever output or 'val_' prefix it has); null when the name does not say.
 */
function autoDirection(name: string): 'min' | 'max' | null {
  if (/loss$/.test(name)) return 'min';
  if (/(acc|accuracy|auc)$/.test(name)) return 'max';
  return null;
}

/** Shared by callbacks that watch a metric: direction, improvement test, and the one-time missing-metric warning. */
export class Monitor {
  private warned = false;
  readonly sign: 1 | -1;
  constructor(
    readonly name: string,
    mode: MonitorMode,
    readonly minDelta: number,
    private readonly owner: string,
    private readonly warn: (msg: string) => void = (m) => console.warn(m),
  ) {
    if (mode !== 'auto' && mode !== 'min' && mode !== 'max')
      throw new InvalidInputError(`${owner}: mode must be 'auto', 'min' or 'max', got ${String(mode)}`);
    const max = mode === 'max' || (mode === 'auto' && /acc|accuracy/.test(name));
    this.sign = max ? -1 : 1;
  }
  /** The monitored value, or null (warning once) when the logs lack it. */
  read(logs: Logs): number | null {
    const v = logs[this.name];
    if (v === undefined) {
      if (!this.warned) {
        this.warned = true;
        this.warn(
          `${this.owner}: metric '${this.name}' is not available (available: ${Object.keys(logs).join(', ') || 'none'}); ` +
            `this callback does nothing${this.name.startsWith('val_') ? ' — pass validation data or monitor the training metric' : ''}.`,
        );
      }
      return null;
    }
    return v;
  }
  /** Initial "best": +∞ for min, −∞ for max. */
  worst(): number {
    return this.sign * Infinity;
  }
  improved(current: number, best: number): boolean {
    return this.sign === 1 ? current < best - this.minDelta : current > best + this.minDelta;
  }
}

export interface EarlyStoppingArgs {
  monitor?: string;
  minDelta?: number;
  patience?: number;
  mode?: MonitorMode;
  baseline?: number;
  restoreBestWeights?: boolean;
  /** Epochs (counted from 0, as `epoch`) to train before watching the metric: a warm-up never stops training. */
  startFromEpoch?: number;
}

/** Stops training when the monitored metric stops improving (Keras EarlyStopping). */
export class EarlyStopping extends Callback {
  readonly patience: number;
  readonly restoreBestWeights: boolean;
  readonly baseline: number | undefined;
  readonly startFromEpoch: number;
  /** The watched log key, its direction and minDelta (Keras's `monitor`, `monitor_op`, `min_delta`). */
  readonly monitor: Monitor;
  private wait = 0;
  private best = Infinity;
  private bestWeights: Tensor[] | null = null;
  stoppedEpoch = 0;
  constructor(args: EarlyStoppingArgs = {}) {
    super();
    checkCallbackOptions('EarlyStopping', args, [
      'monitor',
      'minDelta',
      'patience',
      'mode',
      'baseline',
      'restoreBestWeights',
      'startFromEpoch',
    ]);
    const monitor = args.monitor ?? 'val_loss';
    const mode = args.mode ?? 'auto';
    // Keras 3's EarlyStopping refuses 'auto' for a metric whose direction it cannot tell, where minimising it
    // silently (an F1 score, a custom log) would stop training on every improvement.
    const direction = mode === 'auto' ? autoDirection(monitor) : mode;
    if (direction === null)
      throw new InvalidInputError(
        `EarlyStopping: mode 'auto' cannot tell whether '${monitor}' should fall or rise (a loss falls; an accuracy or AUC rises); give mode 'min' or 'max'`,
      );
    // The direction it told, not Monitor's own 'auto' (which, as Keras's other callbacks, maximises only an accuracy).
    this.monitor = new Monitor(monitor, direction, Math.abs(args.minDelta ?? 0), 'EarlyStopping');
    this.patience = args.patience ?? 0;
    this.restoreBestWeights = args.restoreBestWeights ?? false;
    this.baseline = args.baseline;
    const start = args.startFromEpoch ?? 0;
    if (!(Number.isInteger(start) && start >= 0))
      throw new InvalidInputError(
        `EarlyStopping: startFromEpoch must be an integer ≥ 0, got ${describeValue(args.startFromEpoch)}`,
      );
    this.startFromEpoch = start;
  }
  /** Set by setState: the next fit continues a resumed run instead of starting afresh. */
  private restored = false;
  override async onTrainBegin(): Promise<void> {
    this.stoppedEpoch = 0;
    this.bestWeights = null;
    if (this.restored || this.params?.resuming === true) {
      this.restored = false;
      return;
    }
    this.wait = 0;
    this.best = this.monitor.worst();
  }
  /** Serializable state, for exact resume (restoreBestWeights' copy is not part of it). */
  getState(): { wait: number; best: number | null } {
    return { wait: this.wait, best: Number.isFinite(this.best) ? this.best : null };
  }
  /** Continues from a saved state: the next fit keeps it instead of starting afresh. */
  setState(s: { wait: number; best: number | null }): void {
    this.wait = s.wait;
    this.best = s.best ?? this.monitor.worst();
    this.restored = true;
  }
  override async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    const current = this.monitor.read(logs);
    // A NaN epoch is neither an improvement nor a plateau: the run has diverged (TerminateOnNaN stops it).
    if (current === null || !Number.isFinite(current) || !this.model || epoch < this.startFromEpoch) return;
    if (this.restoreBestWeights && this.bestWeights === null) this.bestWeights = this.model.getWeights();
    this.wait++;
    if (this.monitor.improved(current, this.best)) {
      this.best = current;
      if (this.restoreBestWeights) this.bestWeights = this.model.getWeights();
      if (this.baseline === undefined || this.monitor.improved(current, this.baseline)) this.wait = 0;
      return;
    }
    if (this.wait >= this.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      this.model.stopTraining = true;
    }
  }
  /**
   * As Keras (since 2.11): the best epoch's weights are restored when training ends, stopped early or not. A fit
   * interrupted mid-epoch keeps its weights: the resume goes on from them.
   */
  override async onTrainEnd(): Promise<void> {
    if (!this.restoreBestWeights || !this.bestWeights || !this.model) return;
    if (this.model.interruptedAt) return;
    this.model.setWeights(this.bestWeights);
  }
}

export interface ReduceLROnPlateauArgs {
  monitor?: string;
  factor?: number;
  patience?: number;
  mode?: MonitorMode;
  minDelta?: number;
  cooldown?: number;
  minLr?: number;
  /** Called when the rate changes (for logging). */
  onReduce?: (epoch: number, oldLr: number, newLr: number) => void;
}

/** Multiplies the learning rate by `factor` when the metric has not improved for `patience` epochs (Keras). */
export class ReduceLROnPlateau extends Callback {
  readonly factor: number;
  readonly patience: number;
  readonly cooldown: number;
  readonly minLr: number;
  /** The watched log key, its direction and minDelta (Keras's `monitor`, `monitor_op`, `min_delta`). */
  readonly monitor: Monitor;
  private readonly onReduce?: (epoch: number, oldLr: number, newLr: number) => void;
  wait = 0;
  cooldownCounter = 0;
  best = Infinity;
  constructor(args: ReduceLROnPlateauArgs = {}) {
    super();
    checkCallbackOptions('ReduceLROnPlateau', args, [
      'monitor',
      'factor',
      'patience',
      'mode',
      'minDelta',
      'cooldown',
      'minLr',
      'onReduce',
    ]);
    this.factor = args.factor ?? 0.1;
    if (!(this.factor < 1 && this.factor >= 0))
      throw new Error('ReduceLROnPlateau: factor must be in [0, 1)');
    this.monitor = new Monitor(
      args.monitor ?? 'val_loss',
      args.mode ?? 'auto',
      args.minDelta ?? 1e-4,
      'ReduceLROnPlateau',
    );
    this.patience = args.patience ?? 10;
    this.cooldown = args.cooldown ?? 0;
    this.minLr = args.minLr ?? 0;
    this.onReduce = args.onReduce;
    this.best = this.monitor.worst();
  }
  /** Set by setState: the next fit continues a resumed run instead of starting afresh. */
  private restored = false;
  /**
   * A new fit starts with no plateau behind it, as Keras resets at on_train_begin (the learning rate itself stays
   * where an earlier fit left it, as Keras's optimizer does); a resumed run keeps what setState gave it, and a fit
   * continuing an interrupted epoch (`resumeFrom`) keeps its own.
   */
  override async onTrainBegin(): Promise<void> {
    if (this.restored || this.params?.resuming === true) {
      this.restored = false;
      return;
    }
    this.wait = 0;
    this.cooldownCounter = 0;
    this.best = this.monitor.worst();
  }
  /** Serializable state, for exact resume. */
  getState(): { wait: number; cooldownCounter: number; best: number } {
    return { wait: this.wait, cooldownCounter: this.cooldownCounter, best: this.best };
  }
  /** Continues from a saved state: the next fit keeps it instead of starting afresh. */
  setState(s: { wait: number; cooldownCounter: number; best: number | null }): void {
    this.wait = s.wait;
    this.cooldownCounter = s.cooldownCounter;
    this.best = s.best ?? this.monitor.worst();
    this.restored = true;
  }
  override async onEpochEnd(epoch: number, logs: Logs): Promise<void> {
    const opt = this.model?.optimizer;
    if (!opt) return;
    const current = this.monitor.read(logs);
    // A NaN epoch is neither an improvement nor a plateau: the run has diverged (TerminateOnNaN stops it).
    if (current === null || !Number.isFinite(current)) return;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.wait = 0;
    }
    if (this.monitor.improved(current, this.best)) {
      this.best = current;
      this.wait = 0;
    } else if (this.cooldownCounter === 0) {
      // As Keras: the epoch whose end finishes the cooldown already counts towards the next plateau.
      this.wait++;
      if (this.wait >= this.patience) {
        const old = opt.learningRate;
        if (old > this.minLr) {
          const next = Math.max(old * this.factor, this.minLr);
          opt.learningRate = next;
          this.onReduce?.(epoch, old, next);
          this.cooldownCounter = this.cooldown;
          this.wait = 0;
        }
      }
    }
  }
}

/**
 * Sets the learning rate at the start of every epoch to `schedule(epoch, currentRate)` (Keras LearningRateScheduler;
 * `epoch` is 0-based). A schedule of the epoch alone makes a resumed run train each epoch at the same rate.
 */
export class LearningRateScheduler extends Callback {
  constructor(private readonly schedule: (epoch: number, learningRate: number) => number) {
    super();
  }
  override async onEpochBegin(epoch: number): Promise<void> {
    const optimizer = this.model?.optimizer;
    if (!optimizer) return;
    const rate = this.schedule(epoch, optimizer.learningRate);
    if (!Number.isFinite(rate) || rate < 0)
      throw new InvalidInputError(
        `LearningRateScheduler: the schedule gave ${rate} for epoch ${epoch + 1}; a rate must be a finite number ≥ 0`,
      );
    optimizer.learningRate = rate;
  }
}

export interface CosineDecayArgs {
  /** The rate at the end of the warm-up (or at step 0 without one). */
  initialLearningRate: number;
  /** Steps of the cosine half-wave after the warm-up; from then on the rate stays at minLearningRate. */
  decaySteps: number;
  /** Steps of linear warm-up from initialLearningRate / warmupSteps up to initialLearningRate (default 0). */
  warmupSteps?: number;
  /** Where the cosine ends (default 0). */
  minLearningRate?: number;
}

/**
 * The learning rate of optimisation step `step` (0-based: the optimizer's `iterations` before the step) under cosine
 * annealing (Loshchilov & Hutter's SGDR without restarts; Keras's CosineDecay with warm-up):
 *   warm-up  step < w:  lr0 · (step + 1) / w
 *   decay    p = min(1, (step − w) / decaySteps):  min + (lr0 − min) · ½ · (1 + cos(π p))
 * A function of the step alone, so a run resumed from a checkpoint (which keeps `iterations`) continues the schedule
 * exactly.
 */
export function cosineDecay(step: number, args: CosineDecayArgs): number {
  const { initialLearningRate: lr0, decaySteps } = args;
  const warmup = args.warmupSteps ?? 0;
  const min = args.minLearningRate ?? 0;
  if (!(Number.isInteger(step) && step >= 0))
    throw new Error(`cosineDecay: step must be an integer ≥ 0, got ${step}`);
  if (!(Number.isInteger(decaySteps) && decaySteps >= 1))
    throw new Error(`cosineDecay: decaySteps must be an integer ≥ 1, got ${decaySteps}`);
  if (!(Number.isInteger(warmup) && warmup >= 0))
    throw new Error(`cosineDecay: warmupSteps must be an integer ≥ 0, got ${warmup}`);
  if (!(lr0 > 0 && Number.isFinite(lr0) && min >= 0 && min <= lr0))
    throw new Error(
      `cosineDecay: need 0 ≤ minLearningRate ≤ initialLearningRate, finite, got ${min} and ${lr0}`,
    );
  if (step < warmup) return (lr0 * (step + 1)) / warmup;
  const p = Math.min(1, (step - warmup) / decaySteps);
  return min + (lr0 - min) * 0.5 * (1 + Math.cos(Math.PI * p));
}

/**
 * Sets the learning rate before every batch to `schedule(step)`, where step is the optimizer's `iterations` (updates
 * applied so far; saved with the optimizer's state). The per-step counterpart of LearningRateScheduler: the rate
 * depends on how far training has gone, not on the epoch or the history, so resuming mid-epoch is exact.
 */
export class StepLearningRateScheduler extends Callback {
  constructor(private readonly schedule: (step: number) => number) {
    super();
  }
  override async onBatchBegin(): Promise<void> {
    const optimizer = this.model?.optimizer;
    if (!optimizer) return;
    const rate = this.schedule(optimizer.iterations);
    if (!Number.isFinite(rate) || rate < 0)
      throw new InvalidInputError(
        `StepLearningRateScheduler: the schedule gave ${rate} for step ${optimizer.iterations + 1}; a rate must be a finite number ≥ 0`,
      );
    optimizer.learningRate = rate;
  }
}

export interface TerminateOnNaNArgs {
  /** Where the one-line notice goes (default console.warn); a CLI that reports the stop itself passes () => {}. */
  warn?: (message: string) => void;
}

/** What TerminateOnNaN scans at an epoch's end: a model's weights with their file names, when it has them. */
interface WeightsByName {
  namedWeights(): readonly { name: string; weight: { value: Float32Array } }[];
}

/**
 * Stops training as soon as a number goes NaN or infinite: a batch's loss (or metric) or, at an epoch's end, a
 * validation value or a weight. An overflowing update ruins the weights while its batch's own loss, computed before
 * it, is still finite: mid-epoch the next batch's loss shows it, and after an epoch's last batch the scan of the
 * weights does, before anything is checkpointed. (The weights are scanned once an epoch, not after every batch: a
 * scan costs ≈ 1 ms per million weights, a few per cent of a small model's batch.) `reason` says what, and where; fit
 * skips the epoch-end callbacks of an epoch it stopped in (its logs are not numbers to record, compare or checkpoint).
 */
export class TerminateOnNaN extends Callback {
  /** The batch (0-based, of the epoch) the run was stopped after; null: not stopped, or stopped at an epoch's end. */
  terminatedAt: number | null = null;
  /** What went non-finite, and where (e.g. "weight 'lstm/kernel' became NaN after batch 3"); null: nothing. */
  reason: string | null = null;
  /** The epoch (0-based) the run was stopped in; meaningful once `reason` is set. */
  epoch = 0;
  private readonly warn: (message: string) => void;
  constructor(args: TerminateOnNaNArgs = {}) {
    super();
    this.warn = args.warn ?? ((m) => console.warn(m));
  }
  override async onTrainBegin(): Promise<void> {
    this.terminatedAt = null;
    this.reason = null;
  }
  override async onEpochBegin(epoch: number): Promise<void> {
    this.epoch = epoch;
  }
  private stop(reason: string): void {
    this.reason = reason;
    this.warn(`TerminateOnNaN: ${reason}; stopping training`);
    this.model!.stopTraining = true;
  }
  override async onBatchEnd(batch: number, logs: Logs): Promise<void> {
    if (!this.model) return;
    const where = `batch ${batch + 1} of the epoch`;
    const bad = firstNonFiniteLog(logs);
    if (bad) {
      this.terminatedAt = batch;
      this.stop(`${bad[0] === 'loss' ? 'the loss' : bad[0]} became ${bad[1]} at ${where}`);
    }
  }
  override async onEpochEnd(_epoch: number, logs: Logs): Promise<void> {
    if (!this.model) return;
    const bad = firstNonFiniteLog(logs);
    if (bad) return this.stop(`${bad[0]} became ${bad[1]} at the end of the epoch`);
    const weight = firstNonFiniteWeight(this.model);
    if (weight) this.stop(`${weight} by the end of the epoch`);
  }
}

/** The first log (loss, metric, val_…) that is NaN or infinite, with its value; `batch` and `size` are counts. */
function firstNonFiniteLog(logs: Logs): [string, number] | null {
  for (const [k, v] of Object.entries(logs))
    if (k !== 'batch' && k !== 'size' && !Number.isFinite(v)) return [k, v];
  return null;
}

/** "weight 'NAME' became NaN" for the first weight holding a NaN or infinite value, or null. */
function firstNonFiniteWeight(model: CallbackModel): string | null {
  if ('namedWeights' in model) {
    for (const { name, weight } of (model as CallbackModel & WeightsByName).namedWeights()) {
      const v = weight.value;
      const i = firstNonFiniteIndex(v);
      if (i >= 0) return `weight '${name}' became ${v[i]}`;
    }
    return null;
  }
  const i = model.getWeights().findIndex((w) => firstNonFiniteIndex(w.data) >= 0);
  return i < 0 ? null : `weight ${i + 1} became non-finite`;
}

/** Index of the first NaN or ±Infinity, or -1: x − x is 0 for every finite x (a plain loop, ≈ 6× Array.find). */
function firstNonFiniteIndex(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (values[i] - values[i] !== 0) return i;
  return -1;
}
