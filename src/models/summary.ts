/** The table `summary()` prints, shared by Sequential and functional models. */
import { Random } from '../core/random.js';
import type { Layer, LayerShape } from '../layers/layer.js';
import { deserializeLayer, serializeLayer } from '../layers/registry.js';

/**
 * The parameters a layer not yet built will have for an input shape (without batch), counted on a copy built from its
 * config and let go at once: the model itself stays unbuilt (layers can still be added to it), as Keras's summary of
 * a Sequential model with a declared input shape counts them.
 */
export function paramsOnceBuilt(layer: Layer, inputShape: LayerShape): number {
  const copy = deserializeLayer(serializeLayer(layer));
  try {
    copy.build(inputShape, new Random(0));
    return copy.countParams();
  } finally {
    copy.dispose();
  }
}

/** Keras's summary table: the model's name, a row per layer, the total parameter count. */
export function printSummaryTable(
  name: string,
  head: readonly string[],
  rows: readonly string[][],
  totalParams: number,
  print: (line: string) => void,
): void {
  const w = head.map((h, j) => Math.max(h.length, ...rows.map((r) => r[j].length)) + 2);
  const line = (r: readonly string[]): string =>
    r
      .map((c, j) => c.padEnd(w[j]))
      .join('')
      .trimEnd();
  const rule = '_'.repeat(w.reduce((a, b) => a + b, 0));
  print(`Model: "${name}"`);
  print(rule);
  print(line(head));
  print('='.repeat(rule.length));
  for (const r of rows) print(line(r));
  print('='.repeat(rule.length));
  print(`Total params: ${totalParams.toLocaleString('en-US')}`);
  print(rule);
}
