/**
 * `node dist/bench/core_round_trip.js [rounds]` — how far apart this machine's two cores are right now: the median
 * time for one thread to write a word of shared memory and see a second thread's answer (a cache line there and back),
 * in nanoseconds. One-stream generation with the step helper pays a few such trips a character
 * (src/parallel/step_helper.ts), so its rate follows this figure: on this VM it read 130–170 ns most of the time and
 * 500–600 ns in other minutes (BENCHMARKS.md, "One stream's rate follows the cores' distance"). The generation benches
 * print it before and after their runs, so each figure carries the state it was measured in.
 */
import { Worker, isMainThread, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';

/** Words of the shared block: the main thread writes PING, the worker echoes it into PONG (another cache line). */
const PING = 0;
const PONG = 16;
const READY = 32;
const STOP = -1;

/** Median round trip in ns over `batches` batches of `perBatch` trips, on a worker started for it. */
export async function coreRoundTripNs(batches = 7, perBatch = 100_000): Promise<number> {
  const words = new Int32Array(new SharedArrayBuffer(4 * (READY + 1)));
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: words });
  try {
    for (let waited = 0; Atomics.load(words, READY) === 0; waited += 5) {
      if (waited > 10_000) throw new Error('core_round_trip: the echo worker did not start');
      await new Promise((r) => setTimeout(r, 5));
    }
    const times: number[] = [];
    let v = 0;
    for (let b = 0; b < batches; b++) {
      const t0 = performance.now();
      for (let i = 0; i < perBatch; i++) {
        Atomics.store(words, PING, ++v);
        while (Atomics.load(words, PONG) !== v);
      }
      times.push(((performance.now() - t0) * 1e6) / perBatch);
    }
    times.sort((a, b) => a - b);
    return Math.round(times[times.length >> 1]);
  } finally {
    Atomics.store(words, PING, STOP);
    await worker.terminate();
  }
}

if (!isMainThread) {
  const words = workerData as Int32Array;
  Atomics.store(words, READY, 1);
  for (;;) {
    const v = Atomics.load(words, PING);
    if (v === STOP) break;
    if (v !== Atomics.load(words, PONG)) Atomics.store(words, PONG, v);
  }
} else if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const rounds = Number(process.argv[2] ?? 5);
  const all: number[] = [];
  for (let r = 0; r < rounds; r++) all.push(await coreRoundTripNs());
  console.log(JSON.stringify({ roundTripNs: all }));
}
