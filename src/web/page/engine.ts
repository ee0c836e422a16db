/**
 * The page's engine: a module Web Worker that trains, generates, reads and writes model files and forecasts, so the
 * page's main thread only draws. Training splits its batches over the Web Worker pool (src/web/pool.ts, nested
 * workers) when the page is cross-origin isolated; otherwise it runs here, on one worker, and says so.
 *
 * Generation is TextGenerator's, as in `recur generate`: the same model, prime and seed give the same text.
 */
import { kernels } from '../../core/backend.js';
import { InvalidInputError } from '../../core/errors.js';
import {
  BASELINES,
  baselineLoaders,
  hybridPossible,
  setBaselineLoaders,
  type BaselineName,
} from '../../forecast/baselines.js';
import { forecastSvg, type ChartData } from '../../forecast/chart.js';
import { FORECAST_DEFAULTS, type NetworkOptions } from '../../forecast/network.js';
import { evaluateSplit } from '../../forecast/pipeline.js';
import { SEASON_OF_FREQUENCY, datesAfter, parseSeriesCsv } from '../../forecast/series.js';
import { detectSeason } from '../../forecast/transforms.js';
import { forecastErrorMessage } from './forecast_messages.js';
import { webSarima } from './sarima.js';
import { LambdaCallback, TerminateOnNaN } from '../../models/callbacks.js';
import { parseModelJson } from '../../models/model_file.js';
import type { BatchDataset, EpochProgress, Sequential } from '../../models/sequential.js';
import { deserializeModel, modelJsonFor, serializeModel } from '../../models/serialization.js';
import { TextCorpus } from '../../text/corpus.js';
import { ChunkedText } from '../../text/chunked_text.js';
import { TextGenerator } from '../../text/generator.js';
import {
  parseTextModelMetadata,
  textMetadata,
  vocabularyOf,
  type TextSettings,
} from '../../text/metadata.js';
import {
  buildTextModel,
  compileTextModel,
  defaultPrimeOf,
  epochSampleTexts,
  textDatasets,
  textSettings,
  trainingTooShort,
} from '../../text/recipes.js';
import { Vocabulary } from '../../text/vocabulary.js';
import { loadKerasModel } from '../../keras/load.js';
import { corpusWindow, kerasCharacterModel } from '../../keras/text_model.js';
import { GRU } from '../../layers/gru.js';
import { LSTM } from '../../layers/lstm.js';
import { RNN } from '../../layers/recurrent.js';
import { defaultThreads, installWebWorkerPool } from '../pool.js';
import { startWebStepHelper } from '../step_helper.js';
import type {
  EngineReply,
  EngineRequest,
  ForecastRequest,
  GenerateRequest,
  ModelInfo,
  TrainRequest,
} from './protocol.js';

const scope = globalThis as unknown as {
  postMessage(m: EngineReply, transfer?: Transferable[]): void;
  addEventListener(type: 'message', fn: (e: MessageEvent<EngineRequest>) => void): void;
};
const post = (m: EngineReply, transfer: Transferable[] = []): void => scope.postMessage(m, transfer);

/** At most this many threads: the page shares the machine with the browser and the user's other work. */
const MAX_THREADS = 4;
const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
const pool = installWebWorkerPool(new URL('./pool-worker.js', import.meta.url));
const threads = pool ? Math.max(1, Math.min(defaultThreads(), MAX_THREADS)) : 1;
// One stream of generation uses a second core: the helper computes each step's recurrent product while the next
// character is sampled (the same text). It sleeps between generations.
const stepHelper = startWebStepHelper(threads, new URL('./step-helper-worker.js', import.meta.url));
// SARIMA's fits run in a worker each, which Stop terminates (sarima.ts).
setBaselineLoaders({
  ...baselineLoaders(),
  sarima: webSarima(new URL('./sarima-worker.js', import.meta.url)),
});

/** The text model the page works with: trained here or loaded from files. */
interface TextModel {
  name: string;
  model: Sequential;
  vocabulary: Vocabulary;
  settings: TextSettings;
  defaultPrime: string;
  temperatures: number[];
}
let current: TextModel | null = null;

