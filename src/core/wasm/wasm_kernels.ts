/**
 * The WebAssembly SIMD kernels behind the `Kernels` interface, and the memory they work in.
 *
 * Tensors live in one shared WebAssembly.Memory: `alloc()` hands out Float32Array views of it, so kernels receive
 * plain byte offsets and nothing is copied. Shared memory is also what lets worker threads run the same kernels on
 * the same weights, and a shared buffer is never detached when it grows, so views stay valid.
 *
 * Allocation: a bump pointer in the memory's header carves chunks (atomically, so threads can share it). Each thread
 * has an arena of chunks for scoped allocations — reset wholesale at endScope, so a training step reuses the same
 * memory every batch — and a size-keyed free list for long-lived buffers, refilled by a FinalizationRegistry.
 * Arrays that are not in wasm memory still work: they are staged through the arena (slower, same results).
 */
import type { Act, Kernels } from '../kernels.js';

interface KernelExports {
  gemm(
    tA: number,
    tB: number,
    M: number,
    N: number,
    K: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
    acc: number,
    scratch: number,
    extra: number,
  ): void;
  readonly GEMM_PACK_FLOATS: WebAssembly.Global;
  addBias(x: number, M: number, N: number, ldx: number, bias: number): void;
  sumRows(x: number, M: number, N: number, ldx: number, out: number): void;
  activate(code: number, x: number, M: number, N: number, ldx: number): void;
  activateBackward(code: number, y: number, dy: number, M: number, N: number, ld: number): void;
  gatherRows(idx: number, R: number, W: number, N: number, out: number, scale: number, acc: number): void;
  scatterAddRows(idx: number, R: number, dOut: number, N: number, dW: number, scale: number): void;
  mulInPlace(x: number, m: number, n: number): void;
  addInPlace(x: number, y: number, n: number): void;
  transpose(R: number, C: number, src: number, dst: number): void;
  packGemvPanels(K: number, N: number, b: number, ldb: number, out: number): void;
  gruResetGate(N: number, H: number, xp: number, hm: number, rh: number, rec: number): void;
  gruResetOutput(N: number, H: number, xp: number, hPrev: number, h: number, act: number): void;
  gruResetOutputBackward(
    N: number,
    H: number,
    gates: number,
    hPrev: number,
    dh: number,
    dxp: number,
    dhPrev: number,
    act: number,
    rec: number,
  ): void;
  gruResetGateBackward(
    N: number,
    H: number,
    gates: number,
    hm: number,
    drh: number,
    dxp: number,
    dhm: number,
    rec: number,
  ): void;
  packGemmB(K: number, N: number, b: number, ldb: number, out: number): void;
  gemmPackedB(
    tA: number,
    M: number,
    N: number,
    K: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    packed: number,
    c: number,
    ldc: number,
    acc: number,
    scratch: number,
  ): void;
  gemvPacked(
    M: number,
    N: number,
    K: number,
    a: number,
    lda: number,
    packed: number,
    c: number,
    ldc: number,
    acc: number,
    scratch: number,
  ): void;
  rmspropUpdate(
    n: number,
    w: number,
    g: number,
    v: number,
    m: number,
    mg: number,
    lr: number,
    rho: number,
    eps: number,
    momentum: number,
    epsOutside: number,
  ): void;
  sgdUpdate(n: number, w: number, g: number, m: number, lr: number, momentum: number, nesterov: number): void;
  adagradUpdate(n: number, w: number, g: number, a: number, lr: number, eps: number): void;
  adamUpdate(
    n: number,
    w: number,
    g: number,
    m: number,
    v: number,
    alpha: number,
    beta1: number,
    beta2: number,
    eps: number,
  ): void;
  gruCellForward(
    N: number,
    H: number,
    xp: number,
    rp: number,
    hPrev: number,
    h: number,
    act: number,
    rec: number,
  ): void;
  gruCellBackward(
    N: number,
    H: number,
    gates: number,
    rp: number,
    hPrev: number,
    dh: number,
    dxp: number,
    drp: number,
    dhPrev: number,
    act: number,
    rec: number,
  ): void;
  lstmCellForward(
    N: number,
    H: number,
    gates: number,
    cPrev: number,
    c: number,
    h: number,
    act: number,
    rec: number,
  ): void;
  lstmCellBackward(
    N: number,
    H: number,
    gates: number,
    cPrev: number,
    c: number,
    dh: number,
    dc: number,
    dGates: number,
    act: number,
    rec: number,
  ): void;
  softmaxCrossEntropy(
    logits: number,
    R: number,
    V: number,
    labels: number,
    targets: number,
    grad: number,
    scale: number,
  ): number;
}

