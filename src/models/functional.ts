/**
 * Functional models (Keras / tfjs `tf.model({inputs, outputs})`): a graph of layers with several inputs and outputs.
 *
 *   const x = input({shape: [T, D]});  const [seq, h, c] = lstm({units, returnState: true}).applyMany(x);  …
 *   const m = model({inputs: [x, …], outputs: [y, …]});
 *
 * The graph is a list of layer nodes in topological order (each layer is applied once: no shared layers yet).
 * Forward runs the nodes in order keeping every node's outputs; backward runs them in reverse, summing the gradients
 * of a tensor that feeds several layers. Training uses the same pieces as Sequential — computeLoss per output (the
 * losses summed, Keras's total `loss`, with `<output>_loss` per output when there are several), Optimizer
 * .applyGradients, callbacks and History — and the same worker pool (threads > 1, src/parallel): a batch's rows are
 * split across threads, each output's loss normalised over the whole batch (see src/models/pool_model.ts).
 * A sequence output that carries a Keras mask (e.g. a decoder fed through Embedding(maskZero)) counts only its real
 * steps in the loss and metrics: padding in the targets never trains the model (Keras's masked loss).
 * `fitDataset` trains on a stream of batches whose shapes may differ (length-bucketed sequences) and, like
 * Sequential's, resumes an interrupted epoch exactly (`resumeFrom`, `interruptedAt`).
 */
import { describeValue } from '../core/errors.js';
import { alloc, scoped } from '../core/backend.js';
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
  Layer,
  checkOptionKeys,
  layerByNameOrIndex,
  type ForwardOptions,
  type LayerShape,
  type SequenceMask,
} from '../layers/layer.js';
import { LayerNode, SymbolicTensor, sourceNode, type SymbolicDtype } from '../layers/symbolic.js';
import { WeightsToFollow } from '../layers/initializers.js';
import { withFrozenWeights } from '../layers/frozen_weights.js';
import { Callback, History, type CallbackModel, type LambdaCallbackArgs, type Logs } from './callbacks.js';
import {
  accuracy,
  checkLabelSmoothing,
  checkClassTargets,
  computeLoss,
  computeMaskedLoss,
  fusableActivation,
  lossName,
  maskedAccuracy,
  metricNames,
  renameLegacyAccuracy,
  type LossName,
} from './losses.js';
import { COMPILE_DEFAULTS, Optimizer, createOptimizer, type NamedWeight } from './optimizers.js';
import { functionalTopology } from './functional_serialization.js';
import {
  checkThreads,
  parallelRunner,
  shardShare,
  usePool,
  type PoolModel,
  type ReplicaDescription,
  type ShardBatch,
  type ShardForwardOptions,
} from './pool_model.js';
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
import { printSummaryTable } from './summary.js';

export { SymbolicTensor } from '../layers/symbolic.js';

export interface InputLayerArgs {
  /** Shape without the batch axis (null where it varies, e.g. [null, 8] for any number of steps). */
  shape?: LayerShape;
  batchInputShape?: LayerShape;
  /** Rows of every batch (Keras's `Input(batch_size=…)`), which a stateful layer needs; with `shape`. */
  batchSize?: number;
  name?: string;
  dtype?: SymbolicDtype;
}

/** The source of a model input: passes its tensor through. */
export class InputLayer extends Layer {
  static readonly className = 'InputLayer';
  readonly className = 'InputLayer';
  readonly dtype: SymbolicDtype;

  constructor(args: InputLayerArgs) {
    const shape = args.shape ?? args.batchInputShape?.slice(1);
    if (!shape)
      throw new Error(`input '${args.name ?? 'input'}': give its shape, e.g. input({shape: [T, D]})`);
    super(
      args.batchInputShape
        ? { name: args.name, batchInputShape: args.batchInputShape }
        : { name: args.name, inputShape: shape, batchSize: args.batchSize },
      'input',
    );
    checkOptionKeys('input', args, ['shape']);
    this.dtype = args.dtype ?? 'float32';
    if (this.dtype !== 'float32' && this.dtype !== 'int32')
      throw new Error(
        `input '${this.name}': dtype must be 'float32' or 'int32', got ${describeValue(args.dtype)}`,
      );
    this.inputShape = [...shape];
    this.built = true;
  }

  static fromConfig(config: Record<string, unknown>): InputLayer {
    return new InputLayer(config as InputLayerArgs);
  }

  protected buildWeights(): void {}
  computeOutputShape(inputShape: LayerShape): LayerShape {
    return inputShape;
  }
  forward(x: AnyTensor): Tensor {
    return x as Tensor;
  }
  backward(dy: Tensor): Tensor {
    return dy;
  }
  override getConfig(): Record<string, unknown> {
    return {
      batchInputShape: [this.declaredBatchSize, ...this.inputShape!],
      dtype: this.dtype,
      sparse: false,
      name: this.name,
    };
  }
}

/** A symbolic model input (tfjs `tf.input`). */
export function input(args: InputLayerArgs): SymbolicTensor {
  const layer = new InputLayer(args);
  return sourceNode(layer, layer.inputShape!, layer.dtype);
}

export interface FunctionalArgs {
  inputs: SymbolicTensor | SymbolicTensor[];
  outputs: SymbolicTensor | SymbolicTensor[];
  name?: string;
  /** Seed for weight initialisation, shuffling and dropout. Random when omitted. */
  seed?: number;
  /**
   * The caller sets every weight right after building (a model file being loaded, a worker's replica): building then
   * leaves the weights at zero instead of drawing them (src/layers/initializers.ts WeightsToFollow).
   */
  weightsFollow?: boolean;
}

/** Per-output losses: one for all, a list in output order, or a dict keyed by output (layer) name. */
export type LossSpec = LossName | string | (LossName | string)[] | Record<string, LossName | string>;

