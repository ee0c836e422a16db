/**
 * An Embedding folded into the recurrent layer that reads it, at inference: token t's input projection is row t of
 * E·W + b (E [V, D] the embedding table, W [D, G·H] the layer's input kernel), so a batch's projections XP [T·N, G·H]
 * are gathered rows of that table instead of a GEMM over every step's looked-up vector.
 *
 * Only the ids a batch uses are projected: with U distinct ids among its T·N steps that is U·D·G·H multiply-adds
 * instead of T·N·D·G·H (a batch of 256 short reviews uses each frequent word dozens of times). Inside a
 * frozen-weights scope the projected rows are also kept from batch to batch in a [V, G·H] table (when it fits in
 * CACHED_PROJECTION_FLOATS), so over a whole prediction each id is projected once. The table is made at the scope's
 * second batch: a one-batch call (a server's request for one text) would only pay for zeroing it.
 *
 * A row is computed by the same GEMM (per-row results do not depend on the rows around it) and the same bias add as
 * the unfolded path, so XP is bit for bit what the Embedding and a GEMM over the looked-up vectors give.
 */
import { allocInt32, allocUninitialized, kernels } from '../core/backend.js';
import { frozenEpoch, frozenMemoryOwner } from './frozen_weights.js';
import type { StepLookup } from './layer.js';

/** The largest table kept across batches: 64 MB (a 16k-word vocabulary for an LSTM(256)'s 1,024 gate columns). */
export const CACHED_PROJECTION_FLOATS = 1 << 24;

/** What a projected row is made of: E (the lookup), W and b, and their widths D and G·H. */
export interface LookupWeights {
  readonly lookup: StepLookup;
  /** W [D, G·H]. */
  readonly kernel: Float32Array;
  /** b [G·H], or null for a layer without bias. */
  readonly bias: Float32Array | null;
  /** D: the lookup's row width and W's row count. */
  readonly inputWidth: number;
  /** G·H: a projected row's width. */
  readonly width: number;
}

interface CachedProjection {
  readonly epoch: number;
  readonly embedding: Float32Array;
  readonly kernel: Float32Array;
  /** [V, G·H]; row v is valid once projected[v] is set. */
  readonly rows: Float32Array;
  readonly projected: Uint8Array;
}

/** One recurrent layer's folded lookup: writes XP rows for token ids. */
export class LookupProjection {
  private cached: CachedProjection | null = null;
  /** The scope whose first batch was projected without a table. */
  private firstBatchOf: number | null = null;

  /** out[i] = E[ids[i]]·W (+ b) for i < count (rows of G·H floats). */
  project(w: LookupWeights, ids: Int32Array, count: number, out: Float32Array): void {
    const epoch = frozenEpoch();
    const { lookup, kernel, width } = w;
    if (epoch === null || lookup.ids * width > CACHED_PROJECTION_FLOATS) {
      projectBatch(w, ids, count, out);
      return;
    }
    let c = this.cached;
    if (!c || c.epoch !== epoch || c.embedding !== lookup.table || c.kernel !== kernel) {
      if (this.firstBatchOf !== epoch) {
        this.firstBatchOf = epoch;
        projectBatch(w, ids, count, out);
        return;
      }
      c = kernels().ownedBy(frozenMemoryOwner(), () => ({
        epoch,
        embedding: lookup.table,
        kernel,
        rows: kernels().allocPersistent(lookup.ids * width),
        projected: new Uint8Array(lookup.ids),
      }));
      this.cached = c;
    }
    const missing = allocInt32(count);
    let U = 0;
    for (let i = 0; i < count; i++) {
      const id = ids[i];
      if (c.projected[id] === 0) {
        c.projected[id] = 1;
        missing[U++] = id;
      }
    }
    if (U > 0) {
      try {
        const rows = allocUninitialized(U * width);
        projectRows(w, missing, U, rows);
        for (let u = 0; u < U; u++) c.rows.set(rows.subarray(u * width, (u + 1) * width), missing[u] * width);
      } catch (e) {
        this.cached = null; // rows marked projected may not be
        throw e;
      }
    }
    kernels().gatherRows(ids, count, c.rows, width, out, null, false);
  }
}

/** Without a kept table: the batch's distinct ids projected, then gathered. */
function projectBatch(w: LookupWeights, ids: Int32Array, count: number, out: Float32Array): void {
  const distinct = allocInt32(count);
  const slots = allocInt32(count);
  let U = 0;
  if (count * 8 < w.lookup.ids) {
    // A few steps of a large vocabulary (one short text): a map, not a vocabulary-sized array to fill.
    const slot = new Map<number, number>();
    for (let i = 0; i < count; i++) {
      const id = ids[i];
      let s = slot.get(id);
      if (s === undefined) {
        slot.set(id, (s = U));
        distinct[U++] = id;
      }
      slots[i] = s;
    }
  } else {
    const slot = allocInt32(w.lookup.ids).fill(-1);
    for (let i = 0; i < count; i++) {
      const id = ids[i];
      let s = slot[id];
      if (s < 0) {
        s = slot[id] = U;
        distinct[U++] = id;
      }
      slots[i] = s;
    }
  }
  const rows = allocUninitialized(U * w.width);
  projectRows(w, distinct, U, rows);
  kernels().gatherRows(slots, count, rows, w.width, out, null, false);
}

/** rows[u] = E[ids[u]]·W (+ b) for u < U. */
function projectRows(w: LookupWeights, ids: Int32Array, U: number, rows: Float32Array): void {
  const k = kernels();
  const { inputWidth: D, width: GH } = w;
  const looked = allocUninitialized(U * D);
  k.gatherRows(ids, U, w.lookup.table, D, looked, null, false);
  k.gemm(false, false, U, GH, D, looked, 0, D, w.kernel, 0, GH, rows, 0, GH, false);
  if (w.bias) k.addBias(rows, 0, U, GH, GH, w.bias, 0);
}