export const PAGE = 65536;
/** Bytes reserved for the module's static data and our header; allocations start here. */
export const HEAP_BASE = 17 * PAGE;
/** Byte address of the shared bump pointer (an i32 just below HEAP_BASE). */
const TOP_ADDR = HEAP_BASE - 64;
const CHUNK = 8 << 20;
const ALIGN = 64;

type Typed = Float32Array | Int32Array;

interface Chunk {
  ptr: number;
  size: number;
}

export class WasmKernels implements Kernels {
  readonly name: string;
  private readonly x: KernelExports;
  private readonly header: Int32Array;
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  /** The buffer of the latest allocation: most kernel arguments are views of it. */
  private newestBuffer: ArrayBufferLike | null = null;
  private chunks: Chunk[] = [];
  private chunkIndex = 0;
  private chunkOffset = 0;
  private readonly markChunk: number[] = [];
  private readonly markOffset: number[] = [];
  private depth = 0;
  private readonly free = new Map<number, number[]>();
  private readonly registry = new FinalizationRegistry<{ ptr: number; bytes: number }>(({ ptr, bytes }) => {
    const list = this.free.get(bytes) ?? [];
    list.push(ptr);
    this.free.set(bytes, list);
  });

  /**
   * @param init true for the first instance over a memory (sets up the header); false in worker threads.
   */
  constructor(
    readonly module: WebAssembly.Module,
    readonly memory: WebAssembly.Memory,
    readonly variant: 'simd' | 'relaxed',
    init: boolean,
  ) {
    const instance = new WebAssembly.Instance(module, {
      env: {
        memory,
        abort: () => {
          throw new Error('recur wasm kernel aborted');
        },
      },
    });
    this.x = instance.exports as unknown as KernelExports;
    this.name = `wasm-${variant}`;
    if (memory.buffer.byteLength < HEAP_BASE)
      memory.grow(Math.ceil((HEAP_BASE - memory.buffer.byteLength) / PAGE));
    this.header = new Int32Array(memory.buffer, TOP_ADDR, 4);
    if (init) Atomics.store(this.header, 0, HEAP_BASE);
    this.buffers.add(memory.buffer);
  }

  // ----- memory -----

