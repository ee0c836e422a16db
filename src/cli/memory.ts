/**
 * Whether a text model and its batches fit in memory, estimated before anything is allocated, so `--units 100000` or
 * `--batch-size 1e8` is refused with the estimate instead of failing halfway through an allocation. The estimate
 * follows the layers' buffers (src/layers/recurrent.ts, lstm.ts, gru.ts): weights, gradients and optimizer slots,
 * the per-step activations kept for backward and the backward's own per-step buffers.
 */
import { totalmem } from 'node:os';
import { kernels } from '../core/backend.js';
import { WasmKernels } from '../core/wasm/wasm_kernels.js';
import { UsageError } from './output.js';
import type { TextSettings } from '../text/metadata.js';

const FLOAT = 4;
/** The wasm32 kernels' memory maximum (src/core/wasm/load.ts reserves 65536 pages of 64 KiB). */
export const WASM_MEMORY_MAX = 4 * 1024 ** 3;
const GATES = { lstm: 4, gru: 3, 'simple-rnn': 1 } as const;
const SLOTS: Record<string, number> = { sgd: 1, rmsprop: 1, adam: 2, adagrad: 1 };

export interface MemoryEstimate {
  /** Weights, gradients, optimizer slots, packed copies and the worker replicas' gradients. */
  parameters: number;
  /** Activations and backward buffers of one batch. */
  activations: number;
  total: number;
}

/** Bytes needed to train (or, with `training` false, to evaluate) a text model on batches of `batchSize`. */
export function estimateTextModelBytes(
  s: TextSettings,
  vocab: number,
  batchSize: number,
  threads: number,
  training: boolean,
): MemoryEstimate {
  const G = GATES[s.cell];
  const H = s.units;
  const T = s.recipe === 'char-rnn' ? s.seqLength : s.maxlen;
  const N = batchSize;
  let params = 0;
  let act = 0;
  for (let i = 0; i < s.layers; i++) {
    const D = i === 0 ? vocab : H;
    params += G * H * (D + H + 2);
    // Forward: input projections (G·H), hidden states, outputs, cell state or GRU gates; the layer's input copy.
    let perStep = G * H + 3 * H + (s.cell === 'gru' ? G * H : 0) + (i === 0 ? 0 : D);
    // Backward: gate gradients (and GRU's second set), output gradients, input gradients.
    if (training) perStep += G * H * (s.cell === 'gru' ? 2 : 1) + H + (i === 0 ? 0 : 2 * D);
    if (s.dropout > 0) perStep += H;
    act += perStep * T * N;
  }
  params += H * vocab + vocab;
  const rows = s.recipe === 'char-rnn' ? N * T : N;
  act += rows * vocab * (training ? 3 : 2);
  // Value, a packed copy for the GEMMs; training adds gradients, the optimizer's slots and each worker's gradients.
  const copies = 2 + (training ? 1 + (SLOTS[s.optimizer] ?? 2) + Math.max(0, threads - 1) : 0);
  const parameters = params * copies * FLOAT;
  const activations = act * FLOAT;
  return { parameters, activations, total: parameters + activations };
}

/** The memory recur may use: the wasm memory maximum with the wasm kernels, and never more than the machine has. */
export function memoryLimit(): { bytes: number; what: string } {
  const machine = totalmem();
  if (kernels() instanceof WasmKernels && WASM_MEMORY_MAX < machine)
    return { bytes: WASM_MEMORY_MAX, what: 'the 4 GiB memory of the wasm32 kernels' };
  return { bytes: machine, what: "this machine's memory" };
}

export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

/** Refuses (exit 2) a model or batch whose estimate exceeds the memory limit, naming the estimate and the limit. */
export function assertFits(e: MemoryEstimate, what: string): void {
  const limit = memoryLimit();
  if (e.total <= limit.bytes) return;
  throw new UsageError(
    `${what} would need about ${formatBytes(e.total)} (${formatBytes(e.parameters)} for weights, gradients and ` +
      `optimizer state, ${formatBytes(e.activations)} for one batch's activations), more than ${limit.what} ` +
      `(${formatBytes(limit.bytes)}); use fewer --units or --layers, a smaller --batch-size or shorter sequences`,
  );
}
