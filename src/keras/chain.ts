/**
 * A functional model that is a plain chain — one input, one output, each layer applied once to the previous layer's
 * only output (Keras 2's `Model(inputs, outputs)` around a Sequential-style stack, as the Coursera "Writing like
 * Shakespeare" model and many tf.keras scripts write it) — as a Sequential model over the same layer objects, so
 * what takes a Sequential model (text generation, the text recipes' training) takes it too. Anything with a branch,
 * a merge, several inputs or outputs, or returned states is not a chain: null.
 */
import type { Layer } from '../layers/layer.js';
import { RNN } from '../layers/recurrent.js';
import { Functional } from '../models/functional.js';
import { Sequential } from '../models/sequential.js';

/** The Sequential model a chain-shaped functional model is, sharing its layers (and weights); null if not a chain. */
export function chainAsSequential(model: Functional): Sequential | null {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return null;
  if (!model.isBuilt) model.build();
  const layers: Layer[] = [];
  let t = model.outputs[0];
  while (t.node !== model.inputs[0].node) {
    const node = t.node;
    if (node.inputs.length !== 1 || node.outputs.length !== 1 || t.outputIndex !== 0) return null;
    if (node.layer instanceof RNN && node.layer.returnState) return null;
    layers.unshift(node.layer);
    t = node.inputs[0];
  }
  // Every node of the model lies on the chain (no side branch feeding nothing, no second path).
  if (layers.length === 0 || model.nodes.length !== layers.length + 1) return null;
  // The chain keeps its input's name (Keras's `input_3`), so inputs passed by name still find it.
  const seq = new Sequential({
    name: model.name,
    seed: model.seed,
    inputName: model.inputs[0].node.layer.name,
  });
  for (const l of layers) seq.add(l);
  seq.build();
  return seq;
}
