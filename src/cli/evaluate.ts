/** `recur evaluate <model-dir> <text-file>` — loss, bits per character and perplexity of a text model on a text. */
import { loadModel } from '../node/model_io.js';
import { readTextFile } from '../node/text_file.js';
import { TextCorpus } from '../text/corpus.js';
import type { Output } from './output.js';
import { parseTextMetadata, vocabularyOf } from './text_model.js';

export async function evaluate(
  dir: string,
  file: string,
  o: { step?: number; batchSize: number },
  out: Output,
  json: boolean,
): Promise<number> {
  const { model, metadata, notes } = loadModel(dir);
  for (const n of notes) out.info(`note: ${n}`);
  const meta = parseTextMetadata(metadata, dir);
  const s = meta.settings;
  const text = readTextFile(file);
  let corpus: TextCorpus;
  try {
    corpus = TextCorpus.fromText(text, { lowercase: s.lowercase, vocabulary: vocabularyOf(meta) });
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  const t0 = Date.now();
  let loss: number;
  let samples: number;
  if (s.recipe === 'char-rnn') {
    const data = corpus.streams({ seqLength: s.seqLength, batchSize: s.batchSize });
    model.resetStates();
    loss = (await model.evaluateDataset(data)).loss;
    samples = (data.samplesPerEpoch ?? 0) * s.seqLength;
  } else {
    const step = o.step ?? s.step;
    if (corpus.length < s.maxlen + 1)
      throw new Error(
        `${file}: the text has ${corpus.length} characters; the model needs at least ${s.maxlen + 1}`,
      );
    const data = corpus.windows({ maxlen: s.maxlen, step, batchSize: o.batchSize, shuffle: false });
    loss = (await model.evaluateDataset(data)).loss;
    samples = data.samplesPerEpoch ?? 0;
  }
  const result = {
    loss,
    bits_per_char: loss / Math.LN2,
    perplexity: Math.exp(loss),
    predictions: samples,
    seconds: (Date.now() - t0) / 1000,
  };
  if (json) out.json(result);
  else
    process.stdout.write(
      `loss ${loss.toFixed(4)} nats/char · ${result.bits_per_char.toFixed(4)} bits/char · perplexity ${result.perplexity.toFixed(3)} (${samples.toLocaleString('en-US')} predictions)\n`,
    );
  return 0;
}
