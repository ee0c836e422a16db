/**
 * Sequential: a stack of layers with compile / fit / evaluate / predict, following the tfjs-layers API with Keras
 * semantics. Training data may be tensors (`fit`) or a stream of batches (`fitDataset`), so large corpora never have
 * to be materialised. All randomness comes from the model's seed: the same seed gives bit-identical training.
 */
import { alloc, scoped } from '../core/backend.js';
import { InvalidInputError } from '../core/errors.js';
import { Random, checkModelSeed } from '../core/random.js';
import {
  IndexTensor,
  Tensor,
  assertFinite,
  checkTensorArg,
  gatherRows,
  shapeToString,
  sizeOf,
  type AnyTensor,
} from '../core/tensor.js';
import {
  checkOptionKeys,
  describeStateShapes,
  layerByNameOrIndex,
  type Layer,
  type LayerShape,
  type SequenceMask,
  type StepLookup,
} from '../layers/layer.js';
import { RNN } from '../layers/recurrent.js';
import { WeightsToFollow } from '../layers/initializers.js';
import { withFrozenWeights } from '../layers/frozen_weights.js';
import { Callback, History, type CallbackModel, type LambdaCallbackArgs, type Logs } from './callbacks.js';
import {
  accuracy,
  checkClassTargets,
  computeLoss,
  computeMaskedLoss,
  fusableActivation,
  maskedAccuracy,
  lossName,
  metricNames,
  renameLegacyAccuracy,
  type LossName,
} from './losses.js';
import { COMPILE_DEFAULTS, Optimizer, createOptimizer, type NamedWeight } from './optimizers.js';
import {
  checkThreads,
  parallelRunner,
  shardShare,
  usePool,
  type CarriedStates,
  type PoolModel,
  type ReplicaDescription,
  type ShardBatch,
  type ShardForwardOptions,
} from './pool_model.js';
import { layerToKeras } from './serialization.js';
import {
  checkEpochProgress,
  checkFitOptions,
  checkStatefulRows,
  batchSizeOption,
  inferenceBatchSize,
  type InferenceOptions,
  FIT_DATASET_OPTIONS,
  FIT_OPTIONS,
  runFitLoop,
  statefulBatch,
  statefulBatchSize,
  type StatefulBatch,
  type EpochProgress,
  type EvaluateDatasetOptions,
} from './fit_loop.js';
import { saveWithInstalledSaver, type SaveResult } from './model_saver.js';
import { paramsOnceBuilt, printSummaryTable } from './summary.js';
import { forwardByPrefixes, prefixStepTop } from './prefix_steps.js';
import { STEP_GEMM_ROWS } from '../layers/step_weights.js';

export type { EpochProgress } from './fit_loop.js';

export { setParallelRunner, type CarriedStates, type ParallelRunner } from './pool_model.js';

export interface SequentialArgs {
  layers?: Layer[];
  name?: string;
  /** Seed for weight initialisation, shuffling and dropout. Random when omitted. */
  seed?: number;
  /**
   * The caller sets every weight right after building (a model file being loaded, a worker's replica): building then
   * leaves the weights at zero instead of drawing them (src/layers/initializers.ts WeightsToFollow).
   */
  weightsFollow?: boolean;
  /**
   * The name of the model's input, when a file gives it one (a Keras 3 InputLayer, e.g. `input_layer_1`): inputs
   * passed by name (`recur predict`) may use it, and a Keras file written from the model keeps it. Default: none, and
   * the input is known as `<first layer>_input`, as in Keras 2 and tfjs.
   */
  inputName?: string;
}

export interface CompileArgs {
  /** Default 'rmsprop' (with its Keras defaults), as Keras's compile. */
  optimizer?: string | Optimizer;
  loss: LossName | string;
  /** 'accuracy' (or 'acc') is supported; the loss is always reported. */
  metrics?: string[];
  /** The model outputs logits (no softmax/sigmoid layer); the loss applies it. */
  fromLogits?: boolean;
}

export interface Batch {
  xs: AnyTensor;
  ys: AnyTensor;
}

/** A source of batches: called once per epoch. */
export interface BatchDataset {
  batches(epoch: number): Iterable<Batch> | AsyncIterable<Batch>;
  /** Batches per epoch, when known (for progress and ETA). */
  readonly batchesPerEpoch?: number;
  /** Samples per epoch, when known. */
  readonly samplesPerEpoch?: number;
}

export interface FitBaseArgs {
  epochs?: number;
  /** Threads to split each batch across (needs recur/node's worker pool); default: the model's `threads`. */
  threads?: number;
  initialEpoch?: number;
  callbacks?: Callback[] | LambdaCallbackArgs;
  /** 0 = silent. Progress display itself is a callback (see `ProgressBar` in recur/node). */
  verbose?: number;
  /**
   * Continue an epoch that was interrupted part-way: pass the model's `interruptedAt` from the stopped fit (or the
   * same values from a checkpoint). Training starts at `resumeFrom.epoch` (it replaces `initialEpoch`), skips the
   * batches already done, and adds the rest to the carried running sums, so the epoch's logs, the callbacks' decisions
   * and the weights are exactly those of an uninterrupted fit. The dataset must serve the same batches for the epoch
   * as before (`dataset.batches(epoch)` is deterministic, as every recur dataset is).
   */
  resumeFrom?: EpochProgress;
}

