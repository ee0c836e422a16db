/** Sequence-to-sequence learning: tokenizers, pairs, encoder–decoder models, greedy and beam decoding, metrics. */
export * from './tokenizer.js';
export * from './pairs.js';
export * from './data.js';
export * from './model.js';
export * from './decode.js';
export * from './metrics.js';
export * from './seq2seq.js';
export * from './aligner.js';
export * from './joint_ngram.js';
