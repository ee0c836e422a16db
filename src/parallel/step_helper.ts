/**
 * A second core for one-stream generation. Stateful generation is a chain of one-row steps, too short to split a batch
 * over threads (≈ 6 µs a character for the LSTM(128) recipe), but half of each step — the recurrent product h_t·U for
 * step t + 1 — depends only on the state, not on the character sampled from step t. So the stepper hands most of that
 * product to a helper thread as soon as step t ends, samples the next character and computes the rest meanwhile, and
 * at step t + 1 waits for the helper's part (src/models/stepper.ts, RecurrentStepState.recurrent). The helper runs the
 * same packed GEMV kernel on the same panels, so every sum is the same float and generation is bit-identical with or
 * without it.
 *
 * The handshake is a few integers in a SharedArrayBuffer, spun on with Atomics (a message or Atomics.wait round trip
 * costs more than the product): the main thread writes the jobs and bumps SEQ; the helper, spinning on SEQ, runs them
 * and counts DONE up to SEQ. A product the helper has not started when the main thread needs it — the helper's core
 * busy with other threads — is taken back (a compare-and-swap on its slot decides who runs it) and run by the main
 * thread, so a step never waits for the helper's next time slice. Between generations the helper sleeps in
 * Atomics.wait (after SPIN_LIMIT idle spins) and is woken by the next job's notify, so an idle helper costs no CPU.
 * Jobs carry byte addresses in the shared kernel memory: the helper instantiates the wasm kernels over that memory
 * (like the pool's workers).
 *
 * Browser-safe: the worker itself is made by an adapter (src/node/step_helper.ts, src/web/step_helper.ts) whose entry
 * runs `runStepHelper`.
 */
import { kernels } from '../core/backend.js';
import { WasmKernels } from '../core/wasm/wasm_kernels.js';
import type { StepAheadProduct } from '../layers/layer.js';
import type { StepAheadRunner } from '../models/stepper.js';

/** Control words (Int32 indices). */
const SEQ = 0; // products submitted
const DONE = 1; // products written
const STOP = 2;
const ERROR = 3;
/** Set by the helper thread when its loop runs: until then the stepper computes everything itself. */
const READY = 4;
/**
 * 1 while the helper sleeps in Atomics.wait (or is about to): only then does a submit notify it, as a notify costs
 * tens of nanoseconds a character even with no one waiting.
 */
const SLEEPING = 5;
/** Products out at once (a ring: one per recurrent layer of a stack is out at a time). */
export const STEP_HELPER_MAX_JOBS = 16;
/** Per ring slot, who runs its product: POSTED until the helper (TAKEN) or the main thread (RECLAIMED) claims it. */
const CLAIM_BASE = 6;
const POSTED = 0;
const TAKEN = 1;
const RECLAIMED = 2;
const JOB_BASE = CLAIM_BASE + STEP_HELPER_MAX_JOBS;
/** Per product: rows, N, K, x byte address, packed byte address, out byte address. */
const JOB_WORDS = 6;
export const STEP_HELPER_CONTROL_WORDS = JOB_BASE + JOB_WORDS * STEP_HELPER_MAX_JOBS;
/** Idle spins before the helper sleeps until notified (≈ tens of microseconds). */
const SPIN_LIMIT = 20_000;
/** A product takes microseconds: a helper silent this long has died (its thread ended or was killed). */
const STALL_MS = 10_000;
/**
 * Spins of a waiting main thread before it takes back a product the helper has not started (≈ 20 µs): the helper's
 * core may be busy with something else (the runtime's own threads), and a step should not wait for a time slice.
 */
const RECLAIM_SPINS = 2000;

/** The main thread's side: hand products over, wait for them. */
export class StepHelper implements StepAheadRunner {
  private seq = 0;
  private closed = false;
  /** The products of the ring's slots, to run here when taken back. */
  private readonly products: (StepAheadProduct | null)[] = new Array<StepAheadProduct | null>(
    STEP_HELPER_MAX_JOBS,
  ).fill(null);
  /** Per slot, the last ticket this thread took back and ran itself (waiting for it again returns at once). */
  private readonly reclaimedTicket = new Int32Array(STEP_HELPER_MAX_JOBS);
  /** Products this thread took back and ran itself (for tests and measurements). */
  reclaimed = 0;

  /**
   * @param control STEP_HELPER_CONTROL_WORDS Int32s over a SharedArrayBuffer the helper thread also holds.
   * @param addressOf The byte address of a kernel-memory array (WasmArena.addressOf: cheaper than `byteOffset`).
   */
  constructor(
    readonly control: Int32Array,
    private readonly onClose: () => void = () => {},
    private readonly addressOf: (a: Float32Array) => number = (a) => a.byteOffset,
  ) {
    if (control.length < STEP_HELPER_CONTROL_WORDS || !(control.buffer instanceof SharedArrayBuffer))
      throw new Error(`StepHelper: the control block must be ${STEP_HELPER_CONTROL_WORDS} shared Int32s`);
  }

  /** Whether the helper thread is running its loop (a new helper takes tens of milliseconds to start). */
  get ready(): boolean {
    // A helper far behind (its core busy elsewhere) gets no more work until it catches up.
    return (
      !this.closed &&
      Atomics.load(this.control, READY) === 1 &&
      this.seq - Atomics.load(this.control, DONE) < STEP_HELPER_MAX_JOBS / 2
    );
  }

