/**
 * Layer.step: every layer's one-step forward with explicit state equals its sequence forward on the same input, step
 * by step (recurrent layers with returnSequences, stacks, token and float inputs, a given initial state, per-row
 * resets), and the Stepper runs a layer class it has never heard of — it knows no layer types.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { kernels, setKernels } from '../src/core/backend.js';
import type { Kernels } from '../src/core/kernels.js';
import { Random } from '../src/core/random.js';
import { Tensor, type AnyTensor } from '../src/core/tensor.js';
import * as L from '../src/layers/index.js';
import {
  Layer,
  StepState,
  type ForwardOptions,
  type LayerShape,
  type StepInput,
  type StepOptions,
} from '../src/layers/layer.js';
import { Sequential } from '../src/models/sequential.js';
import { Stepper } from '../src/models/stepper.js';
import { assertClose, randomIndices, randomTensor } from './helpers.js';

const T = 5;
const D = 7;

/** Row t of each of N sequences, [N, width], from x [N, T, width] (floats) or [N, T] (ids). */
function timestep(x: AnyTensor, t: number): StepInput {
  const [N, Tx] = x.shape;
  const width = x.dtype === 'int32' ? 1 : x.shape[2];
  const out = x.dtype === 'int32' ? new Int32Array(N) : new Float32Array(N * width);
  for (let n = 0; n < N; n++)
    out.set(x.data.subarray((n * Tx + t) * width, (n * Tx + t + 1) * width), n * width);
  return out;
}

/** Steps the layers over all T timesteps of x; returns each step's last output, [T][N·width]. */
function stepAll(layers: Layer[], x: AnyTensor, states?: StepState[]): Float32Array[] {
  const N = x.shape[0];
  const s = states ?? layers.map((l, i) => l.createStepState(N, { tokens: i === 0 && x.dtype === 'int32' }));
  const outs: Float32Array[] = [];
  for (let t = 0; t < x.shape[1]; t++) {
    let h: StepInput = timestep(x, t);
    layers.forEach((l, i) => (h = l.step(h, s[i])));
    outs.push((h as Float32Array).slice());
  }
  return outs;
}

/** Asserts step t's output equals y[:, t, :] of a sequence output y [N, T, width]. */
function assertStepsMatch(outs: Float32Array[], y: Tensor, what: string): void {
  const [N, Ty, W] = y.shape;
  assert.equal(outs.length, Ty);
  outs.forEach((o, t) => {
    const expected = new Float32Array(N * W);
    for (let n = 0; n < N; n++) expected.set(y.data.subarray((n * Ty + t) * W, (n * Ty + t + 1) * W), n * W);
    assertClose(o, expected, 2e-6, `${what}, step ${t}`);
  });
}

function buildStack<K extends Layer>(layers: K[], inputShape: LayerShape, seed: number): K[] {
  const rng = new Random(seed);
  let shape = inputShape;
  for (const l of layers) {
    l.build(shape, rng);
    shape = l.computeOutputShape(shape);
  }
  return layers;
}

function forwardStack(layers: Layer[], x: AnyTensor): Tensor {
  let h: AnyTensor = x;
  for (const l of layers) h = l.forward(h, { training: false, seed: 0 });
  return h as Tensor;
}

const RECURRENT: [string, () => L.RNN][] = [
  ['LSTM', () => new L.LSTM({ units: 6, returnSequences: true, biasInitializer: 'randomNormal' })],
  ['LSTM without bias', () => new L.LSTM({ units: 5, returnSequences: true, useBias: false })],
  ['GRU resetAfter', () => new L.GRU({ units: 6, returnSequences: true, biasInitializer: 'randomNormal' })],
  [
    'GRU resetAfter=false',
    () => new L.GRU({ units: 6, returnSequences: true, resetAfter: false, biasInitializer: 'randomNormal' }),
  ],
  [
    'SimpleRNN relu',
    () =>
      new L.SimpleRNN({
        units: 6,
        returnSequences: true,
        activation: 'relu',
        biasInitializer: 'randomNormal',
      }),
  ],
];