export interface FitArgs extends FitBaseArgs {
  batchSize?: number;
  shuffle?: boolean;
  validationSplit?: number;
  validationData?: [AnyTensor, AnyTensor];
}

export interface FitDatasetArgs extends FitBaseArgs {
  validationData?: BatchDataset | [AnyTensor, AnyTensor];
  /** Batch size of the stream, when fixed (reported to callbacks; also the validation batch size). */
  batchSize?: number;
  /** Stop each epoch after this many batches. */
  batchesPerEpoch?: number;
}

/**
 * Checks carried-state shapes against a model's layers (in order) and that every layer has the same rows (streams);
 * throws an InvalidInputError naming `where`, the entry and the layer. `verb` introduces what was given.
 */
export function checkCarriedStateShapes(
  layers: readonly Layer[],
  shapes: readonly (readonly (readonly number[])[] | null)[],
  where: string,
  verb = 'got',
): void {
  if (shapes.length !== layers.length)
    throw new InvalidInputError(`${where}: ${shapes.length} entries for a model of ${layers.length} layers`);
  let rows: number | null = null;
  shapes.forEach((s, i) => {
    const wrong = layers[i].carriedStatesMismatch(s ?? []);
    if (wrong)
      throw new InvalidInputError(
        `${where}[${i}]: layer '${layers[i].name}' ${wrong}, ${verb} ${describeStateShapes(s ?? [])}`,
      );
    const r = s?.[0]?.[0];
    if (r === undefined) return;
    if (rows !== null && r !== rows)
      throw new InvalidInputError(
        `${where}[${i}]: layer '${layers[i].name}' has states of ${r} rows, an earlier layer ${rows} (one row per stream)`,
      );
    rows = r;
  });
}

export const FIT_DEFAULTS = { batchSize: 32, epochs: 1, shuffle: true, initialEpoch: 0 } as const;

/** The name Keras 2 and tfjs give a Sequential model's input: `<first layer>_input`. */
export function defaultInputName(model: Sequential): string {
  return `${model.layers[0]?.name ?? model.name}_input`;
}

export class Sequential implements CallbackModel, PoolModel {
  readonly className = 'Sequential';
  readonly name: string;
  readonly layers: Layer[] = [];
  stopTraining = false;
  optimizer: Optimizer | null = null;
  loss: LossName | null = null;
  metrics: string[] = [];
  fromLogits = false;
  readonly seed: number;
  /** SequentialArgs.inputName, or null. */
  readonly inputName: string | null;
  /** Draws for initialisers. */
  readonly initRng: Random;
  /** The first build leaves weights at zero: the caller sets them all (SequentialArgs.weightsFollow). */
  private weightsFollow: boolean;
  /** Draws for shuffling and dropout (saved for an exact resume). */
  readonly trainRng: Random;
  private built = false;
  private disposed = false;

  constructor(args: SequentialArgs = {}) {
    // As model() and every layer: a misspelt option (`sead: 1`) must not be dropped silently.
    checkOptionKeys('sequential', args, ['layers', 'seed', 'weightsFollow', 'inputName']);
    this.name = args.name ?? 'sequential';
    this.seed =
      args.seed === undefined
        ? (Math.random() * 2 ** 32) >>> 0
        : checkModelSeed(`model '${this.name}'`, args.seed);
    this.inputName = args.inputName ?? null;
    this.initRng = new Random(this.seed);
    this.weightsFollow = args.weightsFollow ?? false;
    this.trainRng = new Random((this.seed ^ 0x5bd1e995) >>> 0);
    for (const l of args.layers ?? []) this.add(l);
  }

  /** Appends a layer; checks at once that it can consume the previous layer's output. */
  add(layer: Layer): void {
    if (this.built)
      throw new Error(`cannot add layer '${layer.name}' to model '${this.name}' after it is built`);
    if (this.layers.some((l) => l.name === layer.name)) {
      throw new Error(`model '${this.name}' already has a layer named '${layer.name}'`);
    }
    if (layer instanceof RNN && layer.returnState) {
      throw new Error(
        `layer '${layer.name}': returnState needs the functional call() API; it cannot be used in a Sequential model`,
      );
    }
    layer.randomSalt = this.layers.length;
    this.layers.push(layer);
    this.prefixTop = undefined;
    layer.modelsHolding++;
    const shape = this.inputShape();
    if (shape) this.outputShapes(shape);
  }

