/**
 * Encoder–decoder models on the functional API, so they train, step, save and load like any functional model
 * (tfjs "Functional" files):
 *
 *   source ids → Embedding(maskZero) → [Bidirectional] RNN × encoderLayers ──► outputs (attention values)
 *                                                                        └──► final states (concatenated directions)
 *   <start>+target ids → Embedding(maskZero) → RNN (initialState: the encoder's final states) → decoded
 *   attention 'none':      decoded → Dropout → Dense softmax                     (Keras's lstm_seq2seq shape)
 *   attention 'luong':     context = Attention(decoded, outputs)         (dot scores, Luong et al. 2015)
 *   attention 'bahdanau':  context = AdditiveAttention(decoded, outputs) (additive scores, Bahdanau et al. 2015)
 *                          then Concatenate(decoded, context) → Dense tanh (the attentional state) → Dropout → softmax
 *   postAttentionUnits N:  Concatenate(decoded, context) → RNN(N) (GNMT-style, Wu et al. 2016) → Dropout → softmax
 *                          in place of the tanh Dense: a recurrent layer that sees the context at every step, so it
 *                          can follow the (monotone, for G2P) alignment that the decoder RNN itself never sees.
 *   inputFeeding:          the decoder RNN, the attention and the tanh Dense become one AttentionDecoder layer
 *                          (src/layers/attention_decoder.ts) whose RNN reads [embedding(y_{t−1}); ã_{t−1}] at every
 *                          step (Luong et al. 2015's input feeding), so it sees its previous alignment decisions.
 *
 * The decoder has as many units as the encoder's states (2 × units for a bidirectional encoder), so the states carry
 * over without a projection and the dot scores compare like with like. The encoder's padding mask reaches the
 * attention scores (padded source steps get no weight) and the decoder's mask reaches the loss.
 */
import { z } from 'zod';
import { InvalidInputError } from '../core/errors.js';
import { recurrentLayer } from '../layers/recurrent_factory.js';
import { Bidirectional } from '../layers/bidirectional.js';
import { Embedding } from '../layers/embedding.js';
import { Dense } from '../layers/dense.js';
import { Dropout } from '../layers/dropout.js';
import { Concatenate } from '../layers/merge.js';
import { AdditiveAttention, Attention } from '../layers/attention.js';
import { AttentionDecoder } from '../layers/attention_decoder.js';
import type { SymbolicTensor } from '../layers/symbolic.js';
import { Functional, input, model } from '../models/functional.js';
import { createOptimizer } from '../models/optimizers.js';
import { NORMALIZATIONS, TOKEN_MODES } from './tokenizer.js';
import { LR_MONITORS, LR_SCHEDULES, type LrMonitor, type LrSchedule } from './lr_options.js';

/** The largest --max-source-length / --max-target-length a model may have. */
export const MAX_PAIR_LENGTH = 100_000;

/**
 * The most characters of one whitespace-separated word that a new model reads in word and symbol tokens (its
 * settings.maxWordLength). The length limits count words there, so without it a text without spaces is one word of
 * any length — in 'wordpunct' as many tokens as it has punctuation runs. Tatoeba's longest words have 33 characters.
 */
export const MAX_WORD_LENGTH = 100;

export const ATTENTION_KINDS = ['luong', 'bahdanau', 'none'] as const;
export const TARGET_ORDERS = ['forward', 'reversed'] as const;
export type TargetOrder = (typeof TARGET_ORDERS)[number];
export type AttentionKind = (typeof ATTENTION_KINDS)[number];
export { LR_MONITORS, LR_SCHEDULES, type LrMonitor, type LrSchedule };

