/**
 * Keras files whose weights are float16 (a model saved with dtype='float16'): recur reads them exactly into float32
 * and says once that they were float16. h5wasm cannot write float16, so the files are recur's own float32 files with
 * each dataset's datatype message rewritten to IEEE half (same message length) and the object header's checksum
 * recomputed, the float32 storage holding the half bit patterns at its start.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { unzipSync, zipSync } from 'fflate';
import { Random } from '../src/core/random.js';
import { Tensor } from '../src/core/tensor.js';
import { readH5, writeH5, type H5Node } from '../src/keras/h5.js';
import { loadKerasModel, loadKerasWeights } from '../src/keras/load.js';
import { saveKerasArchive, saveKerasH5 } from '../src/keras/save.js';
import * as L from '../src/layers/index.js';
import { Sequential } from '../src/models/sequential.js';

/** Jenkins's lookup3 hashlittle, HDF5's metadata checksum (H5_checksum_lookup3, initial value 0). */
function lookup3(k: Uint8Array): number {
  let a = (0xdeadbeef + k.length) >>> 0;
  let b = a;
  let c = a;
  const rot = (x: number, n: number): number => ((x << n) | (x >>> (32 - n))) >>> 0;
  const word = (s: Uint8Array, i: number): number =>
    (s[i] | (s[i + 1] << 8) | (s[i + 2] << 16) | (s[i + 3] << 24)) >>> 0;
  let o = 0;
  let left = k.length;
  while (left > 12) {
    a = (a + word(k, o)) >>> 0;
    b = (b + word(k, o + 4)) >>> 0;
    c = (c + word(k, o + 8)) >>> 0;
    a = ((a - c) >>> 0) ^ rot(c, 4);
    c = (c + b) >>> 0;
    b = ((b - a) >>> 0) ^ rot(a, 6);
    a = (a + c) >>> 0;
    c = ((c - b) >>> 0) ^ rot(b, 8);
    b = (b + a) >>> 0;
    a = ((a - c) >>> 0) ^ rot(c, 16);
    c = (c + b) >>> 0;
    b = ((b - a) >>> 0) ^ rot(a, 19);
    a = (a + c) >>> 0;
    c = ((c - b) >>> 0) ^ rot(b, 4);
    b = (b + a) >>> 0;
    left -= 12;
    o += 12;
  }
  if (left === 0) return c;
  const tail = new Uint8Array(12);
  tail.set(k.subarray(o));
  a = (a + word(tail, 0)) >>> 0;
  b = (b + word(tail, 4)) >>> 0;
  c = (c + word(tail, 8)) >>> 0;
  c = ((c ^ b) - rot(b, 14)) >>> 0;
  a = ((a ^ c) - rot(c, 11)) >>> 0;
  b = ((b ^ a) - rot(a, 25)) >>> 0;
  c = ((c ^ b) - rot(b, 16)) >>> 0;
  a = ((a ^ c) - rot(c, 4)) >>> 0;
  b = ((b ^ a) - rot(a, 14)) >>> 0;
  c = ((c ^ b) - rot(b, 24)) >>> 0;
  return c;
}

/** HDF5 datatype messages (version 1, IEEE, little-endian) of float32 and of float16: the same length. */
const FLOAT32_TYPE = [0x11, 0x20, 0x1f, 0, 4, 0, 0, 0, 0, 0, 32, 0, 23, 8, 0, 23, 127, 0, 0, 0];
const FLOAT16_TYPE = [0x11, 0x20, 0x0f, 0, 2, 0, 0, 0, 0, 0, 16, 0, 10, 5, 0, 10, 15, 0, 0, 0];
const OHDR = [0x4f, 0x48, 0x44, 0x52];

function at(bytes: Uint8Array, sig: number[], i: number): boolean {
  return sig.every((b, j) => bytes[i + j] === b);
}

/** An HDF5 file (version 2 object headers, as h5wasm writes) with every float32 dataset turned into float16. */
function asFloat16(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  let patched = 0;
  for (let i = 0; i + FLOAT32_TYPE.length <= out.length; i++) {
    if (!at(out, FLOAT32_TYPE, i)) continue;
    let header = i;
    while (header >= 0 && !at(out, OHDR, header)) header--;
    assert.ok(header >= 0, 'a datatype message outside any object header');
    const flags = out[header + 5];
    let p = header + 6 + (flags & 0x20 ? 16 : 0) + (flags & 0x10 ? 4 : 0);
    const sizeBytes = 1 << (flags & 3);
    let chunk = 0;
    for (let j = 0; j < sizeBytes; j++) chunk += out[p + j] * 256 ** j;
    p += sizeBytes;
    assert.ok(i < p + chunk, 'the datatype message is not in the first chunk of its object header');
    out.set(FLOAT16_TYPE, i);
    view.setUint32(p + chunk, lookup3(out.subarray(header, p + chunk)), true);
    patched++;
  }
  assert.ok(patched > 0, 'no float32 dataset to patch');
  return out;
}

