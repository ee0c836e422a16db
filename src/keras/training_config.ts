/**
 * What a Keras file says about how its model was compiled — Keras 2's `training_config` attribute
 * (`{optimizer_config: {class_name, config}, loss, …}`) or Keras 3's `compile_config` in config.json
 * (`{optimizer: {module, class_name, config}, loss, …}`) — translated to recur's optimizers and losses, so a loaded
 * model can be fine-tuned the way it was trained. Whatever recur cannot reproduce (another optimizer class, a
 * learning-rate schedule, Keras 2's per-step `decay`, weight decay, AMSGrad, per-output losses, a loss reduction other
 * than the mean, `ignore_class`) is reported in `notes` and left out — the caller then uses its own default for it —
 * never silently changed.
 */
import { lossName, type LossName } from '../models/losses.js';
import type { OptimizerName } from '../models/optimizers.js';

export interface KerasCompile {
  /** recur's optimizer for the file's, or null when recur has none like it (see notes). */
  optimizer: OptimizerName | null;
  /** The optimizer's arguments in recur's names (learningRate excluded: see learningRate). */
  optimizerArgs: Record<string, number | boolean>;
  /** The file's constant learning rate, or null (absent, or a schedule: see notes). */
  learningRate: number | null;
  /** recur's loss for the file's, or null (absent or unmappable: see notes). */
  loss: LossName | null;
  /** The loss was given `from_logits=True`. */
  fromLogits: boolean;
  /** The loss's `label_smoothing` (0 when none). */
  labelSmoothing: number;
  /** The file's optimizer and loss as Keras names them, for messages. */
  described: string;
  notes: string[];
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Keras stores float32 values widened to float64 (0.0010000000474974513): the value the user wrote. */
function tidy(x: number): number {
  return Number(x.toPrecision(7));
}

const OPTIMIZERS: Record<string, OptimizerName> = {
  sgd: 'sgd',
  rmsprop: 'rmsprop',
  adam: 'adam',
  adagrad: 'adagrad',
};

/** Per optimizer: Keras config key → recur argument. */
const ARGS: Record<OptimizerName, Record<string, string>> = {
  sgd: { momentum: 'momentum', nesterov: 'nesterov' },
  rmsprop: { rho: 'rho', momentum: 'momentum', epsilon: 'epsilon', centered: 'centered' },
  adam: { beta_1: 'beta1', beta_2: 'beta2', epsilon: 'epsilon' },
  adagrad: { initial_accumulator_value: 'initialAccumulatorValue', epsilon: 'epsilon' },
};

/** Values an optimizer argument may take: decay rates in [0, 1), the rest positive (ε, clipping) or ≥ 0. */
function inRange(arg: string, v: number): boolean {
  if (!Number.isFinite(v)) return false;
  if (['rho', 'momentum', 'beta1', 'beta2'].includes(arg)) return v >= 0 && v < 1;
  if (arg === 'initialAccumulatorValue') return v >= 0;
  return v > 0;
}

const CLIPPING: Record<string, string> = {
  clipnorm: 'clipnorm',
  global_clipnorm: 'globalClipnorm',
  clipvalue: 'clipvalue',
};

/**
 * Standalone Keras 2.0–2.3 added RMSprop's ε outside the square root (lr·g/(√v + ε)); tf.keras and Keras 3 inside.
 * A version string like "2.2.4-tf" is tf.keras.
 */
function epsilonOutside(kerasVersion: string): boolean {
  return /^2\.[0-3](\.|$)/.test(kerasVersion) && !kerasVersion.includes('tf');
}

function optimizerPart(raw: unknown, kerasVersion: string, where: string, out: KerasCompile): void {
  if (raw === undefined || raw === null) {
    out.notes.push(`${where}: the training configuration names no optimizer`);
    return;
  }
  const className = typeof raw === 'string' ? raw : isObj(raw) ? raw.class_name : undefined;
  const config = isObj(raw) && isObj(raw.config) ? raw.config : {};
  if (typeof className !== 'string') {
    out.notes.push(`${where}: the optimizer in the training configuration has no class_name`);
    return;
  }
  out.described = className;
  const name = OPTIMIZERS[className.toLowerCase()];
  if (!name) {
    out.notes.push(
      `${where}: the file was trained with the ${className} optimizer, which recur does not have (it has SGD, RMSprop, Adam, Adagrad)`,
    );
    return;
  }
  out.optimizer = name;
  const lr = config.learning_rate ?? config.lr;
  if (typeof lr === 'number' && Number.isFinite(lr) && lr > 0) out.learningRate = tidy(lr);
  else if (lr !== undefined)
    out.notes.push(
      `${where}: the file's learning rate is ${isObj(lr) && typeof lr.class_name === 'string' ? `a ${lr.class_name} schedule` : JSON.stringify(lr)}, which recur does not reproduce`,
    );
  for (const [k, v] of Object.entries(config)) {
    const arg = ARGS[name][k] ?? CLIPPING[k];
    if (arg !== undefined) {
      const boolean = arg === 'nesterov' || arg === 'centered';
      if (boolean ? typeof v === 'boolean' : typeof v === 'number' && inRange(arg, v))
        out.optimizerArgs[arg] = typeof v === 'number' ? tidy(v) : (v as boolean);
      else if (v !== null)
        out.notes.push(
          `${where}: optimizer ${className}: ${k} = ${JSON.stringify(v)} is not a valid value; recur's default used`,
        );
      continue;
    }
    const unsupported =
      (k === 'decay' && typeof v === 'number' && v !== 0) ||
      (k === 'weight_decay' && v !== null && v !== 0) ||
      (k === 'amsgrad' && v === true) ||
      (k === 'use_ema' && v === true) ||
      (k === 'gradient_accumulation_steps' && v !== null && v !== 1);
    if (unsupported)
      out.notes.push(
        `${where}: optimizer ${className}: ${k} = ${JSON.stringify(v)} is not something recur does; trained without it`,
      );
  }
  if (name === 'rmsprop' && epsilonOutside(kerasVersion)) out.optimizerArgs.epsilonOutside = true;
  // Standalone Keras (to 2.3) started Adagrad's accumulators at 0 and had no initial_accumulator_value to write;
  // tf.keras and Keras 3 write theirs (0.1 by default). It added ε outside the square root too, as for RMSprop.
  if (name === 'adagrad' && !('initial_accumulator_value' in config))
    out.optimizerArgs.initialAccumulatorValue = 0;
  if (name === 'adagrad' && epsilonOutside(kerasVersion))
    out.notes.push(
      `${where}: optimizer ${className}: Keras ${kerasVersion} added ε outside the square root, lr·g/(√a + ε); recur adds it inside, lr·g/√(a + ε), as tf.keras 2.11+ and Keras 3 do (steps differ where the accumulated squares are near ε)`,
    );
}

/** Keras's loss reductions that are the mean over the batch when there are no sample weights (Keras 2's 'auto'). */
const MEAN_REDUCTIONS: readonly string[] = ['auto', 'sum_over_batch_size', 'mean', 'mean_with_sample_weight'];

function lossPart(raw: unknown, where: string, out: KerasCompile): string {
  if (raw === undefined || raw === null) {
    out.notes.push(`${where}: the training configuration names no loss`);
    return 'no loss';
  }
  let id: unknown = raw;
  if (isObj(raw)) {
    // Keras 3 {module, class_name: 'CategoricalCrossentropy', config: {from_logits}}; Keras 2 {class_name, config}.
    const cls = raw.class_name;
    id = typeof cls === 'string' ? cls.charAt(0).toLowerCase() + cls.slice(1) : undefined;
    if (isObj(raw.config) && raw.config.from_logits === true) out.fromLogits = true;
    const smoothing = isObj(raw.config) ? raw.config.label_smoothing : undefined;
    if (typeof smoothing === 'number' && Number.isFinite(smoothing) && smoothing > 0)
      out.labelSmoothing = tidy(smoothing);
    const lossConfig = isObj(raw.config) ? raw.config : {};
    const reduction = lossConfig.reduction;
    // Without sample weights each of these is the mean over the batch (and time steps), recur's only reduction.
    if (reduction !== undefined && reduction !== null && !MEAN_REDUCTIONS.includes(reduction as string))
      out.notes.push(
        `${where}: loss ${String(cls)}: reduction = ${JSON.stringify(reduction)} is not something recur does; trained with the mean over the batch (Keras's 'sum_over_batch_size')`,
      );
    if (lossConfig.ignore_class !== undefined && lossConfig.ignore_class !== null)
      out.notes.push(
        `${where}: loss ${String(cls)}: ignore_class = ${JSON.stringify(lossConfig.ignore_class)} is not something recur does; every class counts in the loss`,
      );
  }
  if (typeof id !== 'string') {
    out.notes.push(
      `${where}: the loss ${JSON.stringify(raw).slice(0, 80)} (one per output?) is not one recur can use`,
    );
    return 'an unreadable loss';
  }
  try {
    out.loss = lossName(id);
  } catch {
    out.notes.push(`${where}: the loss '${id}' is not one recur has`);
  }
  return id;
}

/**
 * The compile settings a Keras file records (`trainingConfig` of loadKerasModel), or null when it records none.
 * `kerasVersion` tells where RMSprop puts ε; `where` names the file in notes.
 */
export function kerasCompileConfig(
  trainingConfig: unknown,
  kerasVersion: string,
  where: string,
): KerasCompile | null {
  if (!isObj(trainingConfig)) return null;
  const out: KerasCompile = {
    optimizer: null,
    optimizerArgs: {},
    learningRate: null,
    loss: null,
    fromLogits: false,
    labelSmoothing: 0,
    described: '',
    notes: [],
  };
  optimizerPart(trainingConfig.optimizer_config ?? trainingConfig.optimizer, kerasVersion, where, out);
  const loss = lossPart(trainingConfig.loss, where, out);
  out.described = `${out.described || 'no optimizer'}${out.learningRate !== null ? ` (learning rate ${out.learningRate})` : ''}, ${loss}`;
  return out;
}