/** A training run that can be stopped and resumed. */
interface Run {
  text: TextModel;
  train: BatchDataset;
  validation: BatchDataset | undefined;
  epochs: number;
  sampleLength: number;
  /** Epochs finished. */
  done: number;
  resumeFrom: EpochProgress | null;
}
let run: Run | null = null;
let training = false;

function info(t: TextModel, notes?: string[]): ModelInfo {
  return {
    ...(notes ? { notes } : {}),
    name: t.name,
    recipe: t.settings.recipe,
    cell: t.settings.cell,
    units: t.settings.units,
    layers: t.settings.layers,
    vocabulary: t.vocabulary.size,
    lowercase: t.settings.lowercase,
    defaultPrime: t.defaultPrime,
    temperatures: t.temperatures,
  };
}

/** The page's validation split, as its errors name it: its box, "Held out for validation (%)" (the CLI's flag elsewhere). */
const SPLIT_SETTING = 'held out for validation';

async function startTraining(r: TrainRequest): Promise<void> {
  if (training) throw new InvalidInputError('training is already running; stop it first');
  const settings = textSettings(
    r.recipe,
    { cell: r.cell, units: r.units, layers: r.layers, seed: r.seed, validationSplit: r.validationSplit },
    r.source,
  );
  const corpus = TextCorpus.fromText(r.text, { lowercase: settings.lowercase });
  const { train, validation } = corpus.split(settings.validationSplit);
  const tooShort = trainingTooShort(r.source, settings, train.length, SPLIT_SETTING);
  if (tooShort) throw new InvalidInputError(tooShort);
  const model = buildTextModel(settings, corpus.vocabulary.size);
  model.build();
  compileTextModel(model, settings);
  model.threads = threads;
  const data = textDatasets(model, settings, train, validation, {
    maxBatches: r.stepsPerEpoch > 0 ? r.stepsPerEpoch : undefined,
    splitSetting: SPLIT_SETTING,
  });
  const text: TextModel = {
    name: r.source.replace(/\.[^.]*$/, '') || 'model',
    model,
    vocabulary: corpus.vocabulary,
    settings,
    defaultPrime: defaultPrimeOf(settings, train),
    temperatures: r.temperatures,
  };
  current = text;
  run = {
    text,
    train: data.train,
    validation: data.validation,
    epochs: r.epochs,
    sampleLength: r.sampleLength,
    done: 0,
    resumeFrom: null,
  };
  const summary: string[] = [];
  model.summary((l) => summary.push(l));
  post({
    type: 'started',
    chars: corpus.length,
    vocabulary: corpus.vocabulary.size,
    batchesPerEpoch: data.train.batchesPerEpoch ?? 0,
    samplesPerEpoch: data.train.samplesPerEpoch ?? 0,
    epochs: r.epochs,
    threads,
    summary: summary.join('\n'),
  });
  post({ type: 'model', info: info(text) });
  await fit(run);
}

