/**
 * `recur evaluate <model> <text-file>` — loss, bits per character and perplexity of a text model on a text, on the
 * worker pool like training. A model without a vocabulary (a Keras model, or a directory converted from one) takes
 * it from --corpus or --chars, as `recur generate` does. Characters the model never saw are left out and counted (or refused with
 * `--unknown error`), so a model can be scored on another book.
 */
import type { BatchDataset, Sequential } from '../models/sequential.js';
import { BatchProgress } from '../node/callbacks.js';
import { withSignalBreaks } from '../node/terminal_bar.js';
import { defaultThreads } from '../node/pool.js';
import { textFileChunks } from '../node/text_file.js';
import { TextCorpus, type SyncBatchDataset } from '../text/corpus.js';
import { compileTextModel } from '../text/recipes.js';
import type { Vocabulary } from '../text/vocabulary.js';
import { EVALUATE_BATCH_SIZE } from './flags.js';
import { assertFits, estimateTextModelBytes } from './memory.js';
import { UsageError, type Output } from './output.js';
import { loadCharacterModel, type VocabularyFlags } from './text_model.js';
import { settingsOfModel } from './train_from.js';

export interface EvaluateCliOptions extends VocabularyFlags {
  /** Window models only: a stateful (char-rnn) model reads its own streams. */
  step?: number;
  /** Window models: default EVALUATE_BATCH_SIZE; a stateful model evaluates in its own batch. */
  batchSize?: number;
  unknown?: 'skip' | 'error';
  threads?: number;
}

/** Characters of a text outside a vocabulary: how many, which (in order of appearance), and where the first is. */
export interface UnknownCharacters {
  count: number;
  distinct: string[];
  first: { char: string; line: number } | null;
}

export function findUnknown(pieces: Iterable<string>, vocab: Vocabulary): UnknownCharacters {
  const distinct = new Set<string>();
  let count = 0;
  let line = 1;
  let first: UnknownCharacters['first'] = null;
  for (const piece of pieces) {
    for (const c of piece) {
      if (!vocab.has(c)) {
        count++;
        distinct.add(c);
        first ??= { char: c, line };
      }
      // After the check: a newline belongs to the line it ends.
      if (c === '\n') line++;
    }
  }
  return { count, distinct: [...distinct], first };
}

/** The model's mean loss over the dataset's batches, with a progress bar on a terminal (not with --quiet/--json). */
async function scoreWithProgress(model: Sequential, data: SyncBatchDataset, out: Output): Promise<number> {
  const progress = new BatchProgress(
    data.batchesPerEpoch ?? 0,
    'windows',
    process.stderr,
    out.progress && process.stderr.isTTY,
  );
  // Scoring is synchronous batch after batch: the breaks let a Ctrl-C end it (and clear the bar) at once.
  const withBreaks: BatchDataset = {
    ...(data.batchesPerEpoch !== undefined ? { batchesPerEpoch: data.batchesPerEpoch } : {}),
    batches: (epoch) => withSignalBreaks(data.batches(epoch)),
  };
  try {
    return (await model.evaluateDataset(withBreaks, { onBatchEnd: (b, logs) => progress.add(b, logs) })).loss;
  } finally {
    progress.stop();
  }
}

