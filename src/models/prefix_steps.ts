/**
 * Inference over windows of token ids that share prefixes: each distinct prefix is stepped once.
 *
 * A stack that reads ids x [N, T] from a zero state and whose last stateful layer keeps only its last step — the
 * text recipe's LSTM → Dense → softmax over 40-character windows — has at step t a state that depends only on the
 * row's first t + 1 ids. Windows cut from one text every few characters often begin alike ("the ", "and ", "of t"),
 * and the rows of such a prefix carry equal states until they part. So instead of N rows at every step, this steps
 * one row per distinct prefix, on the layers' own `step` (the kernels of their sequence forward):
 *
 *   sort the rows by their ids; row i of the sorted order parts from row i−1 at d_i, the first step where they differ
 *   a slot stands for a group of rows with one prefix; at step t the groups are the runs between rows with d_i ≤ t
 *   a group that parts at step t keeps its slot for its first run; each later run takes a new slot, its states
 *     copied from the slot it parted from
 *   step the slots 0…n_t−1 (rounded up to whole GEMM row blocks) on the ids of one row of each group
 *   after step T−1, row i reads its group's slot
 *
 * Cost: Σ_t n_t rows of steps instead of N·T (n_t = distinct (t+1)-prefixes ≤ N), plus one state row copied per
 * group that parts; memory: the layers' step states for N rows (their buffers of [N, G·H] and [N, H]). On windows of
 * Sherlock Holmes every 3 characters, sorted before batching, Σ_t n_t is 0.864 of N·T in shards of 256 rows
 * (bench/prefix_share.ts; prefixStepRows counts it).
 *
 * Each slot's steps are the sequence forward's for its rows: the same gather of the input table, the same packed
 * GEMM (on ≥ STEP_GEMM_ROWS rows, whose per-row sums do not depend on the rows beside them) and the same cell — so
 * the outputs are those of the sequence forward, bit for bit (test/prefix_steps.test.ts).
 */
import { kernels } from '../core/backend.js';
import { MemoryOwner } from '../core/kernels.js';
import { IndexTensor, Tensor } from '../core/tensor.js';
import type { Layer, LayerShape, StepState } from '../layers/layer.js';
import { STEP_GEMM_ROWS } from '../layers/step_weights.js';

/**
 * A token lookup is folded into the layer reading it only when its table costs at most this many steps' input
 * products (as in GraphStepper): a character vocabulary always is, a word vocabulary of thousands is not.
 */
const LOOKUP_FOLD_STEPS = 8;

/**
 * The index of the layer whose last-step output the shared-prefix forward computes — the last layer that carries a
 * recurrent state — or −1 when the stack cannot run that way: no layer carries state, that layer outputs a sequence
 * (every step is needed, not only the last), some layer up to it cannot step, or carries state from batch to batch
 * (a stateful RNN). `shapes` are the layers' output shapes without the batch axis.
 */
export function prefixStepTop(layers: readonly Layer[], shapes: readonly LayerShape[]): number {
  let top = -1;
  layers.forEach((l, i) => {
    if (l.stateNames.length > 0) top = i;
  });
  if (top < 0 || shapes[top].length !== 1) return -1;
  const owner = new MemoryOwner();
  try {
    for (let i = 0; i <= top; i++) {
      const l = layers[i];
      if (l.carriedStatesMismatch([]) !== null) return -1;
      // A layer that cannot step refuses to make a step state (Layer.createStepState): that refusal is the test.
      try {
        kernels().ownedBy(owner, () =>
          l.createStepState(STEP_GEMM_ROWS, { tokens: i === 0, weightsFixed: true }),
        );
      } catch {
        return -1;
      }
    }
    return top;
  } finally {
    kernels().release(owner);
  }
}

/** Row order of x's rows sorted by their ids (ties in row order), and where each sorted row parts from the one before. */
function sortRows(ids: Int32Array, N: number, T: number): { order: Int32Array; parts: Int32Array } {
  const order = Int32Array.from({ length: N }, (_, i) => i);
  order.sort((a, b) => {
    const oa = a * T;
    const ob = b * T;
    for (let t = 0; t < T; t++) {
      const d = ids[oa + t] - ids[ob + t];
      if (d !== 0) return d;
    }
    return a - b;
  });
  const parts = new Int32Array(N);
  for (let i = 1; i < N; i++) {
    const oa = order[i - 1] * T;
    const ob = order[i] * T;
    let t = 0;
    while (t < T && ids[oa + t] === ids[ob + t]) t++;
    parts[i] = t; // T: the same ids as the row before, never parted
  }
  return { order, parts };
}

/**
 * The rows the shared-prefix forward steps for x [N, T] of token ids, over all T steps — Σ_t n_t, each step's
 * distinct prefixes rounded up to whole GEMM row blocks — against N·T for the sequence forward: what it saves.
 */