  /** Carves `bytes` from the shared bump pointer, growing the memory when needed. */
  private carve(bytes: number): number {
    const size = Math.ceil(bytes / ALIGN) * ALIGN;
    const ptr = Atomics.add(this.header, 0, size);
    const end = ptr + size;
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / PAGE));
    return ptr;
  }

  private bytesFor(n: number): number {
    return Math.max(ALIGN, Math.ceil((n * 4) / ALIGN) * ALIGN);
  }

  private scopedPtr(bytes: number): number {
    for (;;) {
      const chunk = this.chunks[this.chunkIndex];
      if (chunk && this.chunkOffset + bytes <= chunk.size) {
        const p = chunk.ptr + this.chunkOffset;
        this.chunkOffset += bytes;
        return p;
      }
      if (chunk && this.chunkIndex + 1 < this.chunks.length) {
        this.chunkIndex++;
        this.chunkOffset = 0;
        continue;
      }
      const size = Math.max(CHUNK, bytes);
      this.chunks.push({ ptr: this.carve(size), size });
      this.chunkIndex = this.chunks.length - 1;
      this.chunkOffset = 0;
    }
  }

  private rawAlloc(
    n: number,
    persistent = false,
  ): { ptr: number; buffer: ArrayBufferLike; permanent: boolean; bytes: number } {
    const bytes = this.bytesFor(n);
    let ptr: number;
    let permanent = false;
    if (this.depth > 0 && !persistent) ptr = this.scopedPtr(bytes);
    else {
      permanent = true;
      ptr = this.free.get(bytes)?.pop() ?? this.carve(bytes);
    }
    const buffer = this.memory.buffer;
    this.buffers.add(buffer);
    this.newestBuffer = buffer;
    return { ptr, buffer, permanent, bytes };
  }

  private view<T extends Typed>(
    make: (b: ArrayBufferLike, ptr: number, n: number) => T,
    n: number,
    persistent: boolean,
    zero = true,
  ): T {
    const { ptr, buffer, permanent, bytes } = this.rawAlloc(n, persistent);
    const v = make(buffer, ptr, n);
    if (zero) v.fill(0);
    if (permanent) this.registry.register(v, { ptr, bytes });
    return v;
  }

  alloc(n: number): Float32Array {
    return this.view((b, p, len) => new Float32Array(b, p, len), n, false);
  }

  allocUninitialized(n: number): Float32Array {
    return this.view((b, p, len) => new Float32Array(b, p, len), n, false, false);
  }

  allocPersistent(n: number): Float32Array {
    return this.view((b, p, len) => new Float32Array(b, p, len), n, true);
  }

  allocInt32(n: number): Int32Array {
    return this.view((b, p, len) => new Int32Array(b, p, len), n, false);
  }

  beginScope(): number {
    // The mark is the depth; the arena position to return to is kept per depth (every kernel call opens a scope,
    // so this is on the hot path of generation: no float encoding, no fmod).
    const mark = this.depth++;
    this.markChunk[mark] = this.chunkIndex;
    this.markOffset[mark] = this.chunkOffset;
    return mark;
  }

  endScope(mark: number): void {
    if (mark !== this.depth - 1) throw new Error(`endScope(${mark}) does not close the innermost scope`);
    this.depth = mark;
    this.chunkIndex = this.markChunk[mark];
    this.chunkOffset = this.markOffset[mark];
  }

  /** Bytes of wasm memory in use by this process (high-water mark of the bump pointer). */
  get memoryBytes(): number {
    return Atomics.load(this.header, 0);
  }

  isResident(a: Typed): boolean {
    return this.buffers.has(a.buffer);
  }

  // ----- staging of arrays outside wasm memory -----

  private staged: { src: Typed; copy: Typed; write: boolean }[] = [];
  private pack: Float32Array | null = null;

  /** Byte address of this instance's GEMM packing scratch (GEMM_PACK_FLOATS floats, allocated on first use). */
  private packScratch(): number {
    this.pack ??= this.allocPersistent(this.x.GEMM_PACK_FLOATS.value);
    return this.pack.byteOffset;
  }

  /** Byte address of a[0], staging a copy into wasm memory when a lives elsewhere. */
  private p(a: Typed, write: boolean): number {
    // Identity with the newest buffer first: a Set lookup per argument is a measurable share of a generation step.
    const buffer = a.buffer;
    if (buffer === this.newestBuffer || this.buffers.has(buffer)) return a.byteOffset;
    const copy = a instanceof Float32Array ? this.alloc(a.length) : this.allocInt32(a.length);
    copy.set(a);
    this.staged.push({ src: a, copy, write });
    return copy.byteOffset;
  }

  private begin(): number {
    return this.beginScope();
  }

  private finish(mark: number): void {
    if (this.staged.length > 0) {
      for (const s of this.staged) if (s.write) s.src.set(s.copy);
      this.staged.length = 0;
    }
    this.endScope(mark);
  }

  // ----- kernels -----

  gemm(
    transA: boolean,
    transB: boolean,
    M: number,
    N: number,
    K: number,
    A: Float32Array,
    aOff: number,
    lda: number,
    B: Float32Array,
    bOff: number,
    ldb: number,
    C: Float32Array,
    cOff: number,
    ldc: number,
    accumulate: boolean,
  ): void {
    const m = this.begin();
    // Scratch: the packed panels (one buffer per instance, reused); with a transposed B, room for Bᵀ (or Aᵀ).
    const extra = transB ? this.allocUninitialized(Math.max(K * N, K * M)).byteOffset : 0;
    this.x.gemm(
      +transA,
      +transB,
      M,
      N,
      K,
      this.p(A, false) + aOff * 4,
      lda,
      this.p(B, false) + bOff * 4,
      ldb,
      this.p(C, true) + cOff * 4,
      ldc,
      +accumulate,
      this.packScratch(),
      extra,
    );
    this.finish(m);
  }

  addBias(
    x: Float32Array,
    off: number,
    M: number,
    N: number,
    ldx: number,
    bias: Float32Array,
    bOff: number,
  ): void {
    const m = this.begin();
    this.x.addBias(this.p(x, true) + off * 4, M, N, ldx, this.p(bias, false) + bOff * 4);
    this.finish(m);
  }

  sumRows(
    x: Float32Array,
    off: number,
    M: number,
    N: number,
    ldx: number,
    out: Float32Array,
    oOff: number,
  ): void {
    const m = this.begin();
    this.x.sumRows(this.p(x, false) + off * 4, M, N, ldx, this.p(out, true) + oOff * 4);
    this.finish(m);
  }

  activate(act: Act, x: Float32Array, off: number, M: number, N: number, ldx: number): void {
    const m = this.begin();
    this.x.activate(act, this.p(x, true) + off * 4, M, N, ldx);
    this.finish(m);
  }

  activateBackward(
    act: Act,
    y: Float32Array,
    yOff: number,
    dy: Float32Array,
    dyOff: number,
    M: number,
    N: number,
    ld: number,
  ): void {
    const m = this.begin();
    this.x.activateBackward(act, this.p(y, false) + yOff * 4, this.p(dy, true) + dyOff * 4, M, N, ld);
    this.finish(m);
  }

  gatherRows(
    idx: Int32Array,
    R: number,
    W: Float32Array,
    N: number,
    out: Float32Array,
    scale: Float32Array | null,
    accumulate: boolean,
  ): void {
    const m = this.begin();
    this.x.gatherRows(
      this.p(idx, false),
      R,
      this.p(W, false),
      N,
      this.p(out, true),
      scale ? this.p(scale, false) : 0,
      +accumulate,
    );
    this.finish(m);
  }

  scatterAddRows(
    idx: Int32Array,
    R: number,
    dOut: Float32Array,
    N: number,
    dW: Float32Array,
    scale: Float32Array | null,
  ): void {
    const m = this.begin();
    this.x.scatterAddRows(
      this.p(idx, false),
      R,
      this.p(dOut, false),
      N,
      this.p(dW, true),
      scale ? this.p(scale, false) : 0,
    );
    this.finish(m);
  }

  lstmCellForward(
    N: number,
    H: number,
    gates: Float32Array,
    gOff: number,
    cPrev: Float32Array,
    cpOff: number,
    c: Float32Array,
    cOff: number,
    h: Float32Array,
    hOff: number,
    act: Act,
    recAct: Act,
  ): void {
    const m = this.begin();
    this.x.lstmCellForward(
      N,
      H,
      this.p(gates, true) + gOff * 4,
      this.p(cPrev, false) + cpOff * 4,
      this.p(c, true) + cOff * 4,
      this.p(h, true) + hOff * 4,
      act,
      recAct,
    );
    this.finish(m);
  }

  lstmCellBackward(
    N: number,
    H: number,
    gates: Float32Array,
    gOff: number,
    cPrev: Float32Array,
    cpOff: number,
    c: Float32Array,
    cOff: number,
    dh: Float32Array,
    dc: Float32Array,
    dGates: Float32Array,
    dgOff: number,
    act: Act,
    recAct: Act,
  ): void {
    const m = this.begin();
    this.x.lstmCellBackward(
      N,
      H,
      this.p(gates, false) + gOff * 4,
      this.p(cPrev, false) + cpOff * 4,
      this.p(c, false) + cOff * 4,
      this.p(dh, false),
      this.p(dc, true),
      this.p(dGates, true) + dgOff * 4,
      act,
      recAct,
    );
    this.finish(m);
  }

  gruCellForward(
    N: number,
    H: number,
    xp: Float32Array,
    xpOff: number,
    rp: Float32Array,
    rpOff: number,
    hPrev: Float32Array,
    hpOff: number,
    h: Float32Array,
    hOff: number,
    act: Act,
    recAct: Act,
  ): void {
    const m = this.begin();
    this.x.gruCellForward(
      N,
      H,
      this.p(xp, true) + xpOff * 4,
      this.p(rp, false) + rpOff * 4,
      this.p(hPrev, false) + hpOff * 4,
      this.p(h, true) + hOff * 4,
      act,
      recAct,
    );
    this.finish(m);
  }

  gruCellBackward(
    N: number,
    H: number,
    gates: Float32Array,
    gOff: number,
    rp: Float32Array,
    rpOff: number,
    hPrev: Float32Array,
    hpOff: number,
    dh: Float32Array,
    dxp: Float32Array,
    dxpOff: number,
    drp: Float32Array,
    drpOff: number,
    dhPrev: Float32Array,
    act: Act,
    recAct: Act,
  ): void {
    const m = this.begin();
    this.x.gruCellBackward(
      N,
      H,
      this.p(gates, false) + gOff * 4,
      this.p(rp, false) + rpOff * 4,
      this.p(hPrev, false) + hpOff * 4,
      this.p(dh, false),
      this.p(dxp, true) + dxpOff * 4,
      this.p(drp, true) + drpOff * 4,
      this.p(dhPrev, true),
      act,
      recAct,
    );
    this.finish(m);
  }

  rmspropUpdate(
    n: number,
    w: Float32Array,
    g: Float32Array,
    v: Float32Array,
    m: Float32Array | null,
    mg: Float32Array | null,
    lr: number,
    rho: number,
    eps: number,
    momentum: number,
    epsOutside: boolean,
  ): void {
    const k = this.begin();
    this.x.rmspropUpdate(
      n,
      this.p(w, true),
      this.p(g, false),
      this.p(v, true),
      m ? this.p(m, true) : 0,
      mg ? this.p(mg, true) : 0,
      lr,
      rho,
      eps,
      momentum,
      +epsOutside,
    );
    this.finish(k);
  }

  sgdUpdate(
    n: number,
    w: Float32Array,
    g: Float32Array,
    m: Float32Array | null,
    lr: number,
    momentum: number,
    nesterov: boolean,
  ): void {
    const k = this.begin();
    this.x.sgdUpdate(n, this.p(w, true), this.p(g, false), m ? this.p(m, true) : 0, lr, momentum, +nesterov);
    this.finish(k);
  }

  adagradUpdate(n: number, w: Float32Array, g: Float32Array, a: Float32Array, lr: number, eps: number): void {
    const k = this.begin();
    this.x.adagradUpdate(n, this.p(w, true), this.p(g, false), this.p(a, true), lr, eps);
    this.finish(k);
  }

  adamUpdate(
    n: number,
    w: Float32Array,
    g: Float32Array,
    m: Float32Array,
    v: Float32Array,
    alpha: number,
    beta1: number,
    beta2: number,
    eps: number,
  ): void {
    const k = this.begin();
    this.x.adamUpdate(
      n,
      this.p(w, true),
      this.p(g, false),
      this.p(m, true),
      this.p(v, true),
      alpha,
      beta1,
      beta2,
      eps,
    );
    this.finish(k);
  }

  mulInPlace(x: Float32Array, xOff: number, mask: Float32Array, mOff: number, n: number): void {
    const m = this.begin();
    this.x.mulInPlace(this.p(x, true) + xOff * 4, this.p(mask, false) + mOff * 4, n);
    this.finish(m);
  }

  addInPlace(x: Float32Array, xOff: number, y: Float32Array, yOff: number, n: number): void {
    const m = this.begin();
    this.x.addInPlace(this.p(x, true) + xOff * 4, this.p(y, false) + yOff * 4, n);
    this.finish(m);
  }

  gruResetGate(
    N: number,
    H: number,
    xp: Float32Array,
    xpOff: number,
    hm: Float32Array,
    hmOff: number,
    rh: Float32Array,
    rhOff: number,
    recAct: Act,
  ): void {
    const m = this.begin();
    this.x.gruResetGate(
      N,
      H,
      this.p(xp, true) + xpOff * 4,
      this.p(hm, false) + hmOff * 4,
      this.p(rh, true) + rhOff * 4,
      recAct,
    );
    this.finish(m);
  }

  gruResetOutput(
    N: number,
    H: number,
    xp: Float32Array,
    xpOff: number,
    hPrev: Float32Array,
    hpOff: number,
    h: Float32Array,
    hOff: number,
    act: Act,
  ): void {
    const m = this.begin();
    this.x.gruResetOutput(
      N,
      H,
      this.p(xp, true) + xpOff * 4,
      this.p(hPrev, false) + hpOff * 4,
      this.p(h, true) + hOff * 4,
      act,
    );
    this.finish(m);
  }

  gruResetOutputBackward(
    N: number,
    H: number,
    gates: Float32Array,
    gOff: number,
    hPrev: Float32Array,
    hpOff: number,
    dh: Float32Array,
    dxp: Float32Array,
    dxpOff: number,
    dhPrev: Float32Array,
    act: Act,
    recAct: Act,
  ): void {
    const m = this.begin();
    this.x.gruResetOutputBackward(
      N,
      H,
      this.p(gates, false) + gOff * 4,
      this.p(hPrev, false) + hpOff * 4,
      this.p(dh, false),
      this.p(dxp, true) + dxpOff * 4,
      this.p(dhPrev, true),
      act,
      recAct,
    );
    this.finish(m);
  }

  gruResetGateBackward(
    N: number,
    H: number,
    gates: Float32Array,
    gOff: number,
    hm: Float32Array,
    hmOff: number,
    drh: Float32Array,
    dxp: Float32Array,
    dxpOff: number,
    dhm: Float32Array,
    recAct: Act,
  ): void {
    const m = this.begin();
    this.x.gruResetGateBackward(
      N,
      H,
      this.p(gates, false) + gOff * 4,
      this.p(hm, false) + hmOff * 4,
      this.p(drh, false),
      this.p(dxp, true) + dxpOff * 4,
      this.p(dhm, true),
      recAct,
    );
    this.finish(m);
  }

  packGemmB(
    K: number,
    N: number,
    B: Float32Array,
    bOff: number,
    ldb: number,
    out: Float32Array,
    outOff: number,
  ): void {
    const m = this.begin();
    this.x.packGemmB(K, N, this.p(B, false) + bOff * 4, ldb, this.p(out, true) + outOff * 4);
    this.finish(m);
  }

  gemmPackedB(
    transA: boolean,
    M: number,
    N: number,
    K: number,
    A: Float32Array,
    aOff: number,
    lda: number,
    B: Float32Array,
    bOff: number,
    ldb: number,
    packed: Float32Array,
    pOff: number,
    C: Float32Array,
    cOff: number,
    ldc: number,
    accumulate: boolean,
  ): void {
    const m = this.begin();
    this.x.gemmPackedB(
      +transA,
      M,
      N,
      K,
      this.p(A, false) + aOff * 4,
      lda,
      this.p(B, false) + bOff * 4,
      ldb,
      this.p(packed, false) + pOff * 4,
      this.p(C, true) + cOff * 4,
      ldc,
      +accumulate,
      this.packScratch(),
    );
    this.finish(m);
  }

  packGemvPanels(
    K: number,
    N: number,
    B: Float32Array,
    bOff: number,
    ldb: number,
    out: Float32Array,
    outOff: number,
  ): void {
    const m = this.begin();
    this.x.packGemvPanels(K, N, this.p(B, false) + bOff * 4, ldb, this.p(out, true) + outOff * 4);
    this.finish(m);
  }

  gemvPacked(
    M: number,
    N: number,
    K: number,
    A: Float32Array,
    aOff: number,
    lda: number,
    packed: Float32Array,
    pOff: number,
    C: Float32Array,
    cOff: number,
    ldc: number,
    accumulate: boolean,
  ): void {
    const m = this.begin();
    this.x.gemvPacked(
      M,
      N,
      K,
      this.p(A, false) + aOff * 4,
      lda,
      this.p(packed, false) + pOff * 4,
      this.p(C, true) + cOff * 4,
      ldc,
      +accumulate,
      this.packScratch(),
    );
    this.finish(m);
  }

  transpose(R: number, C: number, src: Float32Array, sOff: number, dst: Float32Array, dOff: number): void {
    const m = this.begin();
    this.x.transpose(R, C, this.p(src, false) + sOff * 4, this.p(dst, true) + dOff * 4);
    this.finish(m);
  }

  softmaxCrossEntropy(
    logits: Float32Array,
    R: number,
    V: number,
    labels: Int32Array | null,
    targets: Float32Array | null,
    grad: Float32Array | null,
    gradScale: number,
  ): number {
    const m = this.begin();
    const r = this.x.softmaxCrossEntropy(
      this.p(logits, false),
      R,
      V,
      labels ? this.p(labels, false) : 0,
      targets ? this.p(targets, false) : 0,
      grad ? this.p(grad, true) : 0,
      gradScale,
    );
    this.finish(m);
    return r;
  }
}