export interface FunctionalCompileArgs {
  /** Default 'rmsprop' (with its Keras defaults), as Keras's compile. */
  optimizer?: string | Optimizer;
  loss: LossSpec;
  /** 'accuracy' (or 'acc'), for every output: logged under that name (`accuracy`, `out_accuracy`). */
  metrics?: string[];
  fromLogits?: boolean;
  /**
   * Keras's `label_smoothing` for the categorical cross-entropies (sparse included): targets become (1 − ε)·onehot + ε/V.
   * Only the loss changes; accuracy still compares with the true class. Default 0.
   */
  labelSmoothing?: number;
}

/** Several tensors: a list in input/output order, or a dict keyed by input/output name. One tensor for one. */
export type TensorsArg = AnyTensor | AnyTensor[] | Record<string, AnyTensor>;

export interface FunctionalFitArgs {
  batchSize?: number;
  epochs?: number;
  shuffle?: boolean;
  initialEpoch?: number;
  validationSplit?: number;
  validationData?: [TensorsArg, TensorsArg];
  callbacks?: Callback[] | LambdaCallbackArgs;
  verbose?: number;
  /** Threads to split each batch across (needs recur/node's or recur/web's worker pool); default: `model.threads`. */
  threads?: number;
  /** Continue an interrupted epoch exactly (see fitDataset). */
  resumeFrom?: EpochProgress;
}

/** One batch of a functional dataset: the inputs and the targets in model order. */
export interface FunctionalBatch {
  xs: AnyTensor[];
  ys: AnyTensor[];
}

/** A source of batches for a functional model, called once per epoch; batch shapes may differ (bucketed lengths). */
export interface FunctionalDataset {
  batches(epoch: number): Iterable<FunctionalBatch> | AsyncIterable<FunctionalBatch>;
  /** Batches per epoch, when known (progress, ETA; an interruption before the last batch is mid-epoch). */
  readonly batchesPerEpoch?: number;
  readonly samplesPerEpoch?: number;
}

export interface FunctionalFitDatasetArgs {
  epochs?: number;
  initialEpoch?: number;
  callbacks?: Callback[] | LambdaCallbackArgs;
  verbose?: number;
  /** Evaluated after every epoch (val_ logs). */
  validationData?: FunctionalDataset | [TensorsArg, TensorsArg];
  /** Batch size reported to callbacks (and the validation batch size for tensors). */
  batchSize?: number;
  /** Continue an interrupted epoch exactly (as Sequential.fitDataset): the stopped fit's `interruptedAt`. */
  resumeFrom?: EpochProgress;
  /** Threads to split each batch across (needs recur/node's or recur/web's worker pool); default: `model.threads`. */
  threads?: number;
}

export const FUNCTIONAL_FIT_DEFAULTS = { batchSize: 32, epochs: 1, shuffle: true, initialEpoch: 0 } as const;

/** Inference folds of a list of nodes (Functional.inputFolds): readers given a lookup's ids, lookups not run. */
interface InputFolds {
  readers: Map<LayerNode, LayerNode>;
  skipped: Set<LayerNode>;
}

export class Functional implements CallbackModel, PoolModel {
  /** inputFolds' answer per node list (the graph does not change once built). */
  private readonly inputFoldsOf = new WeakMap<readonly LayerNode[], InputFolds>();
  readonly className = 'Functional';
  readonly name: string;
  readonly inputs: SymbolicTensor[];
  readonly outputs: SymbolicTensor[];
  /** Nodes in topological order (input nodes first, in input order). */
  readonly nodes: LayerNode[];
  /** The layers of the nodes, in the same order (InputLayers included). */
  readonly layers: Layer[];
  stopTraining = false;
  /** Where the last fit stopped mid-epoch (stopTraining before the epoch's last batch), for resumeFrom. */
  interruptedAt: EpochProgress | null = null;
  optimizer: Optimizer | null = null;
  losses: LossName[] | null = null;
  metrics: string[] = [];
  fromLogits = false;
  /** Label smoothing of the categorical losses (see FunctionalCompileArgs). */
  labelSmoothing = 0;
  readonly seed: number;
  readonly initRng: Random;
  /** The first build leaves weights at zero: the caller sets them all (SequentialArgs.weightsFollow). */
  private weightsFollow: boolean;
  readonly trainRng: Random;
  /** How many consumers each symbolic tensor has (nodes inside the model, plus model outputs). */
  private readonly consumers = new Map<SymbolicTensor, number>();
  private built = false;
  private disposed = false;
  /** Threads used by fit and evaluateDataset (1 = this thread only). */
  threads = 1;
  /** A forward pass waiting for its shardFinish (see PoolModel). */
  private pendingShard: {
    values: GraphValues;
    ys: AnyTensor[];
    logits: Set<LayerNode>;
    counts: number[];
  } | null = null;

