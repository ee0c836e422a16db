/** Text classification (many-to-one): tokenizers, datasets, the classifier recipe, metrics and baselines. */
export * from './tokenizer.js';
export * from './metrics.js';
export * from './baselines.js';
export * from './dataset.js';
export * from './model.js';
export * from './metadata.js';
export * from './evaluate.js';
export * from './predict.js';
export * from './ensemble.js';
