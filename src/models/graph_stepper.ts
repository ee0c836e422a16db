/**
 * Stateful step-by-step inference through a functional model — the decoder side of an encoder–decoder. The model's
 * nodes split in two: those that do not depend on the stepped input (the previous-token input of a decoder) run once
 * per batch of sources on whole sequences (`start`: the encoder, its outputs and final states, with their masks);
 * the rest step one token at a time on the layers' own `step` (`step`), each layer keeping its state. What a stepped
 * node reads from the fixed side is bound once as a constant (`Layer.bindStepConstants`): an attention layer's value
 * and key with the encoder's padding mask, a recurrent layer's initial states. No prefix is ever re-run, and like
 * src/models/stepper.ts this knows no layer type.
 *
 * Rows: a stepper steps `rows` streams; `start` takes B sources and `rowSource[r]` says which source row r decodes,
 * so beam search runs rows = B × width. `reorder(parents)` lets row r continue from row parents[r] (a beam's parent).
 * A stepper snapshots the weights into step layouts: make a new one after training further. It also folds an
 * Embedding into the layer reading it (`foldLookups`): that layer gathers rows of E·W + b computed once, so a decoder
 * step skips its input product (≈ 6 % of G2P decoding) with the same outputs.
 */
import { kernels, scoped } from '../core/backend.js';
import { MemoryOwner } from '../core/kernels.js';
import { Tensor, type AnyTensor } from '../core/tensor.js';
import type { StepConstant, StepInput, StepLookup, StepState } from '../layers/layer.js';
import type { LayerNode, SymbolicTensor } from '../layers/symbolic.js';
import type { Functional, TensorsArg } from './functional.js';

export interface GraphStepperArgs {
  /** The input fed one token id per row per step; default: the model's last input (an int32 input). */
  stepInput?: SymbolicTensor | string;
  /** The output a step returns; default: the model's first output. */
  output?: SymbolicTensor;
  /** Skip the output's final softmax/sigmoid and return logits (default true). */
  logits?: boolean;
  /**
   * Fold token lookups into the layers reading them (default true): an Embedding feeding an RNN or Dense becomes
   * one gathered row of E·W + b per step instead of a [rows, E]·[E, N] product (small vocabularies only: see
   * LOOKUP_FOLD_STEPS). Outputs are the same bit for bit on 4 rows or more; below that the unfolded product runs on
   * the GEMV, whose sums may round differently.
   */
  foldLookups?: boolean;
}

/**
 * A token lookup is folded only when its table costs at most this many steps' input products (ids ≤ this × rows): a
 * character or phoneme vocabulary always is; a word vocabulary of thousands is not — its E·W table would be tens of
 * megabytes per stepper and take hundreds of steps to pay back.
 */
const LOOKUP_FOLD_STEPS = 8;

export class GraphStepper {
  /** The input stepped token by token, and the model inputs fed once per start (in model order). */
  readonly stepInput: SymbolicTensor;
  readonly fixedInputs: readonly SymbolicTensor[];
  readonly output: SymbolicTensor;
  readonly outputSize: number;
  /** The layers a step runs, in order (a folded Embedding is not among them). */
  readonly steppedLayers: readonly string[];
  private readonly fixedNodes: LayerNode[];
  private stepNodes: LayerNode[];
  /** The stepped tensors each stepped node reads, in its input order (the ids, for a folded lookup). */
  private readonly reads = new Map<LayerNode, SymbolicTensor[]>();
  private readonly lookups = new Map<LayerNode, StepLookup>();
  private readonly stepped = new Set<SymbolicTensor>();
  private readonly states = new Map<LayerNode, StepState>();
  private readonly ids: Int32Array;
  /**
   * Kernel memory each constant is copied into, kept across starts and grown only when a batch needs more: a fresh
   * persistent buffer per start is reclaimed only by the garbage collector, so decoding many batches grew the memory
   * and zero-filled new pages every batch.
   */
  private readonly constantBuffers = new Map<SymbolicTensor, Float32Array>();
  private started = false;
  private disposed = false;
  /** What the last `start` bound: its constants and how many sources they hold (startFrom binds them again). */
  private bound: { constants: Map<SymbolicTensor, StepConstant>; sources: number } | null = null;
  /** Holds every long-lived kernel buffer this stepper allocates, for dispose. */
  private readonly owner = new MemoryOwner();

