/**
 * The step helper (src/parallel/step_helper.ts): a second thread computing most of each step's recurrent product ahead,
 * while the caller samples and computes the rest. Generation and raw steps must give the same floats with and without it — for every cell, a
 * stack, an Embedding input — across the state changes a caller makes between steps (reset, resetRow, copyRow), before
 * the helper thread is ready and after it is closed.
 */
import '../src/node/index.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as L from '../src/layers/index.js';
import type { Layer } from '../src/layers/layer.js';
import { Sequential } from '../src/models/sequential.js';
import { Stepper } from '../src/models/stepper.js';
import { startStepHelper } from '../src/node/step_helper.js';
import { StepHelper, markStepHelperReady, stepHelperControl } from '../src/parallel/step_helper.js';
import { TextGenerator } from '../src/text/generator.js';
import { Vocabulary } from '../src/text/vocabulary.js';

const V = 23;
const vocabulary = new Vocabulary(Array.from({ length: V }, (_, i) => String.fromCharCode(97 + i)));

const stacks: Record<string, () => Layer[]> = {
  lstm: () => [
    new L.LSTM({ units: 16, inputShape: [null, V] }),
    new L.Dense({ units: V, activation: 'softmax' }),
  ],
  gru: () => [
    new L.GRU({ units: 12, inputShape: [null, V] }),
    new L.Dense({ units: V, activation: 'softmax' }),
  ],
  simpleRnn: () => [
    new L.SimpleRNN({ units: 10, inputShape: [null, V] }),
    new L.Dense({ units: V, activation: 'softmax' }),
  ],
  'two LSTMs and dropout': () => [
    new L.LSTM({ units: 8, returnSequences: true, inputShape: [null, V] }),
    new L.Dropout({ rate: 0.2 }),
    new L.LSTM({ units: 8 }),
    new L.Dense({ units: V, activation: 'softmax' }),
  ],
  'Embedding → LSTM': () => [
    new L.Embedding({ inputDim: V, outputDim: 5, inputShape: [null] }),
    new L.LSTM({ units: 8 }),
    new L.Dense({ units: V, activation: 'softmax' }),
  ],
};

const modelOf = (name: string): Sequential => {
  const m = new Sequential({ seed: 7, layers: stacks[name]() });
  m.build();
  return m;
};

/**
 * A helper that never gets to a product (a control block marked ready with no thread behind it), generating `length`
 * characters of model `name` with it: every product is taken back after the short spin. Checks the text is the same.
 */
function generateWithHelperAway(name: string, length: number): StepHelper {
  const control = stepHelperControl();
  markStepHelperReady(control);
  const away = new StepHelper(control);
  const gen = new TextGenerator(modelOf(name), vocabulary, false);
  const opts = { prime: 'abc', length, temperature: 1, seed: 5 };
  assert.equal(gen.generate({ ...opts, helper: away }), gen.generate(opts));
  return away;
}

describe('step helper', () => {
  let helper: StepHelper;
  before(async () => {
    const h = startStepHelper(2);
    assert.ok(h, 'the wasm kernels and two threads give a helper');
    helper = h;
    for (let waited = 0; !helper.ready && waited < 10_000; waited += 10)
      await new Promise((r) => setTimeout(r, 10));
    assert.ok(helper.ready, 'the helper thread started');
  });
  after(() => helper.close());

  for (const name of Object.keys(stacks))
    it(`${name}: generates the same text with the helper as without`, () => {
      const gen = new TextGenerator(modelOf(name), vocabulary, false);
      for (const seed of [1, 2]) {
        const opts = { prime: 'abcab', length: 300, temperature: 0.8, seed };
        assert.equal(gen.generate({ ...opts, helper }), gen.generate(opts));
      }
    });

  it('raw steps: the same floats across reset, resetRow and copyRow between steps', () => {
    const m = modelOf('lstm');
    const run = (withHelper: boolean): number[] => {
      const a = new Stepper(m, 1);
      const b = new Stepper(m, 1);
      if (withHelper) {
        a.useHelper(helper);
        b.useHelper(helper);
      }
      const seen: number[] = [];
      const ids = new Int32Array(1);
      for (let t = 0; t < 60; t++) {
        ids[0] = (t * 7) % V;
        seen.push(...a.step(ids));
        if (t % 10 === 3) a.resetRow(0);
        if (t % 10 === 5) a.copyRow(0, b, 0);
        seen.push(...b.step(ids));
        if (t % 10 === 7) b.reset();
        if (t % 10 === 9) b.copyRow(0, a, 0);
      }
      a.dispose();
      b.dispose();
      return seen;
    };
    assert.deepEqual(run(true), run(false));
  });

  it('a helper asleep between generations is woken by the next product', async () => {
    // Idle, the helper spins a while and then sleeps in Atomics.wait; only a sleeping helper is notified.
    await new Promise((r) => setTimeout(r, 300));
    const gen = new TextGenerator(modelOf('lstm'), vocabulary, false);
    const opts = { prime: 'abc', length: 200, temperature: 1, seed: 4 };
    assert.equal(gen.generate({ ...opts, helper }), gen.generate(opts));
    // A helper left asleep would never pass the products handed to it: wait() would throw after its stall limit.
    helper.wait();
    assert.ok(helper.ready, 'the helper is running and caught up');
  });

  it('several streams at once (temperatures) hand nothing over, and give the same samples', () => {
    const gen = new TextGenerator(modelOf('lstm'), vocabulary, false);
    const opts = { prime: 'ab', length: 50, seed: 3 };
    assert.deepEqual(gen.generateMany([0.5, 1], { ...opts, helper }), gen.generateMany([0.5, 1], opts));
  });

  it('a helper that never gets to a product: the stepper takes each one back and runs it itself, to the same text', () => {
    const away = generateWithHelperAway('two LSTMs and dropout', 3);
    assert.ok(away.reclaimed > 0, 'products were taken back');
    // With nothing written back, the backlog grows until the stepper stops handing products over.
    assert.equal(away.ready, false);
  });

  it('one thread gives no helper; a closed helper takes no work and the stepper computes alone', () => {
    assert.equal(startStepHelper(1), null);
    const other = startStepHelper(2)!;
    other.close();
    assert.equal(other.ready, false);
    const none = new Float32Array(1);
    const product = { rows: 1, N: 1, K: 1, x: none, packed: none, out: none };
    assert.throws(() => other.submit(product), /not running/);
    const gen = new TextGenerator(modelOf('gru'), vocabulary, false);
    const opts = { prime: 'abc', length: 100, temperature: 1, seed: 4 };
    assert.equal(gen.generate({ ...opts, helper: other }), gen.generate(opts));
  });
});
