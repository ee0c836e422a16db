/**
 * Weight initialisers with Keras's definitions and names. fan_in/fan_out of a 2-D [rows, cols] kernel are rows and
 * cols; of a 1-D bias, its length.
 */
import { InvalidInputError, describeValue } from '../core/errors.js';
import { Random } from '../core/random.js';
import type { Shape } from '../core/tensor.js';
import { sizeOf } from '../core/tensor.js';

export type InitializerName =
  | 'zeros'
  | 'ones'
  | 'glorotUniform'
  | 'glorotNormal'
  | 'heUniform'
  | 'heNormal'
  | 'lecunUniform'
  | 'lecunNormal'
  | 'orthogonal'
  | 'randomUniform'
  | 'randomNormal';

/** A Keras-serialised initialiser: `{className: 'RandomUniform', config: {minval: -0.05, maxval: 0.05}}`. */
export interface InitializerSpec {
  className: string;
  config: Record<string, unknown>;
}

/** Keras's spellings of the same initialisers (keras.initializers.get), accepted as well. */
export type KerasInitializerName =
  | 'glorot_uniform'
  | 'glorot_normal'
  | 'he_uniform'
  | 'he_normal'
  | 'lecun_uniform'
  | 'lecun_normal'
  | 'random_uniform'
  | 'random_normal'
  | 'uniform'
  | 'normal';

export type InitializerIdentifier = InitializerName | KerasInitializerName | InitializerSpec;

const NAME_TO_CLASS: Record<InitializerName, string> = {
  zeros: 'Zeros',
  ones: 'Ones',
  glorotUniform: 'GlorotUniform',
  glorotNormal: 'GlorotNormal',
  heUniform: 'HeUniform',
  heNormal: 'HeNormal',
  lecunUniform: 'LeCunUniform',
  lecunNormal: 'LeCunNormal',
  orthogonal: 'Orthogonal',
  randomUniform: 'RandomUniform',
  randomNormal: 'RandomNormal',
};

const KNOWN_CLASSES = new Set([
  ...Object.values(NAME_TO_CLASS),
  'Constant',
  'VarianceScaling',
  'TruncatedNormal',
  'Identity',
  'LecunUniform',
  'LecunNormal',
]);

/** Keras's own string identifiers that are not a camelCase name spelled in snake_case (keras.initializers.get). */
const KERAS_ALIASES: Readonly<Record<string, InitializerName>> = {
  uniform: 'randomUniform',
  normal: 'randomNormal',
};

/**
 * The class of a string identifier as tfjs (camelCase, or the class name) or Keras (snake_case: 'glorot_uniform',
 * 'he_normal', 'uniform') spell it; undefined for an unknown one.
 */
function initializerClassOf(name: string): string | undefined {
  if (name in NAME_TO_CLASS) return NAME_TO_CLASS[name as InitializerName];
  if (name in KERAS_ALIASES) return NAME_TO_CLASS[KERAS_ALIASES[name]];
  const camel = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  if (name.includes('_') && camel in NAME_TO_CLASS) return NAME_TO_CLASS[camel as InitializerName];
  return KNOWN_CLASSES.has(name) ? name : undefined;
}

/**
 * Canonical spec for any identifier; throws on unknown names so typos never silently initialise wrongly. `where`
 * (the layer and option, e.g. "dense 'out': 'kernelInitializer'") starts the error.
 */
export function initializerSpec(
  id: InitializerIdentifier | undefined,
  fallback: InitializerName,
  where = 'initializer',
): InitializerSpec {
  const v = id ?? fallback;
  if (typeof v === 'string') {
    const cls = initializerClassOf(v);
    if (cls === undefined) {
      throw new InvalidInputError(
        `${where}: unknown initializer '${v}'; expected one of ${Object.keys(NAME_TO_CLASS).join(', ')} ` +
          `(or Keras's snake_case spelling, e.g. 'glorot_uniform') or {className, config}`,
      );
    }
    return { className: cls, config: defaultConfig(cls) };
  }
  if (typeof v !== 'object' || typeof v.className !== 'string')
    throw new InvalidInputError(
      `${where}: expected an initializer name or {className, config}, got ${describeValue(v)}`,
    );
  if (!KNOWN_CLASSES.has(v.className))
    throw new InvalidInputError(`${where}: unknown initializer class '${v.className}'`);
  return { className: v.className, config: { ...defaultConfig(v.className), ...v.config } };
}

function defaultConfig(cls: string): Record<string, unknown> {
  switch (cls) {
    case 'Zeros':
    case 'Ones':
      return {};
    case 'Orthogonal':
      return { gain: 1, seed: null };
    case 'RandomUniform':
      return { minval: -0.05, maxval: 0.05, seed: null };
    case 'RandomNormal':
      return { mean: 0, stddev: 0.05, seed: null };
    case 'Constant':
      return { value: 0 };
    default:
      return { seed: null };
  }
}

function fans(shape: Shape): [number, number] {
  if (shape.length === 1) return [shape[0], shape[0]];
  if (shape.length === 2) return [shape[0], shape[1]];
  const receptive = sizeOf(shape.slice(0, -2));
  return [shape[shape.length - 2] * receptive, shape[shape.length - 1] * receptive];
}

function truncatedNormal(rng: Random, stddev: number): number {
  for (;;) {
    const v = rng.normal();
    if (v > -2 && v < 2) return v * stddev;
  }
}

