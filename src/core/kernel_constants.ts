/**
 * The constants the TypeScript side and the AssemblyScript kernels must agree on, written once: assembly/kernels.ts
 * imports this very file, and scripts/build-wasm.mjs reads it for the wasm memory limits. It must therefore stay
 * valid AssemblyScript as well as TypeScript: integer constants (i32 there) and a const enum, no imports, no
 * functions, no type annotations.
 */

/** Activation function codes shared by all kernels. */
export const enum Act {
  Linear = 0,
  Relu = 1,
  Tanh = 2,
  Sigmoid = 3,
  HardSigmoid = 4,
  Softmax = 5,
  /** Keras 3's hard_sigmoid, clip(x/6 + 0.5, 0, 1) (HardSigmoid is Keras 1/2's and tfjs's, clip(0.2x + 0.5, 0, 1)). */
  HardSigmoid6 = 6,
}

/** Columns per panel of packGemvPanels (the wasm GEMV's register block: 6 × f32x4). */
export const GEMV_PANEL = 24;

/** Columns per panel of packGemmB (the wasm GEMM's 4×8 register tile; the last N % 8 columns stay in B). */
export const GEMM_PANEL = 8;

/** Bytes per WebAssembly memory page. */
export const WASM_PAGE = 65536;

/**
 * Pages below the allocator's heap: the module's static data (from address 1024, a few hundred bytes) and, in the
 * last 64 bytes, the allocator's header. The module declares this as its minimum memory; the build checks that its
 * static data ends below the header.
 */
export const HEAP_BASE_PAGES = 17;

/** Byte address where allocations start. */
export const HEAP_BASE = HEAP_BASE_PAGES * WASM_PAGE;

/** Byte address of the allocator's header (the shared bump pointer, a u32), the 64 bytes below HEAP_BASE. */
export const HEADER_ADDR = HEAP_BASE - 64;

/** The module's maximum memory in pages (4 GiB, the wasm32 limit; reserved as address space, not committed). */
export const MAX_PAGES = 65536;
