/**
 * The classifier's default recipe, in a module without the library behind it: the CLI's flag table reads it at
 * start-up (importing model.ts for it loaded every layer before any flag was parsed).
 */
import type { ClassifierSettings } from './model.js';
import { TOKENIZER_DEFAULTS } from './tokenizer.js';

/**
 * The default recipe: words, 20k vocabulary, 400 tokens, 64-d embedding, BiLSTM(64) max-pooled over time, Adam 3e-3,
 * batch 32.
 */
export const CLASSIFIER_DEFAULTS: Omit<ClassifierSettings, 'seed' | 'output' | 'multiLabel'> = {
  tokenizer: TOKENIZER_DEFAULTS,
  maxLength: 400,
  truncating: 'pre',
  embeddingDim: 64,
  cell: 'lstm',
  units: 64,
  layers: 1,
  bidirectional: true,
  dropout: 0.2,
  embeddingDropout: null,
  // Max over time: on SpamAssassin it beat the final state on each of 3 seeds (BENCHMARKS.md, issue #12).
  pooling: 'max',
  classWeight: null,
  optimizer: 'adam',
  learningRate: 0.003,
  lrDecay: 1,
  clipnorm: 5,
  batchSize: 32,
  epochs: 8,
  patience: 2,
  monitor: 'val_macro_f1',
  validationSplit: 0.1,
  testSplit: 0.1,
};
