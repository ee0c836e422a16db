/**
 * Weights laid out once for the per-step products of `Layer.step`, shared by the layers that multiply by a weight
 * matrix every step. With fewer than 4 rows (stateful generation: one stream per sample) the matrix is copied into the
 * panels the packed GEMV streams in order (Kernels.packGemvPanels); with more (exact-window generation: many staggered
 * streams) into the GEMM's packed-B layout (Kernels.packGemmB), as training lays out U. Either way a step re-packs
 * nothing and allocates nothing. For token inputs, `gatherTable` folds the input bias into a copy of W's rows, so a
 * step's input projection x·W + b is a single row gather.
 */
import { kernels, scoped } from '../core/backend.js';
import { gemmPackedBLength, gemvPanelsLength } from '../core/kernels.js';
import type { StepLookup } from './layer.js';

/**
 * out[rows, N] (+)= x[rows, K] · W (row stride ldo in out, from outOff), for a W fixed while stepping; `rows` (at most
 * the rows it was made for, which is the default) computes only the leading rows (StepState.active). `panels`: W in
 * the GEMV's panels, when the product runs on the GEMV (fewer than STEP_GEMM_ROWS rows) — what another thread needs to
 * compute the same product (Layer.stepAhead).
 */
export type StepProduct = ((
  x: Float32Array,
  out: Float32Array,
  outOff: number,
  ldo: number,
  accumulate: boolean,
  rows?: number,
) => void) & { readonly panels?: { packed: Float32Array; K: number; N: number } };

/**
 * The fewest rows whose step products run on the GEMM (packed-B) kernel; fewer run on the GEMV, whose sums may round
 * differently. A row's product is the same for any row count from here up.
 */
export const STEP_GEMM_ROWS = 4;

/**
 * Weights a step reads as they are (a bias, an embedding table, a matrix multiplied by parts), as the step state's own
 * copy in kernel memory: a step state is a snapshot of the weights, which training and setWeights change in place.
 * `weightsFixed` (StepOptions): the caller changes none while it steps, so they are read where they are.
 */
export function stepWeights(values: Float32Array, weightsFixed = false): Float32Array {
  if (weightsFixed) return values;
  const copy = kernels().allocPersistent(values.length);
  copy.set(values);
  return copy;
}

/**
 * The product by W[K, N] (at wOff, row stride ldw) for `rows` rows, with W copied now into its step layout (and, for
 * the GEMM, whose packed layout leaves the ragged edges to W itself, copied as it is unless `weightsFixed`).
 */
export function stepProduct(
  W: Float32Array,
  wOff: number,
  ldw: number,
  K: number,
  N: number,
  rows: number,
  weightsFixed = false,
): StepProduct {
  const k = kernels();
  if (rows >= STEP_GEMM_ROWS) {
    const packedB = k.allocPersistent(gemmPackedBLength(K, N));
    k.packGemmB(K, N, W, wOff, ldw, packedB, 0);
    const B = weightsFixed ? W : stepWeights(W.subarray(wOff, wOff + (K - 1) * ldw + N));
    const bOff = weightsFixed ? wOff : 0;
    return (x, out, outOff, ldo, acc, active = rows) =>
      k.gemmPackedB(false, active, N, K, x, 0, K, B, bOff, ldw, packedB, 0, out, outOff, ldo, acc);
  }
  const packed = k.allocPersistent(gemvPanelsLength(K, N));
  k.packGemvPanels(K, N, W, wOff, ldw, packed, 0);
  const product = (
    x: Float32Array,
    out: Float32Array,
    outOff: number,
    ldo: number,
    acc: boolean,
    active = rows,
  ): void => k.gemvPacked(active, N, K, x, 0, K, packed, 0, out, outOff, ldo, acc);
  return Object.assign(product, { panels: { packed, K, N } });
}

/**
 * The gather table of a step's input projection x·W + b (W [K, N]) for token inputs: W's rows plus the bias for
 * one-hot ids, or for a lookup (ids standing for rows of an Embedding's table E [ids, K]) E·W + b, multiplied once by
 * the GEMM kernel a step of STEP_GEMM_ROWS or more rows uses — so a gathered row equals that step's product of the
 * looked-up vector bit for bit, and the step skips a [rows, K]·[K, N] product.
 */
export function stepInputTable(
  lookup: StepLookup | undefined,
  W: Float32Array,
  K: number,
  N: number,
  bias: Float32Array | null,
  weightsFixed = false,
): Float32Array {
  if (!lookup) return bias || weightsFixed ? gatherTable(W, K, N, bias) : stepWeights(W.subarray(0, K * N));
  if (lookup.table.length < lookup.ids * K)
    throw new Error(`a step lookup of ${lookup.ids} ids needs rows of ${K} floats, the input width`);
  const k = kernels();
  // Whole multiples of the GEMM's row block, so no id falls in a ragged tail the kernel may sum in another order.
  const rows = Math.ceil(lookup.ids / STEP_GEMM_ROWS) * STEP_GEMM_ROWS;
  const table = k.allocPersistent(rows * N);
  // The padded copy of E and W's packing are needed only for this product: scoped, so the stepper keeps the table
  // alone (an unfolded step would keep the packed W instead).
  scoped(() => {
    const E = k.alloc(rows * K);
    E.set(lookup.table.subarray(0, lookup.ids * K));
    const packedB = k.alloc(gemmPackedBLength(K, N));
    k.packGemmB(K, N, W, 0, N, packedB, 0);
    k.gemmPackedB(false, rows, N, K, E, 0, K, W, 0, N, packedB, 0, table, 0, N, false);
  });
  if (bias) k.addBias(table, 0, lookup.ids, N, N, bias, 0);
  return table.subarray(0, lookup.ids * N);
}

/** A copy of W [rows, cols] with bias[0..cols) added to every row, in kernel memory (or W itself without a bias). */
export function gatherTable(
  W: Float32Array,
  rows: number,
  cols: number,
  bias: Float32Array | null,
): Float32Array {
  if (!bias) return W;
  const k = kernels();
  const out = k.allocPersistent(rows * cols);
  out.set(W.subarray(0, rows * cols));
  k.addBias(out, 0, rows, cols, cols, bias, 0);
  return out;
}