function varianceScaling(
  shape: Shape,
  rng: Random,
  scale: number,
  mode: string,
  distribution: string,
): Float32Array {
  const [fanIn, fanOut] = fans(shape);
  const n = mode === 'fan_in' ? fanIn : mode === 'fan_out' ? fanOut : (fanIn + fanOut) / 2;
  const s = scale / Math.max(1, n);
  const out = new Float32Array(sizeOf(shape));
  if (distribution === 'uniform') {
    const limit = Math.sqrt(3 * s);
    for (let i = 0; i < out.length; i++) out[i] = rng.uniform(-limit, limit);
  } else if (distribution === 'untruncated_normal' || distribution === 'normal') {
    // tfjs writes 'normal' for an untruncated normal.
    const sd = Math.sqrt(s);
    for (let i = 0; i < out.length; i++) out[i] = rng.normal() * sd;
  } else {
    // Keras 'truncated_normal': the stddev of a N(0,1) truncated at ±2 is 0.87962566103423978.
    const sd = Math.sqrt(s) / 0.8796256610342398;
    for (let i = 0; i < out.length; i++) out[i] = truncatedNormal(rng, sd);
  }
  return out;
}

/** Keras's orthogonal: QR of a Gaussian matrix, signs fixed by diag(R), transposed when rows < cols. */
function orthogonal(shape: Shape, rng: Random, gain: number): Float32Array {
  const rows = sizeOf(shape.slice(0, -1));
  const cols = shape[shape.length - 1];
  const m = Math.max(rows, cols);
  const k = Math.min(rows, cols);
  // a: m×k Gaussian; Gram–Schmidt on its columns gives Q (m×k) with orthonormal columns.
  const a: Float64Array[] = [];
  for (let j = 0; j < k; j++) {
    const col = new Float64Array(m);
    for (let i = 0; i < m; i++) col[i] = rng.normal();
    a.push(col);
  }
  for (let j = 0; j < k; j++) {
    const v = a[j];
    for (let p = 0; p < j; p++) {
      let d = 0;
      for (let i = 0; i < m; i++) d += a[p][i] * v[i];
      for (let i = 0; i < m; i++) v[i] -= d * a[p][i];
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += v[i] * v[i];
    norm = Math.sqrt(norm);
    // Q's sign convention: diag(R) = norm > 0 already, so no flip is needed.
    for (let i = 0; i < m; i++) v[i] /= norm;
  }
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      // rows ≥ cols: out = Q (m×k = rows×cols); else out = Qᵀ (k×m = rows×cols).
      out[r * cols + c] = gain * (rows >= cols ? a[c][r] : a[r][c]);
    }
  }
  return out;
}

/**
 * The initialisation stream of a model whose every weight is set right after it is built (a model file being loaded,
 * a worker's replica): initialize() returns zeros without drawing or computing. Loading a G2P model otherwise spends
 * a few hundred ms on the orthogonal initialisation of weights it then overwrites.
 */
export class WeightsToFollow extends Random {}

export function initialize(spec: InitializerSpec, shape: Shape, rng: Random): Float32Array {
  if (rng instanceof WeightsToFollow) return new Float32Array(sizeOf(shape));
  const c = spec.config;
  const num = (key: string, dflt: number): number => (typeof c[key] === 'number' ? (c[key] as number) : dflt);
  const str = (key: string, dflt: string): string => (typeof c[key] === 'string' ? (c[key] as string) : dflt);
  const n = sizeOf(shape);
  switch (spec.className) {
    case 'Zeros':
      return new Float32Array(n);
    case 'Ones':
      return new Float32Array(n).fill(1);
    case 'Constant':
      return new Float32Array(n).fill(num('value', 0));
    case 'GlorotUniform':
      return varianceScaling(shape, rng, 1, 'fan_avg', 'uniform');
    case 'GlorotNormal':
      return varianceScaling(shape, rng, 1, 'fan_avg', 'truncated_normal');
    case 'HeUniform':
      return varianceScaling(shape, rng, 2, 'fan_in', 'uniform');
    case 'HeNormal':
      return varianceScaling(shape, rng, 2, 'fan_in', 'truncated_normal');
    case 'LeCunUniform':
    case 'LecunUniform':
      return varianceScaling(shape, rng, 1, 'fan_in', 'uniform');
    case 'LeCunNormal':
    case 'LecunNormal':
      return varianceScaling(shape, rng, 1, 'fan_in', 'truncated_normal');
    case 'VarianceScaling':
      return varianceScaling(
        shape,
        rng,
        num('scale', 1),
        str('mode', 'fan_in'),
        str('distribution', 'truncated_normal'),
      );
    case 'Orthogonal':
      return orthogonal(shape, rng, num('gain', 1));
    case 'Identity': {
      const out = new Float32Array(n);
      const cols = shape[shape.length - 1];
      for (let i = 0; i < Math.min(shape[0], cols); i++) out[i * cols + i] = num('gain', 1);
      return out;
    }
    case 'RandomUniform': {
      const out = new Float32Array(n);
      const lo = num('minval', -0.05);
      const hi = num('maxval', 0.05);
      for (let i = 0; i < n; i++) out[i] = rng.uniform(lo, hi);
      return out;
    }
    case 'RandomNormal':
    case 'TruncatedNormal': {
      const out = new Float32Array(n);
      const mean = num('mean', 0);
      const sd = num('stddev', 0.05);
      for (let i = 0; i < n; i++)
        out[i] = mean + (spec.className === 'TruncatedNormal' ? truncatedNormal(rng, sd) : rng.normal() * sd);
      return out;
    }
    default:
      throw new Error(`unknown initializer class '${spec.className}'`);
  }
}
