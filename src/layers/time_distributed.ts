/**
 * TimeDistributed (Keras semantics): applies its inner layer (a Dense in practice; any layer taking [N, ...]) to every
 * time step of [N, T, ...] by folding T into the batch axis — one call on [N·T, ...], no copy — and unfolding the
 * result to [N, T, ...]. The weights are the inner layer's, named as tfjs names them (`time_distributed/kernel`).
 * `step` is the inner layer's step: one time step of a TimeDistributed layer is one call of its inner layer.
 */
import type { Random } from '../core/random.js';
import { Tensor, type AnyTensor } from '../core/tensor.js';
import {
  Layer,
  StepState,
  checkOptionKeys,
  type ForwardOptions,
  type LayerArgs,
  type LayerShape,
  type StepInput,
  type StepLookup,
  type StepOptions,
} from './layer.js';
import { deserializeLayer, registerLayer, serializeLayer, type LayerSpec } from './registry.js';

export interface TimeDistributedArgs extends LayerArgs {
  /** The layer applied at every time step, as an instance or a spec. */
  layer: Layer | LayerSpec;
}

export class TimeDistributed extends Layer {
  readonly className = 'TimeDistributed';
  readonly layer: Layer;
  private lastShape: readonly number[] = [];

  constructor(args: TimeDistributedArgs) {
    const { layer, ...rest } = args;
    super(rest, 'time_distributed');
    const where = `timeDistributed '${this.name}'`;
    checkOptionKeys('timeDistributed', args, ['layer']);
    if (!layer || typeof layer !== 'object')
      throw new Error(`${where}: 'layer' must be a layer or a layer spec`);
    this.layer = layer instanceof Layer ? layer : deserializeLayer(layer, where);
  }

  private split(inputShape: LayerShape): LayerShape {
    if (inputShape.length < 2)
      throw new Error(
        `timeDistributed '${this.name}' expects inputs [batch, time, ...features], got rank ${inputShape.length + 1}`,
      );
    return inputShape.slice(1);
  }

  protected buildWeights(inputShape: LayerShape, rng: Random): void {
    this.layer.build(this.split(inputShape), rng);
    this.weights = this.layer.weights;
  }

  computeOutputShape(inputShape: LayerShape): LayerShape {
    return [inputShape[0], ...this.layer.computeOutputShape(this.split(inputShape))];
  }

  override outputActivation(): string | null {
    return this.layer.outputActivation();
  }

  forward(x: AnyTensor, opts: ForwardOptions): Tensor {
    this.checkInput(x, false);
    const [N, T, ...rest] = x.shape;
    this.lastShape = x.shape;
    // Row n·T + t of the folded batch is sample n's step t: per-row draws (dropout) stay per sample and step.
    const folded = new Tensor(x.data as Float32Array, [N * T, ...rest]);
    const y = this.layer.forward(folded, { ...opts, rowOffset: (opts.rowOffset ?? 0) * T });
    return new Tensor(y.data, [N, T, ...y.shape.slice(1)]);
  }

  backward(dy: Tensor): Tensor | null {
    const [N, T] = this.lastShape;
    const dx = this.layer.backward(new Tensor(dy.data, [N * T, ...dy.shape.slice(2)]));
    return dx && new Tensor(dx.data, [N, T, ...dx.shape.slice(1)]);
  }

  override get stateNames(): readonly string[] {
    return this.layer.stateNames;
  }

  override stateSize(): number {
    return this.layer.stateSize();
  }

  // Steps: the inner layer's own, on its own state (one step is one application of the inner layer).
  override createStepState(rows: number, opts: StepOptions = {}): StepState {
    return this.layer.createStepState(rows, opts);
  }

  override step(input: StepInput, state: StepState): Float32Array {
    return this.layer.step(input, state);
  }

  override stepLookup(): StepLookup | null {
    return this.layer.stepLookup();
  }

  override acceptsStepLookup(): boolean {
    return this.layer.acceptsStepLookup();
  }

  override resetState(state: StepState, row?: number): void {
    this.layer.resetState(state, row);
  }

  override setState(state: StepState, values: readonly ArrayLike<number>[]): void {
    this.layer.setState(state, values);
  }

  // Carried state: the inner layer's own.
  override getStates(): Tensor[] | null {
    return this.layer.getStates();
  }

  override resetStates(states?: readonly Tensor[]): void {
    this.layer.resetStates(states);
  }

  override carriedStatesMismatch(shapes: readonly (readonly number[])[]): string | null {
    return this.layer.carriedStatesMismatch(shapes);
  }

  override getConfig(): Record<string, unknown> {
    const spec = serializeLayer(this.layer);
    const config = { ...spec.config };
    delete config.batchInputShape;
    return { ...super.getConfig(), layer: { className: spec.className, config } };
  }
}

registerLayer('TimeDistributed', (config) => new TimeDistributed(config as unknown as TimeDistributedArgs));
