/**
 * The active kernel implementation. Layers always call `kernels()`, never an implementation directly. The first call
 * picks WebAssembly SIMD when the runtime supports it, else the reference kernels (with a one-line notice). Set
 * RECUR_KERNELS=reference (Node) or call setKernels() to choose explicitly.
 */
import type { Kernels } from './kernels.js';
import { referenceKernels } from './reference_kernels.js';
import { createWasmKernels } from './wasm/load.js';

let active: Kernels | null = null;

function envKernels(): string | undefined {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return p?.env?.RECUR_KERNELS;
}

function pickDefault(): Kernels {
  const want = envKernels();
  if (want === 'reference') return referenceKernels;
  try {
    const w = createWasmKernels(want === 'simd' ? 'simd' : undefined);
    if (w) return w;
  } catch (e) {
    console.warn(
      `recur: WebAssembly kernels failed to start (${(e as Error).message}); using the reference kernels`,
    );
    return referenceKernels;
  }
  console.warn(
    'recur: WebAssembly SIMD or SharedArrayBuffer unavailable; using the slower reference kernels',
  );
  return referenceKernels;
}

export function kernels(): Kernels {
  return (active ??= pickDefault());
}

export function setKernels(k: Kernels): void {
  active = k;
}

/** Runs fn inside an allocation scope of the active kernels; buffers allocated inside are released after. */
export function scoped<T>(fn: () => T): T {
  const k = kernels();
  const mark = k.beginScope();
  try {
    return fn();
  } finally {
    k.endScope(mark);
  }
}

/** A zeroed buffer from the active kernels (scoped inside `scoped()`, long-lived outside). */
export function alloc(n: number): Float32Array {
  return kernels().alloc(n);
}

/** A buffer whose contents are unspecified, for outputs a kernel overwrites completely (see Kernels). */
export function allocUninitialized(n: number): Float32Array {
  return kernels().allocUninitialized(n);
}

export function allocInt32(n: number): Int32Array {
  return kernels().allocInt32(n);
}

/** A copy of a in kernel memory (scoped inside `scoped()`). */
export function copyOf(a: Float32Array): Float32Array {
  const out = kernels().alloc(a.length);
  out.set(a);
  return out;
}

/** A long-lived copy of a in kernel memory, even inside a scope (weights, carried states). */
export function persistentCopy(a: ArrayLike<number>): Float32Array {
  const k = kernels();
  const out = k.allocPersistent(a.length);
  out.set(a);
  return out;
}