/** Everything that defines a seq2seq run; stored in the model's files. */
export const Seq2SeqSettingsSchema = z.object({
  cell: z.enum(['lstm', 'gru']),
  /** Units per encoder direction; the decoder has this × 2 with a bidirectional encoder. */
  units: z.number().int().min(1).max(8192),
  encoderLayers: z.number().int().min(1).max(64),
  bidirectional: z.boolean(),
  attention: z.enum(ATTENTION_KINDS),
  embeddingDim: z.number().int().min(1).max(8192),
  /** Dropout between encoder layers and on the attentional state before the output layer. */
  dropout: z.number().min(0).max(0.99),
  /** Dropout on the source and target embeddings (per element and step). Absent in older files: 0. */
  embeddingDropout: z.number().min(0).max(0.99).default(0),
  /** Dropout on the encoder's outputs, the attention's values (not on the final states). Older files: 0. */
  encoderDropout: z.number().min(0).max(0.99).default(0),
  /** Recurrent dropout (one mask per sequence on h, Keras's) of every encoder and decoder RNN. Older files: 0. */
  recurrentDropout: z.number().min(0).max(0.99).default(0),
  /** Keras's label_smoothing of the cross-entropy: targets (1 − ε)·onehot + ε/V. Older files: 0. */
  labelSmoothing: z.number().min(0).max(0.5).default(0),
  /**
   * What ReduceLROnPlateau watches: the validation loss, or the held-out sequence error decoded after every epoch
   * (which keeps falling, so cuts, when a smoothed or over-confident loss says otherwise). Older files: val_loss.
   */
  lrMonitor: z.enum(LR_MONITORS).default('val_loss'),
  /** Epochs without improvement of lrMonitor before the learning rate is cut. Older files: 1. */
  lrPatience: z.number().int().min(1).max(1000).default(1),
  /** The cut: learning rate × lrFactor (never below 1e-5). Older files: 0.5. */
  lrFactor: z.number().gt(0).lt(1).default(0.5),
  /** The schedule (lrMonitor, lrPatience and lrFactor are plateau's). Older files: plateau. */
  lrSchedule: z.enum(LR_SCHEDULES).default('plateau'),
  /**
   * cosine: the epochs over which the rate anneals to 0 (the run's --epochs when it started; fixed for the run, so a
   * resumed run follows the same curve). null for plateau. Older files: null.
   */
  lrDecayEpochs: z.number().int().min(1).max(1_000_000_000).nullable().default(null),
  /**
   * Momentum of the exponential moving average of the weights (Polyak averaging) that validation, the saved best
   * model and the test use; null: the raw weights. Older files: null.
   */
  ema: z.number().gt(0).lt(1).nullable().default(null),
  /**
   * Units of a recurrent layer (the same cell) after the attention, reading [decoder output, context] at every step
   * in place of the tanh Dense; null: the Dense (Luong's attentional state). Needs attention. Older files: null.
   */
  postAttentionUnits: z.number().int().min(1).max(8192).nullable().default(null),
  /**
   * Luong's input feeding: the decoder RNN reads the previous step's attentional state (the tanh Dense's output) beside
   * the previous token's embedding. Needs attention and the tanh Dense (no postAttentionUnits). Older files: false.
   */
  inputFeeding: z.boolean().default(false),
  optimizer: z.enum(['adam', 'rmsprop', 'sgd', 'adagrad']),
  learningRate: z.number().positive().max(10),
  clipnorm: z.number().positive().nullable(),
  batchSize: z.number().int().min(1).max(1_000_000),
  seed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1),
  /**
   * Seed of the initial weights, the batch order and the dropout masks; null: `seed`, which always draws the data
   * split (so models of different initSeeds — a seed ensemble's members — share one split). Older files: null.
   */
  initSeed: z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1)
    .nullable()
    .default(null),
  /**
   * Held-out sources decoded greedily after every epoch for val_wer (the best-model choice and a val_wer schedule):
   * the first n of the validation split, or all of it (null). Older files: 1000.
   */
  validationWords: z.number().int().min(1).nullable().default(1000),
  /**
   * A final refit of a chosen recipe: the validation split joins the training pairs, so nothing is validated (the
   * schedule must be cosine, which watches nothing) and the last epoch is the model. The test split stays held out.
   * Older files: false.
   */
  trainOnValidation: z.boolean().default(false),
  sourceMode: z.enum(TOKEN_MODES),
  targetMode: z.enum(TOKEN_MODES),
  /**
   * Unicode normalisation of every text the model reads (its pairs at training, sources at decoding) before it is
   * split into tokens: NFC, so a word typed composed or decomposed (é as one code point or e + U+0301) is one token.
   * Older files: none (text read as it is, the tokens they were trained on).
   */
  normalization: z.enum(NORMALIZATIONS).default('none'),
  /**
   * Longest source and target accepted in the data: tokens, but whitespace-separated words for the word modes ('words'
   * and 'wordpunct', whose words may split into several tokens). Decoding stops at maxTargetLength + a margin.
   */
  maxSourceLength: z.number().int().min(1).max(MAX_PAIR_LENGTH),
  maxTargetLength: z.number().int().min(1).max(MAX_PAIR_LENGTH),
  /**
   * Most characters of one whitespace-separated word of a side in word or symbol tokens (a longer word is a bad line,
   * and a source with one is not decoded; 'chars' limits count characters already). Older files: none
   * (null), so their data is read, and their sources decoded, as they were trained.
   */
  maxWordLength: z.number().int().min(1).max(MAX_PAIR_LENGTH).nullable().default(null),
  /** Most tokens kept in each word-level vocabulary (the most frequent; the rest read as <unk>); null: all. */
  vocabularySize: z.number().int().min(5).max(10_000_000).nullable().default(null),
  /**
   * The order the decoder writes its target in: 'reversed' learns it right to left (its outputs are turned back
   * before anyone sees them) — the partner of a left-to-right model in an agreement ensemble (src/seq2seq/decode.ts
   * agreementDecode). Older files: forward.
   */
  targetOrder: z.enum(TARGET_ORDERS).default('forward'),
});
export type Seq2SeqSettings = z.infer<typeof Seq2SeqSettingsSchema>;
/** Settings as given: the options added later (with schema defaults) may be left out. */
export type Seq2SeqSettingsInput = z.input<typeof Seq2SeqSettingsSchema>;