  /**
   * Gives back the kernel memory of this model's weights (values and gradients) and of its optimizer's slots at
   * once, for reuse, instead of when the garbage collector finds them unreachable (a loop that builds models without
   * yielding to the event loop, or a server). A layer that another model not yet disposed holds keeps its weights.
   * The model is unusable after (its weights throw); disposing twice does nothing.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const l of this.layers) l.release();
    this.optimizer?.dispose();
  }

  /** The input shape (without batch) declared on the first layer, if any. */
  inputShape(): LayerShape | null {
    return this.layers[0]?.declaredInputShape ?? this.layers[0]?.inputShape ?? null;
  }

  /** Output shape of each layer for an input shape, naming the first layer that cannot take its input. */
  outputShapes(inputShape: LayerShape): LayerShape[] {
    const out: LayerShape[] = [];
    let s = inputShape;
    for (const l of this.layers) {
      try {
        s = l.computeOutputShape(s);
      } catch (e) {
        const prev =
          out.length === 0 ? 'the model input' : `the output of '${this.layers[out.length - 1].name}'`;
        throw new Error(
          `incompatible layers: ${(e as Error).message} (its input is ${prev}, shape ${shapeToString([null, ...s])})`,
        );
      }
      out.push(s);
    }
    return out;
  }

  /** Creates all weights for an input shape (without batch). Called automatically by fit/predict. */
  build(inputShape?: LayerShape): void {
    if (this.built) return;
    // A built model's weights refuse use once disposed; an unbuilt one would otherwise quietly build fresh ones.
    if (this.disposed) throw new Error(`model '${this.name}' was disposed`);
    if (this.layers.length === 0) throw new Error(`model '${this.name}' has no layers`);
    const shape = inputShape ?? this.inputShape();
    if (!shape) throw new Error(`model '${this.name}': the first layer needs an inputShape to build`);
    const shapes = this.outputShapes(shape);
    const rng = this.weightsFollow ? new WeightsToFollow(this.seed) : this.initRng;
    this.weightsFollow = false;
    let s = shape;
    this.layers.forEach((l, i) => {
      if (!l.built) l.build(s, rng);
      s = shapes[i];
    });
    this.built = true;
  }

  get isBuilt(): boolean {
    return this.built;
  }

  private buildFor(x: AnyTensor): void {
    if (this.built) return;
    const declared = this.inputShape();
    if (declared) return this.build(declared);
    if (x instanceof IndexTensor && this.layers[0].className !== 'Embedding') {
      throw new Error(
        `model '${this.name}': integer index inputs stand for one-hot vectors, so the first layer ` +
          `('${this.layers[0].name}') needs an inputShape whose last axis is the vocabulary size, e.g. [40, 60]`,
      );
    }
    this.build(x.shape.slice(1));
  }

  outputShape(): LayerShape {
    const s = this.inputShape();
    if (!s) throw new Error(`model '${this.name}' is not built`);
    const shapes = this.outputShapes(s);
    return shapes[shapes.length - 1];
  }

  compile(args: CompileArgs): void {
    const known = new Set(['optimizer', 'loss', 'metrics', 'fromLogits']);
    for (const k of Object.keys(args)) if (!known.has(k)) throw new Error(`compile: unknown option '${k}'`);
    // Validate everything before changing anything.
    const optimizer = createOptimizer(args.optimizer ?? COMPILE_DEFAULTS.optimizer);
    const loss = lossName(args.loss);
    const metrics = metricNames(args.metrics, [loss]);
    this.optimizer = optimizer;
    this.loss = loss;
    this.metrics = metrics;
    this.fromLogits = args.fromLogits ?? false;
  }

  /** Weights with their file names (`layer/weight`), in file order. */
  namedWeights(): NamedWeight[] {
    return this.layers.flatMap((l) => l.weights.map((w) => ({ name: `${l.name}/${w.name}`, weight: w })));
  }

  /** prefixStepTop of the layers (computed once they are all added and built), or undefined until asked. */
  private prefixTop: number | undefined;

  /**
   * At inference, token windows [N, T] go through the recurrent layers by distinct prefixes (prefix_steps.ts) when
   * the stack allows it: the same outputs, fewer steps when windows begin alike. Returns the index of the first layer
   * still to run and its input, or null for the sequence forward.
   */
  private prefixForward(x: AnyTensor, training: boolean): { next: number; h: Tensor } | null {
    if (training || !(x instanceof IndexTensor) || x.shape.length !== 2 || x.shape[0] < STEP_GEMM_ROWS)
      return null;
    if (this.layers[0].computeMask(x, null) !== null) return null;
    this.prefixTop ??= prefixStepTop(this.layers, this.outputShapes(this.inputShape()!));
    if (this.prefixTop < 0) return null;
    const h = forwardByPrefixes(this.layers, this.prefixTop, x);
    return h && { next: this.prefixTop + 1, h };
  }

