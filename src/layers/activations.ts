/**
 * Activation names as users write them (camelCase or Keras snake_case) and as model files store them.
 *
 * Two hard sigmoids: `hardSigmoid` is Keras 1/2's and tfjs's, clip(0.2x + 0.5, 0, 1); `hardSigmoidKeras3` is Keras
 * 3's, clip(x/6 + 0.5, 0, 1). Keras files spell both 'hard_sigmoid'; src/keras picks one from the file's version.
 *
 * Two gelus: `gelu` is the exact x·Φ(x) (Keras's gelu, whose files can name no other, and tfjs's gelu); `gelu_new`
 * is the tanh approximation (Keras's gelu(approximate=True), which only tfjs files can name, as 'gelu_new').
 * Aliases keep the name they were given, so a file reads back as it was written: swish/silu, hard_silu/hard_swish.
 */
import { copyOf, kernels } from '../core/backend.js';
import { InvalidInputError } from '../core/errors.js';
import { Act, derivativeNeedsInput } from '../core/kernels.js';

export type ActivationName =
  | 'linear'
  | 'relu'
  | 'tanh'
  | 'sigmoid'
  | 'hardSigmoid'
  | 'hardSigmoidKeras3'
  | 'softmax'
  | 'elu'
  | 'selu'
  | 'softplus'
  | 'softsign'
  | 'relu6'
  | 'exponential'
  | 'leakyRelu'
  | 'logSoftmax'
  | 'gelu'
  | 'geluNew'
  | 'swish'
  | 'silu'
  | 'mish'
  | 'hardSilu'
  | 'hardSwish'
  | 'celu'
  | 'hardTanh'
  | 'sparseSigmoid'
  | 'softShrink'
  | 'hardShrink'
  | 'logSigmoid'
  | 'tanhShrink'
  | 'sparsePlus'
  | 'squareplus';

/**
 * Each activation's kernel code, its spelling in Keras (and tfjs) files, and whether TensorFlow.js 4.x cannot read
 * it from a file (`tfjs: false`): it has no silu (only swish), exponential, leaky_relu, hard_silu or Keras 3.6's, and
 * it reads a file's snake_case as camelCase (log_softmax as its logSoftmax), so its own gelu_new becomes geluNew,
 * which it does not know. (Keras 3's hard sigmoid has a note of its own.)
 */
const ACTIVATIONS: Record<ActivationName, { code: Act; keras: string; tfjs?: false }> = {
  linear: { code: Act.Linear, keras: 'linear' },
  relu: { code: Act.Relu, keras: 'relu' },
  tanh: { code: Act.Tanh, keras: 'tanh' },
  sigmoid: { code: Act.Sigmoid, keras: 'sigmoid' },
  hardSigmoid: { code: Act.HardSigmoid, keras: 'hard_sigmoid' },
  hardSigmoidKeras3: { code: Act.HardSigmoid6, keras: 'hard_sigmoid_keras3' },
  softmax: { code: Act.Softmax, keras: 'softmax' },
  elu: { code: Act.Elu, keras: 'elu' },
  selu: { code: Act.Selu, keras: 'selu' },
  softplus: { code: Act.Softplus, keras: 'softplus' },
  softsign: { code: Act.Softsign, keras: 'softsign' },
  relu6: { code: Act.Relu6, keras: 'relu6' },
  exponential: { code: Act.Exponential, keras: 'exponential', tfjs: false },
  leakyRelu: { code: Act.LeakyRelu, keras: 'leaky_relu', tfjs: false },
  logSoftmax: { code: Act.LogSoftmax, keras: 'log_softmax' },
  gelu: { code: Act.Gelu, keras: 'gelu' },
  geluNew: { code: Act.GeluTanh, keras: 'gelu_new', tfjs: false },
  swish: { code: Act.Swish, keras: 'swish' },
  silu: { code: Act.Swish, keras: 'silu', tfjs: false },
  mish: { code: Act.Mish, keras: 'mish' },
  hardSilu: { code: Act.HardSilu, keras: 'hard_silu', tfjs: false },
  hardSwish: { code: Act.HardSilu, keras: 'hard_swish', tfjs: false },
  // celu's string form has alpha 1, where it is elu.
  celu: { code: Act.Elu, keras: 'celu', tfjs: false },
  hardTanh: { code: Act.HardTanh, keras: 'hard_tanh', tfjs: false },
  sparseSigmoid: { code: Act.SparseSigmoid, keras: 'sparse_sigmoid', tfjs: false },
  softShrink: { code: Act.SoftShrink, keras: 'soft_shrink', tfjs: false },
  hardShrink: { code: Act.HardShrink, keras: 'hard_shrink', tfjs: false },
  logSigmoid: { code: Act.LogSigmoid, keras: 'log_sigmoid', tfjs: false },
  tanhShrink: { code: Act.TanhShrink, keras: 'tanh_shrink', tfjs: false },
  sparsePlus: { code: Act.SparsePlus, keras: 'sparse_plus', tfjs: false },
  squareplus: { code: Act.Squareplus, keras: 'squareplus', tfjs: false },
};

export type ActivationIdentifier =
  | ActivationName
  | 'hard_sigmoid'
  | 'hard_sigmoid_keras3'
  | 'leaky_relu'
  | 'log_softmax'
  | 'gelu_new'
  | 'hard_silu'
  | 'hard_swish'
  | 'hard_tanh'
  | 'sparse_sigmoid'
  | 'soft_shrink'
  | 'hard_shrink'
  | 'log_sigmoid'
  | 'tanh_shrink'
  | 'sparse_plus'
  | null;