/** Runs (or continues) the run's epochs, reporting progress, the epoch's loss and samples at the recipe temperatures. */
async function fit(r: Run): Promise<void> {
  const { model, settings } = r.text;
  const batches = r.train.batchesPerEpoch ?? 1;
  let epochStart = performance.now();
  let epochSamples = 0;
  let pending: number[] = [];
  let lastPost = 0;
  let batchesThisRun = 0;
  const runStart = performance.now();
  const totalLeft = (r.epochs - r.done) * batches - (r.resumeFrom?.batch ?? 0);
  const report = (epoch: number, batch: number): void => {
    const now = performance.now();
    const elapsed = (now - runStart) / 1000;
    post({
      type: 'progress',
      epoch,
      batch,
      losses: pending,
      samplesPerSec: epochSamples / Math.max(1e-3, (now - epochStart) / 1000),
      etaSeconds:
        batchesThisRun > 0 ? (elapsed / batchesThisRun) * Math.max(0, totalLeft - batchesThisRun) : NaN,
    });
    pending = [];
    lastPost = now;
  };
  // Stops at the first non-finite loss, weight or validation loss, before anything of that epoch is reported.
  const guard = new TerminateOnNaN({ warn: () => undefined });
  const callbacks = new LambdaCallback({
    onEpochBegin: () => {
      epochStart = performance.now();
      epochSamples = 0;
    },
    onBatchEnd: (batch, logs) => {
      // A non-finite batch is reported once fit returns (below), not drawn as a point of the loss curve.
      if (guard.reason !== null) return;
      const loss = logs.loss;
      pending.push(loss);
      epochSamples += logs.size ?? 0;
      batchesThisRun++;
      if (performance.now() - lastPost > 100) report(r.done, batch + 1);
    },
    onEpochEnd: (epoch, logs) => {
      report(epoch, batches);
      const seconds = (performance.now() - epochStart) / 1000;
      r.done = epoch + 1;
      r.resumeFrom = null;
      post({
        type: 'epoch',
        epoch: epoch + 1,
        loss: logs.loss,
        valLoss: logs.val_loss ?? null,
        seconds,
        samplesPerSec: epochSamples / seconds,
      });
      if (r.sampleLength > 0) {
        const generator = new TextGenerator(model, r.text.vocabulary, settings.lowercase);
        const texts = epochSampleTexts(generator, settings, epoch, {
          prime: r.text.defaultPrime,
          length: r.sampleLength,
          temperatures: r.text.temperatures,
        });
        post({
          type: 'samples',
          epoch: epoch + 1,
          prime: r.text.defaultPrime,
          samples: texts.map((text, i) => ({ temperature: r.text.temperatures[i], text })),
        });
      }
    },
  });
  training = true;
  try {
    await model.fitDataset(r.train, {
      epochs: r.epochs,
      ...(r.resumeFrom ? { resumeFrom: r.resumeFrom } : { initialEpoch: r.done }),
      validationData: r.validation,
      callbacks: [guard, callbacks],
    });
    if (guard.reason !== null)
      throw new Error(`training stopped at epoch ${guard.epoch + 1}: ${guard.reason} (try fewer units)`);
  } catch (e) {
    // A failed batch left the weights (non-finite ones, after a NaN stop) and the run's position where no resume can
    // go on from: the run ends, and the page's Resume with it (resumable, below).
    if (run === r) run = null;
    throw e;
  } finally {
    training = false;
  }
  if (model.interruptedAt) {
    r.resumeFrom = model.interruptedAt;
    post({ type: 'stopped', epoch: r.resumeFrom.epoch + 1, batch: r.resumeFrom.batch });
  } else if (r.done < r.epochs) post({ type: 'stopped', epoch: r.done + 1, batch: 0 });
  else post({ type: 'trained', epochs: r.done });
}

/** Whether Resume can continue a run: one stopped before its last epoch, not ended by a failure or another model. */
function resumable(): boolean {
  return run !== null && !training && run.done < run.epochs;
}

/** Generations asked for and not yet finished, by id: Stop aborts one, running or still queued. */
const generations = new Map<number, AbortController>();