  private forwardAll(x: AnyTensor, training: boolean, logits: boolean, seed = 0, rowOffset = 0): Tensor {
    const byPrefixes = this.prefixForward(x, training);
    let h: AnyTensor = byPrefixes?.h ?? x;
    // Keras masking: each layer gets its input's mask and says what its output's is (null unless a layer makes one).
    let mask: SequenceMask | null = null;
    const last = this.layers.length - 1;
    let lookup: StepLookup | null = null;
    this.layers.forEach((l, i) => {
      if (byPrefixes && i < byPrefixes.next) return;
      const input: AnyTensor = h;
      // At inference an Embedding before a layer that takes a folded lookup only computes its mask, and that layer
      // reads the ids (as Functional.inputFolds does): it gathers projected rows of the table.
      const folds =
        !training &&
        i < last &&
        input instanceof IndexTensor &&
        input.shape.length === 2 &&
        this.layers[i + 1].acceptsInputLookup();
      const table = folds ? l.stepLookup() : null;
      if (table) {
        l.checkFoldedInput(input);
        lookup = table;
        mask = l.computeMask(input, mask);
        return;
      }
      h = l.forward(input, {
        training,
        seed,
        rowOffset,
        logits: logits && i === last,
        mask,
        ...(lookup ? { inputLookup: lookup } : {}),
      });
      lookup = null;
      mask = l.computeMask(input, mask);
    });
    const out = h as unknown as Tensor;
    this.lastOutputMask = sequenceOutputMask(out, mask);
    return out;
  }

  /**
   * The [N·T] mask of the last forward's sequence output ([N, T, features]) when a layer masked steps (Embedding with
   * maskZero, Masking): its loss and metrics count only the real steps, as Keras's. Null otherwise.
   */
  private lastOutputMask: Uint8Array | null = null;

  /** Whether a layer can mask steps: a sequence output's loss positions are then known only after the forward. */
  private makesMasks(): boolean {
    return this.layers.some((l) => l.producesMask);
  }

  private backwardAll(dy: Tensor): void {
    let d: Tensor | null = dy;
    for (let i = this.layers.length - 1; i >= 0; i--) {
      if (d === null)
        throw new Error(`layer '${this.layers[i + 1].name}' took index inputs but is not the first layer`);
      d = this.layers[i].backward(d);
    }
  }

  /** Whether the last activation is folded into the loss (logits path). */
  private lossUsesLogits(): boolean {
    if (this.fromLogits) return false; // the model already outputs logits
    return (
      fusableActivation(this.loss!) !== null &&
      this.layers[this.layers.length - 1].outputActivation() === fusableActivation(this.loss!)
    );
  }

  private requireCompiled(what: string): { loss: LossName; optimizer: Optimizer } {
    if (!this.loss || !this.optimizer) throw new Error(`${what}: compile the model first`);
    return { loss: this.loss, optimizer: this.optimizer };
  }

  private checkXY(x: AnyTensor, y: AnyTensor, what: string): void {
    checkTensorArg(x, `${what}: inputs`);
    checkTensorArg(y, `${what}: targets`);
    if (x.shape[0] !== y.shape[0]) {
      throw new Error(`${what}: inputs have ${x.shape[0]} samples but targets have ${y.shape[0]}`);
    }
    if (x instanceof Tensor) assertFinite(x, `${what}: inputs`);
    if (y instanceof Tensor) assertFinite(y, `${what}: targets`);
  }

  /** One optimisation step on a batch; returns its logs (loss and the compiled metrics). */
  trainOnBatch(x: AnyTensor, y: AnyTensor): Logs {
    this.requireCompiled('trainOnBatch');
    this.checkXY(x, y, 'trainOnBatch');
    checkStatefulRows(this.statefulBatch(), x.shape[0], 'trainOnBatch');
    return this.trainStep(x, y);
  }

  /** Keras-style description of the model for a worker replica (see PoolModel). */
  replicaDescription(): ReplicaDescription {
    const { loss } = this.requireCompiled('replicaDescription');
    return {
      className: this.className,
      config: { layers: this.layers.map(layerToKeras), inputShape: this.layers[0].inputShape },
      compile: { losses: [loss], metrics: this.metrics, fromLogits: this.fromLogits },
      weightNames: this.namedWeights().map((w) => w.name),
    };
  }

  /** A forward pass waiting for its shardFinish: the output and what the loss needs. */
  private pendingShard: {
    out: Tensor;
    y: AnyTensor;
    logitsPath: boolean;
    mask: Uint8Array | null;
    count: number;
  } | null = null;

  /**
   * Forward pass on rows [rowOffset, rowOffset + x.rows) of a batch (see PoolModel): zeroes the gradients when
   * training; returns the shard's rows (the loss is a mean over samples). The caller opens the allocation scope,
   * closed after shardFinish. Worker threads run exactly this on their shards.
   */
  shardForward(batch: ShardBatch, opts: ShardForwardOptions): number[] {
    this.requireCompiled('shardForward');
    const [x] = batch.xs;
    const [y] = batch.ys;
    this.buildFor(x);
    const logitsPath = this.lossUsesLogits();
    if (opts.training) for (const l of this.layers) l.zeroGrads();
    const out = this.forwardAll(x, opts.training, logitsPath, opts.seed, opts.rowOffset);
    const mask = this.lastOutputMask;
    // A masked sequence output's loss is a mean over the real steps of the whole batch: the shard counts its own.
    const count = mask ? mask.reduce((n, v) => n + (v ? 1 : 0), 0) : x.shape[0];
    this.pendingShard = { out, y, logitsPath, mask, count };
    return [count];
  }

