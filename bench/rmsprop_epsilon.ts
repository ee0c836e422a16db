/**
 * `npm run bench:rmsprop` — what sets the recipe's first-epoch loss: one epoch of the Keras recipe on Sherlock
 * (2 threads) per variant of the optimizer's ε placement and the initialisation:
 * - RMSprop with ε inside the square root (Keras 3, TF, tfjs: recur's RMSprop default), with ε = 1e-10, and with ε
 *   outside the root (Keras 2, PyTorch, the tutorial: `epsilonOutside`);
 * - PyTorch's RMSprop defaults (ε = 1e-8 outside the root, ρ = 0.99: torch.optim.RMSprop(lr=0.01) is not Keras's
 *   RMSprop(0.01));
 * - Keras's initialisation, or the uniform one of `recur train --init uniform`: every weight and bias U(±1/√H), no
 *   unit forget bias, as char-rnn and PyTorch initialise an LSTM (PyTorch has two bias vectors, b_ih + b_hh; one draw
 *   is used here, so the bias spread is a little narrower than PyTorch's).
 * `--only <substring>` runs the variants whose name contains it; `--seed <n>` changes the seed (weights and order).
 */
import '../src/node/index.js';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dense, LSTM } from '../src/layers/index.js';
import { RMSprop } from '../src/models/optimizers.js';
import { Sequential } from '../src/models/sequential.js';
import { readTextFile } from '../src/node/text_file.js';
import { TextCorpus } from '../src/text/corpus.js';

const SHERLOCK = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'shared',
  'data',
  'sherlock.txt',
);
if (!existsSync(SHERLOCK)) {
  console.log('../shared/data/sherlock.txt not found; nothing to measure');
  process.exit(0);
}
const corpus = TextCorpus.fromText(readTextFile(SHERLOCK));
const V = corpus.vocabulary.size;
const uniformInit = (fanIn: number) => ({
  className: 'RandomUniform',
  config: { minval: -1 / Math.sqrt(fanIn), maxval: 1 / Math.sqrt(fanIn), seed: null },
});
const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : '';
const seed = process.argv.includes('--seed') ? Number(process.argv[process.argv.indexOf('--seed') + 1]) : 1;
const variants: [string, () => RMSprop, boolean][] = [
  ['ε inside √, 1e-7 (Keras 3: recur RMSprop default)', () => new RMSprop({ learningRate: 0.01 }), false],
  ['ε inside √, 1e-7 (Keras 3) + uniform init', () => new RMSprop({ learningRate: 0.01 }), true],
  ['ε inside √, 1e-10', () => new RMSprop({ learningRate: 0.01, epsilon: 1e-10 }), false],
  ['ε outside √, 1e-7 (Keras 2)', () => new RMSprop({ learningRate: 0.01, epsilonOutside: true }), false],
  [
    'PyTorch defaults: ε 1e-8 outside √, ρ 0.99',
    () => new RMSprop({ learningRate: 0.01, rho: 0.99, epsilon: 1e-8, epsilonOutside: true }),
    false,
  ],
  [
    'ε outside √, 1e-7 (Keras 2) + uniform init (recur train default)',
    () => new RMSprop({ learningRate: 0.01, epsilonOutside: true }),
    true,
  ],
  [
    'PyTorch defaults + uniform init',
    () => new RMSprop({ learningRate: 0.01, rho: 0.99, epsilon: 1e-8, epsilonOutside: true }),
    true,
  ],
];
for (const [name, make, torchInit] of variants) {
  if (only && !name.includes(only)) continue;
  const H = 128;
  const m = new Sequential({
    seed,
    layers: [
      new LSTM({
        units: H,
        inputShape: [40, V],
        ...(torchInit
          ? {
              kernelInitializer: uniformInit(H),
              recurrentInitializer: uniformInit(H),
              biasInitializer: uniformInit(H),
              unitForgetBias: false,
            }
          : {}),
      }),
      new Dense({
        units: V,
        activation: 'softmax',
        ...(torchInit ? { kernelInitializer: uniformInit(H), biasInitializer: uniformInit(H) } : {}),
      }),
    ],
  });
  m.compile({ optimizer: make(), loss: 'categoricalCrossentropy' });
  m.threads = 2;
  const t0 = performance.now();
  const h = await m.fitDataset(corpus.windows({ maxlen: 40, step: 3, batchSize: 128, seed }), {
    epochs: 1,
  });
  console.log(
    `${name}: epoch-1 mean training loss ${h.history.loss[0].toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
  );
}