  constructor(args: FunctionalArgs) {
    checkOptionKeys('model', args, ['inputs', 'outputs', 'seed', 'weightsFollow']);
    this.name = args.name ?? 'model';
    this.seed =
      args.seed === undefined
        ? (Math.random() * 2 ** 32) >>> 0
        : checkModelSeed(`model '${this.name}'`, args.seed);
    this.initRng = new Random(this.seed);
    this.weightsFollow = args.weightsFollow ?? false;
    this.trainRng = new Random((this.seed ^ 0x5bd1e995) >>> 0);
    this.inputs = Array.isArray(args.inputs) ? [...args.inputs] : [args.inputs];
    this.outputs = Array.isArray(args.outputs) ? [...args.outputs] : [args.outputs];
    const where = `model '${this.name}'`;
    if (this.inputs.length === 0 || this.outputs.length === 0)
      throw new Error(`${where}: needs inputs and outputs`);
    for (const t of [...this.inputs, ...this.outputs])
      if (!(t instanceof SymbolicTensor))
        throw new Error(`${where}: inputs and outputs must be symbolic tensors`);
    for (const x of this.inputs) {
      if (!(x.node.layer instanceof InputLayer))
        throw new Error(
          `${where}: input ${x.name} is not made by input(); model inputs must be input() tensors`,
        );
    }
    if (new Set(this.inputs).size !== this.inputs.length)
      throw new Error(`${where}: an input is listed twice`);
    // Depth-first post-order from the outputs: every node after the nodes it reads.
    const order: LayerNode[] = [];
    const state = new Map<LayerNode, 'visiting' | 'done'>();
    const visit = (node: LayerNode): void => {
      const s = state.get(node);
      if (s === 'done') return;
      if (s === 'visiting') throw new Error(`${where}: the graph has a cycle at layer '${node.layer.name}'`);
      state.set(node, 'visiting');
      for (const x of node.inputs) visit(x.node);
      state.set(node, 'done');
      if (node.inputs.length === 0 && !this.inputs.some((x) => x.node === node)) {
        throw new Error(
          `${where}: output depends on input '${node.layer.name}', which is not among the model's inputs`,
        );
      }
      order.push(node);
    };
    for (const y of this.outputs) visit(y.node);
    const inputNodes = this.inputs.map((x) => x.node);
    this.nodes = [...inputNodes, ...order.filter((n) => !inputNodes.includes(n))];
    this.layers = this.nodes.map((n) => n.layer);
    const names = new Set<string>();
    for (const l of this.layers) {
      if (names.has(l.name)) throw new Error(`${where}: two layers are named '${l.name}'`);
      names.add(l.name);
    }
    for (const n of this.nodes)
      for (const x of n.inputs) this.consumers.set(x, (this.consumers.get(x) ?? 0) + 1);
    for (const y of this.outputs) this.consumers.set(y, (this.consumers.get(y) ?? 0) + 1);
    this.layers.forEach((l, i) => {
      l.randomSalt = i;
      l.modelsHolding++;
    });
    // Every shape is known from the graph, so weights exist from the start (as Keras builds layers on apply).
    this.build();
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

  /** Names of the outputs (Keras: the producing layer's name), for loss dicts and per-output logs. */
  get outputNames(): string[] {
    return this.outputs.map((y) =>
      y.node.outputs.length === 1 ? y.node.layer.name : `${y.node.layer.name}_${y.outputIndex}`,
    );
  }

  get inputNames(): string[] {
    return this.inputs.map((x) => x.node.layer.name);
  }

  get isBuilt(): boolean {
    return this.built;
  }

  /** Creates every layer's weights from the symbolic shapes. */
  build(): void {
    if (this.built) return;
    const rng = this.weightsFollow ? new WeightsToFollow(this.seed) : this.initRng;
    this.weightsFollow = false;
    for (const node of this.nodes) {
      const l = node.layer;
      if (l.built || node.inputs.length === 0) continue;
      const shapes = node.inputs.map((x) => x.shape.slice(1));
      try {
        l.buildMany(shapes, rng);
      } catch (e) {
        throw new Error(`model '${this.name}': building layer '${l.name}': ${(e as Error).message}`);
      }
    }
    this.built = true;
  }

  compile(args: FunctionalCompileArgs): void {
    const known = new Set(['optimizer', 'loss', 'metrics', 'fromLogits', 'labelSmoothing']);
    for (const k of Object.keys(args)) if (!known.has(k)) throw new Error(`compile: unknown option '${k}'`);
    const optimizer = createOptimizer(args.optimizer ?? COMPILE_DEFAULTS.optimizer);
    const names = this.outputNames;
    let losses: LossName[];
    if (typeof args.loss === 'string') losses = names.map(() => lossName(args.loss));
    else if (Array.isArray(args.loss)) {
      if (args.loss.length !== names.length)
        throw new Error(
          `compile: ${args.loss.length} losses for ${names.length} outputs (${names.join(', ')})`,
        );
      losses = args.loss.map((l) => lossName(l));
    } else {
      const dict = args.loss;
      for (const k of Object.keys(dict))
        if (!names.includes(k))
          throw new Error(`compile: loss for '${k}', which is not an output (${names.join(', ')})`);
      losses = names.map((n) => {
        if (!(n in dict)) throw new Error(`compile: no loss for output '${n}'`);
        return lossName(dict[n]);
      });
    }
    const metrics = metricNames(args.metrics, losses);
    const labelSmoothing = checkLabelSmoothing(args.labelSmoothing ?? 0, 'compile');
    if (labelSmoothing > 0) {
      const other = losses.find(
        (l) => l !== 'categoricalCrossentropy' && l !== 'sparseCategoricalCrossentropy',
      );
      if (other)
        throw new Error(`compile: labelSmoothing applies to the categorical cross-entropies, not ${other}`);
    }
    this.optimizer = optimizer;
    this.losses = losses;
    this.metrics = metrics;
    this.fromLogits = args.fromLogits ?? false;
    this.labelSmoothing = labelSmoothing;
  }

  /** Weights with their file names (`layer/weight`), in layer order. */
  namedWeights(): NamedWeight[] {
    return this.layers.flatMap((l) => l.weights.map((w) => ({ name: `${l.name}/${w.name}`, weight: w })));
  }

  getWeights(): Tensor[] {
    return this.namedWeights().map(({ weight }) => new Tensor(weight.value.slice(), weight.shape));
  }

  setWeights(weights: Tensor[]): void {
    const named = this.namedWeights();
    if (weights.length !== named.length)
      throw new Error(`setWeights: model '${this.name}' has ${named.length} weights, got ${weights.length}`);
    named.forEach(({ name, weight }, i) => {
      const w = weights[i];
      if (w.shape.length !== weight.shape.length || w.shape.some((d, j) => d !== weight.shape[j]))
        throw new Error(
          `setWeights: '${name}' has shape ${shapeToString(weight.shape)}, got ${shapeToString(w.shape)}`,
        );
      weight.value.set(w.data);
    });
  }

  countParams(): number {
    return this.layers.reduce((s, l) => s + l.countParams(), 0);
  }

  /** A layer by name or index (Keras's and tfjs's `getLayer`; the input layers count, as in Keras). */
  getLayer(nameOrIndex: string | number): Layer {
    return layerByNameOrIndex(this.layers, nameOrIndex, this.name);
  }

  /** Tensors in input (or output) order from a list, a dict keyed by name, or one tensor. */
  private toList(v: TensorsArg, names: string[], what: string): AnyTensor[] {
    let list: AnyTensor[];
    if (v instanceof Tensor || v instanceof IndexTensor) list = [v];
    else if (Array.isArray(v)) list = v;
    else {
      for (const k of Object.keys(v))
        if (!names.includes(k)) throw new Error(`${what}: '${k}' is not one of ${names.join(', ')}`);
      list = names.map((n) => {
        if (!(n in v)) throw new Error(`${what}: missing '${n}'`);
        return v[n];
      });
    }
    if (list.length !== names.length)
      throw new Error(
        `${what}: expected ${names.length} tensor(s) (${names.join(', ')}), got ${list.length}`,
      );
    list.forEach((t, i) => checkTensorArg(t, `${what}: '${names[i]}'`));
    return list;
  }

  private inputList(x: TensorsArg, what: string): AnyTensor[] {
    const xs = this.toList(x, this.inputNames, `${what}: inputs`);
    xs.forEach((t, i) => {
      const sym = this.inputs[i];
      const ok =
        t.shape.length === sym.shape.length &&
        sym.shape.every((d, j) => j === 0 || d === null || d === t.shape[j]);
      if (!ok)
        throw new Error(
          `${what}: input '${this.inputNames[i]}' expects shape ${shapeToString(sym.shape)}, got ${shapeToString(t.shape)}`,
        );
      if (t.dtype !== sym.dtype)
        throw new Error(`${what}: input '${this.inputNames[i]}' expects ${sym.dtype}, got ${t.dtype}`);
      if (t instanceof Tensor) assertFinite(t, `${what}: input '${this.inputNames[i]}'`);
    });
    const n = xs[0].shape[0];
    if (xs.some((t) => t.shape[0] !== n))
      throw new Error(`${what}: inputs have different numbers of samples`);
    return xs;
  }

  private targetList(y: TensorsArg, rows: number, what: string): AnyTensor[] {
    const ys = this.toList(y, this.outputNames, `${what}: targets`);
    ys.forEach((t, i) => {
      if (t.shape[0] !== rows)
        throw new Error(
          `${what}: inputs have ${rows} samples but target '${this.outputNames[i]}' has ${t.shape[0]}`,
        );
      if (t instanceof Tensor) assertFinite(t, `${what}: target '${this.outputNames[i]}'`);
      if (this.losses)
        checkClassTargets(
          this.losses[i],
          this.outputs[i].shape.slice(1),
          t,
          `${what}: target '${this.outputNames[i]}'`,
        );
    });
    return ys;
  }

  /** Nodes whose activation folds into their output's loss (softmax/sigmoid + cross-entropy; single-use outputs). */
  private logitsNodes(): Set<LayerNode> {
    const out = new Set<LayerNode>();
    if (this.fromLogits || !this.losses) return out;
    this.outputs.forEach((y, k) => {
      const act = fusableActivation(this.losses![k]);
      const node = y.node;
      if (
        act !== null &&
        node.outputs.length === 1 &&
        this.consumers.get(y) === 1 &&
        node.layer.outputActivation() === act
      )
        out.add(node);
    });
    return out;
  }

  /** Runs the graph; returns every tensor's value and mask. */
  private forwardAll(
    xs: AnyTensor[],
    training: boolean,
    seed: number,
    logits: Set<LayerNode>,
    rowOffset = 0,
  ): GraphValues {
    const feeds = new Map<SymbolicTensor, AnyTensor>();
    this.inputs.forEach((x, i) => feeds.set(x, xs[i]));
    return this.runNodes(feeds, this.nodes, { training, seed, logits, rowOffset });
  }

  /**
   * Runs `nodes` (a subset of this.nodes, in their order) from the fed tensor values: every tensor's value and
   * Keras mask. Inference by default. This is how a graph stepper runs a decoder's encoder once.
   */
  runNodes(
    feeds: ReadonlyMap<SymbolicTensor, AnyTensor>,
    nodes: readonly LayerNode[],
    opts: { training?: boolean; seed?: number; logits?: ReadonlySet<LayerNode>; rowOffset?: number } = {},
  ): GraphValues {
    this.build();
    const values = new Map<SymbolicTensor, AnyTensor>(feeds);
    // Keras masking: each tensor's mask (absent: none), from its node's computeMasks.
    const masks = new Map<SymbolicTensor, SequenceMask>();
    const folds = opts.training ? null : this.inputFolds(nodes);
    for (const node of nodes) {
      if (node.inputs.length === 0) continue;
      // A reader of a folded lookup takes the lookup's ids in its place.
      const lookupFrom = folds?.readers.get(node);
      const ins = node.inputs.map((x, i) => {
        const v = values.get(i === 0 && lookupFrom ? lookupFrom.inputs[0] : x);
        if (!v) throw new Error(`model '${this.name}': no value for ${x.name} (fed or computed before)`);
        return v;
      });
      const inMasks = node.inputs.map((x) => masks.get(x) ?? null);
      if (folds?.skipped.has(node)) {
        // A lookup folded into every layer reading it: only its mask is needed (from the ids).
        node.layer.checkFoldedInput(ins[0]);
        node.layer.computeMasks(ins, inMasks).forEach((m, i) => m && masks.set(node.outputs[i], m));
        continue;
      }
      const opts2: ForwardOptions = {
        training: opts.training ?? false,
        seed: opts.seed ?? 0,
        // Per-sample draws (dropout) are keyed by the row in the whole batch, so they do not depend on the split.
        rowOffset: opts.rowOffset ?? 0,
        logits: opts.logits?.has(node) ?? false,
        mask: inMasks[0],
        masks: inMasks,
        ...(lookupFrom ? { inputLookup: lookupFrom.layer.stepLookup()! } : {}),
      };
      const outs = node.layer.forwardMany(ins, opts2);
      if (outs.length !== node.outputs.length)
        throw new Error(
          `layer '${node.layer.name}' gave ${outs.length} outputs, expected ${node.outputs.length}`,
        );
      node.outputs.forEach((y, i) => values.set(y, outs[i]));
      const outMasks = node.layer.computeMasks(ins, inMasks);
      node.outputs.forEach((y, i) => {
        const m = outMasks[i];
        if (m) masks.set(y, m);
      });
    }
    return { values, masks };
  }

  /**
   * Inference: the lookups (Embeddings) among `nodes` whose every reader takes a folded lookup
   * (Layer.acceptsInputLookup) as its first input. Each reader then gets the ids and the lookup, and gathers rows of
   * the lookup times its own input kernel instead of multiplying every step's looked-up vector (≈ 6 % of G2P
   * decoding, the encoder's input product); the lookup itself only computes its mask. A lookup that is a model
   * output, or that any other layer reads, is left as it is.
   */
  private inputFolds(nodes: readonly LayerNode[]): InputFolds {
    // The same node lists come back batch after batch (the whole graph; a stepper's fixed side): decided once each.
    const known = this.inputFoldsOf.get(nodes);
    if (known) return known;
    const readers = new Map<LayerNode, LayerNode>();
    const skipped = new Set<LayerNode>();
    const running = new Set(nodes);
    for (const node of nodes) {
      if (node.outputs.length !== 1 || node.inputs.length !== 1 || !node.layer.stepLookup()) continue;
      const y = node.outputs[0];
      // Ids [batch, time] looked up into [batch, time, width]: what a recurrent layer reads.
      if (node.inputs[0].shape.length !== 2 || y.shape.length !== 3) continue;
      if (this.outputs.includes(y)) continue;
      const users = this.nodes.filter((n) => n.inputs.includes(y));
      const foldable =
        users.length > 0 &&
        users.every(
          (n) =>
            running.has(n) && n.inputs[0] === y && n.inputs.indexOf(y, 1) < 0 && n.layer.acceptsInputLookup(),
        );
      if (!foldable) continue;
      skipped.add(node);
      for (const n of users) readers.set(n, node);
    }
    const folds = { readers, skipped };
    this.inputFoldsOf.set(nodes, folds);
    return folds;
  }

  /** Runs the graph backward from the output gradients, summing gradients where a tensor feeds several layers. */
  private backwardAll(grads: Map<SymbolicTensor, Tensor>): void {
    for (let n = this.nodes.length - 1; n >= 0; n--) {
      const node = this.nodes[n];
      if (node.inputs.length === 0) continue;
      const dys = node.outputs.map((y) => grads.get(y) ?? null);
      if (dys.every((d) => d === null)) continue; // feeds no loss
      const dxs = node.layer.backwardMany(dys);
      node.inputs.forEach((x, i) => {
        const d = dxs[i];
        if (!d) {
          if (x.node.inputs.length > 0)
            throw new Error(
              `layer '${node.layer.name}' gave no gradient for its input from '${x.node.layer.name}'`,
            );
          return;
        }
        addGrad(grads, x, d);
      });
    }
  }

  private requireCompiled(what: string): { losses: LossName[]; optimizer: Optimizer } {
    if (!this.losses || !this.optimizer) throw new Error(`${what}: compile the model first`);
    return { losses: this.losses, optimizer: this.optimizer };
  }

  /**
   * Loss (and accuracy) logs of outputs against targets; writes each output's gradient into grads when given. `shares`
   * (per output: this shard's part of the batch's loss positions) scales each output's logs and gradient, so a
   * shard's logs and gradients sum over the shards to the whole batch's; absent, the batch is whole.
   */
  private lossLogs(
    { values, masks }: GraphValues,
    ys: AnyTensor[],
    logits: Set<LayerNode>,
    grads: Map<SymbolicTensor, Tensor> | null,
    shares: readonly number[] | null = null,
  ): Logs {
    const losses = this.losses!;
    const names = this.outputNames;
    const many = this.outputs.length > 1;
    const logs: Logs = { loss: 0 };
    this.outputs.forEach((y, k) => {
      const out = values.get(y) as Tensor;
      const grad = grads ? alloc(out.size) : null;
      const fused = logits.has(y.node);
      const mask = outputMask(out, masks.get(y));
      const share = shares?.[k] ?? 1;
      const v =
        (mask
          ? computeMaskedLoss(
              losses[k],
              out,
              ys[k],
              grad,
              fused || this.fromLogits,
              mask,
              this.labelSmoothing,
            )
          : computeLoss(losses[k], out, ys[k], grad, fused || this.fromLogits, this.labelSmoothing)) * share;
      logs.loss += v;
      if (many) logs[`${names[k]}_loss`] = v;
      if (this.metrics.length > 0) {
        const acc =
          (mask
            ? maskedAccuracy(losses[k], out, ys[k], mask, fused)
            : accuracy(losses[k], out, ys[k], fused)) * share;
        // Under the name the user gave ('accuracy' or 'acc'), as Keras logs it.
        for (const metric of this.metrics) logs[many ? `${names[k]}_${metric}` : metric] = acc;
      }
      if (grad && share !== 1) for (let i = 0; i < grad.length; i++) grad[i] *= share;
      if (grads && grad) addGrad(grads, y, new Tensor(grad, out.shape));
    });
    return logs;
  }

  /** One optimisation step on a batch; returns its logs. */
  trainOnBatch(x: TensorsArg, y: TensorsArg): Logs {
    this.requireCompiled('trainOnBatch');
    const xs = this.inputList(x, 'trainOnBatch');
    checkStatefulRows(this.statefulBatch(), xs[0].shape[0], 'trainOnBatch');
    return this.trainStep(xs, this.targetList(y, xs[0].shape[0], 'trainOnBatch'));
  }

  private trainStep(xs: AnyTensor[], ys: AnyTensor[]): Logs {
    const { optimizer } = this.requireCompiled('fit');
    const seed = this.trainRng.nextUint32();
    // One thread is one shard holding the whole batch (shares of exactly 1).
    const logs = scoped(() => {
      const counts = this.shardForward({ xs, ys }, { training: true, seed, rowOffset: 0 });
      return this.shardFinish(counts, true);
    });
    optimizer.applyGradients(this.namedWeights());
    return logs;
  }

  /** A training step with the batch split across the worker pool's threads. */
  private async trainStepParallel(xs: AnyTensor[], ys: AnyTensor[]): Promise<Logs> {
    const { optimizer } = this.requireCompiled('fit');
    const seed = this.trainRng.nextUint32();
    const logs = await parallelRunner()!.gradients(this, { xs, ys }, seed, this.threads);
    optimizer.applyGradients(this.namedWeights());
    return logs;
  }

  /** Keras-style description of the model for a worker replica (see PoolModel). */
  replicaDescription(): ReplicaDescription {
    const { losses } = this.requireCompiled('replicaDescription');
    return {
      className: this.className,
      config: functionalTopology(this),
      compile: {
        losses,
        metrics: this.metrics,
        fromLogits: this.fromLogits,
        ...(this.labelSmoothing > 0 && { labelSmoothing: this.labelSmoothing }),
      },
      weightNames: this.namedWeights().map((w) => w.name),
    };
  }

  /**
   * Forward pass on rows [rowOffset, rowOffset + rows) of a batch (see PoolModel): zeroes the gradients when
   * training; returns per output the shard's loss positions — its rows, or for a masked sequence output its real
   * steps (the masked loss is a mean over the real steps of the whole batch). The caller's allocation scope must stay
   * open until shardFinish. Worker threads run exactly this on their shards.
   */
  shardForward(batch: ShardBatch, opts: ShardForwardOptions): number[] {
    this.requireCompiled('shardForward');
    this.build();
    if (opts.training) for (const l of this.layers) l.zeroGrads();
    const logits = this.logitsNodes();
    const values = this.forwardAll(batch.xs, opts.training, opts.seed, logits, opts.rowOffset);
    const counts = this.outputs.map((y) => {
      const out = values.values.get(y) as Tensor;
      const mask = outputMask(out, values.masks.get(y));
      if (!mask) return out.shape[0];
      let n = 0;
      for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
      return n;
    });
    this.pendingShard = { values, ys: batch.ys, logits, counts };
    return counts;
  }

  /**
   * The shard's rows per output when no output is a sequence ([batch, time, features]): then every loss is a mean
   * over samples whatever the masks. A sequence output behind a mask counts its real steps, which only the forward
   * pass finds: null, and the pool runs the two phases as two requests (see PoolModel.shardCounts).
   */
  shardCounts(batch: ShardBatch): number[] | null {
    if (this.outputs.some((y) => y.shape.length === 3)) return null;
    const rows = batch.xs[0].shape[0];
    return this.outputs.map(() => rows);
  }

  /**
   * The shard's share of the batch's logs given the batch's loss positions per output; with `backward`, leaves the
   * shard's share of ∂(batch loss)/∂w in the gradient buffers.
   */
  shardFinish(totals: readonly number[], backward: boolean): Logs {
    this.requireCompiled('shardFinish');
    const p = this.pendingShard;
    this.pendingShard = null;
    if (!p) throw new Error(`model '${this.name}': shardFinish without a shardForward`);
    const shares = p.counts.map((c, k) => shardShare(c, totals[k]));
    const grads = backward ? new Map<SymbolicTensor, Tensor>() : null;
    const logs = this.lossLogs(p.values, p.ys, p.logits, grads, shares);
    if (grads) this.backwardAll(grads);
    return logs;
  }

  /**
   * Whether a batch of `rows` rows will be split across threads; given its inputs, whether it is also worth splitting
   * (see usePool).
   */
  private useThreads(rows: number, xs?: readonly AnyTensor[]): boolean {
    if (xs !== undefined) this.build();
    return usePool(this, rows, xs);
  }

  /** Outputs for x in batches (inference): one tensor for one output, else a list in output order. */
  predict(x: TensorsArg, args: InferenceOptions = {}): Tensor | Tensor[] {
    const given = inferenceBatchSize(args, 'predict', FUNCTIONAL_FIT_DEFAULTS.batchSize);
    const xs = this.inputList(x, 'predict');
    const N = xs[0].shape[0];
    const bs = statefulBatchSize(
      this.statefulBatch(),
      args.batchSize ?? undefined,
      given,
      [{ what: 'the input', rows: N }],
      'predict',
    );
    const parts: Tensor[][] = this.outputs.map(() => []);
    withFrozenWeights(() => {
      for (let i = 0; i < N; i += bs) {
        const end = Math.min(N, i + bs);
        scoped(() => {
          const values = this.forwardAll(
            xs.map((t) => t.sliceRows(i, end)),
            false,
            0,
            new Set(),
          );
          this.outputs.forEach((y, k) => parts[k].push((values.values.get(y) as Tensor).clone()));
        });
      }
    });
    const outs = parts.map((p) => joinRows(p));
    return outs.length === 1 ? outs[0] : outs;
  }

  /** Mean loss (and metrics) over x, y in batches. */
  evaluate(x: TensorsArg, y: TensorsArg, args: InferenceOptions = {}): Logs {
    this.requireCompiled('evaluate');
    const given = inferenceBatchSize(args, 'evaluate', FUNCTIONAL_FIT_DEFAULTS.batchSize);
    const xs = this.inputList(x, 'evaluate');
    const N = xs[0].shape[0];
    const ys = this.targetList(y, N, 'evaluate');
    const bs = statefulBatchSize(
      this.statefulBatch(),
      args.batchSize ?? undefined,
      given,
      [{ what: 'the data', rows: N }],
      'evaluate',
    );
    const sums: Logs = {};
    withFrozenWeights(() => {
      for (let i = 0; i < N; i += bs) {
        const end = Math.min(N, i + bs);
        const logs = scoped(() => {
          const logits = this.logitsNodes();
          const values = this.forwardAll(
            xs.map((t) => t.sliceRows(i, end)),
            false,
            0,
            logits,
          );
          return this.lossLogs(
            values,
            ys.map((t) => t.sliceRows(i, end)),
            logits,
            null,
          );
        });
        for (const [k, v] of Object.entries(logs)) sums[k] = (sums[k] ?? 0) + v * (end - i);
      }
    });
    for (const k of Object.keys(sums)) sums[k] /= N;
    return sums;
  }

  /** Trains on tensors (Keras fit). Returns the History. */
  async fit(x: TensorsArg, y: TensorsArg, args: FunctionalFitArgs = {}): Promise<History> {
    const given = batchSizeOption(args, FIT_OPTIONS, 'fit', FUNCTIONAL_FIT_DEFAULTS.batchSize);
    this.requireCompiled('fit');
    let xs = this.inputList(x, 'fit');
    let ys = this.targetList(y, xs[0].shape[0], 'fit');
    let val: [AnyTensor[], AnyTensor[]] | null = null;
    if (args.validationData) {
      const vx = this.inputList(args.validationData[0], 'fit: validationData');
      val = [vx, this.targetList(args.validationData[1], vx[0].shape[0], 'fit: validationData')];
    }
    const split = args.validationSplit ?? 0;
    if (!(split >= 0 && split < 1)) throw new Error(`fit: validationSplit must be in [0, 1), got ${split}`);
    if (split > 0 && !val) {
      const N = xs[0].shape[0];
      const cut = Math.floor(N * (1 - split));
      if (cut === 0 || cut === N)
        throw new Error(`fit: validationSplit ${split} leaves an empty split of ${N} samples`);
      val = [xs.map((t) => t.sliceRows(cut, N)), ys.map((t) => t.sliceRows(cut, N))];
      xs = xs.map((t) => t.sliceRows(0, cut));
      ys = ys.map((t) => t.sliceRows(0, cut));
    }
    const N = xs[0].shape[0];
    if (N === 0) throw new Error('fit: no training samples');
    const bs = statefulBatchSize(
      this.statefulBatch(),
      args.batchSize ?? undefined,
      given,
      [
        { what: 'the training data', rows: N },
        ...(val ? [{ what: 'the validation data', rows: val[0][0].shape[0] }] : []),
      ],
      'fit',
    );
    const shuffle = args.shuffle ?? FUNCTIONAL_FIT_DEFAULTS.shuffle;
    const rng = this.trainRng;
    // The epoch's order is drawn when its first batch is asked for, after fitDataset notes the RNG's state.
    const dataset: FunctionalDataset = {
      batchesPerEpoch: Math.ceil(N / bs),
      samplesPerEpoch: N,
      *batches() {
        const order = new Int32Array(N);
        for (let i = 0; i < N; i++) order[i] = i;
        if (shuffle) rng.shuffle(order);
        for (let i = 0; i < N; i += bs) {
          const end = Math.min(N, i + bs);
          const rows = order.subarray(i, end);
          yield {
            xs: shuffle ? xs.map((t) => gatherRows(t, rows)) : xs.map((t) => t.sliceRows(i, end)),
            ys: shuffle ? ys.map((t) => gatherRows(t, rows)) : ys.map((t) => t.sliceRows(i, end)),
          };
        }
      },
    };
    return this.fitDataset(dataset, {
      epochs: args.epochs,
      initialEpoch: args.initialEpoch,
      callbacks: args.callbacks,
      verbose: args.verbose,
      batchSize: bs,
      ...(args.threads !== undefined ? { threads: args.threads } : {}),
      ...(args.resumeFrom ? { resumeFrom: args.resumeFrom } : {}),
      ...(val ? { validationData: val as [TensorsArg, TensorsArg] } : {}),
    });
  }

  /**
   * Trains on a stream of batches (Keras fit on a dataset); `dataset.batches(epoch)` is called once per epoch and
   * must serve the same batches for an epoch every time it is asked (for resumeFrom). With `threads` > 1 each batch
   * is split across the worker pool.
   */
  async fitDataset(dataset: FunctionalDataset, args: FunctionalFitDatasetArgs = {}): Promise<History> {
    checkFitOptions(
      args,
      FIT_DATASET_OPTIONS.filter((k) => k !== 'batchesPerEpoch'),
      'fitDataset',
    );
    this.requireCompiled('fitDataset');
    const interrupted = args.resumeFrom ?? null;
    // Sums of an epoch interrupted when every accuracy was logged as `acc` go on under the name compiled now.
    const resume = interrupted && {
      ...interrupted,
      sums: renameLegacyAccuracy(interrupted.sums, this.metrics),
    };
    if (resume) checkEpochProgress(resume, args.initialEpoch);
    if (args.threads !== undefined) {
      checkThreads(args.threads, 'fitDataset');
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
        [
          {
            what: 'the validation data',
            rows: this.inputList(validation[0], 'fitDataset: validationData')[0].shape[0],
          },
        ],
        'fitDataset',
      );
    return runFitLoop(
      this,
      dataset,
      {
        epochs: args.epochs ?? FUNCTIONAL_FIT_DEFAULTS.epochs,
        initialEpoch: resume?.epoch ?? args.initialEpoch ?? FUNCTIONAL_FIT_DEFAULTS.initialEpoch,
        resumeFrom: resume,
        callbacks: args.callbacks,
        verbose: args.verbose,
        batchSize,
      },
      {
        what: 'fitDataset',
        prepare: ({ xs: bx, ys: by }, batch) => {
          const where = `fitDataset: batch ${batch}`;
          const xs = this.inputList(bx, where);
          const ys = this.targetList(by, xs[0].shape[0], where);
          const size = xs[0].shape[0];
          checkStatefulRows(stateful, size, where);
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
                  batchSize: batchSize ?? stateful?.batchSize ?? FUNCTIONAL_FIT_DEFAULTS.batchSize,
                })
            : () => this.evaluateDataset(validation),
      },
    );
  }

