/**
 * Builds a worker's replica of a model from its ReplicaDescription (src/models/pool_model.ts): the same layers, with
 * the same names, salts and weight order, built from the Keras config the model's own serialization writes. The
 * replica's weights are left at zero here (not drawn); the pool then points them at the main model's.
 */
import {
  FUNCTIONAL_CLASS_NAMES,
  functionalFromConfig,
  type FunctionalConfig,
} from './functional_serialization.js';
import type { PoolModel, ReplicaDescription } from './pool_model.js';
import { layerFromKeras, type KerasLayerJson } from './serialization.js';
import { Sequential } from './sequential.js';
import type { LayerShape } from '../layers/layer.js';

const where = 'replica';

/** Builds and compiles the replica; refuses a description whose weights come out different from the model's. */
export function replicaFromDescription(d: ReplicaDescription): PoolModel {
  const { losses, metrics, fromLogits, labelSmoothing } = d.compile;
  let model: PoolModel;
  if (d.className === 'Sequential') {
    const seq = new Sequential({ seed: 0, weightsFollow: true });
    for (const lj of d.config.layers as KerasLayerJson[]) seq.add(layerFromKeras(lj, where));
    seq.build(d.config.inputShape as LayerShape);
    seq.compile({ optimizer: 'sgd', loss: losses[0], metrics, fromLogits });
    model = seq;
  } else if ((FUNCTIONAL_CLASS_NAMES as readonly string[]).includes(d.className)) {
    const fn = functionalFromConfig(d.config as unknown as FunctionalConfig, where, 0, true);
    fn.compile({ optimizer: 'sgd', loss: losses, metrics, fromLogits, labelSmoothing });
    model = fn;
  } else {
    throw new Error(`${where}: cannot build a replica of a ${d.className} model`);
  }
  const names = model.namedWeights().map((w) => w.name);
  if (names.length !== d.weightNames.length || names.some((n, i) => n !== d.weightNames[i]))
    throw new Error(
      `${where}: the replica of model '${model.name}' has weights [${names.join(', ')}], the model [${d.weightNames.join(', ')}]`,
    );
  return model;
}