  /**
   * The shard's rows (the loss is a mean over samples), or null when a masked sequence output counts its real steps,
   * which only the forward pass finds (see PoolModel.shardCounts).
   */
  shardCounts(batch: ShardBatch): number[] | null {
    if (this.makesMasks() && this.outputShape().length === 2) return null;
    return [batch.xs[0].shape[0]];
  }

  /**
   * The shard's share of the batch's logs given the batch's rows; with `backward`, leaves the shard's share of
   * ∂(batch-mean loss)/∂w in the gradient buffers.
   */
  shardFinish(totals: readonly number[], backward: boolean): Logs {
    const { loss } = this.requireCompiled('shardFinish');
    const p = this.pendingShard;
    this.pendingShard = null;
    if (!p) throw new Error(`model '${this.name}': shardFinish without a shardForward`);
    const share = shardShare(p.count, totals[0]);
    const grad = backward ? alloc(p.out.size) : null;
    const fromLogits = p.logitsPath || this.fromLogits;
    const value = p.mask
      ? computeMaskedLoss(loss, p.out, p.y, grad, fromLogits, p.mask)
      : computeLoss(loss, p.out, p.y, grad, fromLogits);
    if (grad) {
      if (share !== 1) for (let i = 0; i < grad.length; i++) grad[i] *= share;
      this.backwardAll(new Tensor(grad, p.out.shape));
    }
    const logs: Logs = { loss: value * share };
    this.addMetrics(logs, loss, p.out, p.y, share, p.mask, p.logitsPath);
    return logs;
  }

  /**
   * The compiled metrics (accuracy) under the names the user gave ('accuracy' or 'acc'), as Keras logs them. `fused`:
   * out holds the logits of the last activation the loss absorbed.
   */
  private addMetrics(
    logs: Logs,
    loss: LossName,
    out: Tensor,
    y: AnyTensor,
    share: number,
    mask: Uint8Array | null,
    fused: boolean,
  ): void {
    if (this.metrics.length === 0) return;
    const acc = (mask ? maskedAccuracy(loss, out, y, mask, fused) : accuracy(loss, out, y, fused)) * share;
    for (const metric of this.metrics) logs[metric] = acc;
  }

  /**
   * The one draw from trainRng each training step makes (its dropout seed); a resumed epoch replays it for every batch
   * it skips, so the draws that follow match an uninterrupted run.
   */
  private stepSeed(): number {
    return this.trainRng.nextUint32();
  }

  private trainStep(x: AnyTensor, y: AnyTensor): Logs {
    const { optimizer } = this.requireCompiled('trainOnBatch');
    const seed = this.stepSeed();
    // Every buffer of the step comes from one scope, reused batch after batch.
    const logs = scoped(() => {
      const counts = this.shardForward({ xs: [x], ys: [y] }, { training: true, seed, rowOffset: 0 });
      return this.shardFinish(counts, true);
    });
    optimizer.applyGradients(this.namedWeights());
    return logs;
  }

  /**
   * Set when the last fit stopped mid-epoch: how far the epoch got, with its running sums. Pass it back as
   * `resumeFrom` to finish the epoch exactly.
   */
  interruptedAt: EpochProgress | null = null;

  /** Threads used by fit and evaluate (1 = this thread only). */
  threads = 1;

  private async trainStepParallel(x: AnyTensor, y: AnyTensor): Promise<Logs> {
    const { optimizer } = this.requireCompiled('fit');
    this.buildFor(x);
    const seed = this.stepSeed();
    const logs = await parallelRunner()!.gradients(this, { xs: [x], ys: [y] }, seed, this.threads);
    optimizer.applyGradients(this.namedWeights());
    return logs;
  }

  /**
   * Whether a batch of `rows` rows will be split across threads; given its input, whether it is also worth splitting
   * (see usePool).
   */
  private useThreads(rows: number, x?: AnyTensor): boolean {
    if (x !== undefined) this.buildFor(x);
    return usePool(this, rows, x === undefined ? undefined : [x]);
  }

  /** Outputs for x, computed in batches (inference mode). */
  predict(x: AnyTensor, args: InferenceOptions = {}): Tensor {
    checkTensorArg(x, 'predict: inputs');
    this.buildFor(x);
    if (x instanceof Tensor) assertFinite(x, 'predict: inputs');
    const N = x.shape[0];
    const bs = statefulBatchSize(
      this.statefulBatch(),
      args.batchSize ?? undefined,
      inferenceBatchSize(args, 'predict', FIT_DEFAULTS.batchSize),
      [{ what: 'the input', rows: N }],
      'predict',
    );
    const parts: Tensor[] = [];
    // One allocation scope per batch, the output copied out: kernel memory stays one batch's worth however many
    // rows there are (unscoped, a large prediction grew the wasm heap past its 2 GB addressable range).
    withFrozenWeights(() => {
      for (let i = 0; i < N; i += bs)
        parts.push(scoped(() => this.forwardAll(x.sliceRows(i, Math.min(N, i + bs)), false, false).clone()));
    });
    if (parts.length === 1) return parts[0];
    const rowShape = parts[0].shape.slice(1);
    const out = new Float32Array(N * sizeOf(rowShape));
    let off = 0;
    for (const p of parts) {
      out.set(p.data, off);
      off += p.size;
    }
    return new Tensor(out, [N, ...rowShape]);
  }