  /** Mean loss (and metrics) over a dataset's batches (epoch 0), each weighted by its rows. */
  async evaluateDataset(dataset: FunctionalDataset, opts: EvaluateDatasetOptions = {}): Promise<Logs> {
    this.requireCompiled('evaluateDataset');
    const sums: Logs = {};
    let seen = 0;
    let batch = 0;
    for await (const { xs: bx, ys: by } of dataset.batches(0)) {
      if (batch >= (opts.maxBatches ?? Infinity)) break;
      const n = bx[0].shape[0];
      checkStatefulRows(this.statefulBatch(), n, `evaluateDataset: batch ${batch}`);
      const logs = this.useThreads(n, this.inputList(bx, 'evaluateDataset'))
        ? await parallelRunner()!.losses(
            this,
            { xs: this.inputList(bx, 'evaluateDataset'), ys: this.targetList(by, n, 'evaluateDataset') },
            this.threads,
          )
        : this.evaluate(bx, by, { batchSize: Math.max(1, n) });
      for (const [k, v] of Object.entries(logs)) sums[k] = (sums[k] ?? 0) + v * n;
      seen += n;
      opts.onBatchEnd?.(batch++, { ...logs, size: n });
    }
    if (seen === 0) throw new Error('evaluateDataset: the dataset served no batches');
    for (const k of Object.keys(sums)) sums[k] /= seen;
    return sums;
  }