export function prefixStepRows(x: IndexTensor): number {
  const [N, T] = x.shape;
  const capacity = Math.ceil(N / STEP_GEMM_ROWS) * STEP_GEMM_ROWS;
  const { parts } = sortRows(x.data, N, T);
  // Rows parting at step t (parts[i] = t) add a group from step t on.
  const partingAt = new Int32Array(T + 1);
  for (let i = 1; i < N; i++) partingAt[parts[i]]++;
  let groups = 1;
  let rows = 0;
  for (let t = 0; t < T; t++) {
    groups += partingAt[t];
    rows += Math.min(capacity, Math.ceil(groups / STEP_GEMM_ROWS) * STEP_GEMM_ROWS);
  }
  return rows;
}

/**
 * The output of layers[top] (its last step) for every row of x [N, T] of token ids, computed by distinct prefixes:
 * [N, width] — or null when a token table per call would cost more than it saves (a word vocabulary), for the
 * sequence forward to run instead. `top` is prefixStepTop's; the layers above it are the caller's to run.
 */
export function forwardByPrefixes(layers: readonly Layer[], top: number, x: IndexTensor): Tensor | null {
  const [N, T] = x.shape;
  if (x.shape.length !== 2 || N < 1 || T < 1)
    throw new Error(`forwardByPrefixes: expected token ids [N, T], got [${x.shape.join(', ')}]`);
  const ids = x.data;
  const capacity = Math.ceil(N / STEP_GEMM_ROWS) * STEP_GEMM_ROWS;
  // An Embedding whose rows the next layer can gather pre-multiplied is folded into it (as the sequence forward does).
  const lookup = top > 0 ? layers[0].stepLookup() : null;
  const fold = lookup !== null && layers[1].acceptsStepLookup();
  // That table (or a first recurrent layer's W + b, for one-hot ids) is made per call: worth it for a vocabulary of
  // a few steps' rows (characters, phonemes), not for thousands of words, whose projections the sequence forward
  // keeps from batch to batch in a frozen-weights scope.
  const tableRows = fold ? lookup.ids : lookup ? 0 : layers[0].stepInputSize();
  if (tableRows > LOOKUP_FOLD_STEPS * capacity) return null;
  const stepped = layers.slice(fold ? 1 : 0, top + 1);
  const owner = new MemoryOwner();
  try {
    const [tokens, states] = kernels().ownedBy(owner, (): [Int32Array, StepState[]] => [
      kernels().allocInt32(capacity),
      // The weights stay as they are for the call: the states read them in place instead of copying them.
      stepped.map((l, i) =>
        l.createStepState(
          capacity,
          i === 0
            ? { tokens: true, weightsFixed: true, ...(fold ? { lookup } : {}) }
            : { weightsFixed: true },
        ),
      ),
    ]);
    stepped.forEach((l, i) => l.resetState(states[i]));
    const { order, parts } = sortRows(ids, N, T);
    // slotOf[i]: the slot of sorted row i, for the rows that start a group (parts[i] ≤ the current step).
    const slotOf = new Int32Array(N);
    // rowOf[s]: an input row of slot s's group (whose ids the slot reads).
    const rowOf = new Int32Array(capacity);
    let slots = 0;
    let out: Float32Array | null = null;
    for (let t = 0; t < T; t++) {
      // current: the slot of the group holding row i−1 until this step.
      let current = 0;
      for (let i = 0; i < N; i++) {
        const part = i === 0 ? 0 : parts[i];
        if (part < t) current = slotOf[i];
        else if (part === t) {
          // A new group: its own slot, carrying on from the state of the group it parts from (zero at step 0).
          const s = slots++;
          slotOf[i] = s;
          rowOf[s] = order[i];
          if (t > 0) copyStateRow(states, current, s);
        }
      }
      const active = Math.min(capacity, Math.ceil(slots / STEP_GEMM_ROWS) * STEP_GEMM_ROWS);
      for (let s = 0; s < active; s++) tokens[s] = ids[rowOf[s < slots ? s : 0] * T + t];
      let input: Float32Array | Int32Array = tokens;
      for (let k = 0; k < stepped.length; k++) {
        states[k].active = active;
        input = stepped[k].step(input, states[k]);
      }
      out = input as Float32Array;
    }
    // Each row reads its group's slot: the last group started at or before it.
    const width = states[states.length - 1].width;
    const y = new Float32Array(N * width);
    let slot = 0;
    for (let i = 0; i < N; i++) {
      if (i === 0 || parts[i] < T) slot = slotOf[i];
      y.set(out!.subarray(slot * width, (slot + 1) * width), order[i] * width);
    }
    return new Tensor(y, [N, width]);
  } finally {
    kernels().release(owner);
  }
}

/** Slot `to` takes over every state row of slot `from` (StepState.states: [rows, n] buffers, whatever the layer). */
function copyStateRow(states: readonly StepState[], from: number, to: number): void {
  for (const st of states)
    for (const buf of st.states) {
      const n = buf.length / st.rows;
      buf.copyWithin(to * n, from * n, (from + 1) * n);
    }
}
