/**
 * Tensors: a flat typed array plus a shape, row-major. Two kinds exist:
 *  - `Tensor` holds float32 values (activations, weights, targets);
 *  - `IndexTensor` holds int32 token indices. A recurrent or embedding layer fed an IndexTensor of shape [N, T]
 *    computes exactly what the one-hot tensor [N, T, D] would, by gathering kernel rows; no one-hot is ever built.
 */
import { InvalidInputError } from './errors.js';

export type Shape = readonly number[];

/** Nested JS arrays of numbers, as accepted by `tensor()`. */
export type NestedArray = number | readonly NestedArray[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeToString(shape: readonly (number | null)[]): string {
  return `[${shape.map((d) => (d === null ? 'null' : String(d))).join(', ')}]`;
}

function checkShape(shape: Shape, length: number, what: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`${what}: invalid shape ${shapeToString(shape)}`);
  }
  if (sizeOf(shape) !== length) {
    throw new Error(
      `${what}: shape ${shapeToString(shape)} needs ${sizeOf(shape)} values but the data has ${length}`,
    );
  }
}

/**
 * Whether `data` is a typed array of the given kind, also from another realm (a worker, an iframe). Plain arrays or
 * other typed arrays would only fail later, deep inside a layer (JavaScript callers have no type checker).
 */
function isTypedArray(data: unknown, kind: 'Float32Array' | 'Int32Array'): boolean {
  return Object.prototype.toString.call(data) === `[object ${kind}]`;
}

export class Tensor {
  readonly dtype = 'float32' as const;
  readonly shape: Shape;
  constructor(
    readonly data: Float32Array,
    shape: Shape,
  ) {
    if (!(data instanceof Float32Array) && !isTypedArray(data, 'Float32Array')) {
      throw new InvalidInputError(
        `Tensor: data must be a Float32Array, got ${describeData(data)} (tensor(values, shape) takes plain arrays)`,
      );
    }
    checkShape(shape, data.length, 'Tensor');
    this.shape = [...shape];
  }
  get size(): number {
    return this.data.length;
  }
  get rank(): number {
    return this.shape.length;
  }
  static zeros(shape: Shape): Tensor {
    return new Tensor(new Float32Array(sizeOf(shape)), shape);
  }
  reshape(shape: Shape): Tensor {
    return new Tensor(this.data, shape);
  }
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }
  /** Rows [start, end) along the first axis, sharing memory. */
  sliceRows(start: number, end: number): Tensor {
    const row = sizeOf(this.shape.slice(1));
    return new Tensor(this.data.subarray(start * row, end * row), [end - start, ...this.shape.slice(1)]);
  }
  /** Nested JS arrays, for display and tests. */
  toArray(): NestedArray {
    return nest(Array.from(this.data), this.shape);
  }
}

export class IndexTensor {
  readonly dtype = 'int32' as const;
  readonly shape: Shape;
  constructor(
    readonly data: Int32Array,
    shape: Shape,
  ) {
    if (!(data instanceof Int32Array) && !isTypedArray(data, 'Int32Array')) {
      throw new InvalidInputError(
        `IndexTensor: data must be an Int32Array, got ${describeData(data)} (indexTensor(ids, shape) takes plain arrays)`,
      );
    }
    checkShape(shape, data.length, 'IndexTensor');
    this.shape = [...shape];
  }
  get size(): number {
    return this.data.length;
  }
  get rank(): number {
    return this.shape.length;
  }
  sliceRows(start: number, end: number): IndexTensor {
    const row = sizeOf(this.shape.slice(1));
    return new IndexTensor(this.data.subarray(start * row, end * row), [end - start, ...this.shape.slice(1)]);
  }
  toArray(): NestedArray {
    return nest(Array.from(this.data), this.shape);
  }
}

function describeData(data: unknown): string {
  if (Array.isArray(data)) return 'an array';
  if (ArrayBuffer.isView(data)) return `a ${data.constructor.name}`;
  return data === null ? 'null' : typeof data;
}

/** Anything a model accepts as input or target. */
export type AnyTensor = Tensor | IndexTensor;

