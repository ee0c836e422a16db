/** `recur predict <model>` — JSON inputs on stdin, JSON outputs on stdout, for a model of any format recur reads. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { InvalidInputError } from '../core/errors.js';
import { modelInputs, predictJson } from '../keras/predict_json.js';
import { loadAnyModel } from '../node/keras_io.js';
import { decodeText, readStdinText } from '../node/text_file.js';
import type { Output } from './output.js';
import { parseJsonText } from '../core/json_text.js';

/** What the model takes, as the JSON it reads: `{"gru_1": [batch, 60, 1]}` (token ids said so). */
function inputsExample(model: Parameters<typeof modelInputs>[0]): string {
  const entries = modelInputs(model).map(
    (i) =>
      `"${i.name}": [${i.shape.map((d, k) => d ?? (k === 0 ? (i.statefulBatchSize ?? 'batch') : k === 1 ? 'steps' : 'any')).join(', ')}]` +
      (i.tokens ? ' (token ids)' : ''),
  );
  return `{${entries.join(', ')}}`;
}

/** Reads all of stdin (or `inputFile`) as JSON; bad JSON is bad input naming the source. */
function readJsonInput(
  inputFile: string | undefined,
  model: Parameters<typeof modelInputs>[0],
): { json: unknown; where: string } {
  const where = inputFile ?? 'stdin';
  // Reading a directory fails with an error that names no path (EISDIR from read, not open): say which one.
  if (inputFile !== undefined && existsSync(inputFile) && statSync(inputFile).isDirectory())
    throw new InvalidInputError(`${inputFile} is a directory; expected a JSON file`);
  const expected = `give the inputs as JSON nested arrays of these shapes: ${inputsExample(model)}`;
  // Stdin and a file as every command reads text (checked UTF-8, a BOM dropped, UTF-16 named; nothing at all refused
  // on stdin); whitespace alone is no JSON either.
  const text =
    inputFile === undefined ? readStdinText(expected) : decodeText(readFileSync(inputFile), inputFile);
  if (text.trim() === '') throw new InvalidInputError(`${where} is empty; ${expected}`);
  try {
    return { json: parseJsonText(text, where), where };
  } catch (e) {
    throw new InvalidInputError((e as Error).message);
  }
}

export async function predict(modelPath: string, opts: { input?: string }, out: Output): Promise<number> {
  const { model, notes } = await loadAnyModel(modelPath);
  for (const n of notes) out.note(n);
  const { json, where } = readJsonInput(opts.input, model);
  const result = predictJson(model, json, where);
  process.stdout.write(JSON.stringify(result) + '\n');
  return 0;
}