/** A macrotask yield without setTimeout's 4 ms clamp: a Stop message queued before it is handled first. */
function yieldToMessages(): Promise<void> {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

async function generate(g: GenerateRequest): Promise<void> {
  const signal = generations.get(g.id)?.signal ?? AbortSignal.abort();
  try {
    await generateText(g, signal);
  } finally {
    generations.delete(g.id);
  }
}

async function generateText(g: GenerateRequest, signal: AbortSignal): Promise<void> {
  if (!current) throw new InvalidInputError('no model yet: train one, or load one from IndexedDB or files');
  const t = current;
  const prime = g.prime === '' ? t.defaultPrime : g.prime;
  const lowered = t.settings.lowercase ? prime.toLowerCase() : prime;
  const unknown = [...new Set(Array.from(lowered).filter((c) => !t.vocabulary.has(c)))];
  if (unknown.length > 0)
    throw new InvalidInputError(
      `the prime has characters the model never saw: ${unknown.map((c) => JSON.stringify(c)).join(', ')}`,
    );
  // Characters go out in small batches (one message per ~30 ms), so a long text does not flood the page.
  const chars = new ChunkedText((text) => post({ type: 'chars', id: g.id, text }), Infinity, 30);
  const gen = new TextGenerator(t.model, t.vocabulary, t.settings.lowercase);
  // It yields between slices, so a Stop (or training's batches) gets through a long generation.
  const { text, stopped } = await gen.generateStoppable(
    {
      prime,
      length: g.length,
      temperature: g.temperature,
      topK: g.topK,
      topP: g.topP,
      seed: g.seed,
      onChar: (c) => chars.add(c),
      helper: stepHelper,
    },
    signal,
    yieldToMessages,
  );
  chars.flush();
  post({ type: 'generated', id: g.id, prime: lowered, text, stopped });
}

function exportModel(): void {
  if (!current) throw new InvalidInputError('no model to save yet');
  const t = current;
  const art = serializeModel(t.model, {
    includeOptimizer: false,
    metadata: { ...textMetadata(t.vocabulary, t.settings, t.defaultPrime) },
  });
  const weights = art.weightData.slice().buffer;
  post({ type: 'exported', files: { name: t.name, modelJson: modelJsonFor(art, 'weights.bin'), weights } }, [
    weights,
  ]);
}

/**
 * A model from files: model.json (called `jsonName` in errors) and the weights files its manifest names (matched by
 * file name).
 */
function importModel(
  name: string,
  jsonName: string,
  modelJson: string,
  files: { name: string; data: ArrayBuffer }[],
): void {
  const json = parseModelJson(modelJson, jsonName);
  const byName = new Map(files.map((f) => [f.name, f.data]));
  const weightFiles = json.weightsManifest.flatMap((g) =>
    g.paths.map((p) => {
      const base = p.split('/').pop()!;
      const data = byName.get(base);
      if (!data)
        throw new InvalidInputError(
          `${jsonName} names the weights file '${p}'; choose or drop it together with ${jsonName}`,
        );
      return { path: p, data: new Uint8Array(data) };
    }),
  );
  const loaded = deserializeModel(json, weightFiles, jsonName);
  const meta = parseTextModelMetadata(loaded.model, loaded.metadata, jsonName);
  if (training) throw new InvalidInputError('stop training before loading another model');
  current = {
    name,
    model: loaded.model,
    vocabulary: vocabularyOf(meta),
    settings: meta.settings,
    defaultPrime: meta.defaultPrime,
    temperatures: [0.2, 0.5, 1.0, 1.2],
  };
  run = null;
  post({ type: 'model', info: info(current, loaded.notes) });
}

/**
 * A Keras character model from a dropped or opened .h5/.hdf5/.keras file (src/keras's browser loader), with the
 * vocabulary `recur generate --chars/--corpus` would give it: the same file, prime and seed give the CLI's text.
 */
async function importKeras(name: string, bytes: ArrayBuffer, corpus: string, chars: string): Promise<void> {
  if (training) throw new InvalidInputError('stop training before loading another model');
  if (corpus === '' && chars === '')
    throw new InvalidInputError(
      `${name}: a Keras model carries no vocabulary; put its training text in the Text box (or its characters in the characters box) and load it again`,
    );
  const loaded = await loadKerasModel(new Uint8Array(bytes), name);
  const k = kerasCharacterModel(
    loaded.model,
    chars !== '' ? { chars } : { corpus, corpusName: 'the Text box' },
    name,
    'the characters box',
  );
  const rnns = k.model.layers.filter((l): l is RNN => l instanceof RNN);
  // The recipe and window as the model's shape tells them (as recur train --from reads them): the saved model's
  // metadata is checked against its network when it is loaded again (parseTextModelMetadata).
  const sequence = k.model.outputShape().length === 2;
  const steps = k.model.inputShape()?.[0];
  const window = typeof steps === 'number' ? steps : null;
  const streams = k.model.layers[0].declaredBatchSize;
  const base = textSettings(sequence ? 'char-rnn' : 'keras', { seed: 0 }, name);
  const settings: TextSettings = {
    ...base,
    cell: rnns[0] instanceof LSTM ? 'lstm' : rnns[0] instanceof GRU ? 'gru' : 'simple-rnn',
    units: rnns[0]?.units ?? 1,
    layers: Math.max(1, rnns.length),
    maxlen: sequence ? base.maxlen : (window ?? k.window ?? 40),
    seqLength: sequence ? (window ?? base.seqLength) : base.seqLength,
    batchSize: sequence && rnns.some((l) => l.stateful) && streams !== null ? streams : base.batchSize,
    lowercase: k.vocabulary.lowercase,
  };
  current = {
    name,
    model: k.model,
    vocabulary: Vocabulary.fromJSON(k.vocabulary.chars),
    settings,
    defaultPrime: k.vocabulary.text ? corpusWindow(k.vocabulary, k.window, 0).prime : k.vocabulary.chars[0],
    temperatures: [0.2, 0.5, 1.0, 1.2],
  };
  run = null;
  post({
    type: 'model',
    info: info(current, [
      `vocabulary: ${k.vocabulary.chars.length} characters, ${k.vocabulary.how}`,
      ...loaded.notes,
    ]),
  });
}

/**
 * The CLI's forecast on a pasted or dropped CSV: the network ensemble next to the baselines on a hold-out of the last
 * `horizon` points (or a forecast of the future), every baseline `recur forecast` fits (SARIMA in a worker of its own).
 */
async function forecast(r: ForecastRequest, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  const series = parseSeriesCsv(r.csv, { source: r.source });
  const season = series.frequency ? SEASON_OF_FREQUENCY[series.frequency] : detectSeason(series.values);
  const horizon = r.horizon > 0 ? r.horizon : season > 1 ? season : 12;
  const holdout = r.holdout ? horizon : 0;
  const lookback = season > 1 ? 2 * season : 12;
  const need = lookback + horizon + holdout + Math.max(season, 1) + 2;
  if (series.values.length < need)
    throw new InvalidInputError(
      `${r.source}: ${series.values.length} points; this forecast (horizon ${horizon}, lookback ${lookback}, season ${season}) needs at least ${need}`,
    );
  let method = r.method;
  let note = '';
  if (method === 'hybrid' && !hybridPossible(series.values.length - holdout, season)) {
    method = 'network';
    note = `the hybrid needs a season ≥ 2 and two full seasons of training data (season ${season}); used the network alone. `;
  }
  const opts: NetworkOptions = {
    method,
    cell: (['lstm', 'gru', 'simple-rnn'].includes(r.cell) ? r.cell : 'lstm') as NetworkOptions['cell'],
    units: FORECAST_DEFAULTS.units,
    layers: FORECAST_DEFAULTS.layers,
    dropout: FORECAST_DEFAULTS.dropout,
    lookback,
    horizon,
    strategy: FORECAST_DEFAULTS.strategy,
    epochs: r.epochs,
    batchSize: FORECAST_DEFAULTS.batchSize,
    learningRate: FORECAST_DEFAULTS.learningRate,
    seeds: Array.from({ length: r.seeds }, (_, i) => i + 1),
    log: false,
    differencing: season <= 1 ? 'first' : 'seasonal',
    season,
    scaling: 'standard',
  };
  const networks = `${opts.seeds.length} ${opts.cell.toUpperCase()} networks`;
  // The hybrid fits ETS before and after the networks, in one piece (a long series takes it seconds): Stop waits for it.
  post({
    type: 'forecast-progress',
    message: `${series.values.length} ${series.frequency ?? 'undated'} points, season ${season}, horizon ${horizon}: ${method === 'hybrid' ? `fitting ETS and training ${networks} on its residuals` : `training ${networks}`}…`,
    stopping:
      method === 'hybrid'
        ? "Stopping after ETS's fit or the current batch…"
        : 'Stopping after the current batch…',
  });
  const trainEnd = series.values.length - holdout;
  // The baselines are scored on the hold-out only; each is named as it runs (the networks are done by then, and
  // SARIMA's fit can take seconds).
  const baselines = holdout > 0 ? BASELINES : [];
  const s = await evaluateSplit(series.values, trainEnd, opts, baselines, threads, signal, (b, i) =>
    post({
      type: 'forecast-progress',
      message: `${opts.seeds.length} network(s) trained; baseline ${i + 1} of ${baselines.length}: fitting ${baselineLabel(b, season)}…`,
      stopping: b === 'sarima' ? "Stopping SARIMA's fit…" : 'Stopping after this baseline…',
    }),
  );
  const dates =
    holdout > 0 ? series.dates.slice(trainEnd) : datesAfter(series.dates, horizon, series.frequency);
  const rows = [...s.metrics.entries()];
  const best = rows.filter(([n]) => n !== 'network').sort((a, b) => a[1].rmse - b[1].rmse)[0];
  const chart: ChartData = {
    title: `${series.name ?? r.source}: ${method} forecast${best ? ` vs ${best[0]}` : ''}`,
    dates: series.dates,
    values: series.values,
    start: trainEnd,
    forecast: s.network.mean,
    lower: s.network.lower,
    upper: s.network.upper,
    actual: holdout > 0 ? s.actual : undefined,
    baseline: best ? { name: best[0], values: s.baselines.get(best[0] as BaselineName)! } : undefined,
    frequency: series.frequency,
  };
  post({
    type: 'forecast',
    result: {
      title: chart.title,
      dates,
      forecast: s.network.mean,
      lower: s.network.lower,
      upper: s.network.upper,
      actual: holdout > 0 ? s.actual : null,
      metrics: rows.map(([n, m]) => [n, { ...m }]),
      skipped: [...s.skipped.entries()],
      baselines: [...s.baselines.entries()],
      svg: await forecastSvg(chart),
      note,
    },
  });
}

/** A baseline as the page's status names it while it runs. */
function baselineLabel(b: BaselineName, season: number): string {
  if (b === 'ets') return 'ETS';
  if (b === 'theta') return 'Theta';
  if (b === 'sarima') return `SARIMA (season ${season})`;
  return b === 'seasonal naive' ? `seasonal naive (season ${season})` : b;
}

/** The forecast asked for and not yet finished: Stop aborts it, running or still queued. */
let forecasting: AbortController | null = null;

async function runForecast(r: ForecastRequest, abort: AbortController): Promise<void> {
  try {
    await forecast(r, abort.signal);
  } catch (e) {
    // Stopped: said as such, not as an error (the networks' fit rejects with the signal's reason).
    if (!abort.signal.aborted) throw e;
    post({ type: 'forecast-stopped' });
  } finally {
    if (forecasting === abort) forecasting = null;
  }
}

/**
 * One request at a time, except the stops, which must reach a running fit or generation (they yield between batches
 * and slices).
 */
let queue: Promise<void> = Promise.resolve();
scope.addEventListener('message', (e) => {
  const m = e.data;
  if (m.type === 'stop') {
    if (run && training) run.text.model.stopTraining = true;
    return;
  }
  if (m.type === 'stop-generation') {
    generations.get(m.id)?.abort();
    return;
  }
  if (m.type === 'stop-forecast') {
    forecasting?.abort();
    return;
  }
  if (m.type === 'generate') generations.set(m.id, new AbortController());
  const forecastAbort = m.type === 'forecast' ? (forecasting = new AbortController()) : null;
  // Export while training saves the weights as they are now; a generation steps a snapshot taken when it starts.
  const during = m.type;
  const work = async (): Promise<void> => {
    switch (m.type) {
      case 'train':
        return startTraining(m);
      case 'resume':
        if (!run) throw new InvalidInputError('nothing to resume: train a model first');
        if (training) throw new InvalidInputError('training is running');
        if (run.done >= run.epochs) throw new InvalidInputError('the run has finished all its epochs');
        return fit(run);
      case 'generate':
        return generate(m);
      case 'export':
        return exportModel();
      case 'import':
        return importModel(m.name, m.jsonName, m.modelJson, m.files);
      case 'import-keras':
        return importKeras(m.name, m.bytes, m.corpus, m.chars);
      case 'forecast':
        return runForecast(m, forecastAbort!);
    }
  };
  // The forecast library words its fixes as the CLI's flags; the page words them for its own controls. A failed Train
  // or Resume says whether the run before is still there to resume (a refused Train leaves it as it was).
  const report = (err: unknown): void =>
    post({
      type: 'error',
      during,
      message: forecastErrorMessage(err),
      ...(during === 'train' || during === 'resume' ? { resumable: resumable() } : {}),
    });
  if (m.type === 'train' || m.type === 'resume') {
    // Training runs in the background of this worker: other requests are served between its batches.
    void work().catch(report);
    return;
  }
  queue = queue.then(work).catch(report);
});

post({
  type: 'ready',
  isolated,
  kernels: kernels().name,
  threads,
  note: isolated
    ? `${threads} Web Worker thread(s)${stepHelper ? ' and a step helper' : ''}, ${kernels().name} kernels`
    : `this page is not cross-origin isolated (no COOP/COEP headers), so it trains on one worker with the ${kernels().name} kernels`,
});
