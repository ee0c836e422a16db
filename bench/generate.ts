/**
 * `node dist/bench/generate.js [chars] [repeats]` — generation speed alone, for comparing builds: stateful chars/s
 * (one step of one stream per char) and exact-window chars/s (40 staggered streams per char) of the seed recipe's
 * LSTM(128) → Dense(vocab) on a 63-character vocabulary, with the char-rnn stack (2×LSTM(256), dropout) for stateful
 * generation too. Prints one JSON line of medians. Weights are random: speed does not depend on them.
 */
import { Dense, Dropout, LSTM } from '../src/layers/index.js';
import { Sequential } from '../src/models/sequential.js';
import { TextGenerator } from '../src/text/generator.js';
import { Vocabulary } from '../src/text/vocabulary.js';

const CHARS = Number(process.argv[2] ?? 20000);
const REPEATS = Number(process.argv[3] ?? 5);
const V = 63;
const vocabulary = new Vocabulary(Array.from({ length: V }, (_, i) => String.fromCharCode(48 + i)));
const prime = vocabulary.chars.slice(0, 40).join('');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function rate(model: Sequential, window?: number, chars = CHARS): number {
  model.build();
  const gen = new TextGenerator(model, vocabulary, false, window);
  gen.generate({ prime, length: Math.min(chars, 5000), temperature: 0.5, seed: 1 }); // warm-up
  const rates: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    gen.generate({ prime, length: chars, temperature: 0.5, seed: 1 });
    rates.push(chars / ((performance.now() - t0) / 1000));
  }
  return Math.round(median(rates));
}

const recipe = (): Sequential =>
  new Sequential({
    seed: 1,
    layers: [new LSTM({ units: 128, inputShape: [40, V] }), new Dense({ units: V, activation: 'softmax' })],
  });
const charRnn = (): Sequential =>
  new Sequential({
    seed: 1,
    layers: [
      new LSTM({ units: 256, returnSequences: true, inputShape: [50, V] }),
      new Dropout({ rate: 0.2 }),
      new LSTM({ units: 256, returnSequences: true }),
      new Dropout({ rate: 0.2 }),
      new Dense({ units: V, activation: 'softmax' }),
    ],
  });

console.log(
  JSON.stringify({
    stateful: rate(recipe()),
    exactWindow: rate(recipe(), 40, Math.max(1, Math.round(CHARS / 20))),
    charRnnStateful: rate(charRnn(), undefined, Math.max(1, Math.round(CHARS / 4))),
  }),
);