  /**
   * Starts a product on the helper, after those submitted before it; returns its ticket for waitFor. Its inputs must
   * stay unchanged, and its output unread, until then.
   */
  submit(p: StepAheadProduct): number {
    if (!this.ready) throw new Error('StepHelper: the helper is not running (check ready before submitting)');
    const c = this.control;
    const slot = this.seq % STEP_HELPER_MAX_JOBS;
    const o = JOB_BASE + slot * JOB_WORDS;
    c[o] = p.rows;
    c[o + 1] = p.N;
    c[o + 2] = p.K;
    c[o + 3] = this.addressOf(p.x);
    c[o + 4] = this.addressOf(p.packed);
    c[o + 5] = this.addressOf(p.out);
    this.products[slot] = p;
    Atomics.store(c, CLAIM_BASE + slot, POSTED);
    this.seq++;
    // The store publishes the words written before it (Atomics are sequentially consistent). A helper that reads SEQ
    // unchanged after setting SLEEPING is notified: either this load sees SLEEPING set, or its wait sees the new SEQ.
    Atomics.store(c, SEQ, this.seq);
    if (Atomics.load(c, SLEEPING) !== 0) Atomics.notify(c, SEQ, 1);
    return this.seq;
  }

  /**
   * Returns once the product of `ticket` is written — by the helper, or by this thread when the helper has not started
   * it after a short spin (same kernel, same floats).
   */
  waitFor(ticket: number): void {
    const c = this.control;
    const slot = (ticket - 1) % STEP_HELPER_MAX_JOBS;
    if (this.reclaimedTicket[slot] === ticket) return;
    for (let spins = 1; Atomics.load(c, DONE) < ticket; spins++) {
      if (
        spins === RECLAIM_SPINS &&
        Atomics.compareExchange(c, CLAIM_BASE + slot, POSTED, RECLAIMED) === POSTED
      ) {
        const p = this.products[slot]!;
        this.reclaimed++;
        this.reclaimedTicket[slot] = ticket;
        kernels().gemvPacked(p.rows, p.N, p.K, p.x, 0, p.K, p.packed, 0, p.out, 0, p.N, false);
        return;
      }
      // Now and then, check that the helper (which has the product) has not died.
      if ((spins & 0xfffff) === 0) {
        const started = Date.now();
        while (Atomics.load(c, DONE) < ticket)
          if (Date.now() - started > STALL_MS) {
            this.closed = true;
            throw new Error(`StepHelper: the helper thread did not answer in ${STALL_MS / 1000} s`);
          }
      }
    }
    if (Atomics.load(c, ERROR) !== 0) {
      this.closed = true;
      throw new Error('StepHelper: the helper thread failed a product');
    }
  }

  /** Returns once every submitted product is written or taken back (the helper has passed them all). */
  wait(): void {
    const c = this.control;
    const started = Date.now();
    while (Atomics.load(c, DONE) < this.seq)
      if (Date.now() - started > STALL_MS) {
        this.closed = true;
        throw new Error(`StepHelper: the helper thread did not answer in ${STALL_MS / 1000} s`);
      }
  }

  /** Stops the helper thread (after its pending products); the helper cannot be used after. */
  close(): void {
    if (this.closed) return;
    this.wait();
    this.closed = true;
    Atomics.store(this.control, STOP, 1);
    Atomics.notify(this.control, SEQ, 1);
    this.onClose();
  }
}

/** What a helper thread is started with (Node's workerData, or a Web Worker's first message). */
export interface StepHelperInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  variant: 'simd' | 'relaxed';
  control: Int32Array;
}

/** The init of a new helper for `k`'s shared memory, and its main-thread side over the same control block. */
export function newStepHelper(
  k: WasmKernels,
  onClose?: () => void,
): { init: StepHelperInit; helper: StepHelper } {
  const control = stepHelperControl();
  return {
    init: { module: k.module, memory: k.memory, variant: k.variant, control },
    helper: new StepHelper(control, onClose, (a) => k.addressOf(a)),
  };
}

/**
 * The helper thread's loop: instantiates the wasm kernels over the main thread's shared memory, then runs each
 * submitted product in order until told to stop. Blocks its thread: give it a worker of its own.
 */
export function runStepHelper(init: StepHelperInit): void {
  const { control } = init;
  const kernels = new WasmKernels(init.module, init.memory, init.variant, false);
  const x = kernels.x;
  const scratch = kernels.packScratch();
  let done = Atomics.load(control, DONE);
  markStepHelperReady(control);
  for (;;) {
    let spins = 0;
    while (Atomics.load(control, SEQ) === done) {
      if (Atomics.load(control, STOP) !== 0) return;
      if (++spins > SPIN_LIMIT) {
        Atomics.store(control, SLEEPING, 1);
        Atomics.wait(control, SEQ, done);
        Atomics.store(control, SLEEPING, 0);
        spins = 0;
      }
    }
    const slot = done % STEP_HELPER_MAX_JOBS;
    const o = JOB_BASE + slot * JOB_WORDS;
    // Unless the main thread took it back while this thread was away.
    if (Atomics.compareExchange(control, CLAIM_BASE + slot, POSTED, TAKEN) === POSTED)
      try {
        const [rows, N, K] = [control[o], control[o + 1], control[o + 2]];
        x.gemvPacked(rows, N, K, control[o + 3], K, control[o + 4], control[o + 5], N, 0, scratch);
      } catch {
        Atomics.store(control, ERROR, 1);
      }
    done++;
    Atomics.store(control, DONE, done);
  }
}

/** Tells the main thread that a helper loop serves `control` (runStepHelper does, as it starts). */
export function markStepHelperReady(control: Int32Array): void {
  Atomics.store(control, READY, 1);
}

/** A control block for a new helper. */
export function stepHelperControl(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * STEP_HELPER_CONTROL_WORDS));
}