  constructor(
    readonly model: Functional,
    readonly rows: number,
    args: GraphStepperArgs = {},
  ) {
    const where = `GraphStepper of model '${model.name}'`;
    if (!(Number.isInteger(rows) && rows > 0)) throw new Error(`${where}: rows must be a positive integer`);
    const byName = (name: string): SymbolicTensor => {
      const i = model.inputNames.indexOf(name);
      if (i < 0) throw new Error(`${where}: no input named '${name}' (${model.inputNames.join(', ')})`);
      return model.inputs[i];
    };
    this.stepInput =
      typeof args.stepInput === 'string'
        ? byName(args.stepInput)
        : (args.stepInput ?? model.inputs[model.inputs.length - 1]);
    if (!model.inputs.includes(this.stepInput))
      throw new Error(`${where}: the stepped input is not a model input`);
    if (this.stepInput.dtype !== 'int32')
      throw new Error(`${where}: the stepped input must be int32 token ids`);
    this.fixedInputs = model.inputs.filter((x) => x !== this.stepInput);
    this.output = args.output ?? model.outputs[0];
    // A tensor is stepped when it depends on the stepped input; nodes are in topological order.
    this.stepped.add(this.stepInput);
    this.fixedNodes = [];
    this.stepNodes = [];
    for (const node of model.nodes) {
      if (node.inputs.length === 0) continue;
      if (node.inputs.some((x) => this.stepped.has(x))) {
        this.stepNodes.push(node);
        for (const y of node.outputs) this.stepped.add(y);
      } else this.fixedNodes.push(node);
    }
    if (!this.stepped.has(this.output))
      throw new Error(`${where}: the output does not depend on the stepped input`);
    const logits = args.logits ?? true;
    // Token lookups folded into their reader: a node whose one stepped input is a lookup of the stepped ids (an
    // Embedding's step) and that can fold one reads the ids itself and gathers a precomputed input projection.
    for (const node of this.stepNodes) {
      const stepped = node.inputs.filter((x) => this.stepped.has(x));
      const from = stepped.length === 1 ? stepped[0].node : null;
      const lookup =
        (args.foldLookups ?? true) &&
        from &&
        from.inputs.length === 1 &&
        from.inputs[0] === this.stepInput &&
        node.layer.acceptsStepLookup()
          ? from.layer.stepLookup()
          : null;
      if (lookup && lookup.ids <= LOOKUP_FOLD_STEPS * rows) this.lookups.set(node, lookup);
      this.reads.set(
        node,
        stepped.map((x) => (this.lookups.has(node) ? this.stepInput : x)),
      );
    }
    // Nodes nothing reads any more (the folded Embeddings) are not stepped.
    const read = new Set([this.output, ...[...this.reads.values()].flat()]);
    this.stepNodes = this.stepNodes.filter((node) => node.outputs.some((y) => read.has(y)));
    this.ids = kernels().ownedBy(this.owner, () => {
      for (const node of this.stepNodes) {
        const lookup = this.lookups.get(node);
        const tokens = lookup !== undefined || node.inputs.some((x) => x === this.stepInput);
        this.states.set(
          node,
          node.layer.createStepState(rows, { tokens, lookup, logits: logits && node === this.output.node }),
        );
      }
      return kernels().allocInt32(rows);
    });
    this.outputSize = this.states.get(this.output.node)!.width;
    this.steppedLayers = this.stepNodes.map((node) => node.layer.name);
  }

  /**
   * Gives this stepper's kernel memory back at once (its step states, packed weights and bound constants) instead of
   * when the garbage collector finds the stepper unreferenced; the stepper cannot be used after. Decoding disposes
   * of its steppers, so a server decoding request after request keeps its memory flat.
   */
  dispose(): void {
    this.disposed = true;
    this.started = false;
    this.bound = null;
    kernels().release(this.owner);
  }

