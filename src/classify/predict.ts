/**
 * Labelling texts with a trained classifier: the one path `recur classify predict` and `recur serve`'s /v1/predict
 * share, so both give the same label and probabilities for the same text.
 */
import type { ClassifierMetadata } from './metadata.js';
import { argmaxRows } from './metrics.js';
import { ensembleProbabilities, type ClassifierModels } from './ensemble.js';
import { Tokenizer } from './tokenizer.js';

/** A multi-label classifier's label threshold when none is given (CLI, server and library alike). */
export const DEFAULT_THRESHOLD = 0.5;

/**
 * One text's most likely label, its probability, and every class's probability (in the model's class order). For a
 * multi-label model, `labels` are the labels whose probability reaches the threshold (highest first; possibly none),
 * and `label` / `probability` the most probable label whether or not it does.
 */
export interface TextClassification {
  text: string;
  label: string;
  probability: number;
  probabilities: Record<string, number>;
  labels?: string[];
}

/** The labels of a multi-label prediction at `threshold`, most probable first. */
export function labelsAtThreshold(probabilities: Record<string, number>, threshold: number): string[] {
  return Object.entries(probabilities)
    .filter(([, p]) => p >= threshold)
    .sort((a, b) => b[1] - a[1])
    .map(([l]) => l);
}

/**
 * Labels `texts` (encoded with the tokenizer and length the model was trained with), in their order. For a seed
 * ensemble (`model` a list of members) each class's probability is the members' mean (ensembleProbabilities).
 */
export function classifyTexts(
  model: ClassifierModels,
  meta: ClassifierMetadata,
  texts: readonly string[],
  batchSize = 128,
  tokenizer: Tokenizer = Tokenizer.fromJSON(meta.tokenizer),
  threshold = DEFAULT_THRESHOLD,
): TextClassification[] {
  const p = ensembleProbabilities(
    model,
    texts.map((t) => tokenizer.encode(t, meta.settings.maxLength, meta.settings.truncating)),
    meta.classes.length,
    batchSize,
  );
  return classificationsOf(meta, texts, p, threshold);
}

/** `texts`' classifications from their class probabilities p [texts × classes], as classifyTexts returns them. */
export function classificationsOf(
  meta: ClassifierMetadata,
  texts: readonly string[],
  p: Float32Array,
  threshold = DEFAULT_THRESHOLD,
): TextClassification[] {
  const K = meta.classes.length;
  const best = argmaxRows(p, K);
  return texts.map((text, i) => {
    const probabilities = Object.fromEntries(meta.classes.map((c, k) => [c, p[i * K + k]]));
    return {
      text,
      label: meta.classes[best[i]],
      probability: p[i * K + best[i]],
      probabilities,
      ...(meta.settings.multiLabel ? { labels: labelsAtThreshold(probabilities, threshold) } : {}),
    };
  });
}
