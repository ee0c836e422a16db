/**
 * What in a saved model TensorFlow.js cannot read, said as notes (the library returns them; a CLI prints them). Today
 * one thing: a GRU with reset_after=true (Keras's TF2 default), which tfjs 4.x refuses.
 */

/** Names of the GRU layers with reset_after=true anywhere in a Keras/tfjs topology (wrappers and models included). */
function resetAfterGrus(node: unknown, found: string[]): void {
  if (Array.isArray(node)) {
    for (const x of node) resetAfterGrus(x, found);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  const config = o.config as Record<string, unknown> | undefined;
  if (o.class_name === 'GRU' && config && typeof config === 'object' && config.reset_after === true)
    found.push(typeof config.name === 'string' ? config.name : 'gru');
  for (const v of Object.values(o)) resetAfterGrus(v, found);
}

/** Whether a topology uses Keras 3's hard sigmoid (read from a Keras 3 file), which tfjs does not have. */
function usesKeras3HardSigmoid(modelTopology: unknown): boolean {
  return JSON.stringify(modelTopology ?? null).includes('"hard_sigmoid_keras3"');
}

/** One note per problem for tfjs in a model's topology (model.json's modelTopology); none when tfjs can read it. */
export function tfjsCompatibilityNotes(modelTopology: unknown): string[] {
  const grus: string[] = [];
  resetAfterGrus(modelTopology, grus);
  const notes = usesKeras3HardSigmoid(modelTopology)
    ? [
        "the model uses Keras 3's hard_sigmoid, clip(x/6 + 0.5, 0, 1) (read from a Keras 3 file), which TensorFlow.js " +
          'does not have; recur reads it',
      ]
    : [];
  if (grus.length === 0) return notes;
  return [
    ...notes,
    `GRU ${grus.map((n) => `'${n}'`).join(', ')} ${grus.length > 1 ? 'use' : 'uses'} reset_after=true (Keras's ` +
      `default), which TensorFlow.js 4.x cannot load; recur and Keras read it. For tfjs, build the GRU with ` +
      `resetAfter: false (recur train --gru-reset-after false).`,
  ];
}
