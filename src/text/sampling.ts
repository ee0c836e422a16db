/**
 * Sampling the next token from logits, in float64 log space: temperature scales the logits (no exp of huge numbers,
 * no 0/0 at tiny temperatures — a known failure of samplers that divide probabilities), temperature 0 is argmax,
 * top-k keeps the k most likely tokens, top-p the smallest set whose probability reaches p.
 */
import { kernels } from '../core/backend.js';
import type { Random } from '../core/random.js';

export interface SampleOptions {
  /** Default 1. 0 picks the most likely token. */
  temperature?: number;
  topK?: number;
  topP?: number;
}

export function checkSampleOptions(o: SampleOptions): void {
  const t = o.temperature ?? 1;
  if (!(t >= 0 && Number.isFinite(t)))
    throw new Error(`temperature must be a finite number ≥ 0, got ${o.temperature}`);
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 1))
    throw new Error(`topK must be a positive integer, got ${o.topK}`);
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1))
    throw new Error(`topP must be in (0, 1], got ${o.topP}`);
}

/**
 * A generation seed seeds a 32-bit Random, which would silently wrap -1 to 4294967295 and truncate 1.5 to 1: refuse
 * both, as `recur generate --seed` and the server do, so a seed means the same text everywhere.
 */
export function checkSeed(seed: number | undefined): void {
  if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff))
    throw new Error(`seed must be an integer from 0 to 4294967295, got ${seed}`);
}

/** Samples an index from logits[off … off+V). `scratch` (≥ V) avoids allocation per call. */
export function sampleFromLogits(
  logits: ArrayLike<number>,
  off: number,
  V: number,
  opts: SampleOptions,
  rng: Random,
  scratch = new Float64Array(V),
): number {
  const t = opts.temperature ?? 1;
  // Plain temperature sampling of floats is the kernel's (the same loop, its exponentials two at a time).
  if (logits instanceof Float32Array && opts.topK === undefined && opts.topP === undefined)
    return kernels().sampleLogits(V, logits, off, t, t === 0 ? 0 : rng.next());
  let best = 0;
  for (let j = 1; j < V; j++) if (logits[off + j] > logits[off + best]) best = j;
  if (t === 0) return best;
  const max = logits[off + best];
  const w = scratch;
  for (let j = 0; j < V; j++) w[j] = (logits[off + j] - max) / t;
  // Keep only the top-k / top-p candidates (ties broken by index).
  if (opts.topK !== undefined || opts.topP !== undefined) {
    const order = Array.from({ length: V }, (_, j) => j).sort((a, b) => w[b] - w[a] || a - b);
    let keep = Math.min(V, opts.topK ?? V);
    if (opts.topP !== undefined) {
      let z = 0;
      for (const j of order.slice(0, keep)) z += Math.exp(w[j]);
      let cum = 0;
      for (let r = 0; r < keep; r++) {
        cum += Math.exp(w[order[r]]) / z;
        if (cum >= opts.topP) {
          keep = r + 1;
          break;
        }
      }
    }
    for (let r = keep; r < V; r++) w[order[r]] = -Infinity;
  }
  let z = 0;
  // w becomes the unnormalised probabilities, so the cumulative pass reuses them: one exp per token, not two.
  for (let j = 0; j < V; j++) {
    w[j] = Math.exp(w[j]);
    z += w[j];
  }
  let u = rng.next() * z;
  for (let j = 0; j < V; j++) {
    u -= w[j];
    if (u < 0) return j;
  }
  return best;
}
