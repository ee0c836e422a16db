/**
 * Labelling texts with a trained classifier: the one path `recur classify predict` and `recur serve`'s /v1/predict
 * share, so both give the same label and probabilities for the same text.
 */
import type { Sequential } from '../models/sequential.js';
import type { ClassifierMetadata } from './metadata.js';
import { argmaxRows } from './metrics.js';
import { predictProbabilities } from './model.js';
import { Tokenizer } from './tokenizer.js';

/** One text's most likely label, its probability, and every class's probability (in the model's class order). */
export interface TextClassification {
  text: string;
  label: string;
  probability: number;
  probabilities: Record<string, number>;
}

/** Labels `texts` (encoded with the tokenizer and length the model was trained with), in their order. */
export function classifyTexts(
  model: Sequential,
  meta: ClassifierMetadata,
  texts: readonly string[],
  batchSize = 128,
  tokenizer: Tokenizer = Tokenizer.fromJSON(meta.tokenizer),
): TextClassification[] {
  const K = meta.classes.length;
  const p = predictProbabilities(
    model,
    texts.map((t) => tokenizer.encode(t, meta.settings.maxLength, meta.settings.truncating)),
    K,
    batchSize,
  );
  const best = argmaxRows(p, K);
  return texts.map((text, i) => ({
    text,
    label: meta.classes[best[i]],
    probability: p[i * K + best[i]],
    probabilities: Object.fromEntries(meta.classes.map((c, k) => [c, p[i * K + k]])),
  }));
}