/** The grapheme-to-phoneme recipe (the default data): BiLSTM encoder, Luong attention, Adam. */
export const G2P_SETTINGS: Seq2SeqSettings = {
  cell: 'lstm',
  units: 128,
  encoderLayers: 1,
  bidirectional: true,
  attention: 'luong',
  embeddingDim: 64,
  dropout: 0.1,
  embeddingDropout: 0,
  encoderDropout: 0,
  recurrentDropout: 0,
  labelSmoothing: 0,
  lrMonitor: 'val_loss',
  lrPatience: 1,
  lrFactor: 0.5,
  lrSchedule: 'plateau',
  lrDecayEpochs: null,
  ema: null,
  postAttentionUnits: null,
  inputFeeding: false,
  optimizer: 'adam',
  learningRate: 0.002,
  clipnorm: 5,
  batchSize: 64,
  seed: 1,
  initSeed: null,
  validationWords: 1000,
  trainOnValidation: false,
  sourceMode: 'chars',
  targetMode: 'symbols',
  normalization: 'NFC',
  maxSourceLength: 40,
  maxTargetLength: 40,
  maxWordLength: MAX_WORD_LENGTH,
  vocabularySize: null,
  targetOrder: 'forward',
};

/**
 * `recur seq2seq train`'s defaults for G2P (no pairs file): the model of G2P_SETTINGS with the regularisation and
 * schedule measured best in issue #13's budget (BENCHMARKS.md, "Sequence to sequence"). The CLI also makes the G2P
 * default a two-member ensemble of both target orders with a joint n-gram (src/cli/seq2seq.ts).
 */
export const G2P_RECIPE_SETTINGS: Seq2SeqSettings = {
  ...G2P_SETTINGS,
  dropout: 0.2,
  labelSmoothing: 0.1,
  lrMonitor: 'val_wer',
};

/**
 * The defaults for pairs from a file (translation-like): words with their punctuation split off, both sides
 * ("cold." and "cold" share a word: on English → French Tatoeba pairs, +5 BLEU over whitespace words in the same CPU
 * time).
 */