describe('recurrent layers: step by step equals the sequence forward', () => {
  for (const [name, make] of RECURRENT) {
    // 3 rows take the packed-GEMV step path, 5 the GEMM one.
    for (const rows of [3, 5]) {
      it(`${name}, ${rows} rows, float inputs and token ids`, () => {
        const rng = new Random(11);
        const [layer] = buildStack([make()], [T, D], 2);
        const x = randomTensor([rows, T, D], rng);
        assertStepsMatch(stepAll([layer], x), forwardStack([layer], x), 'floats');
        const ids = randomIndices([rows, T], D, rng);
        assertStepsMatch(stepAll([layer], ids), forwardStack([layer], ids), 'token ids');
      });
    }
    it(`${name}: from a given initial state (setState), as call({initialState})`, () => {
      const rng = new Random(12);
      const [layer] = buildStack([make()], [T, D], 3);
      const N = 2;
      const H = layer.units;
      const init = layer.stateNames.map(() => randomTensor([N, H], rng));
      const x = randomTensor([N, T, D], rng);
      const y = layer.call(x, { initialState: init });
      const state = layer.createStepState(N);
      layer.setState(
        state,
        init.map((s) => s.data),
      );
      assertStepsMatch(stepAll([layer], x, [state]), y as Tensor, 'from initial state');
      // The final state is what call() reports.
      layer.finalStates!.forEach((f, i) =>
        assertClose(state.states[i], f.data, 2e-6, `final ${layer.stateNames[i]}`),
      );
    });
    it(`${name}: resetState of one row restarts only that row`, () => {
      const rng = new Random(13);
      const [layer] = buildStack([make()], [T, D], 4);
      const x = randomTensor([2, T, D], rng);
      const state = layer.createStepState(2);
      stepAll([layer], x, [state]);
      const other = state.states[0].slice(layer.units, 2 * layer.units);
      layer.resetState(state, 0);
      assert.ok(state.states.every((s) => s.subarray(0, layer.units).every((v) => v === 0)));
      assertClose(state.states[0].subarray(layer.units), other, 0, 'row 1 untouched');
      const fresh = layer.createStepState(2);
      const a = layer.step(timestep(x, 0), state).slice(0, layer.units);
      assertClose(a, layer.step(timestep(x, 0), fresh).subarray(0, layer.units), 0, 'row 0 as new');
    });
  }
  it('goBackwards layers refuse to step', () => {
    const [layer] = buildStack([new L.LSTM({ units: 2, goBackwards: true })], [T, D], 1);
    assert.throws(() => layer.createStepState(1), /runs backwards in time/);
  });
});

