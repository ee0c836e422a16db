/**
 * The memory the WebAssembly kernels work in, and its allocator (the `KernelMemory` half of the wasm kernels).
 *
 * Tensors live in one shared WebAssembly.Memory: `alloc()` hands out Float32Array views of it, so kernels receive
 * plain byte offsets and nothing is copied. Shared memory is also what lets worker threads run the same kernels on
 * the same weights, and a shared buffer is never detached when it grows, so views stay valid.
 *
 * Allocation: a bump pointer in the memory's header carves chunks (atomically, so threads can share it). Each thread
 * has an arena of chunks for scoped allocations — reset wholesale at endScope, so a training step reuses the same
 * memory every batch — and a size-keyed free list for long-lived buffers, refilled by a FinalizationRegistry.
 * Arrays that are not in wasm memory still work: a kernel call stages them through the arena (slower, same results).
 */
import { HEADER_ADDR, HEAP_BASE, WASM_PAGE } from '../kernel_constants.js';
import type { KernelMemory, MemoryOwner } from '../kernels.js';

const CHUNK = 8 << 20;
/** A chunk carved for a request larger than CHUNK holds this many times the request. */
const CHUNK_HEADROOM = 1.5;
const ALIGN = 64;
/** One past the last byte a wasm32 address reaches (4 GiB). */
const ADDRESS_LIMIT = 2 ** 32;

const mib = (bytes: number): string => `${Math.round(bytes / 2 ** 20)} MiB`;

/**
 * The long-lived bytes a thread hands out between two garbage collections it asks for (`installGarbageCollector`);
 * also at least a quarter of the memory carved already, so a program whose buffers are all live pays rarely.
 */
let collectionStep = 64 << 20;
/** A full garbage collection of this thread's JavaScript heap (Node installs V8's), or null where there is none. */
let collectGarbage: (() => void) | null = null;

/**
 * Installs a full garbage collection for the kernel memory to ask for after each step of long-lived buffers it hands
 * out (src/node installs V8's), and optionally the step (tests make it small).
 *
 * Why: a dropped model's weights go back to the kernel memory only when the collector finds its Float32Arrays
 * unreachable, and the collector runs when the JavaScript heap grows — which hardly happens when a program trains
 * model after model, since each model's bulk is kernel memory. Measured (`npm run bench:models`): 400 LSTM(200)
 * models trained one after another grew the kernel memory to 1,031 MB (2.6 MB a model: about 1,600 reach the 4 GiB
 * wasm can address); with these collections it stays at 78 MB. The buffers return in the finalizers a
 * collection schedules, which run when the event loop gets a turn: every fit gives it one (src/models/fit_loop.ts),
 * but a synchronous loop that builds model after model without yielding still grows.
 */
export function installGarbageCollector(collect: (() => void) | null, step?: number): void {
  collectGarbage = collect;
  if (step !== undefined) collectionStep = step;
}

export type Typed = Float32Array | Int32Array;

interface Chunk {
  ptr: number;
  size: number;
}

interface Staged {
  src: Typed;
  copy: Typed;
  write: boolean;
}

/** A base class whose constructor returns the object it is given, so that a subclass adds its fields to that object. */
class Stamped {
  constructor(o: object) {
    return o;
  }
}

/**
 * A byte address kept on each view an arena makes. V8 does not inline the `buffer` and `byteOffset` getters of typed
 * arrays (≈ 15 ns each), and a generation step passes ≈ 20 arrays to kernels: reading the address from the view made
 * one-stream generation up to 10 % faster on one thread and up to 21 % with the step helper (BENCHMARKS.md, "Kernel
 * calls read their addresses from the views"). A private field, stamped on by the subclass trick, costs ≈ 15 ns a
 * view where `Object.defineProperty` costs 250, and unlike a symbol property it is invisible: views still print, and
 * compare (deepStrictEqual), like plain arrays. One class per arena, so a view of another memory never passes for
 * one of this one.
 */
function addressStamp(): { stamp(v: Typed, address: number): void; read(v: Typed): number | undefined } {
  class Address extends Stamped {
    #address: number;
    constructor(v: Typed, address: number) {
      super(v);
      this.#address = address;
    }
    static read(v: object): number | undefined {
      return #address in v ? (v as Address).#address : undefined;
    }
  }
  return {
    stamp: (v, address) => void new Address(v, address),
    read: (v) => Address.read(v),
  };
}

export class WasmArena implements KernelMemory {
  /** The shared bump pointer, unsigned: wasm32 addresses run to 4 GiB, past an Int32Array's 2 GiB. */
  private readonly header: Uint32Array;
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
  private readonly registry = new FinalizationRegistry<{ ptr: number; bytes: number }>(({ ptr, bytes }) =>
    this.giveBack(ptr, bytes),
  );
  /**
   * Bytes of long-lived buffers this thread handed out (reused or new) since it last asked for a garbage collection;
   * it asks after each step's worth. Counting reused buffers too is what lets a loop of same-sized models settle:
   * the dropped ones return before the free lists run dry. A mark on the memory's growth alone let it grow by a step
   * after every collection, and asking only when the free lists ran dry still crept by ≈ 60 KB a model.
   */
  private allocatedSinceCollection = 0;
  /** Who holds the long-lived buffers allocated now (ownedBy), besides the garbage collector. */
  private owner: MemoryOwner | null = null;
  private readonly staged: Staged[] = [];
  /** Stamps each view this arena makes with its byte address (see addressStamp). */
  private readonly address = addressStamp();