  /** The batch size this model's stateful layers need, from the inputs' declared one (see statefulBatch). */
  private statefulBatch(): StatefulBatch | null {
    return statefulBatch(this.layers, this.declaredBatchSize());
  }

  /** The batch size an input declares (`input({shape, batchSize})` or `batchInputShape`), or null. */
  private declaredBatchSize(): number | null {
    return this.inputs.map((x) => x.node.layer.declaredBatchSize).find((b) => b !== null) ?? null;
  }

  /** Clears the carried state of every stateful layer (and of the worker replicas'). */
  resetStates(): void {
    for (const l of this.layers) l.resetStates();
    parallelRunner()?.resetStates(this);
  }

  /**
   * Writes the model to `path` in the format its extension names: `.keras` (Keras 3), `.h5`/`.hdf5` (Keras 2), else a
   * recur/tfjs model directory. Needs a file system: in Node, import 'recur/node' first.
   */
  save(path: string): Promise<SaveResult> {
    return saveWithInstalledSaver(this, path);
  }

  /** A Keras-style table: layer, output shapes, parameters, inputs. */
  summary(print: (line: string) => void = console.log): void {
    // The batch axis shows the declared batch size, as Keras's table does (None only when none was declared).
    const batch = this.declaredBatchSize();
    const rows = this.nodes.map((node) => [
      `${node.layer.name} (${node.layer.className})`,
      node.outputs.map((y) => shapeToString([batch, ...y.shape.slice(1)])).join(', '),
      String(node.layer.countParams()),
      node.inputs.map((x) => x.node.layer.name).join(', '),
    ]);
    printSummaryTable(
      this.name,
      ['Layer (type)', 'Output Shape', 'Param #', 'Connected to'],
      rows,
      this.countParams(),
      print,
    );
  }
}

