/**
 * What in a saved model TensorFlow.js cannot read or computes differently, said as notes (the library returns them; a
 * CLI prints them): a GRU with reset_after=true (Keras's TF2 default), which tfjs 4.x refuses; layers and activations
 * tfjs 4.x does not have; and a global pooling over masked steps, which tfjs pools padding into (it ignores masks there).
 */
import { ACTIVATIONS_TFJS_CANNOT_READ } from '../layers/activations.js';

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

/** The activations of a topology (`activation`, `recurrent_activation`) that tfjs lacks, each once. */
function activationsNotInTfjs(node: unknown, found: Set<string>): void {
  if (Array.isArray(node)) {
    for (const x of node) activationsNotInTfjs(x, found);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  for (const [k, v] of Object.entries(node)) {
    if ((k === 'activation' || k === 'recurrent_activation') && typeof v === 'string') {
      if (ACTIVATIONS_TFJS_CANNOT_READ.has(v)) found.add(v);
    } else activationsNotInTfjs(v, found);
  }
}

/**
 * Each layer of one of `classNames` anywhere in a topology (wrappers' inner layers and nested models included), with
 * its name and config.
 */
export function layersOfClasses(
  node: unknown,
  classNames: readonly string[],
): { className: string; name: string; config: Record<string, unknown> }[] {
  const found: { className: string; name: string; config: Record<string, unknown> }[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach(visit);
      return;
    }
    if (v === null || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    const config = o.config as Record<string, unknown> | undefined;
    if (
      typeof o.class_name === 'string' &&
      classNames.includes(o.class_name) &&
      config &&
      typeof config === 'object'
    )
      found.push({
        className: o.class_name,
        name: typeof config.name === 'string' ? config.name : '?',
        config,
      });
    Object.values(o).forEach(visit);
  };
  visit(node);
  return found;
}

/**
 * Advanced-activation layers whose options TensorFlow.js 4.x does not take: its ELU refuses an alpha other than 1,
 * and its ReLU reads only max_value (a negative_slope or threshold is dropped, so it computes another function).
 */
function activationLayerNotes(modelTopology: unknown): string[] {
  const notes: string[] = [];
  const layers = layersOfClasses(modelTopology, ['ELU', 'ReLU']);
  const elus = layers.filter((l) => l.className === 'ELU' && (l.config.alpha ?? 1) !== 1);
  if (elus.length > 0)
    notes.push(
      `TensorFlow.js 4.x's ELU takes only alpha 1 (${elus.map((l) => `ELU '${l.name}' has alpha ${String(l.config.alpha)}`).join(', ')}), ` +
        'so it cannot load this model; recur reads it',
    );
  const relus = layers.filter(
    (l) =>
      l.className === 'ReLU' && ((l.config.negative_slope ?? 0) !== 0 || (l.config.threshold ?? 0) !== 0),
  );
  if (relus.length > 0)
    notes.push(
      `TensorFlow.js 4.x's ReLU reads only max_value, so ${relus.map((l) => `ReLU '${l.name}'`).join(', ')} ` +
        "(negative_slope or threshold set) computes plain relu there and its predictions differ from recur's",
    );
  return notes;
}

/** Layer classes recur writes that TensorFlow.js 4.x has no class for. */
const NOT_IN_TFJS = ['Attention', 'AdditiveAttention', 'AttentionDecoder', 'AttentionWeightedAverage'];

/** The class name of every layer anywhere in a topology, and whether some layer makes a mask. */
function layerClasses(node: unknown, found: Set<string>, masks: { any: boolean }): void {
  if (Array.isArray(node)) {
    for (const x of node) layerClasses(x, found, masks);
    return;
  }
  if (node === null || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  const config = o.config as Record<string, unknown> | undefined;
  if (typeof o.class_name === 'string' && config && typeof config === 'object') {
    found.add(o.class_name);
    if (o.class_name === 'Masking' || (o.class_name === 'Embedding' && config.mask_zero === true))
      masks.any = true;
  }
  for (const v of Object.values(o)) layerClasses(v, found, masks);
}

/**
 * The classes of `pooling` in a topology that also makes a mask (Embedding mask_zero, Masking): recur's pooling skips
 * masked steps, where tfjs's (both) and Keras's GlobalMaxPooling1D pool the padding in.
 */
export function maskedPoolingClasses(modelTopology: unknown, pooling: readonly string[]): string[] {
  const classes = new Set<string>();
  const masks = { any: false };
  layerClasses(modelTopology, classes, masks);
  return masks.any ? pooling.filter((c) => classes.has(c)) : [];
}

/** One note per problem for tfjs in a model's topology (model.json's modelTopology); none when tfjs can read it. */
export function tfjsCompatibilityNotes(modelTopology: unknown): string[] {
  const grus: string[] = [];
  resetAfterGrus(modelTopology, grus);
  const notes: string[] = usesKeras3HardSigmoid(modelTopology)
    ? [
        "the model uses Keras 3's hard_sigmoid, clip(x/6 + 0.5, 0, 1) (read from a Keras 3 file), which TensorFlow.js " +
          'does not have; recur reads it',
      ]
    : [];
  const activations = new Set<string>();
  activationsNotInTfjs(modelTopology, activations);
  if (activations.size > 0)
    notes.push(
      `TensorFlow.js 4.x has no ${[...activations].map((a) => `'${a}'`).join(' or ')} activation, so it cannot ` +
        'load this model; recur reads it',
    );
  const classes = new Set<string>();
  const masks = { any: false };
  layerClasses(modelTopology, classes, masks);
  const missing = NOT_IN_TFJS.filter((c) => classes.has(c));
  if (missing.length > 0)
    notes.push(
      `TensorFlow.js 4.x has no ${missing.join(' or ')} layer, so it cannot load this model; recur reads it`,
    );
  notes.push(...activationLayerNotes(modelTopology));
  const pooled = maskedPoolingClasses(modelTopology, ['GlobalAveragePooling1D', 'GlobalMaxPooling1D']);
  if (pooled.length > 0)
    notes.push(
      `TensorFlow.js 4.x ignores the mask in ${pooled.join(' and ')} (it pools padded steps too), so on padded ` +
        "inputs its predictions differ from recur's",
    );
  if (grus.length === 0) return notes;
  return [
    ...notes,
    `GRU ${grus.map((n) => `'${n}'`).join(', ')} ${grus.length > 1 ? 'use' : 'uses'} reset_after=true (Keras's ` +
      `default), which TensorFlow.js 4.x cannot load; recur and Keras read it. For tfjs, build the GRU with ` +
      `resetAfter: false (recur train --gru-reset-after false).`,
  ];
}
