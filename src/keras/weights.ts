/**
 * Keras weights ↔ recur layer weights.
 *
 * Where Keras keeps them:
 * - legacy HDF5 (Keras 2, and Keras 3's `.h5`): one group per layer (under /model_weights in a full-model file, at
 *   the root of a weights-only file) listed by the `layer_names` attribute; each group's `weight_names` attribute
 *   gives its datasets in order (`lstm_1/kernel:0`, `bidirectional/forward_gru/gru_cell_1/kernel:0`, `gru/sequential/
 *   gru/gru_cell/kernel`, …: the names vary by version, the order does not).
 * - Keras 3 `.keras` (model.weights.h5): `layers/<path>/vars/<i>`, where `<path>` is the snake_cased class name made
 *   unique in layer order (weightsPaths); a recurrent layer's are under `cell/vars`, a Bidirectional's under
 *   `forward_layer/cell/vars` then `backward_layer/cell/vars`, a TimeDistributed's under `layer/vars`.
 *
 * In both, a layer's weights come in the order recur keeps them (kernel, recurrent_kernel, bias; forward then
 * backward), so they are matched by position and every shape is checked.
 *
 * CuDNNLSTM / CuDNNGRU weights (keras/engine/saving.py `_convert_rnn_weights`): each gate's input kernel k (D×H) is
 * stored as k.T.reshape(k.shape, order='F') and its recurrent kernel transposed; the bias is [input bias; recurrent
 * bias]. LSTM adds the two biases; GRU keeps them as reset_after's [2, 3H] bias.
 */
import type { Layer } from '../layers/layer.js';
import { shapeToString } from '../core/tensor.js';
import { kerasSnakeCase, type KerasLayer } from './config.js';
import type { H5Dataset, H5Group, H5Node } from './h5.js';

/** One weight from a file: where it is (for errors), its shape and values. */
export interface FileWeight {
  path: string;
  shape: number[];
  values: Float32Array;
}

export function child(g: H5Group, path: string): H5Node | undefined {
  let node: H5Node | undefined = g;
  for (const part of path.split('/').filter((p) => p !== '')) {
    if (!node || node.kind !== 'group') return undefined;
    node = node.children.get(part);
  }
  return node;
}

function stringList(v: unknown): string[] | null {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  return null;
}

function asWeight(node: H5Node | undefined, path: string, where: string): FileWeight {
  if (!node || node.kind !== 'dataset')
    throw new Error(`${where}: /${path}: missing (the file lists it but has no such dataset)`);
  const d = node as H5Dataset;
  if (!d.values) throw new Error(`${where}: /${path}: holds ${d.dtype} values; expected float numbers`);
  const size = d.shape.reduce((p, x) => p * x, 1);
  if (d.values.length !== size)
    throw new Error(
      `${where}: /${path}: holds ${d.values.length} values for shape ${shapeToString(d.shape)}`,
    );
  return { path: `/${path}`, shape: d.shape, values: d.values };
}

/** The layer groups of a legacy HDF5 weights group, by name, in `layer_names` order. */
export function legacyLayerNames(g: H5Group, where: string, base: string): string[] {
  const names = stringList(g.attrs.layer_names);
  if (!names)
    throw new Error(
      `${where}: /${base}: missing attribute 'layer_names' (not a Keras weights file, or damaged)`,
    );
  return names;
}

/** A layer's weights from a legacy HDF5 file, in `weight_names` order. */
export function legacyLayerWeights(g: H5Group, layerName: string, where: string, base: string): FileWeight[] {
  const prefix = base === '' ? '' : `${base}/`;
  const lg = g.children.get(layerName);
  if (!lg || lg.kind !== 'group')
    throw new Error(`${where}: /${prefix}${layerName}: missing (listed in layer_names)`);
  const names = lg.attrs.weight_names === undefined ? null : stringList(lg.attrs.weight_names);
  if (names === null) {
    if (lg.attrs.weight_names === undefined && lg.children.size === 0) return [];
    throw new Error(`${where}: /${prefix}${layerName}: missing attribute 'weight_names'`);
  }
  return names.map((n) => asWeight(child(lg, n), `${prefix}${layerName}/${n}`, where));
}

/** Keras 3's weights-file path of each layer (Sequential leaves its InputLayer out; Functional keeps it). */
export function weightsPaths<T extends Pick<KerasLayer, 'fileClassName'>>(
  layers: readonly T[],
  sequential: boolean,
): Map<T, string> {
  const used = new Map<string, number>();
  const out = new Map<T, string>();
  for (const l of layers) {
    if (sequential && l.fileClassName === 'InputLayer') continue;
    const base = kerasSnakeCase(l.fileClassName);
    const n = used.get(base);
    const key = n === undefined ? base : `${base}_${n + 1}`;
    used.set(base, n === undefined ? 0 : n + 1);
    out.set(l, `layers/${key}`);
  }
  return out;
}

/** Child groups whose variables come first, in this order (the rest follow by name). */
const CHILD_ORDER = ['cell', 'layer', 'forward_layer', 'backward_layer'];