/** Every tensor's value and Keras mask after running (part of) a graph. */
export interface GraphValues {
  values: Map<SymbolicTensor, AnyTensor>;
  masks: Map<SymbolicTensor, SequenceMask>;
}

/** The mask of a sequence output [N, T, V] as the per-row mask of its N·T rows, or null (none, or not a sequence). */
function outputMask(out: Tensor, mask: SequenceMask | undefined): Uint8Array | null {
  if (!mask || out.shape.length !== 3) return null;
  if (mask.shape[0] !== out.shape[0] || mask.shape[1] !== out.shape[1]) return null;
  return mask.data;
}

/** Adds d into the gradient of x (a fresh buffer, so no layer's own buffer is changed). */
function addGrad(grads: Map<SymbolicTensor, Tensor>, x: SymbolicTensor, d: Tensor): void {
  const prev = grads.get(x);
  if (!prev) {
    grads.set(x, d);
    return;
  }
  const sum = alloc(d.size);
  for (let i = 0; i < sum.length; i++) sum[i] = prev.data[i] + d.data[i];
  grads.set(x, new Tensor(sum, d.shape));
}

function joinRows(parts: Tensor[]): Tensor {
  if (parts.length === 1) return parts[0];
  const rowShape = parts[0].shape.slice(1);
  const N = parts.reduce((s, p) => s + p.shape[0], 0);
  const out = new Float32Array(N * sizeOf(rowShape));
  let off = 0;
  for (const p of parts) {
    out.set(p.data, off);
    off += p.size;
  }
  return new Tensor(out, [N, ...rowShape]);
}

/** Creates a functional model (tfjs `tf.model()`). */
export function model(args: FunctionalArgs): Functional {
  return new Functional(args);
}