  /** Mean loss (and metrics) over x, y in batches. */
  evaluate(x: AnyTensor, y: AnyTensor, args: InferenceOptions = {}): Logs {
    const { loss } = this.requireCompiled('evaluate');
    this.checkXY(x, y, 'evaluate');
    this.buildFor(x);
    checkClassTargets(loss, this.outputShape(), y, 'evaluate: targets');
    const N = x.shape[0];
    const bs = statefulBatchSize(
      this.statefulBatch(),
      args.batchSize ?? undefined,
      inferenceBatchSize(args, 'evaluate', FIT_DEFAULTS.batchSize),
      [{ what: 'the data', rows: N }],
      'evaluate',
    );
    const sums: Logs = {};
    withFrozenWeights(() => {
      for (let i = 0; i < N; i += bs) {
        const end = Math.min(N, i + bs);
        const logs = this.evaluateBatch(x.sliceRows(i, end), y.sliceRows(i, end), loss);
        for (const [k, v] of Object.entries(logs)) sums[k] = (sums[k] ?? 0) + v * (end - i);
      }
    });
    for (const k of Object.keys(sums)) sums[k] /= N;
    return sums;
  }

  private evaluateBatch(x: AnyTensor, y: AnyTensor, loss: LossName): Logs {
    const logitsPath = this.lossUsesLogits();
    return scoped(() => {
      const out = this.forwardAll(x, false, logitsPath);
      const mask = this.lastOutputMask;
      const fromLogits = logitsPath || this.fromLogits;
      const logs: Logs = {
        loss: mask
          ? computeMaskedLoss(loss, out, y, null, fromLogits, mask)
          : computeLoss(loss, out, y, null, fromLogits),
      };
      this.addMetrics(logs, loss, out, y, 1, mask, logitsPath);
      return logs;
    });
  }

  /** Evaluates a batch stream: mean loss weighted by batch size. */
  async evaluateDataset(data: BatchDataset, opts: EvaluateDatasetOptions = {}): Promise<Logs> {
    const { loss } = this.requireCompiled('evaluateDataset');
    const maxBatches = opts.maxBatches ?? Infinity;
    const sums: Logs = {};
    let n = 0;
    let b = 0;
    for await (const { xs, ys } of data.batches(0)) {
      if (b++ >= maxBatches) break;
      this.buildFor(xs);
      const rows = xs.shape[0];
      checkStatefulRows(this.statefulBatch(), rows, `evaluateDataset: batch ${b - 1}`);
      // On the pool, like training: each thread scores its shard of the batch.
      const logs = this.useThreads(rows, xs)
        ? await parallelRunner()!.losses(this, { xs: [xs], ys: [ys] }, this.threads)
        : this.evaluateBatch(xs, ys, loss);
      for (const [k, v] of Object.entries(logs)) sums[k] = (sums[k] ?? 0) + v * rows;
      n += rows;
      opts.onBatchEnd?.(b - 1, { ...logs, size: rows });
    }
    if (n === 0) throw new Error('evaluateDataset: the dataset produced no batches');
    for (const k of Object.keys(sums)) sums[k] /= n;
    return sums;
  }

