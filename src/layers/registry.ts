/**
 * The layer registry: each layer module registers its Keras class name and how to make the layer from its config
 * (the camelCase options `getConfig()` returns), so model files, worker replicas and wrappers find layers by name
 * with no central table. A wrapper (Bidirectional, TimeDistributed) keeps its inner layer in its config as a
 * LayerSpec `{className, config}` — Keras/tfjs nest `{class_name, config: {layer: {class_name, config}}}` the same
 * way — and makes it in its own fromConfig with `deserializeLayer`.
 */
import type { Layer } from './layer.js';

/** A layer as data: its Keras class name and its camelCase options (what getConfig returns). */
export interface LayerSpec {
  className: string;
  config: Record<string, unknown>;
}

export type LayerFromConfig = (config: Record<string, unknown>) => Layer;

export interface LayerRegistration {
  className: string;
  fromConfig: LayerFromConfig;
  /**
   * Options that Keras/tfjs files written without them meant, where those differ from recur's defaults (a GRU in a
   * tfjs file without `reset_after` is reset_after=false). Applied only when reading model files.
   */
  fileDefaults: Readonly<Record<string, unknown>>;
  /**
   * Options whose default differs between the writers of a file and that a file written by TensorFlow.js without them
   * meant (tfjs's LSTM and GRU default to recurrentActivation hardSigmoid, Keras's to sigmoid).
   */
  tfjsFileDefaults: Readonly<Record<string, unknown>>;
}

/** Who wrote a model file, as far as its defaults go: TensorFlow.js, or Keras (and recur, which follows Keras). */
export type FileWriter = 'tfjs' | 'keras';

const registry = new Map<string, LayerRegistration>();

/** Registers a layer class under its Keras class name (each layer module does this for itself). */
export function registerLayer(
  className: string,
  fromConfig: LayerFromConfig,
  fileDefaults: Readonly<Record<string, unknown>> = {},
  tfjsFileDefaults: Readonly<Record<string, unknown>> = {},
): void {
  if (registry.has(className)) throw new Error(`a layer class '${className}' is already registered`);
  registry.set(className, { className, fromConfig, fileDefaults, tfjsFileDefaults });
}

/** Registered class names, sorted. */
export function registeredLayers(): string[] {
  return [...registry.keys()].sort();
}

/** The registration of a class name; for an unknown one, throws naming `where`, the layer and the known classes. */
export function layerRegistration(
  className: string,
  where = 'layer config',
  layerName = '?',
): LayerRegistration {
  const entry = registry.get(className);
  if (!entry) {
    throw new Error(
      `${where}: layer '${layerName}' has class '${className}', which recur does not know ` +
        `(known layer classes: ${registeredLayers().join(', ')})`,
    );
  }
  return entry;
}

/** True for a value shaped like a LayerSpec of a registered class (a wrapper's nested layer). */
export function isLayerSpec(v: unknown): v is LayerSpec {
  if (!v || typeof v !== 'object') return false;
  const o = v as Partial<LayerSpec>;
  return (
    typeof o.className === 'string' && registry.has(o.className) && !!o.config && typeof o.config === 'object'
  );
}

/** A layer's spec: class name and config. */
export function serializeLayer(layer: Layer): LayerSpec {
  return { className: layer.className, config: layer.getConfig() };
}

/** A new layer from a spec, through the registry; errors name `where` and the layer. */
export function deserializeLayer(spec: LayerSpec, where = 'layer config'): Layer {
  const layerName = typeof spec.config?.name === 'string' ? spec.config.name : '?';
  const entry = layerRegistration(spec.className, where, layerName);
  try {
    return entry.fromConfig(spec.config ?? {});
  } catch (e) {
    throw new Error(`${where}: layer '${layerName}': ${(e as Error).message}`);
  }
}
