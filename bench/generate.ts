/**
 * `node dist/bench/generate.js [chars] [repeats]` — generation speed alone, for comparing builds: stateful chars/s
 * (one step of one stream per char) and exact-window chars/s (40 staggered streams per char) of the seed recipe's
 * LSTM(128) → Dense(vocab) on a 63-character vocabulary, with the char-rnn stack (2×LSTM(256), dropout) for stateful
 * generation too; the stateful rates also with a step helper (src/parallel/step_helper.ts: the recurrent products on a
 * second thread, `*Helper`; the texts are checked to be identical), alternating with the one-thread runs, and the
 * cores' round trip before and after them (`roundTripNs`, bench/core_round_trip.ts). Prints one JSON line of medians. Weights are random: speed does not depend on them.
 */
import { coreRoundTripNs } from './core_round_trip.js';
import { Dense, Dropout, LSTM } from '../src/layers/index.js';
import { Sequential } from '../src/models/sequential.js';
import { startStepHelper } from '../src/node/step_helper.js';
import type { StepHelper } from '../src/parallel/step_helper.js';
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

function rate(model: Sequential, window?: number, chars = CHARS, helper: StepHelper | null = null): number {
  model.build();
  const gen = new TextGenerator(model, vocabulary, false, window);
  const opts = { prime, temperature: 0.5, seed: 1, helper };
  gen.generate({ ...opts, length: Math.min(chars, 5000) }); // warm-up
  const rates: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    gen.generate({ ...opts, length: chars });
    rates.push(chars / ((performance.now() - t0) / 1000));
  }
  return Math.round(median(rates));
}

/** One-thread and helper rates of a model, alternating; throws if the two texts differ. */
function withHelper(model: () => Sequential, chars: number, helper: StepHelper): [number, number] {
  const m = model();
  m.build();
  const gen = new TextGenerator(m, vocabulary, false);
  const opts = { prime, temperature: 0.5, seed: 1, length: Math.min(chars, 2000) };
  if (gen.generate(opts) !== gen.generate({ ...opts, helper }))
    throw new Error('generation with the step helper differs from generation without it');
  const one: number[] = [];
  const two: number[] = [];
  for (let r = 0; r < 3; r++) {
    one.push(rate(m, undefined, chars));
    two.push(rate(m, undefined, chars, helper));
  }
  return [Math.round(median(one)), Math.round(median(two))];
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

const helper = startStepHelper(2);
for (let waited = 0; helper && !helper.ready && waited < 10_000; waited += 10)
  await new Promise((r) => setTimeout(r, 10));
const charRnnChars = Math.max(1, Math.round(CHARS / 4));
// The helper's rates follow how far apart the two cores are at the moment (bench/core_round_trip.ts): printed beside them.
const roundTripBefore = helper ? await coreRoundTripNs() : null;
const [stateful, statefulHelper] = helper ? withHelper(recipe, CHARS, helper) : [rate(recipe()), null];
const [charRnnStateful, charRnnStatefulHelper] = helper
  ? withHelper(charRnn, charRnnChars, helper)
  : [rate(charRnn(), undefined, charRnnChars), null];
helper?.close();
const roundTripNs = roundTripBefore === null ? null : [roundTripBefore, await coreRoundTripNs()];
console.log(
  JSON.stringify({
    stateful,
    statefulHelper,
    exactWindow: rate(recipe(), 40, Math.max(1, Math.round(CHARS / 20))),
    charRnnStateful,
    charRnnStatefulHelper,
    roundTripNs,
  }),
);