  /** Trains on tensors (Keras fit). Returns the History. */
  async fit(x: AnyTensor, y: AnyTensor, args: FitArgs = {}): Promise<History> {
    const givenBatchSize = batchSizeOption(args, FIT_OPTIONS, 'fit', FIT_DEFAULTS.batchSize);
    const { loss } = this.requireCompiled('fit');
    this.checkXY(x, y, 'fit');
    this.buildFor(x);
    checkClassTargets(loss, this.outputShape(), y, 'fit: targets');
    let trainX = x;
    let trainY = y;
    let val = args.validationData;
    const split = args.validationSplit ?? 0;
    if (!(split >= 0 && split < 1)) throw new Error(`fit: validationSplit must be in [0, 1), got ${split}`);
    if (split > 0 && !val) {
      // Keras: the last fraction of the data, taken before shuffling.
      const N = x.shape[0];
      const cut = Math.floor(N * (1 - split));
      if (cut === 0 || cut === N)
        throw new Error(`fit: validationSplit ${split} leaves an empty split of ${N} samples`);
      trainX = x.sliceRows(0, cut);
      trainY = y.sliceRows(0, cut);
      val = [x.sliceRows(cut, N), y.sliceRows(cut, N)];
    }
    if (val) {
      this.checkXY(val[0], val[1], 'fit: validationData');
      // Now, not when the first epoch's training is done and its validation reaches the bad target.
      checkClassTargets(loss, this.outputShape(), val[1], 'fit: validationData: targets');
    }
    const N = trainX.shape[0];
    if (N === 0) throw new Error('fit: no training samples');
    const bs = statefulBatchSize(
      this.statefulBatch(),
      args.batchSize ?? undefined,
      givenBatchSize,
      [
        { what: 'the training data', rows: N },
        ...(val ? [{ what: 'the validation data', rows: val[0].shape[0] }] : []),
      ],
      'fit',
    );
    const shuffle = args.shuffle ?? FIT_DEFAULTS.shuffle;
    const steps = Math.ceil(N / bs);
    const rng = this.trainRng;
    const dataset: BatchDataset = {
      batchesPerEpoch: steps,
      samplesPerEpoch: N,
      *batches(): Iterable<Batch> {
        const order = new Int32Array(N);
        for (let i = 0; i < N; i++) order[i] = i;
        if (shuffle) rng.shuffle(order);
        for (let i = 0; i < N; i += bs) {
          const rows = order.subarray(i, Math.min(N, i + bs));
          yield shuffle
            ? { xs: gatherRows(trainX, rows), ys: gatherRows(trainY, rows) }
            : { xs: trainX.sliceRows(i, i + rows.length), ys: trainY.sliceRows(i, i + rows.length) };
        }
      },
    };
    // fit's own options (shuffle, validationSplit) are spent here: fitDataset takes the rest.
    const rest = Object.fromEntries(
      Object.entries(args).filter(([k]) => (FIT_DATASET_OPTIONS as readonly string[]).includes(k)),
    ) as FitDatasetArgs;
    return this.fitDataset(dataset, { ...rest, validationData: val, batchSize: bs });
  }

  /** Trains on a stream of batches; `dataset.batches(epoch)` is called once per epoch. */
  async fitDataset(dataset: BatchDataset, args: FitDatasetArgs = {}): Promise<History> {
    checkFitOptions(args, FIT_DATASET_OPTIONS, 'fitDataset');
    this.requireCompiled('fitDataset');
    const interrupted = args.resumeFrom ?? null;
    // Sums of an epoch interrupted when every accuracy was logged as `acc` go on under the name compiled now.
    const resume = interrupted && {
      ...interrupted,
      sums: renameLegacyAccuracy(interrupted.sums, this.metrics),
    };
    if (resume) checkEpochProgress(resume, args.initialEpoch);
    if (resume?.states)
      checkCarriedStateShapes(
        this.layers,
        resume.states.map((l) => l?.map((t) => t.shape) ?? null),
        'fit: resumeFrom.states',
      );
    if (args.threads !== undefined) {
      checkThreads(args.threads, 'fit');
      this.threads = args.threads;
    }
    const batchSize = args.batchSize ?? null;
    const validation = args.validationData;
    const stateful = this.statefulBatch();
    // Validation tensors a stateful model cannot batch are refused now, not after the first epoch's training.
    if (Array.isArray(validation))
      statefulBatchSize(
        stateful,
        batchSize ?? undefined,
        stateful?.batchSize ?? 0,
        [{ what: 'the validation data', rows: validation[0].shape[0] }],
        'fit',
      );
    return runFitLoop(
      this,
      dataset,
      {
        epochs: args.epochs ?? FIT_DEFAULTS.epochs,
        initialEpoch: resume?.epoch ?? args.initialEpoch ?? FIT_DEFAULTS.initialEpoch,
        resumeFrom: resume,
        callbacks: args.callbacks,
        verbose: args.verbose,
        batchSize,
        batchesPerEpoch: args.batchesPerEpoch,
      },
      {
        what: 'fit',
        prepare: ({ xs, ys }, batch) => {
          this.checkXY(xs, ys, `fit: batch ${batch}`);
          const size = xs.shape[0];
          checkStatefulRows(stateful, size, `fit: batch ${batch}`);
          return {
            size,
            train: () =>
              this.useThreads(size, xs) ? this.trainStepParallel(xs, ys) : this.trainStep(xs, ys),
          };
        },
        validate: !validation
          ? null
          : Array.isArray(validation)
            ? () =>
                this.evaluate(validation[0], validation[1], {
                  batchSize: batchSize ?? stateful?.batchSize ?? FIT_DEFAULTS.batchSize,
                })
            : () => this.evaluateDataset(validation),
        getStates: () => this.getStates(),
        setStates: (states) => this.setStates(states),
      },
    );
  }

  /** The batch size this model's stateful layers need, from the first layer's declared one (see statefulBatch). */
  private statefulBatch(): StatefulBatch | null {
    return statefulBatch(this.layers, this.layers[0]?.declaredBatchSize ?? null);
  }

  /** Clears the carried state of every stateful layer (and of the worker replicas'). */
  resetStates(): void {
    for (const l of this.layers) l.resetStates();
    parallelRunner()?.resetStates(this);
  }

