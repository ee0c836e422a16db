/**
 * Dense: y = act(x·W + b) over the last axis, so [N, D] → [N, U] and [N, T, D] → [N, T, U] (time-distributed, as Keras).
 * Given int32 indices [N] or [N, T] it reads them as one-hot over D and gathers rows of W.
 * Memory: caches x (or the indices) and y.
 */
import { allocUninitialized, copyOf, kernels } from '../core/backend.js';
import type { Random } from '../core/random.js';
import { IndexTensor, Tensor, type AnyTensor } from '../core/tensor.js';
import {
  activateForBackward,
  activationBackward,
  activationCode,
  activationName,
  type ActivationIdentifier,
  type ActivationName,
} from './activations.js';
import {
  initialize,
  initializerSpec,
  type InitializerIdentifier,
  type InitializerSpec,
} from './initializers.js';
import {
  ForwardCache,
  ForwardCacheKey,
  Layer,
  StepState,
  Weight,
  checkOptionKeys,
  checkPositiveInt,
  type ForwardOptions,
  type LayerArgs,
  type LayerShape,
  type StepInput,
  type StepOptions,
  checkBoolean,
} from './layer.js';
import { registerLayer } from './registry.js';
import { stepInputTable, stepProduct, stepWeights, type StepProduct } from './step_weights.js';

export interface DenseArgs extends LayerArgs {
  units: number;
  activation?: ActivationIdentifier;
  useBias?: boolean;
  kernelInitializer?: InitializerIdentifier;
  biasInitializer?: InitializerIdentifier;
}

export const DENSE_DEFAULTS = {
  activation: 'linear',
  useBias: true,
  kernelInitializer: 'glorotUniform',
  biasInitializer: 'zeros',
} as const;

/** Dense's step: floats go through the weights' step layout; token ids gather rows of W with the bias folded in. */
class DenseStepState extends StepState {
  readonly out: Float32Array;
  constructor(
    layer: Dense,
    rows: number,
    opts: StepOptions,
    readonly product: StepProduct | null,
    readonly table: Float32Array | null,
    /** The bias a float step adds (a snapshot: see stepWeights), or null. */
    readonly bias: Float32Array | null,
    /** Whether the step still applies the activation (not when logits are asked of a softmax/sigmoid). */
    readonly activate: boolean,
  ) {
    super(layer, rows, layer.units, opts);
    this.out = kernels().allocPersistent(rows * layer.units);
  }
}

interface DenseForwardFields {
  x: AnyTensor | null;
  y: Tensor | null;
  pre: Float32Array | null;
  logits: boolean;
}
const DENSE_FIELDS = new ForwardCacheKey<DenseForwardFields>('dense');

export class Dense extends Layer {
  readonly className = 'Dense';
  readonly units: number;
  readonly activation: ActivationName;
  readonly useBias: boolean;
  readonly kernelInitializer: InitializerSpec;
  readonly biasInitializer: InitializerSpec;
  private x: AnyTensor | null = null;
  private y: Tensor | null = null;
  /** The pre-activations, kept when the derivative needs them (gelu, swish, mish, hard_silu). */
  private pre: Float32Array | null = null;
  private logits = false;

  constructor(args: DenseArgs) {
    super(args, 'dense');
    checkOptionKeys('dense', args, [
      'units',
      'activation',
      'useBias',
      'kernelInitializer',
      'biasInitializer',
    ]);
    this.units = checkPositiveInt(`dense '${this.name}'`, 'units', args.units);
    this.activation = activationName(args.activation ?? DENSE_DEFAULTS.activation, `dense '${this.name}'`);
    this.useBias = checkBoolean(`dense '${this.name}'`, 'useBias', args.useBias, DENSE_DEFAULTS.useBias);
    this.kernelInitializer = initializerSpec(
      args.kernelInitializer,
      DENSE_DEFAULTS.kernelInitializer,
      `dense '${this.name}': 'kernelInitializer'`,
    );
    this.biasInitializer = initializerSpec(
      args.biasInitializer,
      DENSE_DEFAULTS.biasInitializer,
      `dense '${this.name}': 'biasInitializer'`,
    );
  }

  computeOutputShape(inputShape: LayerShape): LayerShape {
    const d = inputShape[inputShape.length - 1];
    if (inputShape.length === 0 || d === null) {
      throw new Error(
        `dense '${this.name}': the last input axis must have a known size, got [${inputShape.join(', ')}]`,
      );
    }
    return [...inputShape.slice(0, -1), this.units];
  }

  protected buildWeights(inputShape: LayerShape, rng: Random): void {
    const d = this.computeOutputShape(inputShape) && (inputShape[inputShape.length - 1] as number);
    this.weights = [
      new Weight('kernel', [d, this.units], initialize(this.kernelInitializer, [d, this.units], rng)),
    ];
    if (this.useBias) {
      this.weights.push(
        new Weight('bias', [this.units], initialize(this.biasInitializer, [this.units], rng)),
      );
    }
  }

  protected override acceptsOneHotIndices(): boolean {
    return true;
  }

