/**
 * Predictions as JSON, for any model (the scriptable entry point `recur predict`): inputs are `{"input_name": nested
 * arrays}` or, for a single-input model, one nested array; outputs are `{"output_name": nested arrays}`. An input
 * that feeds token ids (an Embedding, or an int32 model input) is read as integers; every other as floats.
 */
import { InvalidInputError } from '../core/errors.js';
import { IndexTensor, Tensor, assertFinite, type AnyTensor, type NestedArray } from '../core/tensor.js';
import { Embedding } from '../layers/embedding.js';
import { statefulBatch } from '../models/fit_loop.js';
import { Functional } from '../models/functional.js';
import { defaultInputName, type Sequential } from '../models/sequential.js';

type Model = Sequential | Functional;

export interface ModelInputInfo {
  name: string;
  /** Shape with the batch axis (null where any size is taken). */
  shape: (number | null)[];
  tokens: boolean;
  /** Token ids must be below this: the vocabulary of the Embedding the input feeds (the smallest, if several). */
  tokenLimit?: number;
  /**
   * Other names the input is known by: a Sequential model's Keras 2 / tfjs input name, `<first layer>_input`, and the
   * name its file gave it (a Keras 3 InputLayer's, Sequential.inputName).
   */
  aliases?: string[];
  /**
   * A stateful model's batch size where `shape` takes any: shown as the batch the model takes. Not checked here: the
   * model runs any multiple of it, batch by batch, and refuses other row counts with its own message.
   */
  statefulBatchSize?: number;
}

/** The inputs a model takes: names, shapes and whether they are token ids. */
export function modelInputs(model: Model): ModelInputInfo[] {
  // A batch size declared on a stateful layer itself, or (Sequential) on the first layer, as the model reads it.
  const first = model.layers[0];
  const stateful = statefulBatch(
    model.layers,
    model instanceof Functional ? null : (first?.declaredBatchSize ?? null),
  );
  const batch = stateful ? { statefulBatchSize: stateful.batchSize } : {};
  if (model instanceof Functional)
    return model.inputs.map((x) => {
      const fed = model.nodes
        .filter((n) => n.layer instanceof Embedding && n.inputs.includes(x))
        .map((n) => (n.layer as Embedding).inputDim);
      return {
        name: x.node.layer.name,
        shape: [...x.shape],
        tokens: x.dtype === 'int32',
        ...(fed.length > 0 ? { tokenLimit: Math.min(...fed) } : {}),
        ...(x.shape[0] === null ? batch : {}),
      };
    });
  const shape = model.inputShape() ?? [];
  return [
    {
      name: first.name,
      shape: [null, ...shape],
      tokens: first.className === 'Embedding',
      ...(first instanceof Embedding ? { tokenLimit: first.inputDim } : {}),
      aliases: [...new Set([model.inputName ?? defaultInputName(model), defaultInputName(model)])],
      ...batch,
    },
  ];
}

function shapeOf(v: unknown, where: string): number[] {
  const shape: number[] = [];
  let x = v;
  while (Array.isArray(x)) {
    shape.push(x.length);
    if (x.length === 0) break;
    x = x[0];
  }
  const flat: unknown[] = [];
  const walk = (a: unknown, depth: number): void => {
    if (depth === shape.length) {
      flat.push(a);
      return;
    }
    if (!Array.isArray(a) || a.length !== shape[depth])
      throw new InvalidInputError(
        `${where}: ragged array: expected ${shape[depth]} entries at depth ${depth}`,
      );
    a.forEach((b) => walk(b, depth + 1));
  };
  walk(v, 0);
  flat.forEach((n, i) => {
    // JSON has no Infinity: a number beyond a double's range (1e400) parses as one, which JSON.stringify calls null.
    if (typeof n === 'number' && Math.abs(n) === Infinity)
      throw new InvalidInputError(
        `${where}: value at index ${indexOf(shape, i)} is not finite: a number beyond ±${Number.MAX_VALUE} (a double's range) reads as ${n}; expected a finite number`,
      );
    if (typeof n !== 'number' || !Number.isFinite(n))
      throw new InvalidInputError(
        `${where}: value ${JSON.stringify(n)} at index ${indexOf(shape, i)}; expected a finite number`,
      );
  });
  return shape;
}

/** The largest finite float32. */
const FLOAT32_MAX = 3.4028234663852886e38;

/** `[1, 0, 2]` for a flat index into `shape`. */
function indexOf(shape: readonly number[], flat: number): string {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(flat % Math.max(1, shape[d]));
    flat = Math.floor(flat / Math.max(1, shape[d]));
  }
  return `[${idx.join(', ')}]`;
}

function flatNumbers(v: unknown): number[] {
  return Array.isArray(v) ? v.flatMap(flatNumbers) : [v as number];
}