/** The binary16 bits of a number that float16 holds exactly (normal, subnormal or zero). */
function halfBits(v: number): number {
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a < 2 ** -14) return sign | (a * 2 ** 24);
  const e = Math.floor(Math.log2(a));
  return sign | ((e + 15) << 10) | ((a / 2 ** e - 1) * 1024);
}

/** Every dataset's float32 storage holding its values' half bit patterns at its start. */
function packHalves(node: H5Node): void {
  if (node.kind === 'group') {
    for (const c of node.children.values()) packHalves(c);
    return;
  }
  const packed = new Float32Array(node.values!.length);
  new Uint16Array(packed.buffer).set(Array.from(node.values!, halfBits));
  node.values = packed;
}

/** A small LSTM model whose weights float16 holds exactly (multiples of 1/1024, some extremes of the format). */
function halfModel(): Sequential {
  const model = new Sequential({
    layers: [
      new L.LSTM({ units: 3, inputShape: [4, 2], name: 'lstm' }),
      new L.Dense({ units: 2, activation: 'linear', name: 'dense' }),
    ],
  });
  model.build();
  const rng = new Random(7);
  for (const l of model.layers)
    for (const w of l.weights)
      w.value.forEach((_, i, a) => (a[i] = Math.round(rng.uniform(-512, 512)) / 1024));
  const dense = model.layers[1].weights[0].value;
  dense[0] = 2 ** -24; // the smallest subnormal
  dense[1] = -(2 ** -20); // a negative subnormal
  dense[2] = 65504; // the largest finite half
  dense[3] = -0;
  return model;
}

function weightsOf(model: Sequential): number[][] {
  return model.layers.flatMap((l) => l.weights.map((w) => Array.from(w.value)));
}

const x = new Tensor(
  Float32Array.from({ length: 16 }, (_, i) => (i % 5) / 5 - 0.4),
  [2, 4, 2],
);

describe('Keras files with float16 weights', () => {
  it('a .h5 and a .keras with float16 weights load exactly, with one note naming float16', async () => {
    const model = halfModel();
    const want = model.predict(x);
    const h5 = await readH5((await saveKerasH5(model)).bytes, 'm.h5');
    packHalves(h5.children.get('model_weights')!);
    const files = unzipSync((await saveKerasArchive(model)).bytes);
    const weights = await readH5(files['model.weights.h5'], 'w');
    packHalves(weights);
    const archive = zipSync({ ...files, 'model.weights.h5': asFloat16(await writeH5(weights)) });
    for (const [name, bytes] of [
      ['m.h5', asFloat16(await writeH5(h5))],
      ['m.keras', archive],
    ] as const) {
      const loaded = await loadKerasModel(bytes, name);
      assert.deepEqual(weightsOf(loaded.model as Sequential), weightsOf(model), name);
      assert.deepEqual((loaded.model.predict(x) as Tensor).data, want.data, name);
      const notes = loaded.notes.filter((n) => /float16/.test(n));
      assert.equal(notes.length, 1, `${name}: ${loaded.notes.join(' | ')}`);
      assert.match(
        notes[0],
        /stored as float16 \(5 datasets, e\.g\. '\/.+'\); recur read them exactly into float32/,
      );
    }
    // The same files as weights for a model built with recur's API: the .h5 by layer name (its legacy layout), the
    // .keras by Keras 3's layer paths.
    const freshModel = (): Sequential => {
      const m = new Sequential({
        layers: [
          new L.LSTM({ units: 3, inputShape: [4, 2], name: 'lstm' }),
          new L.Dense({ units: 2, activation: 'linear', name: 'dense' }),
        ],
      });
      m.build();
      return m;
    };
    const fresh = freshModel();
    const report = await loadKerasWeights(fresh, asFloat16(await writeH5(h5)), 'm.h5');
    assert.deepEqual(weightsOf(fresh), weightsOf(model));
    assert.match(report.notes.join('\n'), /m\.h5: the weights are stored as float16 .*'\/model_weights\//);
    const fromArchive = freshModel();
    const archiveReport = await loadKerasWeights(fromArchive, archive, 'm.keras');
    assert.deepEqual(weightsOf(fromArchive), weightsOf(model));
    assert.match(archiveReport.notes.join('\n'), /m\.keras: the weights are stored as float16 .*'\/layers\//);
  });
});