describe('stacks: step by step equals the sequence forward', () => {
  const V = 9;
  const stacks: [string, () => Layer[], LayerShape, boolean][] = [
    [
      'Embedding → LSTM → Dropout → GRU → Dense(softmax)',
      () => [
        new L.Embedding({ inputDim: V, outputDim: 4 }),
        new L.LSTM({ units: 6, returnSequences: true }),
        new L.Dropout({ rate: 0.5 }),
        new L.GRU({ units: 5, returnSequences: true, resetAfter: false }),
        new L.Dense({ units: V, activation: 'softmax' }),
      ],
      [T],
      true,
    ],
    [
      'Dense(tanh) on tokens → SimpleRNN → Dense → Activation(softmax)',
      () => [
        new L.Dense({ units: 6, activation: 'tanh', biasInitializer: 'ones' }),
        new L.SimpleRNN({ units: 5, returnSequences: true }),
        new L.Dense({ units: 4 }),
        new L.Activation({ activation: 'softmax' }),
      ],
      [T, V],
      true,
    ],
    [
      'floats: GRU → LSTM → Dropout → Dense(sigmoid)',
      () => [
        new L.GRU({ units: 6, returnSequences: true }),
        new L.LSTM({ units: 4, returnSequences: true }),
        new L.Dropout({ rate: 0.3 }),
        new L.Dense({ units: 3, activation: 'sigmoid' }),
      ],
      [T, V],
      false,
    ],
  ];
  for (const [name, make, shape, tokens] of stacks) {
    for (const rows of [2, 6]) {
      it(`${name}, ${rows} rows`, () => {
        const rng = new Random(21);
        const layers = buildStack(make(), shape, 5);
        const x = tokens ? randomIndices([rows, T], V, rng) : randomTensor([rows, T, V], rng);
        assertStepsMatch(stepAll(layers, x), forwardStack(layers, x), name);
      });
    }
  }
  it('logits: a last softmax or sigmoid is left out on request', () => {
    const rng = new Random(22);
    const layers = buildStack([new L.Dense({ units: 4, activation: 'softmax' })], [3], 1);
    const x = randomTensor([2, 3], rng);
    const logits = layers[0].step(x.data, layers[0].createStepState(2, { logits: true }));
    assertClose(
      logits,
      layers[0].forward(x, { training: false, seed: 0, logits: true }).data,
      2e-6,
      'logits',
    );
  });
  it('bad step inputs are clear errors', () => {
    const [lstm] = buildStack([new L.LSTM({ units: 2 })], [T, 3], 1);
    const [emb] = buildStack([new L.Embedding({ inputDim: 3, outputDim: 2 })], [T], 1);
    const other = buildStack([new L.LSTM({ units: 2 })], [T, 3], 1)[0];
    assert.throws(
      () => lstm.step(new Float32Array(5), lstm.createStepState(2)),
      /expected 2×3 floats per step, got 5/,
    );
    assert.throws(
      () => lstm.step(new Int32Array(2), lstm.createStepState(2)),
      /make the state with \{tokens: true\}/,
    );
    assert.throws(
      () => lstm.step(Int32Array.of(0, 3), lstm.createStepState(2, { tokens: true })),
      /token id 3 of row 1/,
    );
    assert.throws(() => emb.createStepState(2), /steps on token ids only/);
    assert.throws(() => other.step(new Float32Array(6), lstm.createStepState(2)), /made by layer/);
    assert.throws(
      () => lstm.setState(lstm.createStepState(2), [new Float32Array(4)]),
      /setState expects 2 array/,
    );
  });
});

/**
 * A layer the Stepper has never heard of: an exponential moving sum, h_t = decay·h_{t−1} + x_t, returning the last h
 * (or every h). It keeps its state in kernel memory like the library's layers.
 */
class MovingSum extends Layer {
  readonly className = 'MovingSum';
  constructor(
    readonly decay: number,
    readonly returnSequences = false,
  ) {
    super({}, 'moving_sum');
  }
  protected buildWeights(): void {}
  computeOutputShape(inputShape: LayerShape): LayerShape {
    return this.returnSequences ? inputShape : inputShape.slice(1);
  }
  forward(x: AnyTensor): Tensor {
    const [N, Tx, W] = x.shape;
    const y = new Float32Array(this.returnSequences ? N * Tx * W : N * W);
    for (let n = 0; n < N; n++) {
      const h = new Float32Array(W);
      for (let t = 0; t < Tx; t++) {
        for (let w = 0; w < W; w++) h[w] = this.decay * h[w] + x.data[(n * Tx + t) * W + w];
        if (this.returnSequences) y.set(h, (n * Tx + t) * W);
      }
      if (!this.returnSequences) y.set(h, n * W);
    }
    return new Tensor(y, this.returnSequences ? [N, Tx, W] : [N, W]);
  }
  backward(): Tensor {
    throw new Error('not needed here');
  }
  override get stateNames(): readonly string[] {
    return ['h'];
  }
  override stateSize(): number {
    return this.stepInputSize();
  }
  override createStepState(rows: number, opts: StepOptions = {}): StepState {
    return new StepState(this, rows, this.stepInputSize(), opts);
  }
  override step(input: StepInput, state: StepState): Float32Array {
    const h = state.states[0];
    for (let i = 0; i < h.length; i++) h[i] = this.decay * h[i] + input[i];
    return h;
  }
}