  private checkUsable(what: string): void {
    if (this.disposed) throw new Error(`GraphStepper.${what}: the stepper was disposed`);
  }

  /**
   * Runs the fixed side once on B sources (the model's other inputs, in order) and binds what the stepped layers
   * read from it; rowSource[r] (default r, with B = rows) is the source row that step row r decodes. Every stepped
   * layer starts afresh (recurrent states from the bound initial states, or zero).
   */
  start(inputs: TensorsArg, rowSource?: Int32Array): void {
    this.checkUsable('start');
    const where = `GraphStepper of model '${this.model.name}'`;
    const list: AnyTensor[] = Array.isArray(inputs)
      ? inputs
      : inputs instanceof Tensor || (inputs as AnyTensor).dtype === 'int32'
        ? [inputs as AnyTensor]
        : this.fixedInputs.map((x) => (inputs as Record<string, AnyTensor>)[x.node.layer.name]);
    if (list.length !== this.fixedInputs.length || list.some((t) => !t))
      throw new Error(
        `${where}: start needs ${this.fixedInputs.length} input(s) (${this.fixedInputs.map((x) => x.node.layer.name).join(', ')})`,
      );
    const B = list[0].shape[0];
    const source = this.checkRowSource(rowSource ?? Int32Array.from({ length: this.rows }, (_, r) => r), B);
    // The constants each stepped node reads, copied out of the scope the encoder ran in.
    const constants = new Map<SymbolicTensor, StepConstant>();
    scoped(() => {
      const feeds = new Map<SymbolicTensor, AnyTensor>();
      this.fixedInputs.forEach((x, i) => feeds.set(x, list[i]));
      const { values, masks } = this.model.runNodes(feeds, this.fixedNodes);
      for (const node of this.stepNodes)
        for (const x of node.inputs) {
          if (this.stepped.has(x) || constants.has(x)) continue;
          const v = values.get(x)!;
          if (!(v instanceof Tensor))
            throw new Error(
              `${where}: layer '${node.layer.name}' reads token ids from the fixed side, which cannot be bound`,
            );
          const m = masks.get(x);
          constants.set(x, {
            // Kernel memory, so a layer's steps hand it to kernels in place (a plain copy is staged on every call).
            value: new Tensor(this.constantCopy(x, v.data), v.shape),
            mask: m ? { data: m.data.slice(), shape: m.shape } : null,
          });
        }
    });
    this.bind(constants, source);
    this.bound = { constants, sources: B };
  }

  /**
   * Starts on the sources `from` (a stepper of the same model) last started on, reusing what its fixed side computed
   * instead of running the encoder again: rowSource[r] is the source row (of those given to from.start) that row r
   * decodes. The constants stay `from`'s: start `from` again only once this stepper is done with them. Agreement
   * decoding scores candidates teacher-forced on the encoder outputs its search of the same sources computed.
   */
  startFrom(from: GraphStepper, rowSource: Int32Array): void {
    this.checkUsable('startFrom');
    from.checkUsable('startFrom');
    if (from.model !== this.model)
      throw new Error('GraphStepper.startFrom: the steppers run different models');
    if (!from.bound)
      throw new Error('GraphStepper.startFrom: start() the other stepper with the sources first');
    this.bind(from.bound.constants, this.checkRowSource(rowSource, from.bound.sources));
  }

  private checkRowSource(source: Int32Array, sources: number): Int32Array {
    const where = `GraphStepper of model '${this.model.name}'`;
    if (source.length !== this.rows)
      throw new Error(`${where}: rowSource has ${source.length} rows, expected ${this.rows}`);
    for (let r = 0; r < source.length; r++)
      if (!(source[r] >= 0 && source[r] < sources))
        throw new Error(`${where}: row ${r} decodes source ${source[r]}, outside the ${sources} given`);
    return source;
  }

