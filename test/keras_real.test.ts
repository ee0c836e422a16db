/**
 * The held-out Keras files in ../shared/eval/keras (14 models trained by other people, Keras 2.0.3 to 3.9): each
 * loads and its prediction on expected.json's input matches the numpy reference (np_forward.py, float64) to 1e-4, and
 * a Sequential model takes that input by the name expected.json gives it, as `recur predict` reads it.
 * Skips cleanly when ../shared is absent; the files are never copied into the repository.
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Tensor, IndexTensor, type AnyTensor } from '../src/core/tensor.js';
import { Functional } from '../src/models/functional.js';
import { loadKerasModel } from '../src/keras/load.js';
import { predictJson } from '../src/keras/predict_json.js';
import { buildTextgenrnn } from './keras_textgenrnn.js';
import { loadKerasWeights } from '../src/keras/load.js';

const DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/eval/keras');
const present = existsSync(join(DIR, 'expected.json'));

interface InputSpec {
  encoding: 'one_hot' | 'token_ids' | 'values';
  shape: number[];
  indices?: number[];
  data?: number[];
}
interface Entry {
  inputs: Record<string, InputSpec>;
  runner?: string;
  numpy_reference: { outputs: Record<string, { shape: number[]; data: number[] }> };
}

function feed(s: InputSpec): AnyTensor {
  const n = s.shape.reduce((p, d) => p * d, 1);
  if (s.encoding === 'one_hot') {
    const V = s.shape[2];
    const a = new Float32Array(n);
    s.indices!.forEach((k, t) => (a[t * V + k] = 1));
    return new Tensor(a, s.shape);
  }
  if (s.encoding === 'token_ids') return new IndexTensor(Int32Array.from(s.data!), s.shape);
  return new Tensor(Float32Array.from(s.data!), s.shape);
}

function close(got: Tensor, want: { shape: number[]; data: number[] }, what: string): void {
  assert.deepEqual([...got.shape], want.shape, `${what}: shape`);
  let worst = 0;
  want.data.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - got.data[i]))));
  assert.ok(worst < 1e-4, `${what}: max |recur − numpy| = ${worst}`);
}

describe(
  'real Keras files (../shared/eval/keras)',
  { skip: present ? false : '../shared/eval/keras is absent' },
  () => {
    const expected = present
      ? (JSON.parse(readFileSync(join(DIR, 'expected.json'), 'utf8')) as { models: Record<string, Entry> })
          .models
      : {};
    for (const [file, entry] of Object.entries(expected)) {
      it(file, async () => {
        const bytes = new Uint8Array(readFileSync(join(DIR, file)));
        const want = entry.numpy_reference.outputs;
        if (entry.runner === 'textgenrnn') {
          const model = buildTextgenrnn();
          const report = await loadKerasWeights(model, bytes, file);
          assert.ok(report.notes.some((n) => /CuDNN/.test(n)));
          const y = model.predict(feed(entry.inputs.input)) as Tensor;
          close(y, want.output, file);
          return;
        }
        const { model } = await loadKerasModel(bytes, file);
        const names = Object.keys(entry.inputs);
        if (model instanceof Functional) {
          const xs = Object.fromEntries(names.map((n) => [n, feed(entry.inputs[n])]));
          const ys = model.predict(xs);
          const list = Array.isArray(ys) ? ys : [ys];
          Object.keys(want).forEach((k, i) => close(list[i], want[k], `${file} ${k}`));
        } else {
          const x = feed(entry.inputs[names[0]]);
          const y = model.predict(x);
          close(y, Object.values(want)[0], file);
          // `recur predict` takes the input by the name the file gives it (Keras 3: the InputLayer's, `input_layer`).
          const byName = predictJson(model, { [names[0]]: x.toArray() }, file);
          const [[outName, out]] = Object.entries(byName);
          assert.deepEqual(out, y.toArray(), `${file}: ${names[0]} → ${outName}`);
        }
      });
    }
  },
);
