/** `recur generate <model-dir>` — streams generated text to stdout as it is produced. */
import { TextGenerator } from '../text/generator.js';
import { UsageError, type Output } from './output.js';
import { vocabularyOf } from '../text/metadata.js';
import { loadTextModel } from './text_model.js';

export interface GenerateCliOptions {
  length: number;
  temperature: number;
  prime?: string;
  topK?: number;
  topP?: number;
  seed?: number;
  exactWindow?: boolean;
}

export function generate(dir: string, o: GenerateCliOptions, out: Output, json: boolean): number {
  const { model, meta, notes } = loadTextModel(dir);
  for (const n of notes) out.info(`note: ${n}`);
  const vocab = vocabularyOf(meta);
  const prime = o.prime ?? meta.defaultPrime;
  const lowered = meta.settings.lowercase ? prime.toLowerCase() : prime;
  const unknown = [...new Set(Array.from(lowered).filter((c) => !vocab.has(c)))];
  if (unknown.length > 0) {
    throw new UsageError(
      `--prime has characters the model never saw: ${unknown.map((c) => JSON.stringify(c)).join(', ')}`,
    );
  }
  if (o.exactWindow && meta.settings.recipe !== 'keras')
    throw new UsageError('--exact-window applies to models trained on windows (the keras recipe)');
  const gen = new TextGenerator(
    model,
    vocab,
    meta.settings.lowercase,
    o.exactWindow ? meta.settings.maxlen : undefined,
  );
  if (!json) process.stdout.write(lowered);
  const t0 = Date.now();
  const text = gen.generate({
    prime,
    length: o.length,
    temperature: o.temperature,
    topK: o.topK,
    topP: o.topP,
    seed: o.seed,
    onChar: json ? undefined : (c) => process.stdout.write(c),
  });
  if (json) out.json({ prime: lowered, text, temperature: o.temperature, seconds: (Date.now() - t0) / 1000 });
  else process.stdout.write('\n');
  return 0;
}