/** One input from JSON, checked against what the model takes. */
function toTensor(v: unknown, info: ModelInputInfo, where: string): AnyTensor {
  const field = `${where}: input '${info.name}'`;
  if (!Array.isArray(v)) throw new InvalidInputError(`${field}: expected a nested array of numbers`);
  const shape = shapeOf(v, field);
  const want = info.shape;
  if (shape.length !== want.length || want.some((d, i) => d !== null && d !== shape[i]))
    throw new InvalidInputError(
      `${field}: has shape [${shape.join(', ')}]; the model takes [${want.map((d, k) => d ?? (k === 0 ? (info.statefulBatchSize ?? 'any') : 'any')).join(', ')}] (batch first${info.statefulBatchSize !== undefined ? `; the model is stateful: a multiple of ${info.statefulBatchSize} rows, run ${info.statefulBatchSize} at a time` : ''})`,
    );
  // A sequence input (batch, steps, …) needs a step: the recurrent layers cannot run on none.
  if (shape.length >= 2 && want.length >= 2 && want[1] === null && shape[1] === 0)
    throw new InvalidInputError(`${field}: its sequences have no steps; give at least one`);
  const flat = flatNumbers(v);
  if (!info.tokens) {
    // Finite in JSON but ±Infinity as float32 (what recur computes in): refused here, naming the value and where.
    const big = flat.findIndex((n) => !Number.isFinite(Math.fround(n)));
    if (big >= 0)
      throw new InvalidInputError(
        `${field}: value ${flat[big]} at index ${indexOf(shape, big)} is outside float32's range (±${FLOAT32_MAX.toPrecision(8)}); recur computes in float32`,
      );
  }
  if (info.tokens) {
    // Above int32 an id would wrap around in the Int32Array; at or above the vocabulary it indexes no embedding row.
    const limit = info.tokenLimit ?? 2 ** 31;
    const bad = flat.findIndex((n) => !Number.isInteger(n) || n < 0 || n >= limit);
    if (bad >= 0)
      throw new InvalidInputError(
        `${field}: value ${flat[bad]} at index ${indexOf(shape, bad)}; expected a token id (an integer ≥ 0${info.tokenLimit !== undefined ? `, below the model's vocabulary of ${info.tokenLimit}` : ''})`,
      );
    return new IndexTensor(Int32Array.from(flat), shape);
  }
  return new Tensor(Float32Array.from(flat), shape);
}

/** The model's inputs from parsed JSON; `where` names the source (stdin) in errors. */
export function inputsFromJson(model: Model, json: unknown, where: string): AnyTensor[] {
  const infos = modelInputs(model);
  if (Array.isArray(json)) {
    if (infos.length !== 1)
      throw new InvalidInputError(
        `${where}: the model takes ${infos.length} inputs (${infos.map((i) => i.name).join(', ')}); give {"name": array, …}`,
      );
    return [toTensor(json, infos[0], where)];
  }
  if (json === null || typeof json !== 'object')
    throw new InvalidInputError(`${where}: expected {"input_name": nested arrays} or one nested array`);
  const o = json as Record<string, unknown>;
  const names = (i: ModelInputInfo): string[] => [i.name, ...(i.aliases ?? [])];
  const named = (i: ModelInputInfo): string =>
    i.aliases?.length ? `${i.name} (or ${i.aliases.join(' or ')})` : i.name;
  const unknown = Object.keys(o).filter((k) => !infos.some((i) => names(i).includes(k)));
  if (unknown.length > 0)
    throw new InvalidInputError(
      `${where}: '${unknown[0]}' is not an input of the model (its inputs: ${infos.map(named).join(', ')})`,
    );
  return infos.map((info) => {
    const given = names(info).filter((k) => k in o);
    if (given.length === 0) throw new InvalidInputError(`${where}: input '${info.name}' is missing`);
    if (given.length > 1)
      throw new InvalidInputError(
        `${where}: input '${info.name}' is given twice (as ${given.join(' and ')})`,
      );
    return toTensor(o[given[0]], info, where);
  });
}

/** Output names: the producing layer's (Keras's naming). */
export function outputNames(model: Model): string[] {
  return model instanceof Functional ? model.outputNames : [model.layers[model.layers.length - 1].name];
}

/** Predictions for JSON inputs, as `{output_name: nested arrays}`. Non-finite outputs are an error. */
export function predictJson(model: Model, json: unknown, where: string): Record<string, NestedArray> {
  const xs = inputsFromJson(model, json, where);
  const rows = xs[0].shape[0];
  if (xs.some((x) => x.shape[0] !== rows))
    throw new InvalidInputError(
      `${where}: the inputs have different batch sizes (${xs.map((x) => x.shape[0]).join(', ')})`,
    );
  let ys: Tensor[];
  if (model instanceof Functional) {
    const r = model.predict(xs);
    ys = Array.isArray(r) ? r : [r];
  } else ys = [model.predict(xs[0])];
  const names = outputNames(model);
  const out: Record<string, NestedArray> = {};
  ys.forEach((y, i) => {
    assertFinite(
      y,
      `output '${names[i]}'`,
      'the model overflowed float32 on these inputs (try smaller values); recur prints no non-finite outputs',
    );
    out[names[i]] = y.toArray();
  });
  return out;
}