  /**
   * What the layers carry into the next batch (see CarriedStates), gathered from the worker replicas too when the
   * last batches ran on threads.
   */
  async getStates(): Promise<CarriedStates> {
    const runner = parallelRunner();
    const fromPool = runner ? await runner.getStates(this) : null;
    return fromPool ?? this.layers.map((l) => l.getStates());
  }

  /**
   * Sets what the layers carry into the next batch (as getStates gave it), on this thread or spread over the worker
   * replicas as the next batch will be; a model whose states do not fit is refused, naming the layer.
   */
  async setStates(states: CarriedStates): Promise<void> {
    checkCarriedStateShapes(
      this.layers,
      states.map((l) => l?.map((t) => t.shape) ?? null),
      'setStates',
    );
    const rows = states.find((l) => l && l.length > 0)?.[0].shape[0];
    if (rows !== undefined && this.useThreads(rows)) {
      await parallelRunner()!.setStates(this, states, this.threads);
      return;
    }
    parallelRunner()?.resetStates(this);
    this.layers.forEach((l, i) => l.resetStates(states[i] ?? undefined));
  }

  /**
   * Builds the model for its declared input shape, as predict would, so that getWeights/setWeights see its weights
   * (as in Keras, where a model with an input shape is built at once); refuses a model that has none yet.
   */
  private buildForWeights(what: string): void {
    if (this.built) return;
    if (this.layers.length > 0 && !this.inputShape()) {
      throw new InvalidInputError(
        `${what}: model '${this.name}' has no weights yet: give its first layer an inputShape, call ` +
          `build(inputShape), or run predict or fit once`,
      );
    }
    this.build();
  }

  /** Copies of all weights, in file order. */
  getWeights(): Tensor[] {
    this.buildForWeights('getWeights');
    return this.namedWeights().map(({ weight }) => new Tensor(weight.value.slice(), weight.shape));
  }

  setWeights(weights: Tensor[]): void {
    this.buildForWeights('setWeights');
    const named = this.namedWeights();
    if (weights.length !== named.length) {
      throw new Error(`setWeights: model '${this.name}' has ${named.length} weights, got ${weights.length}`);
    }
    named.forEach(({ name, weight }, i) => {
      const w = weights[i];
      if (w.shape.length !== weight.shape.length || w.shape.some((d, j) => d !== weight.shape[j])) {
        throw new Error(
          `setWeights: '${name}' has shape ${shapeToString(weight.shape)}, got ${shapeToString(w.shape)}`,
        );
      }
      weight.value.set(w.data);
    });
  }

  countParams(): number {
    return this.layers.reduce((s, l) => s + l.countParams(), 0);
  }

  /** A layer by name or index (Keras's and tfjs's `getLayer`). */
  getLayer(nameOrIndex: string | number): Layer {
    return layerByNameOrIndex(this.layers, nameOrIndex, this.name);
  }

  /**
   * Writes the model to `path` in the format its extension names: `.keras` (Keras 3), `.h5`/`.hdf5` (Keras 2), else a
   * recur/tfjs model directory. Needs a file system: in Node, import 'recur/node' first.
   */
  save(path: string): Promise<SaveResult> {
    return saveWithInstalledSaver(this, path);
  }

  /** A Keras-style table of layers, output shapes and parameter counts. */
  summary(print: (line: string) => void = console.log): void {
    const input = this.inputShape();
    const shapes = input ? this.outputShapes(input) : null;
    // The batch axis shows the declared batch size, as Keras's table does (None only when none was declared).
    const batch = this.layers[0]?.declaredBatchSize ?? this.statefulBatch()?.batchSize ?? null;
    // Unbuilt with a declared input shape: the counts it will have. With none, as Keras 3: '0 (unbuilt)', total 0.
    const params = this.layers.map((l, i) =>
      l.built
        ? l.countParams()
        : input && shapes
          ? paramsOnceBuilt(l, i === 0 ? input : shapes[i - 1])
          : null,
    );
    const rows = this.layers.map((l, i) => [
      `${l.name} (${l.className})`,
      shapes ? shapeToString([batch, ...shapes[i]]) : '?',
      params[i] === null ? '0 (unbuilt)' : String(params[i]),
    ]);
    printSummaryTable(
      this.name,
      ['Layer (type)', 'Output Shape', 'Param #'],
      rows,
      params.reduce<number>((sum, p) => sum + (p ?? 0), 0),
      print,
    );
  }
}

/** Creates a Sequential model (tfjs `tf.sequential()`). */
export function sequential(args: SequentialArgs = {}): Sequential {
  return new Sequential(args);
}

/** A mask's [N·T] positions when it masks the steps of a sequence output [N, T, features], else null. */
function sequenceOutputMask(out: Tensor, mask: SequenceMask | null): Uint8Array | null {
  if (!mask || out.shape.length !== 3) return null;
  if (mask.shape[0] !== out.shape[0] || mask.shape[1] !== out.shape[1]) return null;
  return mask.data;
}
