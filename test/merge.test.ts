/** Concatenate, Add and RepeatVector: gradient checks, tfjs cross-checks, config round trips, shape errors. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { Random } from '../src/core/random.js';
import { Tensor } from '../src/core/tensor.js';
import { Add, Concatenate, RepeatVector } from '../src/layers/index.js';
import { layerToKeras } from '../src/models/serialization.js';
import { gradCheckMany } from './graph_helpers.js';
import { assertClose, gradCheckLayer, randomTensor } from './helpers.js';

const toTf = (x: Tensor): tf.Tensor => tf.tensor(Array.from(x.data), [...x.shape]);

describe('Concatenate', () => {
  const cases: [number, number[][]][] = [
    [
      -1,
      [
        [2, 3, 4],
        [2, 3, 2],
      ],
    ],
    [
      1,
      [
        [2, 2, 3],
        [2, 4, 3],
        [2, 1, 3],
      ],
    ],
    [
      2,
      [
        [2, 3, 4],
        [2, 3, 1],
      ],
    ],
    [
      -1,
      [
        [3, 5],
        [3, 2],
      ],
    ],
  ];
  for (const [axis, shapes] of cases) {
    it(`axis ${axis} on ${JSON.stringify(shapes)}: matches tfjs and passes the gradient check`, () => {
      const xs = shapes.map((s, i) => randomTensor(s, new Random(10 + i)));
      const layer = new Concatenate({ axis });
      layer.buildMany(
        xs.map((x) => x.shape.slice(1)),
        new Random(0),
      );
      const [y] = layer.forwardMany(xs, { training: false, seed: 0 });
      const theirs = tf.layers.concatenate({ axis }).apply(xs.map(toTf)) as tf.Tensor;
      assert.deepEqual([...y.shape], theirs.shape);
      assertClose(y.data, theirs.dataSync(), 0, 'concatenate vs tfjs');
      const shape = layer.computeOutputShapes(xs.map((x) => x.shape.slice(1)))[0];
      assert.deepEqual([null, ...shape], [null, ...y.shape.slice(1)]);
      gradCheckMany(new Concatenate({ axis }), xs);
    });
  }
  it('rejects mismatched shapes, axis 0 and a single input, naming the layer', () => {
    const c = new Concatenate({ name: 'cat' });
    assert.throws(
      () =>
        c.computeOutputShapes([
          [3, 4],
          [2, 4],
        ]),
      /concatenate 'cat': inputs must agree except on axis -1/,
    );
    assert.throws(() => new Concatenate({ axis: 0 }), /'axis' must be a non-zero integer/);
    assert.throws(() => c.computeOutputShapes([[3, 4]]), /needs at least 2 inputs/);
    assert.throws(() => new Concatenate({ axis: 1, units: 3 } as never), /unknown option 'units'/);
  });
  it('config round trip (and the Keras JSON)', () => {
    const c = new Concatenate({ axis: 1, name: 'joined' });
    const again = Concatenate.fromConfig(c.getConfig());
    assert.deepEqual(again.getConfig(), c.getConfig());
    assert.deepEqual(layerToKeras(c), {
      class_name: 'Concatenate',
      config: { dtype: 'float32', name: 'joined', trainable: true, axis: 1 },
    });
  });
});

describe('Add', () => {
  it('matches tfjs on three inputs and passes the gradient check', () => {
    const xs = [0, 1, 2].map((i) => randomTensor([2, 3, 4], new Random(20 + i)));
    const layer = new Add();
    layer.buildMany(
      xs.map((x) => x.shape.slice(1)),
      new Random(0),
    );
    const [y] = layer.forwardMany(xs, { training: false, seed: 0 });
    const theirs = tf.layers.add({}).apply(xs.map(toTf)) as tf.Tensor;
    assertClose(y.data, theirs.dataSync(), 1e-6, 'add vs tfjs');
    gradCheckMany(new Add(), xs);
  });
  it('rejects different shapes; config round trip', () => {
    assert.throws(
      () => new Add({ name: 'sum' }).computeOutputShapes([[3], [4]]),
      /add 'sum': inputs must have one shape/,
    );
    const a = new Add({ name: 'plus' });
    assert.deepEqual(Add.fromConfig(a.getConfig()).getConfig(), a.getConfig());
  });
});

describe('RepeatVector', () => {
  it('matches tfjs and passes the gradient check', () => {
    const x = randomTensor([3, 4], new Random(30));
    const layer = new RepeatVector({ n: 5, inputShape: [4] });
    layer.build([4], new Random(0));
    const y = layer.forward(x, { training: false, seed: 0 });
    const theirs = tf.layers.repeatVector({ n: 5 }).apply(toTf(x)) as tf.Tensor;
    assert.deepEqual([...y.shape], theirs.shape);
    assertClose(y.data, theirs.dataSync(), 0, 'repeatVector vs tfjs');
    gradCheckLayer(new RepeatVector({ n: 3, inputShape: [4] }), x);
  });
  it('rejects a bad n and a sequence input; config round trip', () => {
    assert.throws(() => new RepeatVector({ n: 0 }), /'n' must be a positive integer/);
    assert.throws(
      () => new RepeatVector({ n: 2 }).computeOutputShape([3, 4]),
      /expects inputs \[batch, features\]/,
    );
    const r = new RepeatVector({ n: 4, name: 'rep' });
    assert.deepEqual(RepeatVector.fromConfig(r.getConfig()).getConfig(), r.getConfig());
  });
});