function nest(flat: number[], shape: Shape): NestedArray {
  if (shape.length === 0) return flat[0];
  if (shape.length === 1) return flat;
  const step = sizeOf(shape.slice(1));
  const out: NestedArray[] = [];
  for (let i = 0; i < shape[0]; i++) out.push(nest(flat.slice(i * step, (i + 1) * step), shape.slice(1)));
  return out;
}

function flatten(values: NestedArray, out: number[], shape: number[], depth: number): void {
  if (typeof values === 'number') {
    if (depth !== shape.length) throw new Error('tensor(): ragged nested array');
    out.push(values);
    return;
  }
  if (depth === shape.length) shape.push(values.length);
  else if (shape[depth] !== values.length) throw new Error('tensor(): ragged nested array');
  for (const v of values) flatten(v, out, shape, depth + 1);
}

function inferShape(values: NestedArray): { flat: number[]; shape: number[] } {
  const flat: number[] = [];
  const shape: number[] = [];
  flatten(values, flat, shape, 0);
  return { flat, shape };
}

/** A float tensor from nested arrays or a flat array plus a shape. */
export function tensor(values: NestedArray | Float32Array | readonly number[], shape?: Shape): Tensor {
  if (values instanceof Float32Array) return new Tensor(values, shape ?? [values.length]);
  const inferred = inferShape(values as NestedArray);
  return new Tensor(Float32Array.from(inferred.flat), shape ?? inferred.shape);
}

/** An index tensor (token ids) from nested arrays or a flat array plus a shape. */
export function indexTensor(
  values: NestedArray | Int32Array | readonly number[],
  shape?: Shape,
): IndexTensor {
  if (values instanceof Int32Array) return new IndexTensor(values, shape ?? [values.length]);
  const inferred = inferShape(values as NestedArray);
  for (const v of inferred.flat) {
    if (!Number.isInteger(v) || v < 0) throw new Error(`indexTensor(): ${v} is not a non-negative integer`);
  }
  return new IndexTensor(Int32Array.from(inferred.flat), shape ?? inferred.shape);
}

/** Throws if any value is NaN or ±Infinity, naming what was checked and where, then `why` that is refused. */
export function assertFinite(t: Tensor, what: string, why = 'inputs and targets must be finite'): void {
  const d = t.data;
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i])) {
      const idx: number[] = [];
      let r = i;
      for (let k = t.shape.length - 1; k >= 0; k--) {
        idx.unshift(r % t.shape[k]);
        r = Math.floor(r / t.shape[k]);
      }
      throw new Error(`${what} contains ${d[i]} at index [${idx.join(', ')}]; ${why}`);
    }
  }
}

/** Gathers rows of a tensor along the first axis (used for shuffling batches). */
export function gatherRows<T extends AnyTensor>(t: T, rows: ArrayLike<number>): T {
  const row = sizeOf(t.shape.slice(1));
  const shape = [rows.length, ...t.shape.slice(1)];
  if (t instanceof Tensor) {
    const out = new Float32Array(rows.length * row);
    for (let i = 0; i < rows.length; i++)
      out.set(t.data.subarray(rows[i] * row, (rows[i] + 1) * row), i * row);
    return new Tensor(out, shape) as T;
  }
  const out = new Int32Array(rows.length * row);
  for (let i = 0; i < rows.length; i++) out.set(t.data.subarray(rows[i] * row, (rows[i] + 1) * row), i * row);
  return new IndexTensor(out, shape) as T;
}

/**
 * `v` as a tensor argument of `what` (fit's inputs, a target…): a Tensor or an IndexTensor, else an InvalidInputError
 * saying how to make one (a plain array of numbers would fail deep inside training).
 */
export function checkTensorArg(v: unknown, what: string): AnyTensor {
  if (v instanceof Tensor || v instanceof IndexTensor) return v;
  const got = Array.isArray(v) ? 'a plain array' : v === null ? 'null' : typeof v;
  throw new InvalidInputError(
    `${what} must be a Tensor (values: new Tensor(data, shape)) or an IndexTensor (token ids: indexTensor(ids, shape)), got ${got}`,
  );
}