/** File spelling → name (the camelCase names are accepted as themselves). */
const BY_KERAS_NAME = new Map(
  (Object.entries(ACTIVATIONS) as [ActivationName, { keras: string }][]).map(([name, a]) => [a.keras, name]),
);

/** The names users type, as Keras spells them (camelCase `hardSigmoid`, tfjs's spelling, is accepted too). */
export const KERAS_ACTIVATIONS = [
  'linear',
  'relu',
  'tanh',
  'sigmoid',
  'hard_sigmoid',
  'softmax',
  'elu',
  'selu',
  'softplus',
  'softsign',
  'relu6',
  'exponential',
  'leaky_relu',
  'log_softmax',
  'gelu',
  'gelu_new',
  'swish',
  'silu',
  'mish',
  'hard_silu',
  'hard_swish',
  'celu',
  'hard_tanh',
  'sparse_sigmoid',
  'soft_shrink',
  'hard_shrink',
  'log_sigmoid',
  'tanh_shrink',
  'sparse_plus',
  'squareplus',
] as const;

/** The file spellings of the activations TensorFlow.js 4.x cannot read. */
export const ACTIVATIONS_TFJS_CANNOT_READ: ReadonlySet<string> = new Set(
  Object.values(ACTIVATIONS)
    .filter((a) => a.tfjs === false)
    .map((a) => a.keras),
);

/** Every spelling a model file may hold: the names and their file spellings. */
export const ACTIVATION_SPELLINGS = [
  ...new Set([...(Object.keys(ACTIVATIONS) as ActivationName[]), ...BY_KERAS_NAME.keys()]),
] as [string, ...string[]];

/**
 * Keras 3 activations recur does not compute, named as such instead of as unknown words: crelu and glu change the
 * output's width, sparsemax needs a sort per row, threshold takes arguments its string form cannot give.
 */
const UNSUPPORTED_KERAS_ACTIVATIONS = new Set(['crelu', 'glu', 'sparsemax', 'threshold']);

/**
 * Normalises a user or file spelling to the canonical camelCase name; an unknown name is an InvalidInputError (bad
 * input, as a bad dtype is: the CLI's exit 2) naming the layer and option. The error lists the Keras names (not the
 * internal ones: `hardSigmoidKeras3` comes only from a Keras 3 file, by its version).
 */
export function activationName(id: unknown, where: string, option = 'activation'): ActivationName {
  if (id === undefined || id === null) return 'linear';
  if (typeof id === 'string' && Object.hasOwn(ACTIVATIONS, id)) return id as ActivationName;
  const known = typeof id === 'string' ? BY_KERAS_NAME.get(id) : undefined;
  if (known !== undefined) return known;
  const supported = `one of ${KERAS_ACTIVATIONS.map((a) => `'${a}'`).join(', ')} (or null: linear)`;
  throw new InvalidInputError(
    typeof id === 'string' && UNSUPPORTED_KERAS_ACTIVATIONS.has(id)
      ? `${where}: ${option} '${id}' is a Keras activation recur does not implement; it has ${supported}`
      : `${where}: unknown ${option} ${JSON.stringify(id)}; expected ${supported}`,
  );
}

/**
 * An activation a recurrent cell can apply: elementwise, with a derivative its output gives (the cells keep only
 * activated gates, not their inputs) — all but softmax, log_softmax, gelu, gelu_new, swish/silu, mish, hard_silu,
 * tanh_shrink.
 */
export function recurrentActivationName(id: unknown, where: string, option = 'activation'): ActivationName {
  const name = activationName(id, where, option);
  const code = ACTIVATIONS[name].code;
  if (code === Act.Softmax || code === Act.LogSoftmax)
    throw new InvalidInputError(
      `${where}: ${option} '${activationToKeras(name)}' is not elementwise, so no recurrent cell takes it`,
    );
  if (derivativeNeedsInput(code))
    throw new InvalidInputError(
      `${where}: ${option} '${activationToKeras(name)}' is not supported in recurrent layers (recur's cells take ` +
        'activations whose derivative follows from their output); use it in a Dense or Activation layer',
    );
  return name;
}

export function activationCode(name: ActivationName): Act {
  return ACTIVATIONS[name].code;
}

/** Keras file spelling. */
export function activationToKeras(name: ActivationName): string {
  return ACTIVATIONS[name].keras;
}

/**
 * Applies the activation in place to a rows × width block for a pass that will be differentiated. Returns what
 * activationBackward needs besides the output: the pre-activations when the derivative needs them, else null.
 */
export function activateForBackward(
  name: ActivationName,
  out: Float32Array,
  rows: number,
  width: number,
): Float32Array | null {
  const code = activationCode(name);
  const pre = derivativeNeedsInput(code) ? copyOf(out) : null;
  kernels().activate(code, out, 0, rows, width, width);
  return pre;
}

/** dz ← dz ⊙ f′ on a rows × width block, from the output y or, when activateForBackward kept them, the pre-activations. */
export function activationBackward(
  name: ActivationName,
  y: Float32Array,
  pre: Float32Array | null,
  dz: Float32Array,
  rows: number,
  width: number,
): void {
  const code = activationCode(name);
  if (pre) kernels().activateBackwardFromInput(code, pre, 0, dz, 0, rows, width, width);
  else kernels().activateBackward(code, y, 0, dz, 0, rows, width, width);
}
