/**
 * Per-kernel timers for the profiling benchmarks: every method of the active kernel set (those the reference
 * kernels implement, memory management aside) wrapped with a timer while `run` runs, then restored. GEMMs are keyed
 * by their transposes and shape. The timers add a little to the total.
 */
import { kernels } from '../src/core/backend.js';
import { referenceKernels } from '../src/core/reference_kernels.js';

const UNTIMED = new Set([
  'alloc',
  'allocUninitialized',
  'allocInt32',
  'allocPersistent',
  'beginScope',
  'endScope',
]);

/** Milliseconds and calls per kernel (key) over `run`, and the run's own milliseconds. */
export async function timeKernels(
  run: () => void | Promise<void>,
): Promise<{ stats: Map<string, { ms: number; calls: number }>; totalMs: number }> {
  const k = kernels();
  const stats = new Map<string, { ms: number; calls: number }>();
  const target = k as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals = new Map<string, (...args: unknown[]) => unknown>();
  for (const name of Object.keys(referenceKernels)) {
    const f = target[name];
    if (typeof f !== 'function' || UNTIMED.has(name)) continue;
    originals.set(name, f);
    target[name] = (...args: unknown[]) => {
      const key =
        name === 'gemm'
          ? `gemm ${args[0] ? 'T' : 'N'}${args[1] ? 'T' : 'N'} ${args[2]}×${args[3]}×${args[4]}`
          : name === 'gemmPackedB'
            ? `gemmPackedB ${args[0] ? 'T' : 'N'}N ${args[1]}×${args[2]}×${args[3]}`
            : name;
      const t0 = performance.now();
      const r = f.apply(k, args);
      const s = stats.get(key) ?? { ms: 0, calls: 0 };
      s.ms += performance.now() - t0;
      s.calls++;
      stats.set(key, s);
      return r;
    };
  }
  const t0 = performance.now();
  try {
    await run();
  } finally {
    for (const [name, f] of originals) target[name] = f;
  }
  return { stats, totalMs: performance.now() - t0 };
}

/** Prints the kernels over `minMs` a batch, slowest first, and what the rest (JS, small kernels) took. */
export function printKernelTable(
  stats: Map<string, { ms: number; calls: number }>,
  totalMs: number,
  batches: number,
  minMs = 0.3,
): void {
  const total = totalMs / batches;
  console.log('| kernel | calls / batch | ms / batch | share |');
  console.log('| --- | --: | --: | --: |');
  let listed = 0;
  for (const [key, s] of [...stats].sort((a, b) => b[1].ms - a[1].ms)) {
    const ms = s.ms / batches;
    if (ms < minMs) continue;
    listed += ms;
    console.log(
      `| ${key} | ${s.calls / batches} | ${ms.toFixed(1)} | ${((100 * ms) / total).toFixed(0)} % |`,
    );
  }
  console.log(
    `| everything else (small kernels, JS) | | ${(total - listed).toFixed(1)} | ${((100 * (total - listed)) / total).toFixed(0)} % |`,
  );
}
