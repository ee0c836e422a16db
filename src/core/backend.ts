/** The active kernel implementation. Layers always call `kernels()`, never an implementation directly. */
import type { Kernels } from './kernels.js';
import { referenceKernels } from './reference_kernels.js';

let active: Kernels = referenceKernels;

export function kernels(): Kernels {
  return active;
}

export function setKernels(k: Kernels): void {
  active = k;
}
