/**
 * `node dist/bench/classify_ensemble.js DATA DIR...` — how much a seed ensemble of `recur classify train` models would
 * give: each model's accuracy on the labelled file DATA (read with the model's own columns, tokenizer and length),
 * then the accuracy of their averaged class probabilities (label = the class with the highest mean probability).
 * The models must share their classes, in the same order. Evidence for an `--ensemble` feature, not the feature.
 */
import '../src/node/index.js';
import { argmaxRows, classifyTexts, encodeLabels, parseClassifierMetadata } from '../src/classify/index.js';
import { loadLabelledTexts } from '../src/node/classify_data.js';
import { loadModel } from '../src/node/model_io.js';

const [data, ...dirs] = process.argv.slice(2);
if (data === undefined || dirs.length === 0) {
  console.error('usage: node dist/bench/classify_ensemble.js DATA MODEL_DIR...');
  process.exit(2);
}
let classes: string[] | null = null;
let sum: Float64Array | null = null;
let truth: Int32Array | null = null;
const accuracy = (p: ArrayLike<number>, K: number): number => {
  const best = argmaxRows(Float32Array.from(p), K);
  let right = 0;
  best.forEach((b, i) => (right += b === truth![i] ? 1 : 0));
  return right / best.length;
};
for (const dir of dirs) {
  const { model, metadata } = loadModel(dir);
  const meta = parseClassifierMetadata(metadata, dir);
  if (meta.settings.multiLabel)
    throw new Error(`${dir}: a multi-label model; this averages single-label ones`);
  if (classes && classes.join('\u0000') !== meta.classes.join('\u0000'))
    throw new Error(`${dir}: classes ${meta.classes.join(', ')} differ from ${classes.join(', ')}`);
  classes = meta.classes;
  const K = classes.length;
  const texts = loadLabelledTexts(data, {
    ...(meta.data.textColumn ? { textColumn: meta.data.textColumn } : {}),
    ...(meta.data.labelColumn ? { labelColumn: meta.data.labelColumn } : {}),
  });
  truth ??= encodeLabels(texts, classes);
  // Every class's probability (not `probability`, which is each model's own predicted label's).
  const p = classifyTexts(model, meta, texts.texts).flatMap((r) => classes!.map((c) => r.probabilities[c]));
  sum ??= new Float64Array(p.length);
  p.forEach((v, i) => (sum![i] += v));
  console.log(`${dir}: accuracy ${(accuracy(p, K) * 100).toFixed(2)}%`);
}
const K = classes!.length;
console.log(
  `mean of ${dirs.length} models' probabilities: accuracy ${(
    accuracy(
      Array.from(sum!, (v) => v / dirs.length),
      K,
    ) * 100
  ).toFixed(2)}% ` + `(${truth!.length} texts)`,
);