export const PAIRS_SETTINGS: Seq2SeqSettings = {
  ...G2P_SETTINGS,
  sourceMode: 'wordpunct',
  targetMode: 'wordpunct',
  maxSourceLength: 60,
  maxTargetLength: 60,
};

/** The seed of a run's initial weights, batch order and dropout (the split's is always `seed`). */
export function trainingSeed(s: Pick<Seq2SeqSettings, 'seed' | 'initSeed'>): number {
  return s.initSeed ?? s.seed;
}

/** Settings checked against the schema; a bad value is an InvalidInputError naming the field. */
export function checkSettings(s: unknown, where = 'seq2seq settings'): Seq2SeqSettings {
  const r = Seq2SeqSettingsSchema.safeParse(s);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new InvalidInputError(`${where}: ${issue.path.join('.')}: ${issue.message}`);
  }
  if ((r.data.lrSchedule === 'cosine') !== (r.data.lrDecayEpochs !== null))
    throw new InvalidInputError(
      `${where}: lrDecayEpochs: ${r.data.lrSchedule === 'cosine' ? 'the cosine schedule needs its epochs' : 'only the cosine schedule has decay epochs'}`,
    );
  if (r.data.trainOnValidation && r.data.lrSchedule !== 'cosine')
    throw new InvalidInputError(
      `${where}: trainOnValidation: training on the validation split leaves nothing to watch; it needs lrSchedule cosine`,
    );
  if (r.data.postAttentionUnits !== null && r.data.attention === 'none')
    throw new InvalidInputError(
      `${where}: postAttentionUnits: a post-attention layer needs attention (luong or bahdanau)`,
    );
  if (r.data.inputFeeding && r.data.attention === 'none')
    throw new InvalidInputError(
      `${where}: inputFeeding: input feeding feeds back the attentional state, which needs attention (luong or bahdanau)`,
    );
  if (r.data.inputFeeding && r.data.postAttentionUnits !== null)
    throw new InvalidInputError(
      `${where}: inputFeeding: input feeding feeds back the tanh Dense's attentional state, which postAttentionUnits replaces; use one of them`,
    );
  return r.data;
}