  /**
   * @param init true for the first instance over a memory (sets up the header); false in worker threads.
   */
  constructor(
    readonly memory: WebAssembly.Memory,
    init: boolean,
  ) {
    if (memory.buffer.byteLength < HEAP_BASE)
      memory.grow(Math.ceil((HEAP_BASE - memory.buffer.byteLength) / WASM_PAGE));
    this.header = new Uint32Array(memory.buffer, HEADER_ADDR, 4);
    if (init) Atomics.store(this.header, 0, HEAP_BASE);
    this.buffers.add(memory.buffer);
  }

  /**
   * Carves `bytes` from the shared bump pointer, growing the memory when needed. The pointer moves only when the
   * allocation fits in the 32-bit address space: a failed one leaves it, and the memory, as they were.
   */
  private carve(bytes: number): number {
    const size = Math.ceil(bytes / ALIGN) * ALIGN;
    for (;;) {
      const ptr = Atomics.load(this.header, 0);
      const end = ptr + size;
      if (end >= ADDRESS_LIMIT)
        throw new RangeError(
          `kernel memory: cannot allocate ${mib(size)} more: ${mib(ptr)} are in use of the ${mib(ADDRESS_LIMIT)} ` +
            'WebAssembly can address (use a smaller model or batch, or fewer threads)',
        );
      if (Atomics.compareExchange(this.header, 0, ptr, end) !== ptr) continue;
      const have = this.memory.buffer.byteLength;
      if (end > have) this.memory.grow(Math.ceil((end - have) / WASM_PAGE));
      return ptr;
    }
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
      // Headroom for a request no chunk holds: scopes whose buffers grow a little each time (batches in order of
      // length, as prediction cuts them) reuse it, where a chunk of exactly `bytes` made each batch carve a new one
      // (an 8,000-text classify predict grew kernel memory to 2.4 GB and ran 2.5× slower).
      const size = Math.max(CHUNK, Math.ceil((bytes * CHUNK_HEADROOM) / ALIGN) * ALIGN);
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
      this.allocatedSinceCollection += bytes;
      if (
        collectGarbage &&
        this.allocatedSinceCollection >= Math.max(collectionStep, Atomics.load(this.header, 0) / 4)
      ) {
        this.allocatedSinceCollection = 0;
        collectGarbage();
      }
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
    this.address.stamp(v, ptr);
    if (zero) v.fill(0);
    if (permanent) {
      // The view is its own unregister token: release() takes an owned buffer back from the registry.
      this.registry.register(v, { ptr, bytes }, v);
      this.owner?.held.push(v);
    }
    return v;
  }

  private giveBack(ptr: number, bytes: number): void {
    const list = this.free.get(bytes) ?? [];
    list.push(ptr);
    this.free.set(bytes, list);
  }

  ownedBy<T>(owner: MemoryOwner, make: () => T): T {
    const outer = this.owner;
    this.owner = owner;
    try {
      return make();
    } finally {
      this.owner = outer;
    }
  }

  release(owner: MemoryOwner): void {
    for (const v of owner.held) {
      // Unregistered, so the collector never gives it back a second time.
      if (this.registry.unregister(v)) this.giveBack(v.byteOffset, this.bytesFor(v.length));
    }
    owner.held.length = 0;
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
    return this.knownAddress(a) !== undefined || this.buffers.has(a.buffer);
  }

  /** The byte address of a[0], for a view in this arena's memory (made by it or not); throws for any other array. */
  addressOf(a: Typed): number {
    const known = this.knownAddress(a);
    if (known !== undefined) return known;
    if (!this.buffers.has(a.buffer)) throw new Error('addressOf: the array is not in kernel memory');
    return a.byteOffset;
  }

  private knownAddress(a: Typed): number | undefined {
    return this.address.read(a);
  }

  // ----- a kernel call: beginScope, ptr per array argument, endCall -----

  /**
   * Byte address of a[0] for a kernel call, staging a copy into wasm memory when a lives elsewhere (`write`: the
   * kernel writes it, so endCall copies it back). Call inside the call's scope.
   */
  ptr(a: Typed, write: boolean): number {
    const known = this.knownAddress(a);
    if (known !== undefined) return known;
    // Views made elsewhere (subarrays, other threads' views of this memory): identity with the newest buffer first, as
    // a Set lookup per argument is a measurable share of a generation step.
    const buffer = a.buffer;
    if (buffer === this.newestBuffer || this.buffers.has(buffer)) return a.byteOffset;
    const copy = a instanceof Float32Array ? this.alloc(a.length) : this.allocInt32(a.length);
    copy.set(a);
    this.staged.push({ src: a, copy, write });
    return copy.byteOffset;
  }

  /** Ends a kernel call opened with beginScope: copies staged outputs back, then closes the scope. */
  endCall(mark: number): void {
    if (this.staged.length > 0) {
      for (const s of this.staged) if (s.write) s.src.set(s.copy);
      this.staged.length = 0;
    }
    this.endScope(mark);
  }
}
