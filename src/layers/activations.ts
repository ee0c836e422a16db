/**
 * Activation names as users write them (camelCase or Keras snake_case) and as model files store them.
 *
 * Two hard sigmoids: `hardSigmoid` is Keras 1/2's and tfjs's, clip(0.2x + 0.5, 0, 1); `hardSigmoidKeras3` is Keras
 * 3's, clip(x/6 + 0.5, 0, 1). Keras files spell both 'hard_sigmoid'; src/keras picks one from the file's version.
 */
import { Act } from '../core/kernels.js';

export type ActivationName =
  'linear' | 'relu' | 'tanh' | 'sigmoid' | 'hardSigmoid' | 'hardSigmoidKeras3' | 'softmax';
export type ActivationIdentifier = ActivationName | 'hard_sigmoid' | 'hard_sigmoid_keras3' | null;

const CODES: Record<ActivationName, Act> = {
  linear: Act.Linear,
  relu: Act.Relu,
  tanh: Act.Tanh,
  sigmoid: Act.Sigmoid,
  hardSigmoid: Act.HardSigmoid,
  hardSigmoidKeras3: Act.HardSigmoid6,
  softmax: Act.Softmax,
};

/** The names users type, as Keras spells them (camelCase `hardSigmoid`, tfjs's spelling, is accepted too). */
export const KERAS_ACTIVATIONS = ['linear', 'relu', 'tanh', 'sigmoid', 'hard_sigmoid', 'softmax'] as const;

/** Keras activations recur does not compute, named as such instead of as unknown words. */
const UNSUPPORTED_KERAS_ACTIVATIONS = new Set([
  'elu',
  'selu',
  'gelu',
  'swish',
  'silu',
  'mish',
  'softplus',
  'softsign',
  'relu6',
  'leaky_relu',
  'exponential',
  'log_softmax',
  'hard_silu',
  'hard_swish',
]);

/**
 * Normalises a user or file spelling to the canonical camelCase name; throws on unknown names. The error lists the
 * Keras names (not the internal ones: `hardSigmoidKeras3` comes only from a Keras 3 file, by its version).
 */
export function activationName(id: unknown, where: string, option = 'activation'): ActivationName {
  if (id === undefined || id === null) return 'linear';
  if (id === 'hard_sigmoid') return 'hardSigmoid';
  if (id === 'hard_sigmoid_keras3') return 'hardSigmoidKeras3';
  if (typeof id === 'string' && id in CODES) return id as ActivationName;
  const supported = `one of ${KERAS_ACTIVATIONS.map((a) => `'${a}'`).join(', ')} (or null: linear)`;
  throw new Error(
    typeof id === 'string' && UNSUPPORTED_KERAS_ACTIVATIONS.has(id)
      ? `${where}: ${option} '${id}' is a Keras activation recur does not implement; it has ${supported}`
      : `${where}: unknown ${option} ${JSON.stringify(id)}; expected ${supported}`,
  );
}

export function activationCode(name: ActivationName): Act {
  return CODES[name];
}

/** Keras file spelling. */
export function activationToKeras(name: ActivationName): string {
  return name === 'hardSigmoid'
    ? 'hard_sigmoid'
    : name === 'hardSigmoidKeras3'
      ? 'hard_sigmoid_keras3'
      : name;
}