/** Builds (and compiles) the encoder–decoder for vocabularies of these sizes. Inputs: source, previous; output: next. */
export function buildSeq2SeqModel(
  settings: Seq2SeqSettingsInput,
  sourceVocab: number,
  targetVocab: number,
): Functional {
  const s = checkSettings(settings);
  const source = input({ shape: [null], dtype: 'int32', name: 'source' });
  let x = new Embedding({
    inputDim: sourceVocab,
    outputDim: s.embeddingDim,
    maskZero: true,
    name: 'source_embedding',
  }).apply(source) as SymbolicTensor;
  if (s.embeddingDropout > 0)
    x = new Dropout({ rate: s.embeddingDropout, name: 'source_embedding_dropout' }).apply(
      x,
    ) as SymbolicTensor;
  let encoded: SymbolicTensor = x;
  let states: SymbolicTensor[] = [];
  for (let l = 0; l < s.encoderLayers; l++) {
    const last = l === s.encoderLayers - 1;
    const rnn = recurrentLayer(s.cell, {
      units: s.units,
      returnSequences: true,
      returnState: last,
      recurrentDropout: s.recurrentDropout,
      name: `encoder_${s.cell}_${l + 1}`,
    });
    if (s.bidirectional) {
      const outs = new Bidirectional({ layer: rnn, mergeMode: 'concat', name: `encoder_${l + 1}` }).applyMany(
        x,
      );
      x = outs[0];
      if (last) {
        const k = (outs.length - 1) / 2;
        states = Array.from(
          { length: k },
          (_, i) =>
            new Concatenate({ name: `encoder_state_${i + 1}` }).apply([
              outs[1 + i],
              outs[1 + k + i],
            ]) as SymbolicTensor,
        );
      }
    } else {
      const outs = rnn.applyMany(x);
      x = outs[0];
      if (last) states = outs.slice(1);
    }
    if (!last && s.dropout > 0)
      x = new Dropout({ rate: s.dropout, name: `encoder_dropout_${l + 1}` }).apply(x) as SymbolicTensor;
  }
  encoded = x;
  if (s.encoderDropout > 0)
    encoded = new Dropout({ rate: s.encoderDropout, name: 'encoder_output_dropout' }).apply(
      encoded,
    ) as SymbolicTensor;
  const H = s.bidirectional ? 2 * s.units : s.units;
  const previous = input({ shape: [null], dtype: 'int32', name: 'previous' });
  let y = new Embedding({
    inputDim: targetVocab,
    outputDim: s.embeddingDim,
    maskZero: true,
    name: 'target_embedding',
  }).apply(previous) as SymbolicTensor;
  if (s.embeddingDropout > 0)
    y = new Dropout({ rate: s.embeddingDropout, name: 'target_embedding_dropout' }).apply(
      y,
    ) as SymbolicTensor;
  let features: SymbolicTensor;
  if (s.inputFeeding && s.attention !== 'none')
    features = new AttentionDecoder({
      units: H,
      cell: s.cell,
      attention: s.attention,
      recurrentDropout: s.recurrentDropout,
      name: 'attention_decoder',
    }).apply([y, encoded, ...states]) as SymbolicTensor;
  else features = decoderFeatures(s, y, encoded, states, H);
  if (s.dropout > 0)
    features = new Dropout({ rate: s.dropout, name: 'output_dropout' }).apply(features) as SymbolicTensor;
  const next = new Dense({ units: targetVocab, activation: 'softmax', name: 'next_token' }).apply(
    features,
  ) as SymbolicTensor;
  const m = model({ inputs: [source, previous], outputs: next, seed: trainingSeed(s), name: 'seq2seq' });
  compileSeq2SeqModel(m, s);
  return m;
}

/** What feeds the output layer without input feeding: the decoder RNN, then the attention and the tanh Dense or RNN. */
function decoderFeatures(
  s: Seq2SeqSettings,
  y: SymbolicTensor,
  encoded: SymbolicTensor,
  states: SymbolicTensor[],
  H: number,
): SymbolicTensor {
  const decoded = recurrentLayer(s.cell, {
    units: H,
    returnSequences: true,
    recurrentDropout: s.recurrentDropout,
    name: `decoder_${s.cell}`,
  }).apply(y, {
    initialState: states,
  }) as SymbolicTensor;
  let features = decoded;
  if (s.attention !== 'none') {
    const att =
      s.attention === 'luong'
        ? new Attention({ name: 'attention' })
        : new AdditiveAttention({ name: 'attention' });
    const context = att.apply([decoded, encoded]) as SymbolicTensor;
    const joined = new Concatenate({ name: 'decoded_and_context' }).apply([
      decoded,
      context,
    ]) as SymbolicTensor;
    features =
      s.postAttentionUnits === null
        ? (new Dense({ units: H, activation: 'tanh', name: 'attentional' }).apply(joined) as SymbolicTensor)
        : (recurrentLayer(s.cell, {
            units: s.postAttentionUnits,
            returnSequences: true,
            recurrentDropout: s.recurrentDropout,
            name: `post_attention_${s.cell}`,
          }).apply(joined) as SymbolicTensor);
  }
  return features;
}

export function compileSeq2SeqModel(m: Functional, s: Seq2SeqSettings): void {
  m.compile({
    optimizer: createOptimizer(s.optimizer, {
      learningRate: s.learningRate,
      ...(s.clipnorm !== null ? { clipnorm: s.clipnorm } : {}),
      ...(s.ema !== null ? { emaMomentum: s.ema } : {}),
    }),
    loss: 'sparseCategoricalCrossentropy',
    // 'acc': the key the command's --json lines, log.csv and checkpoints' histories have always carried.
    metrics: ['acc'],
    labelSmoothing: s.labelSmoothing,
  });
}
