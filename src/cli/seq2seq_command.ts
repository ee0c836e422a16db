/** The flags of `recur seq2seq train|eval|predict` (commander), kept beside main.ts so main.ts stays a table. */
import { InvalidArgumentError, type Command } from 'commander';
import {
  MAX_COUNT,
  batchSizeFlag,
  beamFlag,
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
  threadsFlag,
  timeLimitOption,
  unitsFlag,
} from './flags.js';
import { LR_MONITORS, LR_SCHEDULES } from '../seq2seq/lr_options.js';
import { TOKEN_MODES } from '../seq2seq/tokenizer.js';
import { makeOutput } from './output.js';
import type { Seq2SeqTrainOptions } from './seq2seq.js';
import { loadCommand } from './load_command.js';

/** A weight-average momentum: above 0 (0 would be the raw weights) and below 1 (which would never move). */
const emaFlag = (v: string): number => {
  const x = Number(v);
  if (v.trim() === '' || !(x > 0 && x < 1))
    throw new InvalidArgumentError(`--ema must be a number above 0 and below 1, got '${v}'`);
  return x;
};
/** A learning-rate cut: strictly between 0 (which would stop learning) and 1 (which would not cut). */
const lrFactorFlag = (v: string): number => {
  const bad = (): InvalidArgumentError =>
    new InvalidArgumentError(`--lr-factor must be a number above 0 and below 1, got '${v}'`);
  let f: number;
  try {
    f = numFlag('--lr-factor', 0, 1)(v);
  } catch {
    throw bad();
  }
  if (f === 0 || f === 1) throw bad();
  return f;
};

/** A count of validation sources, or 'all'. */
const valWordsFlag = (v: string): number | 'all' => {
  if (v === 'all') return 'all';
  try {
    return int('--val-words', 1)(v);
  } catch (e) {
    // The integer check's message, with the other value the flag takes.
    throw new InvalidArgumentError((e as Error).message.replace(', got ', " or 'all', got "));
  }
};

const int = (flag: string, min = 1, max = MAX_COUNT): ((v: string) => number) => intFlag(flag, min, max);

/** eval's and predict's decoding flags, the same for both. */
const lengthPenaltyFlag = numFlag('--length-penalty', 0, 10);
const ngramWeightFlag = (flag = '--ngram-weight'): ((v: string) => number) => numFlag(flag, 0, 100);