/** A stateless one: y = 2x. */
class Double extends Layer {
  readonly className: string = 'Double';
  private readonly out = new Map<StepState, Float32Array>();
  constructor() {
    super({}, 'double');
  }
  protected buildWeights(): void {}
  computeOutputShape(inputShape: LayerShape): LayerShape {
    return inputShape;
  }
  forward(x: AnyTensor, _opts: ForwardOptions): Tensor {
    return new Tensor(
      Float32Array.from(x.data, (v) => 2 * v),
      x.shape,
    );
  }
  backward(dy: Tensor): Tensor {
    return dy;
  }
  override createStepState(rows: number, opts: StepOptions = {}): StepState {
    const s = new StepState(this, rows, this.stepOutputSize(), opts);
    this.out.set(s, kernels().allocPersistent(rows * s.width));
    return s;
  }
  override step(input: StepInput, state: StepState): Float32Array {
    const out = this.out.get(state)!;
    for (let i = 0; i < out.length; i++) out[i] = 2 * input[i];
    return out;
  }
}

describe('the Stepper knows no layer types', () => {
  it('steps a stack with layer classes defined here, as the model predicts', () => {
    const V = 6;
    const model = new Sequential({
      seed: 8,
      layers: [
        new L.Embedding({ inputDim: V, outputDim: 3, inputShape: [T] }),
        new MovingSum(0.5, true),
        new Double(),
        new L.LSTM({ units: 4 }),
        new L.Dense({ units: V, activation: 'softmax' }),
      ],
    });
    model.build();
    for (const rows of [1, 4]) {
      const rng = new Random(3);
      const x = randomIndices([rows, T], V, rng);
      const full = model.predict(x);
      const stepper = new Stepper(model, rows, false);
      let out: Float32Array = new Float32Array(0);
      for (let t = 0; t < T; t++) out = stepper.step(timestep(x, t) as Int32Array);
      assertClose(out, full.data, 2e-6, `${rows} streams`);
      stepper.reset();
      for (let t = 0; t < T; t++) out = stepper.step(timestep(x, t) as Int32Array);
      assertClose(out, full.data, 2e-6, `${rows} streams after reset`);
    }
  });
  it('a layer that cannot step says so', () => {
    class Opaque extends Double {
      override readonly className = 'Opaque';
      override createStepState(): StepState {
        return Layer.prototype.createStepState.call(this, 1);
      }
    }
    const model = new Sequential({ layers: [new L.Dense({ units: 2, inputShape: [3] }), new Opaque()] });
    assert.throws(() => new Stepper(model, 1), /layer 'double(_\d+)?' \(Opaque\) cannot be run step by step/);
  });
});

