/** Activation names as users write them (camelCase or Keras snake_case) and as model files store them. */
import { Act } from '../core/kernels.js';

export type ActivationName = 'linear' | 'relu' | 'tanh' | 'sigmoid' | 'hardSigmoid' | 'softmax';
export type ActivationIdentifier = ActivationName | 'hard_sigmoid' | null;

const CODES: Record<ActivationName, Act> = {
  linear: Act.Linear,
  relu: Act.Relu,
  tanh: Act.Tanh,
  sigmoid: Act.Sigmoid,
  hardSigmoid: Act.HardSigmoid,
  softmax: Act.Softmax,
};

/** Normalises a user or file spelling to the canonical camelCase name; throws on unknown names. */
export function activationName(id: unknown, where: string): ActivationName {
  if (id === undefined || id === null) return 'linear';
  if (id === 'hard_sigmoid') return 'hardSigmoid';
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
  return name === 'hardSigmoid' ? 'hard_sigmoid' : name;
}