export async function evaluate(
  dir: string,
  file: string,
  o: EvaluateCliOptions,
  out: Output,
  json: boolean,
): Promise<number> {
  const { model, meta, vocab, lowercase } = await loadCharacterModel(dir, o, out);
  // A model without text metadata: the recipe's shape as the model tells it (train --from reads it the same way).
  const s = meta?.settings ?? settingsOfModel(model, lowercase, dir);
  // A Keras file's model comes uncompiled; scoring needs only the recipe's loss.
  if (!model.loss) compileTextModel(model, s);
  if (s.recipe === 'char-rnn') {
    // A stateful model reads its own batch of streams: a stride or another batch size would be ignored, so refuse it.
    if (o.step !== undefined)
      throw new UsageError(
        `--step: ${dir} is a stateful char-rnn model, which reads streams, not windows; leave it out`,
      );
    if (o.batchSize !== undefined && o.batchSize !== s.batchSize)
      throw new UsageError(
        `--batch-size ${o.batchSize}: ${dir} is a stateful char-rnn model, which evaluates in its own batch of ` +
          `${s.batchSize} streams; leave it out`,
      );
  }
  // The text in pieces, as recur train reads it: a large file is never one string.
  const pieces = textFileChunks(file);
  const unknown = findUnknown(
    (function* lowered() {
      for (const p of pieces()) yield s.lowercase ? p.toLowerCase() : p;
    })(),
    vocab,
  );
  if (unknown.first && o.unknown === 'error') {
    throw new UsageError(
      `${file}: character ${JSON.stringify(unknown.first.char)} on line ${unknown.first.line} is not in the model's ` +
        `vocabulary (${plural(unknown.count, 'such character')} in all); --unknown skip leaves ${unknown.count === 1 ? 'it' : 'them'} out`,
    );
  }
  const corpus = TextCorpus.fromChunks(pieces, {
    lowercase: s.lowercase,
    vocabulary: vocab,
    unknown: 'skip',
  });

  const batchSize = s.recipe === 'char-rnn' ? s.batchSize : (o.batchSize ?? EVALUATE_BATCH_SIZE);
  model.threads = o.threads ?? defaultThreads();
  assertFits(
    estimateTextModelBytes(s, vocab.size, batchSize, model.threads, false),
    `evaluating in batches of ${batchSize}`,
  );

  const t0 = Date.now();
  let loss: number;
  let samples: number;
  let windows: number;
  if (s.recipe === 'char-rnn') {
    if (corpus.length < s.seqLength * s.batchSize + 1)
      throw new UsageError(
        `${file}: the text has ${usableCharacters(corpus.length, unknown.count)}; the model reads ${s.batchSize} streams of ` +
          `${s.seqLength} and needs at least ${s.seqLength * s.batchSize + 1}`,
      );
    const data = corpus.streams({ seqLength: s.seqLength, batchSize: s.batchSize });
    model.resetStates();
    loss = await scoreWithProgress(model, data, out);
    windows = data.samplesPerEpoch ?? 0;
    samples = windows * s.seqLength;
  } else {
    const step = o.step ?? s.step;
    if (corpus.length < s.maxlen + 1)
      throw new UsageError(
        `${file}: the text has ${usableCharacters(corpus.length, unknown.count)}; the model needs at least ${s.maxlen + 1}`,
      );
    // Alike windows together: the model steps each distinct beginning once (the mean loss is the same).
    const data = corpus.windows({
      maxlen: s.maxlen,
      step,
      batchSize,
      shuffle: false,
      alikeTogether: true,
    });
    loss = await scoreWithProgress(model, data, out);
    samples = data.samplesPerEpoch ?? 0;
    windows = samples;
  }
  const seconds = (Date.now() - t0) / 1000;
  const result = {
    loss,
    bits_per_char: loss / Math.LN2,
    perplexity: Math.exp(loss),
    predictions: samples,
    unknown_skipped: unknown.count,
    unknown_characters: unknown.distinct,
    threads: model.threads,
    seconds,
    windows_per_sec: windows / Math.max(seconds, 1e-9),
  };
  if (json) out.json(result);
  else {
    process.stdout.write(
      `loss ${loss.toFixed(4)} nats/char · ${result.bits_per_char.toFixed(4)} bits/char · perplexity ${result.perplexity.toFixed(3)} (${samples.toLocaleString('en-US')} predictions)\n`,
    );
    if (unknown.count > 0) {
      const shown = unknown.distinct.slice(0, 10).map((c) => JSON.stringify(c));
      process.stdout.write(
        `skipped ${plural(unknown.count, 'character')} not in the model's vocabulary: ${shown.join(', ')}` +
          `${unknown.distinct.length > 10 ? ` and ${unknown.distinct.length - 10} more` : ''}\n`,
      );
    }
  }
  return 0;
}

/** "1 character", "2,000 characters". */
function plural(count: number, noun: string): string {
  return `${count.toLocaleString('en-US')} ${noun}${count === 1 ? '' : 's'}`;
}

/** The usable characters, and those skipped as outside the vocabulary: often why a text is too short. */
function usableCharacters(usable: number, skipped: number): string {
  const note =
    skipped > 0 ? ` (${skipped.toLocaleString('en-US')} more not in the model's vocabulary skipped)` : '';
  return `${plural(usable, 'usable character')}${note}`;
}