/** A layer's variables in a Keras 3 weights file: its own `vars/<i>`, then its children's (cells, wrapped layers). */
export function keras3LayerWeights(
  root: H5Group,
  path: string,
  where: string,
  owner?: { name: string; className: string },
): FileWeight[] {
  const g = child(root, path);
  if (!g || g.kind !== 'group')
    throw new Error(
      `${where}: model.weights.h5: /${path}: missing` +
        (owner ? ` (Keras keeps the weights of layer '${owner.name}' (${owner.className}) there)` : ''),
    );
  const out: FileWeight[] = [];
  const walk = (node: H5Group, p: string): void => {
    const vars = node.children.get('vars');
    if (vars && vars.kind === 'group') {
      const keys = [...vars.children.keys()];
      for (let i = 0; i < keys.length; i++) {
        if (!vars.children.has(String(i)))
          throw new Error(
            `${where}: model.weights.h5: /${p}/vars: has ${keys.join(', ')}; expected 0…${keys.length - 1}`,
          );
        out.push(asWeight(vars.children.get(String(i)), `${p}/vars/${i}`, `${where}: model.weights.h5`));
      }
    }
    const kids = [...node.children.keys()].filter((k) => k !== 'vars');
    kids.sort((a, b) => {
      const ia = CHILD_ORDER.indexOf(a);
      const ib = CHILD_ORDER.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || (a < b ? -1 : a > b ? 1 : 0);
    });
    for (const k of kids) {
      const c = node.children.get(k)!;
      if (c.kind === 'group') walk(c, `${p}/${k}`);
    }
  };
  walk(g, path);
  return out;
}

/** A [rows, cols] row-major matrix as the transpose of a Fortran-order reading (CuDNN input kernels). */
function fromCudnnInputKernel(
  values: Float32Array,
  rows: number,
  cols: number,
  gates: number,
  off: number,
): Float32Array {
  // Keras: for each gate block k (rows×h): k.T.reshape(k.shape, order='F'). Element n in Fortran order of both:
  // B[n % rows, ⌊n/rows⌋] = A[n % h, ⌊n/h⌋] where A = k.T (h×rows), i.e. A[a, b] = k[b, a].
  const h = cols / gates;
  const out = new Float32Array(rows * h);
  for (let n = 0; n < rows * h; n++) {
    const a = n % h;
    const b = Math.floor(n / h);
    const kv = values[b * cols + off + a]; // k[b, a] of the gate block
    out[(n % rows) * h + Math.floor(n / rows)] = kv;
  }
  return out;
}

function setBlock(
  dst: Float32Array,
  block: Float32Array,
  rows: number,
  cols: number,
  off: number,
  h: number,
): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < h; c++) dst[r * cols + off + c] = block[r * h + c];
}

/** CuDNN-layout [kernel, recurrent_kernel, bias] → the CPU layer's, as Keras converts them on load. */
export function convertCudnnWeights(kind: 'LSTM' | 'GRU', ws: FileWeight[]): FileWeight[] {
  const gates = kind === 'LSTM' ? 4 : 3;
  const [k, rk, b] = ws;
  const cols = k.shape[1];
  const h = cols / gates;
  const kernel = new Float32Array(k.values.length);
  const rec = new Float32Array(rk.values.length);
  const D = k.shape[0];
  for (let g = 0; g < gates; g++) {
    setBlock(kernel, fromCudnnInputKernel(k.values, D, cols, gates, g * h), D, cols, g * h, h);
    // Recurrent: each gate block transposed (h×h).
    for (let r = 0; r < h; r++)
      for (let c = 0; c < h; c++) rec[r * cols + g * h + c] = rk.values[c * cols + g * h + r];
  }
  const out: FileWeight[] = [
    { ...k, values: kernel },
    { ...rk, values: rec },
  ];
  if (b) {
    if (kind === 'LSTM') {
      const half = b.values.length / 2;
      const sum = new Float32Array(half);
      for (let i = 0; i < half; i++) sum[i] = b.values[i] + b.values[half + i];
      out.push({ ...b, shape: [half], values: sum });
    } else out.push({ ...b, shape: [2, b.values.length / 2], values: b.values.slice() });
  }
  return out;
}

/** True when a recurrent layer's file weights are in CuDNN layout: a 1-D bias twice the CPU layer's length. */
export function isCudnnLayout(layer: Layer, ws: FileWeight[]): boolean {
  if (layer.className !== 'LSTM' && layer.className !== 'GRU') return false;
  const bias = layer.weights[2];
  const b = ws[2];
  if (!bias || !b || b.shape.length !== 1) return false;
  const units = (layer as unknown as { units: number }).units;
  return b.shape[0] === 2 * (layer.className === 'LSTM' ? 4 : 3) * units;
}

/**
 * Copies file weights into a layer, checking count and shapes; errors name the file, the dataset and the layer.
 * `cudnn` converts CuDNN-layout recurrent weights first.
 */
export function assignLayerWeights(layer: Layer, ws: FileWeight[], where: string, cudnn: boolean): void {
  const src = cudnn ? convertCudnnWeights(layer.className as 'LSTM' | 'GRU', ws) : ws;
  if (src.length !== layer.weights.length) {
    const at = ws[0]?.path ?? `layer '${layer.name}'`;
    throw new Error(
      `${where}: ${at}: layer '${layer.name}' (${layer.className}) has ${layer.weights.length} weights ` +
        `(${layer.weights.map((w) => `${w.name} ${shapeToString(w.shape)}`).join(', ') || 'none'}) but the file holds ${src.length}` +
        (src.length ? ` (${src.map((w) => `${w.path} ${shapeToString(w.shape)}`).join(', ')})` : ''),
    );
  }
  src.forEach((fw, i) => {
    const w = layer.weights[i];
    if (fw.shape.length !== w.shape.length || fw.shape.some((d, j) => d !== w.shape[j]))
      throw new Error(
        `${where}: ${ws[i].path}: weight '${w.name}' of layer '${layer.name}' (${layer.className}) should have shape ` +
          `${shapeToString(w.shape)} but the file has ${shapeToString(ws[i].shape)}`,
      );
    for (let j = 0; j < fw.values.length; j++) {
      const v = fw.values[j];
      if (v - v !== 0)
        throw new Error(
          `${where}: ${ws[i].path}: holds ${v} at index ${j}; recur refuses non-finite weights`,
        );
    }
    w.value.set(fw.values);
  });
}
