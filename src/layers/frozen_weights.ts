/**
 * A promise that weights stay as they are for a while, so layers may keep what they derive from them.
 *
 * Weights change in place (optimizers, setWeights, loading, worker replicas sharing views), so a layer cannot tell
 * from a buffer whether its contents moved. Inside a frozen scope the caller promises that nothing changes any
 * weight; layers then keep weight-derived tables (an Embedding's rows projected by an RNN's input kernel:
 * lookup_projection.ts) from batch to batch, tagged with the scope's epoch. Every scope has a new epoch, so nothing
 * kept in one scope is used in another, and the kernel memory kept is given back when the scope is closed.
 *
 * `withFrozenWeights(fn)` is a scope for one call (predict, evaluate, decoding). A `FrozenWeights` held open serves
 * a model that is never trained again — an inference worker's — call after call.
 */
import { kernels } from '../core/backend.js';
import { MemoryOwner } from '../core/kernels.js';

let current: FrozenWeights | null = null;
let epochs = 0;

/** A frozen scope that stays open until `close()`: `run` enters it, as often as needed. */
export class FrozenWeights {
  readonly epoch = ++epochs;
  private readonly owners: MemoryOwner[] = [];
  private closed = false;

  /** Runs `fn` (synchronous) in this scope; inside another open scope, in that one. */
  run<T>(fn: () => T): T {
    if (this.closed) throw new Error('FrozenWeights: the scope is closed');
    return current ? fn() : runIn(this, fn);
  }

  /** Gives back the kernel memory of every table kept in this scope; it cannot be entered again. */
  close(): void {
    this.closed = true;
    for (const owner of this.owners.splice(0)) kernels().release(owner);
  }

  /** A memory owner whose buffers go back when this scope is closed. */
  memoryOwner(): MemoryOwner {
    const owner = new MemoryOwner();
    this.owners.push(owner);
    return owner;
  }
}

function runIn<T>(scope: FrozenWeights, fn: () => T): T {
  current = scope;
  try {
    const out = fn();
    if (out instanceof Promise)
      throw new Error(
        'a frozen-weights scope runs synchronous work only: the weights could change while it waits',
      );
    return out;
  } finally {
    current = null;
  }
}

/**
 * Runs `fn` (synchronous) with the weights frozen: layers may reuse weight-derived tables across the batches it runs.
 * Nested scopes share the outermost one.
 */
export function withFrozenWeights<T>(fn: () => T): T {
  if (current) return fn();
  const scope = new FrozenWeights();
  try {
    return scope.run(fn);
  } finally {
    scope.close();
  }
}

/** The open scope's epoch, or null when weights may change between calls. */
export function frozenEpoch(): number | null {
  return current?.epoch ?? null;
}

/** A memory owner whose buffers are given back when the open scope is closed (there must be one). */
export function frozenMemoryOwner(): MemoryOwner {
  if (!current) throw new Error('frozenMemoryOwner: no frozen-weights scope is open');
  return current.memoryOwner();
}
