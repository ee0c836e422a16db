/**
 * A promise that weights stay as they are for a while, so layers may keep what they derive from them.
 *
 * Weights change in place (optimizers, setWeights, loading, worker replicas sharing views), so a layer cannot tell
 * from a buffer whether its contents moved. Inside `withFrozenWeights(fn)` the caller promises that nothing changes
 * any weight; layers then keep weight-derived tables (an Embedding's rows projected by an RNN's input kernel:
 * lookup_projection.ts) from batch to batch, tagged with the scope's epoch. Every outermost scope has a new epoch,
 * so nothing kept in one scope is used in another, and the kernel memory kept is given back when the scope ends.
 */
import { kernels } from '../core/backend.js';
import { MemoryOwner } from '../core/kernels.js';

interface FrozenScope {
  readonly epoch: number;
  readonly owners: MemoryOwner[];
}

let current: FrozenScope | null = null;
let epochs = 0;

/**
 * Runs `fn` (synchronous) with the weights frozen: layers may reuse weight-derived tables across the batches it runs.
 * Nested scopes share the outermost one.
 */
export function withFrozenWeights<T>(fn: () => T): T {
  if (current) return fn();
  const scope: FrozenScope = { epoch: ++epochs, owners: [] };
  current = scope;
  try {
    const out = fn();
    if (out instanceof Promise)
      throw new Error(
        'withFrozenWeights runs synchronous work only: the weights could change while it waits',
      );
    return out;
  } finally {
    current = null;
    for (const owner of scope.owners) kernels().release(owner);
  }
}

/** The open scope's epoch, or null when weights may change between calls. */
export function frozenEpoch(): number | null {
  return current?.epoch ?? null;
}

/** A memory owner whose buffers are given back when the open scope ends (there must be one). */
export function frozenMemoryOwner(): MemoryOwner {
  if (!current) throw new Error('frozenMemoryOwner: no withFrozenWeights scope is open');
  const owner = new MemoryOwner();
  current.owners.push(owner);
  return owner;
}
