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
  // Keras 3's other activations, with the constants its string forms use. The derivative of Elu … LeakyRelu (and of
  // the ones above) follows from the output; of Gelu … HardSilu it needs the input (see derivativeNeedsInput).
  /** x > 0 ? x : exp(x) − 1 (alpha 1). */
  Elu = 7,
  /** scale · (x > 0 ? x : alpha · (exp(x) − 1)), alpha 1.6732632423543772, scale 1.0507009873554805. */
  Selu = 8,
  /** log(1 + exp(x)). */
  Softplus = 9,
  /** x / (1 + |x|). */
  Softsign = 10,
  /** min(max(x, 0), 6). */
  Relu6 = 11,
  /** exp(x). */
  Exponential = 12,
  /** x > 0 ? x : 0.2x (Keras 3's leaky_relu default negative_slope). */
  LeakyRelu = 13,
  /** Log-softmax per row: x − log Σ exp(x). */
  LogSoftmax = 14,
  /** x · Φ(x), Φ the standard normal CDF (the exact, erf form: Keras's gelu, tfjs's gelu). */
  Gelu = 15,
  /** 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))) (Keras's gelu(approximate=True), tfjs's gelu_new). */
  GeluTanh = 16,
  /** x · sigmoid(x) (swish, silu). */
  Swish = 17,
  /** x · tanh(softplus(x)). */
  Mish = 18,
  /** x · min(max(x + 3, 0), 6) / 6 (hard_silu, hard_swish). */
  HardSilu = 19,
  // Keras 3.6+'s, their string forms' thresholds included.
  /** clip(x, −1, 1). */
  HardTanh = 20,
  /** clip((x + 1)/2, 0, 1). */
  SparseSigmoid = 21,
  /** x − 0.5 above 0.5, x + 0.5 below −0.5, else 0. */
  SoftShrink = 22,
  /** |x| > 0.5 ? x : 0. */
  HardShrink = 23,
  /** −softplus(−x). */
  LogSigmoid = 24,
  /** x − tanh(x). */
  TanhShrink = 25,
  /** 0 below −1, (x + 1)²/4 on (−1, 1), x above 1. */
  SparsePlus = 26,
  /** (x + √(x² + 4))/2 (b = 4). */
  Squareplus = 27,
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
