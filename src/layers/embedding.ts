/**
 * Embedding: int32 indices [N, …] → rows of the embedding matrix, [N, …, outputDim]. A row gather forward and a
 * scatter-add backward. Caches the indices. With `maskZero` (Keras mask_zero) id 0 is padding: the output mask is
 * ids ≠ 0, so recurrent layers downstream skip those steps (id 0 still has its row, as in Keras).
 */
import { describeValue } from '../core/errors.js';
import { allocUninitialized, kernels } from '../core/backend.js';
import type { Random } from '../core/random.js';
import { IndexTensor, Tensor, type AnyTensor } from '../core/tensor.js';
import { checkIndices } from './dense.js';
import {
  initialize,
  initializerSpec,
  type InitializerIdentifier,
  type InitializerSpec,
} from './initializers.js';
import {
  Layer,
  StepState,
  Weight,
  checkOptionKeys,
  checkPositiveInt,
  type ForwardOptions,
  type LayerArgs,
  type LayerShape,
  type SequenceMask,
  type StepInput,
  type StepLookup,
  type StepOptions,
} from './layer.js';
import { registerLayer } from './registry.js';
import { stepWeights } from './step_weights.js';
import type { SymbolicDtype } from './symbolic.js';

export interface EmbeddingArgs extends LayerArgs {
  inputDim: number;
  outputDim: number;
  embeddingsInitializer?: InitializerIdentifier;
  inputLength?: number;
  /** Id 0 is padding: the layer outputs a mask (ids ≠ 0) for the layers after it. */
  maskZero?: boolean;
}

export const EMBEDDING_DEFAULTS = { embeddingsInitializer: 'randomUniform' } as const;

class EmbeddingStepState extends StepState {
  readonly out: Float32Array;
  constructor(
    layer: Embedding,
    rows: number,
    opts: StepOptions,
    /** The table a step gathers from (a snapshot: see stepWeights). */
    readonly table: Float32Array,
  ) {
    super(layer, rows, layer.outputDim, opts);
    this.out = kernels().allocPersistent(rows * layer.outputDim);
  }
}

export class Embedding extends Layer {
  readonly className = 'Embedding';
  readonly inputDim: number;
  readonly outputDim: number;
  readonly embeddingsInitializer: InitializerSpec;
  readonly maskZero: boolean;
  private x: IndexTensor | null = null;

  constructor(args: EmbeddingArgs) {
    super(
      args.inputLength !== undefined && !args.inputShape && !args.batchInputShape
        ? { ...args, inputShape: [args.inputLength] }
        : args,
      'embedding',
    );
    checkOptionKeys('embedding', args, [
      'inputDim',
      'outputDim',
      'embeddingsInitializer',
      'inputLength',
      'maskZero',
    ]);
    this.inputDim = checkPositiveInt(`embedding '${this.name}'`, 'inputDim', args.inputDim);
    this.outputDim = checkPositiveInt(`embedding '${this.name}'`, 'outputDim', args.outputDim);
    this.embeddingsInitializer = initializerSpec(
      args.embeddingsInitializer,
      EMBEDDING_DEFAULTS.embeddingsInitializer,
      `embedding '${this.name}': 'embeddingsInitializer'`,
    );
    const maskZero = args.maskZero ?? false;
    if (typeof maskZero !== 'boolean')
      throw new Error(
        `embedding '${this.name}': 'maskZero' must be true or false, got ${describeValue(maskZero)}`,
      );
    this.maskZero = maskZero;
  }

  override get producesMask(): boolean {
    return this.maskZero;
  }

  override computeMask(x: AnyTensor, inputMask: SequenceMask | null): SequenceMask | null {
    if (!this.maskZero) return inputMask;
    if (x.shape.length !== 2) {
      throw new Error(
        `embedding '${this.name}': maskZero needs ids of shape [batch, time], got [${x.shape.join(', ')}]`,
      );
    }
    const ids = x.data;
    const data = new Uint8Array(ids.length);
    for (let i = 0; i < ids.length; i++) data[i] = ids[i] !== 0 ? 1 : 0;
    return { data, shape: [x.shape[0], x.shape[1]] };
  }

  computeOutputShape(inputShape: LayerShape): LayerShape {
    return [...inputShape, this.outputDim];
  }

  protected buildWeights(_inputShape: LayerShape, rng: Random): void {
    const shape = [this.inputDim, this.outputDim];
    this.weights = [new Weight('embeddings', shape, initialize(this.embeddingsInitializer, shape, rng))];
  }

  /** Token ids only: a float32 input (tfjs's and Keras's default) would build a model that no tensor can run. */
  override symbolicInputDtypeMismatch(dtypes: readonly SymbolicDtype[]): string | null {
    return dtypes[0] === 'int32'
      ? null
      : `embedding '${this.name}' reads token ids, so its input must be int32 (input({shape, dtype: 'int32'}), ` +
          `fed with indexTensor()), got ${dtypes[0]}`;
  }

  forward(x: AnyTensor, _opts: ForwardOptions): Tensor {
    if (!(x instanceof IndexTensor)) {
      throw new Error(`embedding '${this.name}' expects int32 index inputs (use indexTensor()), got float32`);
    }
    this.checkInput(x, true);
    checkIndices(x, this.inputDim, this.name);
    const out = allocUninitialized(x.size * this.outputDim);
    kernels().gatherRows(x.data, x.size, this.weights[0].value, this.outputDim, out, null, false);
    this.x = x;
    return new Tensor(out, [...x.shape, this.outputDim]);
  }

  backward(dy: Tensor): null {
    if (!this.x) throw new Error(`embedding '${this.name}': backward called before forward`);
    kernels().scatterAddRows(this.x.data, this.x.size, dy.data, this.outputDim, this.weights[0].grad, null);
    return null;
  }

  /** Ids range over inputDim (the input shape's last axis is time, not features). */
  override stepInputSize(): number {
    return this.inputDim;
  }

  /** A step is a lookup: its output for id v is row v of the embeddings. */
  override checkFoldedInput(x: AnyTensor): void {
    this.checkInput(x, true);
    checkIndices(x as IndexTensor, this.inputDim, this.name);
  }

  override stepLookup(): StepLookup {
    return { table: this.weights[0].value, ids: this.inputDim };
  }

  override createStepState(rows: number, opts: StepOptions = {}): EmbeddingStepState {
    if (!opts.tokens) throw new Error(`embedding '${this.name}' steps on token ids only ({tokens: true})`);
    return new EmbeddingStepState(this, rows, opts, stepWeights(this.weights[0].value, opts.weightsFixed));
  }

  override step(input: StepInput, state: StepState): Float32Array {
    const s = this.ownState(state, EmbeddingStepState);
    this.checkStepInput(input, s);
    kernels().gatherRows(input as Int32Array, s.active, s.table, this.outputDim, s.out, null, false);
    return s.out;
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      inputDim: this.inputDim,
      outputDim: this.outputDim,
      embeddingsInitializer: this.embeddingsInitializer,
      maskZero: this.maskZero,
    };
  }
}

registerLayer('Embedding', (config) => new Embedding(config as unknown as EmbeddingArgs));
