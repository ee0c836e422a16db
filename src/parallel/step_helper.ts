/**
 * A second core for one-stream generation. Stateful generation is a chain of one-row steps, too short to split a batch
 * over threads (≈ 6 µs a character for the LSTM(128) recipe), but half of each step — the recurrent product h_t·U for
 * step t + 1 — depends only on the state, not on the character sampled from step t. So the stepper hands that product
 * to a helper thread as soon as step t ends, samples the next character meanwhile, and at step t + 1 waits for it and
 * adds it in (src/models/stepper.ts, RecurrentStepState.recurrent). The helper runs the same packed GEMV kernel on the
 * same panels, so every sum is the same float and generation is bit-identical with or without it.
 *
 * The handshake is a few integers in a SharedArrayBuffer, spun on with Atomics (a message or Atomics.wait round trip
 * costs more than the product): the main thread writes the jobs and bumps SEQ; the helper, spinning on SEQ, runs them
 * and counts DONE up to SEQ. Between generations the helper sleeps in Atomics.wait (after SPIN_LIMIT idle spins) and is
 * woken by the next job's notify, so an idle helper costs no CPU. Jobs carry byte addresses in the shared kernel
 * memory: the helper instantiates the wasm kernels over that memory (like the pool's workers).
 *
 * Browser-safe: the worker itself is made by an adapter (src/node/step_helper.ts) that runs `runStepHelper`.
 */
import type { WasmKernels } from '../core/wasm/wasm_kernels.js';
import type { StepAheadProduct } from '../layers/layer.js';
import type { StepAheadRunner } from '../models/stepper.js';

/** Control words (Int32 indices). */
const SEQ = 0; // products submitted
const DONE = 1; // products written
const STOP = 2;
const ERROR = 3;
/** Set by the helper thread when its loop runs: until then the stepper computes everything itself. */
const READY = 4;
const JOB_BASE = 5;
/** Per product: rows, N, K, x byte address, packed byte address, out byte address. */
const JOB_WORDS = 6;
/** Products out at once (a ring: one per recurrent layer of a stack is out at a time). */
export const STEP_HELPER_MAX_JOBS = 16;
export const STEP_HELPER_CONTROL_WORDS = JOB_BASE + JOB_WORDS * STEP_HELPER_MAX_JOBS;
/** Idle spins before the helper sleeps until notified (≈ tens of microseconds). */
const SPIN_LIMIT = 20_000;
/** A product takes microseconds: a helper silent this long has died (its thread ended or was killed). */
const STALL_MS = 10_000;

/** The main thread's side: hand products over, wait for them. */
export class StepHelper implements StepAheadRunner {
  private seq = 0;
  private closed = false;

  /** @param control STEP_HELPER_CONTROL_WORDS Int32s over a SharedArrayBuffer the helper thread also holds. */
  constructor(
    readonly control: Int32Array,
    private readonly onClose: () => void = () => {},
  ) {
    if (control.length < STEP_HELPER_CONTROL_WORDS || !(control.buffer instanceof SharedArrayBuffer))
      throw new Error(`StepHelper: the control block must be ${STEP_HELPER_CONTROL_WORDS} shared Int32s`);
  }

  /** Whether the helper thread is running its loop (a new helper takes tens of milliseconds to start). */
  get ready(): boolean {
    return !this.closed && Atomics.load(this.control, READY) === 1;
  }

  /**
   * Starts a product on the helper, after those submitted before it; returns its ticket for waitFor. Its inputs must
   * stay unchanged, and its output unread, until then.
   */
  submit(p: StepAheadProduct): number {
    if (!this.ready) throw new Error('StepHelper: the helper is not running (check ready before submitting)');
    // A full ring: the oldest product must be written before its slot is reused.
    this.waitFor(this.seq - STEP_HELPER_MAX_JOBS + 1);
    const c = this.control;
    const o = JOB_BASE + (this.seq % STEP_HELPER_MAX_JOBS) * JOB_WORDS;
    c[o] = p.rows;
    c[o + 1] = p.N;
    c[o + 2] = p.K;
    c[o + 3] = p.x.byteOffset;
    c[o + 4] = p.packed.byteOffset;
    c[o + 5] = p.out.byteOffset;
    this.seq++;
    // The store publishes the job words written before it (Atomics are sequentially consistent).
    Atomics.store(c, SEQ, this.seq);
    Atomics.notify(c, SEQ, 1);
    return this.seq;
  }

  /** Returns once the product of `ticket` (and every one before it) is written. */
  waitFor(ticket: number): void {
    const c = this.control;
    for (let spins = 1; Atomics.load(c, DONE) < ticket; spins++) {
      // Spin: a product takes microseconds. Now and then, check that the helper has not died.
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

  /** Returns once every submitted product is written. */
  wait(): void {
    this.waitFor(this.seq);
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

/**
 * The helper thread's loop: runs each submitted product in order, until told to stop. `kernels` are wasm kernels
 * instantiated over the main thread's shared memory. Blocks its thread: give it a worker of its own.
 */
export function runStepHelper(control: Int32Array, kernels: WasmKernels): void {
  const x = kernels.x;
  const scratch = kernels.packScratch();
  let done = Atomics.load(control, DONE);
  Atomics.store(control, READY, 1);
  for (;;) {
    let spins = 0;
    while (Atomics.load(control, SEQ) === done) {
      if (Atomics.load(control, STOP) !== 0) return;
      if (++spins > SPIN_LIMIT) {
        Atomics.wait(control, SEQ, done);
        spins = 0;
      }
    }
    const o = JOB_BASE + (done % STEP_HELPER_MAX_JOBS) * JOB_WORDS;
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

/** A control block for a new helper. */
export function stepHelperControl(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * STEP_HELPER_CONTROL_WORDS));
}
