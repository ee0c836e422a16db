/**
 * Stateful one-step inference for generation: feeds one timestep of token ids for B parallel streams and returns the
 * last layer's logits (or outputs), carrying every layer's state. It is a loop over the layers' own `step` (see
 * src/layers/layer.ts) and knows no layer type: any stack whose layers can step — [Embedding] → SimpleRNN/LSTM/GRU …
 * → Dropout (identity) → Dense/Activation, or a layer of your own — runs here. Token inputs are indices (one-hot
 * semantics for a recurrent or dense first layer). All buffers are allocated once; a step allocates nothing. This is
 * what makes generation cost one recurrent step per character instead of re-running a whole window.
 *
 * Each layer copies its weights once, at construction, into the layout its per-step product reads: a Stepper is a
 * snapshot of the model's weights — make a new one after training further.
 */
import { InvalidInputError, describeValue } from '../core/errors.js';
import { kernels } from '../core/backend.js';
import { MemoryOwner } from '../core/kernels.js';
import type { Layer, StepAheadProduct, StepState } from '../layers/layer.js';
import type { Sequential } from './sequential.js';

/**
 * Another thread that computes the products a step hands ahead (Layer.stepAhead) while the caller samples: the step
 * helper of src/parallel/step_helper.ts (started by src/node/step_helper.ts).
 */
export interface StepAheadRunner {
  /** Whether it can take products now (a helper thread takes a moment to start; until then the stepper waits not). */
  readonly ready: boolean;
  /** Starts a product (its input stays unchanged, its output unread, until waitFor its ticket). Returns the ticket. */
  submit(product: StepAheadProduct): number;
  /** Returns once the product of `ticket` is written. */
  waitFor(ticket: number): void;
}

export class Stepper {
  private readonly layers: readonly Layer[];
  private readonly states: StepState[];
  /** The ids of the current step, in kernel memory (a caller's array would be staged into it on every call). */
  private readonly ids: Int32Array;
  readonly outputSize: number;
  private readonly owner = new MemoryOwner();
  private disposed = false;
  private helper: StepAheadRunner | null = null;
  /** Per layer: the helper's ticket for the product its next step reads, or 0 (none out). */
  private readonly tickets: number[];
  /** Per layer: what its step calls before reading the product (made once: a step allocates nothing). */
  private readonly ready: (() => void)[];

  /** @param logits when true (default) the last softmax/sigmoid is skipped and logits are returned. */
  constructor(
    readonly model: Sequential,
    readonly batch: number,
    logits = true,
  ) {
    if (!(Number.isInteger(batch) && batch >= 0))
      throw new InvalidInputError(
        `Stepper: batch (streams) must be an integer ≥ 0, got ${describeValue(batch)}`,
      );
    if (!model.isBuilt) model.build();
    this.layers = model.layers;
    const last = this.layers.length - 1;
    [this.ids, this.states] = kernels().ownedBy(this.owner, () => [
      kernels().allocInt32(batch),
      this.layers.map((l, i) => l.createStepState(batch, { tokens: i === 0, logits: logits && i === last })),
    ]);
    this.outputSize = this.states[last].width;
    this.tickets = this.layers.map(() => 0);
    this.ready = this.layers.map((_, i) => () => this.helper!.waitFor(this.tickets[i]));
  }

  /**
   * Gives the stepper's kernel memory (states, packed weights) back at once instead of when the garbage collector
   * finds it unreferenced; the stepper cannot be used after. A process generating again and again disposes of its
   * steppers so that its memory stays flat.
   */
  dispose(): void {
    this.settle();
    this.disposed = true;
    kernels().release(this.owner);
  }

  /**
   * Lets `helper` compute, after each step, the products of the next one that depend only on the state (h·U), while
   * the caller samples the next token; null computes everything on this thread. Same outputs either way.
   */
  useHelper(helper: StepAheadRunner | null): void {
    this.settle();
    this.helper = helper;
  }

  /** Waits for products out on the helper and takes them back: the state is about to change outside a step. */
  private settle(): void {
    this.layers.forEach((l, i) => {
      if (this.tickets[i] === 0) return;
      this.helper!.waitFor(this.tickets[i]);
      this.tickets[i] = 0;
      l.cancelStepAhead(this.states[i]);
    });
  }

  /** Clears every recurrent state. */
  reset(): void {
    this.settle();
    this.layers.forEach((l, i) => l.resetState(this.states[i]));
  }

  /** Clears the recurrent state of one stream only. */
  resetRow(row: number): void {
    if (!(Number.isInteger(row) && row >= 0 && row < this.batch))
      throw new Error(`Stepper.resetRow: row ${row} is outside [0, ${this.batch})`);
    this.settle();
    this.layers.forEach((l, i) => l.resetState(this.states[i], row));
  }

  /**
   * Copies the recurrent state of stream `row` into stream `toRow` of `to`, a Stepper of the same model (of any
   * batch size): what lets a server move its live streams between steppers as requests come and go. Generic over the
   * layers: every state is a [rows, n] buffer (StepState.states).
   */
  copyRow(row: number, to: Stepper, toRow: number): void {
    if (to.model !== this.model) throw new Error('Stepper.copyRow: the steppers run different models');
    if (!(Number.isInteger(row) && row >= 0 && row < this.batch))
      throw new Error(`Stepper.copyRow: row ${row} is outside [0, ${this.batch})`);
    if (!(Number.isInteger(toRow) && toRow >= 0 && toRow < to.batch))
      throw new Error(`Stepper.copyRow: target row ${toRow} is outside [0, ${to.batch})`);
    this.settle();
    to.settle();
    this.states.forEach((st, i) =>
      st.states.forEach((src, k) => {
        const n = src.length / this.batch;
        to.states[i].states[k].set(src.subarray(row * n, (row + 1) * n), toRow * n);
      }),
    );
  }

  /** Feeds token ids[b] for each stream; returns [batch, outputSize] (a reused buffer: copy what you keep). */
  step(ids: Int32Array): Float32Array {
    if (this.disposed) throw new Error('Stepper.step: the stepper was disposed');
    if (ids.length !== this.batch)
      throw new Error(`Stepper.step: expected ${this.batch} token ids, got ${ids.length}`);
    this.ids.set(ids);
    let x: Int32Array | Float32Array = this.ids;
    for (let i = 0; i < this.layers.length; i++) {
      const layer = this.layers[i];
      const state = this.states[i];
      // A layer with a product out waits for it itself (its `ready`), after its own share of the work.
      x = layer.step(x, state);
      this.tickets[i] = 0;
      // Handed over at once, so that it runs while the layers above, the sampling and the next input's lookup do.
      if (this.helper?.ready) {
        const p = layer.stepAhead(state, this.ready[i]);
        if (p) this.tickets[i] = this.helper.submit(p);
      }
    }
    return x as Float32Array;
  }
}