  override outputActivation(): string | null {
    return this.activation;
  }

  forward(x: AnyTensor, opts: ForwardOptions): Tensor {
    this.checkInput(x, true);
    const k = kernels();
    const D = this.inputShape![this.inputShape!.length - 1] as number;
    const U = this.units;
    const W = this.weights[0].value;
    const rows = x.dtype === 'int32' ? x.size : x.size / D;
    const out = allocUninitialized(rows * U);
    if (x instanceof IndexTensor) {
      checkIndices(x, D, this.name);
      k.gatherRows(x.data, rows, W, U, out, null, false);
    } else {
      k.gemm(false, false, rows, U, D, x.data, 0, D, W, 0, U, out, 0, U, false);
    }
    if (this.useBias) k.addBias(out, 0, rows, U, U, this.weights[1].value, 0);
    this.logits = opts.logits === true;
    this.pre = this.logits ? null : activateForBackward(this.activation, out, rows, U);
    const shape = x.dtype === 'int32' ? [...x.shape, U] : [...x.shape.slice(0, -1), U];
    this.x = x;
    this.y = new Tensor(out, shape);
    return this.y;
  }

  protected override saveForwardFields(cache: ForwardCache): void {
    const { x, y, pre, logits } = this;
    cache.set(DENSE_FIELDS, { x, y, pre, logits });
  }

  protected override restoreForwardFields(cache: ForwardCache): void {
    Object.assign(this, cache.get(DENSE_FIELDS));
  }

  backward(dy: Tensor): Tensor | null {
    const x = this.x;
    const y = this.y;
    if (!x || !y) throw new Error(`dense '${this.name}': backward called before forward`);
    const k = kernels();
    const D = this.inputShape![this.inputShape!.length - 1] as number;
    const U = this.units;
    const rows = y.size / U;
    const dz = copyOf(dy.data);
    if (!this.logits) activationBackward(this.activation, y.data, this.pre, dz, rows, U);
    const [kernel, bias] = this.weights;
    if (this.useBias) k.sumRows(dz, 0, rows, U, U, bias.grad, 0);
    if (x instanceof IndexTensor) {
      k.scatterAddRows(x.data, rows, dz, U, kernel.grad, null);
      return null;
    }
    k.gemm(true, false, D, U, rows, x.data, 0, D, dz, 0, U, kernel.grad, 0, U, true);
    const dx = allocUninitialized(x.size);
    k.gemm(false, true, rows, D, U, dz, 0, U, kernel.value, 0, U, dx, 0, D, false);
    return new Tensor(dx, x.shape);
  }

  /** Token inputs are a gather from a table of input projections, and that table can fold in an Embedding's. */
  override acceptsStepLookup(): boolean {
    return true;
  }

  override createStepState(rows: number, opts: StepOptions = {}): DenseStepState {
    const D = this.stepInputSize();
    const U = this.units;
    const W = this.weights[0].value;
    const bias = this.useBias ? this.weights[1].value : null;
    const tokens = opts.tokens === true;
    const fixed = opts.weightsFixed === true;
    const skip = opts.logits === true && (this.activation === 'softmax' || this.activation === 'sigmoid');
    return new DenseStepState(
      this,
      rows,
      opts,
      tokens ? null : stepProduct(W, 0, U, D, U, rows, fixed),
      tokens ? stepInputTable(opts.lookup, W, D, U, bias, fixed) : null,
      !tokens && bias ? stepWeights(bias, fixed) : null,
      !skip,
    );
  }

  override step(input: StepInput, state: StepState): Float32Array {
    const s = this.ownState(state, DenseStepState);
    this.checkStepInput(input, s);
    const k = kernels();
    const U = this.units;
    const B = s.active;
    if (s.table) k.gatherRows(input as Int32Array, B, s.table, U, s.out, null, false);
    else {
      s.product!(input as Float32Array, s.out, 0, U, false, B);
      if (s.bias) k.addBias(s.out, 0, B, U, U, s.bias, 0);
    }
    if (s.activate) k.activate(activationCode(this.activation), s.out, 0, B, U, U);
    return s.out;
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      units: this.units,
      activation: this.activation,
      useBias: this.useBias,
      kernelInitializer: this.kernelInitializer,
      biasInitializer: this.biasInitializer,
    };
  }
}

registerLayer('Dense', (config) => new Dense(config as unknown as DenseArgs));

/** Throws unless every index is in [0, D). */
export function checkIndices(x: IndexTensor, D: number, layer: string): void {
  const d = x.data;
  for (let i = 0; i < d.length; i++) {
    if (d[i] < 0 || d[i] >= D) {
      const perRow = x.shape[0] > 0 ? x.size / x.shape[0] : 1;
      const row = Math.floor(i / perRow);
      const at = perRow > 1 ? `sample ${row}, position ${i - row * perRow}` : `sample ${row}`;
      throw new Error(`layer '${layer}': input index ${d[i]} at ${at} is outside [0, ${D})`);
    }
  }
}