describe('a step state is a snapshot of the weights', () => {
  const V = 7;
  /** Every weight shifted by a different amount: what training or setWeights between two steps does. */
  const shifted = (model: Sequential, t: number): Tensor[] =>
    model.getWeights().map(
      (w) =>
        new Tensor(
          Float32Array.from(w.data, (v, i) => v + 0.1 + 0.01 * ((i + t) % 7)),
          w.shape,
        ),
    );
  const stacks: [string, () => Layer[]][] = [
    [
      'Embedding → LSTM → GRU → GRU(resetAfter=false) → SimpleRNN → Dense → Dense',
      () => [
        new L.Embedding({ inputDim: V, outputDim: 4, inputShape: [T] }),
        new L.LSTM({ units: 5, returnSequences: true }),
        new L.GRU({ units: 5, returnSequences: true }),
        new L.GRU({ units: 5, returnSequences: true, resetAfter: false }),
        new L.SimpleRNN({ units: 4, returnSequences: true }),
        new L.Dense({ units: 6, activation: 'relu' }),
        new L.Dense({ units: V }),
      ],
    ],
    [
      'token ids into Dense without bias → LSTM → Dense',
      () => [
        new L.Dense({ units: 3, useBias: false, inputShape: [T, V] }),
        new L.LSTM({ units: 3, returnSequences: true }),
        new L.Dense({ units: V }),
      ],
    ],
    [
      'token ids into a GRU',
      () => [new L.GRU({ units: 5, inputShape: [T, V] }), new L.Dense({ units: 3, useBias: false })],
    ],
  ];
  for (const [name, make] of stacks)
    // 1 row: the packed GEMV; 5 rows: the packed GEMM, whose ragged edges read the weights as they are.
    for (const rows of [1, 5]) {
      it(`${name}, ${rows} rows: weights changed between steps change no step of a stepper made before`, () => {
        const model = new Sequential({ seed: 3, layers: make() });
        model.build();
        const before = model.getWeights();
        const ids = randomIndices([10, rows], V, new Random(4));
        const stepper = new Stepper(model, rows, false);
        const outs = Array.from({ length: 10 }, (_, t) => {
          model.setWeights(shifted(model, t)); // as a training batch would, between two steps
          return stepper.step(ids.data.subarray(t * rows, (t + 1) * rows)).slice();
        });
        model.setWeights(before);
        const fresh = new Stepper(model, rows, false);
        outs.forEach((o, t) =>
          assert.deepEqual(o, fresh.step(ids.data.subarray(t * rows, (t + 1) * rows)).slice(), `step ${t}`),
        );
      });
    }
  for (const [name, make] of [
    ['Attention', () => new L.Attention({ useScale: true })],
    ['AdditiveAttention', () => new L.AdditiveAttention({ useScale: true })],
  ] as const)
    it(`${name}: its scale changed after the state was made changes no step`, () => {
      const rng = new Random(5);
      const layer: L.Attention | L.AdditiveAttention = make();
      layer.buildMany(
        [
          [1, D],
          [T, D],
        ],
        rng,
      );
      const value = randomTensor([2, T, D], rng);
      const q = randomTensor([2, D], rng).data;
      const state = layer.createStepState(2);
      layer.bindStepConstants(state, [null, { value, mask: null }], Int32Array.of(0, 1));
      const first = layer.step(q, state).slice();
      layer.weights[0].value.fill(3);
      assert.deepEqual(layer.step(q, state).slice(), first);
    });
});

describe('a step allocates nothing', () => {
  it('no kernel allocation after the states are made, for every layer type, GEMV and GEMM paths', () => {
    const real = kernels();
    let allocations = 0;
    const counting = new Proxy(real, {
      get(target, key: keyof Kernels) {
        const v = target[key];
        if (typeof v !== 'function') return v;
        const f = (v as (...a: unknown[]) => unknown).bind(target);
        return String(key).startsWith('alloc') ? (...a: unknown[]) => (allocations++, f(...a)) : f;
      },
    });
    setKernels(counting);
    try {
      const V = 7;
      const model = new Sequential({
        seed: 2,
        layers: [
          new L.Embedding({ inputDim: V, outputDim: 4, inputShape: [T] }),
          new L.LSTM({ units: 5, returnSequences: true }),
          new L.GRU({ units: 5, returnSequences: true }),
          new L.GRU({ units: 5, returnSequences: true, resetAfter: false }),
          new L.Dropout({ rate: 0.2 }),
          new L.SimpleRNN({ units: 4 }),
          new L.Dense({ units: 6, activation: 'relu' }),
          new L.Dense({ units: V }),
          new L.Activation({ activation: 'softmax' }),
        ],
      });
      model.build();
      for (const rows of [2, 5]) {
        allocations = 0;
        const stepper = new Stepper(model, rows);
        assert.ok(allocations > 0, 'the count sees the allocations of making the states');
        allocations = 0;
        const ids = new Int32Array(rows);
        for (let t = 0; t < 10; t++) stepper.step(ids.fill(t % V));
        stepper.resetRow(1);
        stepper.reset();
        assert.equal(allocations, 0, `${rows} rows`);
      }
    } finally {
      setKernels(real);
    }
  });
});
