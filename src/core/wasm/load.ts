/**
 * Picks the fastest kernels this runtime can run: relaxed SIMD (real FMA), else plain SIMD, else null (the caller
 * falls back to the reference kernels). Needs WebAssembly SIMD and shared memory (SharedArrayBuffer; in browsers,
 * a cross-origin-isolated page).
 */
import { relaxedWasm, simdWasm } from './binary.generated.js';
import { HEAP_BASE_PAGES, MAX_PAGES } from '../kernel_constants.js';
import { WasmKernels } from './wasm_kernels.js';

function decode(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

let cached: { module: WebAssembly.Module; variant: 'simd' | 'relaxed' } | null = null;

/** The compiled kernel module for this runtime, or null when SIMD or shared memory is unavailable. */
export function kernelModule(
  prefer?: 'simd' | 'relaxed',
): { module: WebAssembly.Module; variant: 'simd' | 'relaxed' } | null {
  if (cached && (!prefer || cached.variant === prefer)) return cached;
  if (typeof WebAssembly === 'undefined' || typeof SharedArrayBuffer === 'undefined') return null;
  const relaxed = decode(relaxedWasm);
  const simd = decode(simdWasm);
  let variant: 'simd' | 'relaxed' | null = null;
  if (prefer !== 'simd' && WebAssembly.validate(relaxed)) variant = 'relaxed';
  else if (WebAssembly.validate(simd)) variant = 'simd';
  if (!variant) return null;
  const result = { module: new WebAssembly.Module(variant === 'relaxed' ? relaxed : simd), variant };
  if (!prefer) cached = result;
  return result;
}

/** A shared memory for the kernels (4 GiB maximum reserved as address space, not committed). */
export function createKernelMemory(): WebAssembly.Memory {
  const initial = HEAP_BASE_PAGES + 16;
  try {
    return new WebAssembly.Memory({ initial, maximum: MAX_PAGES, shared: true });
  } catch {
    // Runtimes that cannot reserve 4 GiB of address space: 1 GiB.
    return new WebAssembly.Memory({ initial, maximum: MAX_PAGES / 4, shared: true });
  }
}

/** New wasm kernels over a fresh memory, or null when this runtime cannot run them. */
export function createWasmKernels(prefer?: 'simd' | 'relaxed'): WasmKernels | null {
  const m = kernelModule(prefer);
  if (!m) return null;
  return new WasmKernels(m.module, createKernelMemory(), m.variant, true);
}
