/**
 * Symbolic tensors and layer nodes: the graph the functional API builds (`input()`, `layer.apply()`, `model()`).
 * A symbolic tensor has a shape (batch axis first, null where unknown) and knows the node that produces it; a node
 * is one application of a layer to a list of symbolic inputs. No numbers flow here: src/models/functional.ts runs the
 * graph. Only type imports of Layer, so layer.ts can import this module without a cycle at load time.
 */
import { shapeToString } from '../core/tensor.js';
import type { Layer, LayerShape } from './layer.js';

export type SymbolicDtype = 'float32' | 'int32';

export interface ApplyOptions {
  /** Initial states of a recurrent layer (appended to its inputs, as tfjs does). */
  initialState?: SymbolicTensor[];
}

export class SymbolicTensor {
  constructor(
    /** Shape with the batch axis first (null). */
    readonly shape: readonly (number | null)[],
    readonly dtype: SymbolicDtype,
    /** The node producing this tensor, and which of its outputs this is. */
    readonly node: LayerNode,
    readonly outputIndex: number,
  ) {}
  get name(): string {
    return `${this.node.layer.name}/${this.outputIndex}`;
  }
  toString(): string {
    return `SymbolicTensor '${this.name}' ${shapeToString(this.shape)}`;
  }
}

/** One application of a layer: its symbolic inputs and outputs. */
export class LayerNode {
  outputs: SymbolicTensor[] = [];
  constructor(
    readonly layer: Layer,
    readonly inputs: readonly SymbolicTensor[],
  ) {}
}

const nodes = new WeakMap<Layer, LayerNode>();

/** The node a layer was applied at, if any. */
export function nodeOf(layer: Layer): LayerNode | null {
  return nodes.get(layer) ?? null;
}

/** Creates a node with no inputs (an input layer) producing one tensor. */
export function sourceNode(
  layer: Layer,
  shape: readonly (number | null)[],
  dtype: SymbolicDtype,
): SymbolicTensor {
  if (nodes.has(layer)) throw new Error(`layer '${layer.name}' is already in a graph`);
  const node = new LayerNode(layer, []);
  node.outputs = [new SymbolicTensor([null, ...shape], dtype, node, 0)];
  nodes.set(layer, node);
  return node.outputs[0];
}

export function applyLayer(layer: Layer, inputs: SymbolicTensor[], opts: ApplyOptions): SymbolicTensor[] {
  const all = [...inputs, ...(opts.initialState ?? [])];
  if (all.length === 0) throw new Error(`layer '${layer.name}': apply() needs at least one input`);
  for (const x of all) {
    if (!(x instanceof SymbolicTensor)) {
      throw new Error(
        `layer '${layer.name}': apply() takes symbolic tensors (from input() or another layer's apply()); ` +
          'to run a layer on numbers use a model',
      );
    }
  }
  if (nodes.has(layer)) {
    throw new Error(
      `layer '${layer.name}' is already applied; recur does not support shared layers (one node per layer) yet`,
    );
  }
  let shapes: LayerShape[];
  try {
    const dtypeMismatch = layer.symbolicInputDtypeMismatch(all.map((x) => x.dtype));
    if (dtypeMismatch !== null) throw new Error(dtypeMismatch);
    shapes = layer.computeOutputShapes(all.map((x) => x.shape.slice(1)));
  } catch (e) {
    throw new Error(
      `cannot apply layer '${layer.name}' (${layer.className}) to ${all.map((x) => shapeToString(x.shape)).join(', ')}: ` +
        (e as Error).message,
    );
  }
  const node = new LayerNode(layer, all);
  node.outputs = shapes.map((s, i) => new SymbolicTensor([null, ...s], 'float32', node, i));
  nodes.set(layer, node);
  return node.outputs;
}