export function registerSeq2Seq(program: Command): void {
  const s2s = program
    .command('seq2seq')
    .description(
      'sequence-to-sequence learning (encoder–decoder with attention): train, eval, predict (default data: English grapheme to phoneme on CMUdict)',
    );
  // A model's own pairs (eval DIR, ngram, train --resume) are read as its training read them unless these say.
  const asTrained = "a model's own pairs: as its training read them";
  const dataFlags = (c: Command): Command =>
    c
      .option(
        '--format <f>',
        `pairs file format: 'tsv' or 'csv' (default: from the extension; ${asTrained})`,
        choiceFlag('--format', ['tsv', 'csv']),
      )
      .option('--source-column <name>', `CSV column of the sources (default 'source'; ${asTrained})`)
      .option('--target-column <name>', `CSV column of the targets (default 'target'; ${asTrained})`)
      .option(
        '--skip-bad',
        "skip bad lines (no tab, an empty side, too long) and count them instead of stopping (a model's own pairs: also when its training skipped them)",
        false,
      );

  dataFlags(
    s2s
      .command('train')
      .description(
        'train an encoder–decoder on pairs (default: CMUdict grapheme to phoneme, split 90/5/5 by word)',
      )
      .argument(
        '[pairs]',
        'TSV of source<TAB>target lines (extra columns ignored), or CSV with named columns',
      ),
  )
    .option('-o, --out <dir>', 'output directory (default: runs/<file name>, or runs/g2p)')
    .option('-e, --epochs <n>', 'epochs', epochsFlag(), 20)
    .option('-b, --batch-size <n>', 'batch size (default 64)', batchSizeFlag())
    .option(
      '--units <n>',
      'units per encoder direction (default 128; the decoder has twice as many with a bidirectional encoder)',
      unitsFlag(),
    )
    .option('--layers <n>', 'encoder layers (default 1)', layersFlag())
    .option('--cell <type>', 'lstm or gru', choiceFlag('--cell', ['lstm', 'gru']))
    .option('--no-bidirectional', 'a one-direction encoder')
    .option(
      '--attention <kind>',
      'luong, bahdanau or none (the Keras lstm_seq2seq shape)',
      choiceFlag('--attention', ['luong', 'bahdanau', 'none']),
    )
    .option(
      '--post-attention <n>',
      'a recurrent layer of n units after the attention, reading [decoder, context] at every step, in place of the tanh Dense (default: off)',
      unitsFlag('--post-attention'),
    )
    .option(
      '--input-feeding',
      "Luong's input feeding: the decoder RNN reads the previous step's attentional state beside the previous token, so it sees its earlier alignment decisions (needs attention; not with --post-attention) (default: off)",
    )
    .option(
      '--target-order <order>',
      "forward, reversed (the decoder writes the target right to left) or both (an ensemble's odd members forward, even members reversed, decoded by agreement: each side's best outputs rescored by all members; needs --ensemble 2 or more) (default: both for the G2P ensemble, else forward)",
      choiceFlag('--target-order', ['forward', 'reversed', 'both']),
    )
    .option('--embedding-dim <n>', 'embedding size (default 64)', int('--embedding-dim', 1, 8192))
    .addOption(
      olderNameOption(
        '--embedding <n>',
        '--embedding-dim',
        "classify train's name for the embedding size",
        int('--embedding', 1, 8192),
      ),
    )
    .option(
      '--dropout <rate>',
      'dropout between encoder layers and before the output (default 0.2 for G2P, 0.1 for pairs files)',
      dropoutFlag(),
    )
    .option(
      '--embedding-dropout <rate>',
      'dropout on the source and target embeddings (default 0)',
      dropoutFlag('--embedding-dropout'),
    )
    .option(
      '--encoder-dropout <rate>',
      "dropout on the encoder's outputs, the attention's values (default 0)",
      dropoutFlag('--encoder-dropout'),
    )
    .option(
      '--recurrent-dropout <rate>',
      'recurrent dropout of the encoder and decoder RNNs (default 0)',
      dropoutFlag('--recurrent-dropout'),
    )
    .option(
      '--label-smoothing <e>',
      'label smoothing of the cross-entropy: targets (1 − e)·one-hot + e/vocabulary (default 0.1 for G2P, 0 for pairs files)',
      numFlag('--label-smoothing', 0, 0.5),
    )
    .option('--optimizer <name>', 'adam, rmsprop, sgd or adagrad', optimizerFlag())
    .option('--lr <rate>', 'learning rate (default 0.002)', lrFlag())
    .option(
      '--ema <momentum>',
      'average the weights (exponential moving average with this momentum, e.g. 0.999) for validation, the saved model and the test (default: off)',
      emaFlag,
    )
    .option(
      '--lr-schedule <name>',
      'plateau: cut the learning rate when --lr-monitor stalls; cosine: anneal it from --lr to 0 over --epochs, by the step (default plateau)',
      choiceFlag('--lr-schedule', LR_SCHEDULES),
    )
    .option(
      '--lr-monitor <name>',
      'what cuts the learning rate (ReduceLROnPlateau): val_loss, or val_wer, the held-out sequence error (default val_wer for G2P, val_loss for pairs files)',
      choiceFlag('--lr-monitor', LR_MONITORS),
    )
    .option(
      '--lr-patience <n>',
      'epochs without improvement of the --lr-monitor before a cut (default 1)',
      int('--lr-patience', 1, 1000),
    )
    .option(
      '--lr-factor <f>',
      'a cut multiplies the learning rate by f, above 0 and below 1 (default 0.5)',
      lrFactorFlag,
    )
    .option('--clipnorm <x>', 'clip each gradient norm (default 5)', clipnormFlag())
    .option(
      '--source-tokens <mode>',
      'chars, words, wordpunct (words with punctuation split off) or symbols (default: chars for G2P, wordpunct for pairs)',
      choiceFlag('--source-tokens', TOKEN_MODES),
    )
    .option(
      '--target-tokens <mode>',
      'chars, words, wordpunct or symbols (default: symbols for G2P, wordpunct for pairs)',
      choiceFlag('--target-tokens', TOKEN_MODES),
    )
    .option(
      '--max-source-length <n>',
      'longest source in tokens (in words for words and wordpunct); longer lines are bad (default 40 G2P, 60 pairs)',
      int('--max-source-length', 1, 100000),
    )
    .option(
      '--max-target-length <n>',
      'longest target in tokens (in words for words and wordpunct; default 40 G2P, 60 pairs)',
      int('--max-target-length', 1, 100000),
    )
    .option(
      '--max-vocab <n>',
      'vocabulary size cap of each word-level side, the 4 special tokens included: the most frequent words; rarer ones read as <unk> (default: no cap)',
      int('--max-vocab', 5, 10_000_000),
    )
    .addOption(
      olderNameOption(
        '--vocab-size <n>',
        '--max-vocab',
        "classify train's name for the same cap",
        int('--vocab-size', 5, 10_000_000),
      ),
    )
    .option('--seed <n>', 'seed of the split, the weights and the shuffling (default 1)', seedFlag())
    .option(
      '--init-seed <n>',
      'seed of the initial weights, batch order and dropout only, so models of different --init-seed share the --seed split (default: --seed)',
      seedFlag('--init-seed'),
    )
    .option(
      '--val-words <n|all>',
      "validation sources decoded after every epoch for val_wer (the best model's choice and --lr-monitor val_wer): the first n, or all (default 1000)",
      valWordsFlag,
    )
    .option(
      '--train-on-validation',
      'a final refit of a chosen recipe: train on the validation split too (the test split stays held out); nothing is validated, so it needs --lr-schedule cosine, and the last epoch is the model',
    )
    .option(
      '--ensemble <n>',
      'train a seed ensemble of n members on one split (each its own --init-seed), decoded with their next-token probabilities averaged; --cpu-time-limit / --time-limit are split evenly between the members (default 2 for G2P, of both target orders; 1, one model, for pairs files or with --init-seed)',
      ensembleFlag(),
    )
    .option(
      '--joint-ngram <order>',
      'also fit a joint-sequence n-gram of this order on the aligned pairs (each source token → 0–2 target tokens; for monotone tasks such as pronunciation), which decoding adds to the encoder–decoders; 0 = none (default 6 for G2P, 0 for pairs files)',
      int('--joint-ngram', 0, 12),
    )
    .addOption(timeLimitOption())
    .addOption(cpuTimeLimitOption())
    .option('--threads <n>', 'worker threads each batch is split across (default: all cores)', threadsFlag())
    .option(
      '--resume',
      'continue the run saved in --out exactly where it stopped (a cosine run: to the epochs it started with)',
      false,
    )
    .option('--overwrite', 'replace a model already in --out', false)
    .option('-q, --quiet', 'print nothing but errors', false)
    .option('--json', 'one JSON object per epoch (and the test scores) on stdout', false)
    .action(async (file: string | undefined, flags: Record<string, unknown>, cmd: Command) => {
      // `embedding`: the name a seed ensemble's ensemble.json keeps --embedding-dim under.
      const { embeddingDim, ...rest } = flags;
      const opts = { ...rest, embedding: embeddingDim } as Seq2SeqTrainOptions & {
        quiet?: boolean;
        json?: boolean;
      };
      // --epochs has a default, so only a given one replaces a resumed run's own.
      opts.epochsGiven = cmd.getOptionValueSource('epochs') === 'cli';
      const { seq2seqTrain } = await loadCommand(() => import('./seq2seq.js'));
      process.exitCode = await seq2seqTrain(file, opts, makeOutput(opts));
    });

  dataFlags(
    s2s
      .command('eval')
      .description(
        'sequence and token error rates (BLEU and chrF for word or character targets, or with --bleu) of a model on pairs',
      )
      .argument('<model-dir>', 'a directory written by recur seq2seq train (a model or a seed ensemble)')
      .argument(
        '[pairs]',
        "pairs to score, all of them (default: the held-out split of the model's training data)",
      ),
  )
    .option('--beam <n>', 'beam width (1 = greedy)', beamFlag(), 1)
    .option(
      '--length-penalty <a>',
      'beam length-penalty exponent α (default 0.6; 0 = none)',
      lengthPenaltyFlag,
    )
    .option(
      '--split <name>',
      "the held-out split scored when no pairs are given: 'test' or 'validation' (default test)",
      choiceFlag('--split', ['test', 'validation']),
    )
    .option('--limit <n>', 'score only the first n sources', limitFlag())
    .option('--bleu', 'also compute BLEU and chrF', false)
    .option(
      '--ignore-stress',
      "score without lexical stress: drop the tokens' trailing digits (ARPAbet AH0 → AH) from outputs and references, as the published CMUdict G2P figures do",
      false,
    )
    .option(
      '--ngram-weight <w>',
      "weight of the model's joint n-gram in decoding (default: the one it was saved with; 0 = decode without it)",
      ngramWeightFlag(),
    )
    .option('-b, --batch-size <n>', 'sources decoded together', batchSizeFlag(), 64)
    .option(
      '--json',
      'print {wer, ter, bleu, chrf, n, seconds, skipped?} (skipped: the bad lines --skip-bad skipped)',
      false,
    )
    .option('-q, --quiet', 'no progress bar: print only the result and errors', false)
    .option(
      '--threads <n>',
      'worker threads the batches are split over (default: all cores, once there are 16 batches for each)',
      threadsFlag(),
    )
    .action(async (dir: string, file: string | undefined, opts) => {
      const { seq2seqEval } = await loadCommand(() => import('./seq2seq.js'));
      process.exitCode = await seq2seqEval(dir, file, opts, makeOutput(opts), opts.json);
    });

  s2s
    .command('predict')
    .description(
      'decode sources given as arguments, or one per line in --input or on stdin (one output line per input line; a blank line gives an empty one)',
    )
    .argument('<model-dir>', 'a directory written by recur seq2seq train (a model or a seed ensemble)')
    .argument('[sources...]', 'texts to convert (default: --input lines, else stdin lines)')
    .option('-i, --input <file>', 'read the sources from this file, one per line, instead of stdin')
    .option('--beam <n>', 'beam width (1 = greedy)', beamFlag(), 1)
    .option(
      '--length-penalty <a>',
      'beam length-penalty exponent α (default 0.6; 0 = none)',
      lengthPenaltyFlag,
    )
    .option(
      '--ngram-weight <w>',
      "weight of the model's joint n-gram in decoding (default: the one it was saved with; 0 = decode without it)",
      ngramWeightFlag(),
    )
    .option('-b, --batch-size <n>', 'sources decoded together', batchSizeFlag(), 64)
    .option(
      '--json',
      'one {source, output, score, unknown?} per line (unknown: tokens the model never saw); a blank stdin line: {source, output: "", blank: true}',
      false,
    )
    .option('-q, --quiet', 'no progress bar or notes: print only the outputs and errors', false)
    .option(
      '--skip-bad',
      'print an empty line (with --json, {source, output: "", skipped}) for a source the model refuses — over its --max-source-length, with a word of more than 100 characters, or holding a tab — instead of stopping',
      false,
    )
    .option(
      '--threads <n>',
      'worker threads the batches are split over (default: all cores, once there are 16 batches for each)',
      threadsFlag(),
    )
    .action(async (dir: string, sources: string[], opts) => {
      const { seq2seqPredict } = await loadCommand(() => import('./seq2seq.js'));
      process.exitCode = await seq2seqPredict(dir, sources, opts, makeOutput(opts));
    });

  dataFlags(
    s2s
      .command('ngram')
      .description(
        "fit a model's joint-sequence n-gram on its training pairs and save it beside the model (DIR/joint-ngram.json), for a model trained without one",
      )
      .argument('<model-dir>', 'a directory written by recur seq2seq train (a model or a seed ensemble)'),
  )
    .option('--order <n>', 'n-gram order', int('--order', 1, 12), 6)
    .option('--weight <w>', 'its weight in decoding', ngramWeightFlag('--weight'), 0.3)
    .option('--overwrite', 'replace the joint n-gram the model already has', false)
    .option('-q, --quiet', 'print nothing but errors', false)
    .option('--json', 'one JSON object on stdout', false)
    .action(async (dir: string, opts) => {
      const { seq2seqNgram } = await loadCommand(() => import('./seq2seq.js'));
      process.exitCode = await seq2seqNgram(dir, opts, makeOutput(opts));
    });
}
