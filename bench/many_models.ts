/**
 * Kernel memory of a process that trains model after model (a hyperparameter sweep): `npm run bench:models`.
 *
 * Trains `--models` small LSTM regressors one after another in one process (each built, compiled, fitted for one
 * epoch and dropped), first with the garbage collections recur's kernel memory asks for (src/core/wasm/memory.ts,
 * installGarbageCollector; src/node installs V8's), then in a child process with none, and prints the kernel memory
 * and RSS every `--every` models for both. Options: `--models N` (default 400), `--every N` (100), `--units N` (200).
 * A regression guard, not a test: the figures live in BENCHMARKS.md.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import '../src/node/install.js';
import { kernels } from '../src/core/backend.js';
import { Tensor } from '../src/core/tensor.js';
import { installGarbageCollector } from '../src/core/wasm/memory.js';
import { WasmKernels } from '../src/core/wasm/wasm_kernels.js';
import { Dense, LSTM } from '../src/layers/index.js';
import { Sequential } from '../src/models/sequential.js';

const argv = process.argv.slice(2);
const flag = (name: string, fallback: number): number => {
  const i = argv.indexOf(name);
  const v = i >= 0 ? Number(argv[i + 1]) : fallback;
  if (!(Number.isInteger(v) && v > 0)) {
    process.stderr.write(`many_models: ${name} must be a positive integer\n`);
    process.exit(2);
  }
  return v;
};
const models = flag('--models', 400);
const every = flag('--every', 100);
const units = flag('--units', 200);
const collect = !argv.includes('--no-collect');

const k = kernels();
if (!(k instanceof WasmKernels)) {
  process.stderr.write('many_models: measures the wasm kernels (unset RECUR_KERNELS)\n');
  process.exit(2);
}
if (!collect) installGarbageCollector(null);

const x = new Tensor(
  Float32Array.from({ length: 32 * 10 * 8 }, (_, i) => Math.sin(i)),
  [32, 10, 8],
);
const y = new Tensor(
  Float32Array.from({ length: 32 }, (_, i) => Math.cos(i)),
  [32, 1],
);
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);
const rows: string[] = [];
const t0 = performance.now();
for (let i = 1; i <= models; i++) {
  const m = new Sequential({
    seed: i,
    layers: [new LSTM({ units, inputShape: [10, 8] }), new Dense({ units: 1 })],
  });
  m.compile({ optimizer: 'adam', loss: 'meanSquaredError' });
  await m.fit(x, y, { epochs: 1, batchSize: 32, verbose: 0, threads: 1 });
  if (i % every === 0)
    rows.push(
      `| ${collect ? 'yes' : 'none'} | ${i} | ${mb(k.memoryBytes)} | ${mb(process.memoryUsage().rss)} | ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} |`,
    );
}
if (collect) {
  console.log(
    `${models} models of LSTM(${units}) → Dense(1), Adam, one epoch of 32 windows each, one thread\n`,
  );
  console.log('| garbage collections | models | kernel memory MB | RSS MB | seconds |');
  console.log('| ------------------- | -----: | ---------------: | -----: | ------: |');
  console.log(rows.join('\n'));
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), ...argv, '--no-collect'], {
    encoding: 'utf8',
  });
  process.stdout.write(child.stdout);
  if (child.status !== 0) process.stderr.write(child.stderr);
} else console.log(rows.join('\n'));
