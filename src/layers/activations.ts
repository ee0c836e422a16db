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

/** Normalises a user or file spelling to the canonical camelCase name; throws on unknown names. */
export function activationName(id: unknown, where: string): ActivationName {
  if (id === undefined || id === null) return 'linear';
  if (id === 'hard_sigmoid') return 'hardSigmoid';
  if (id === 'hard_sigmoid_keras3') return 'hardSigmoidKeras3';
  if (typeof id === 'string' && id in CODES) return id as ActivationName;
  throw new Error(
    `${where}: unknown activation ${JSON.stringify(id)}; expected one of ${Object.keys(CODES).join(', ')}`,
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