  /** Binds the fixed side's `constants` to every stepped layer (each starts afresh) for rows reading `source`. */
  private bind(constants: Map<SymbolicTensor, StepConstant>, source: Int32Array): void {
    // Binding may allocate per-state buffers (an attention's scores): this stepper's, like its states.
    kernels().ownedBy(this.owner, () => {
      for (const node of this.stepNodes) {
        const c = node.inputs.map((x) => (this.stepped.has(x) ? null : constants.get(x)!));
        node.layer.bindStepConstants(this.states.get(node)!, c, source);
      }
    });
    this.started = true;
  }

  /** `data` copied into x's constant buffer (the previous start's binding is overwritten: start rebinds all). */
  private constantCopy(x: SymbolicTensor, data: Float32Array): Float32Array {
    let buf = this.constantBuffers.get(x);
    if (!buf || buf.length < data.length) {
      // Batches come in order of source length, so growing by half again reallocates a few times per decode.
      const n = Math.max(data.length, Math.ceil((buf?.length ?? 0) * 1.5));
      buf = kernels().ownedBy(this.owner, () => kernels().allocPersistent(n));
      this.constantBuffers.set(x, buf);
    }
    const view = buf.subarray(0, data.length);
    view.set(data);
    return view;
  }

  /** Feeds one token id per row; returns the output [rows, outputSize] (a reused buffer: copy what you keep). */
  step(ids: Int32Array): Float32Array {
    this.checkUsable('step');
    if (!this.started) throw new Error('GraphStepper.step: call start() with the sources first');
    if (ids.length !== this.rows)
      throw new Error(`GraphStepper.step: expected ${this.rows} token ids, got ${ids.length}`);
    this.ids.set(ids);
    const values = new Map<SymbolicTensor, StepInput>([[this.stepInput, this.ids]]);
    for (const node of this.stepNodes) {
      const ins = this.reads.get(node)!.map((x) => values.get(x)!);
      const outs = node.layer.stepMany(ins, this.states.get(node)!);
      node.outputs.forEach((y, i) => values.set(y, outs[i]));
    }
    return values.get(this.output) as Float32Array;
  }

  /**
   * Continues `rows` of this stepper on `to`, a stepper of the same model with at least as many rows: row i of `to`
   * carries on from rows[i] here (its states and the source row it reads); `to`'s rows past rows.length repeat rows[0],
   * and their outputs mean nothing. Greedy decoding does this when most rows of a batch have ended, so that it steps
   * fewer rows. `to` reads this stepper's encoder outputs: start this stepper again only once `to` is done with them.
   */
  narrowInto(to: GraphStepper, rows: Int32Array): void {
    this.checkUsable('narrowInto');
    if (!this.started) throw new Error('GraphStepper.narrowInto: call start() with the sources first');
    if (to.model !== this.model)
      throw new Error('GraphStepper.narrowInto: the steppers run different models');
    if (rows.length === 0 || rows.length > to.rows)
      throw new Error(`GraphStepper.narrowInto: ${rows.length} rows for a stepper of ${to.rows}`);
    to.checkUsable('narrowInto');
    const padded = new Int32Array(to.rows).fill(rows[0]);
    padded.set(rows);
    // Copying may grow `to`'s per-state buffers (an attention's scores): `to`'s, like its states.
    kernels().ownedBy(to.owner, () => {
      for (const node of this.stepNodes) {
        // A lookup one of the two steppers folded away is stateless: nothing to carry.
        const target = to.states.get(node);
        if (target) node.layer.copyStepRows(this.states.get(node)!, target, padded);
      }
    });
    to.started = true;
  }

  /** Row r continues from what row parents[r] carried (beam search). */
  reorder(parents: Int32Array): void {
    if (parents.length !== this.rows) throw new Error(`GraphStepper.reorder: expected ${this.rows} parents`);
    for (let r = 0; r < parents.length; r++)
      if (!(parents[r] >= 0 && parents[r] < this.rows))
        throw new Error(
          `GraphStepper.reorder: parent ${parents[r]} of row ${r} is outside [0, ${this.rows})`,
        );
    for (const node of this.stepNodes) node.layer.reorderStepRows(this.states.get(node)!, parents);
  }
}
