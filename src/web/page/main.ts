/**
 * The page's main thread: the controls, the live loss chart (uPlot), streamed output, IndexedDB and files. Every
 * computation runs in the engine worker (engine.ts); this thread only sends requests and draws replies, throttled so
 * that no task here grows long while training.
 */
import uPlot from 'uplot';
import { decodeText, TextFileError } from '../../text/text_bytes.js';
import { loadModelFiles, saveModelFiles, savedModelNames } from './idb.js';
import type { EngineReply, EngineRequest, ForecastResult, ModelFiles, ModelInfo } from './protocol.js';

/**
 * The band and its columns are the range of the ensemble's networks' forecasts, not a prediction interval (recur
 * forecast's conformal intervals need the backtest the page does not run): named as what they are.
 */
const RANGE_COLUMNS = ['networks low', 'networks high'];
const RANGE_NOTE =
  "The band is the range of the networks' forecasts (none with one network), not a prediction interval; `recur forecast` gives calibrated intervals.";

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
};
const input = (id: string): HTMLInputElement => $<HTMLInputElement>(id);

/** A box the user filled in outside what it takes: said next to the button that read it, in the box's own words. */
class BoxError extends Error {}
/** A box's label without its parenthesis ("Seed (empty: random)" → "Seed"). */
function boxLabel(el: HTMLInputElement): string {
  const label = document.querySelector(`label[for="${el.id}"]`)?.textContent ?? el.id;
  return label.replace(/\s*\(.*\)\s*$/s, '').trim();
}
/**
 * A number box's value, held to the box's own min, max and whole-number step: the browser shows them but lets any
 * number through, and 1e9 characters would hold the engine for hours, 100000 units run it out of memory.
 */
function boxNumber(id: string, optional: boolean): number | undefined {
  const el = input(id);
  const v = el.validity;
  if (el.value === '' && !v.badInput) {
    if (optional) return undefined;
    throw new BoxError(`${boxLabel(el)}: give a number`);
  }
  // A decimal step (top-p's 0.01) only sizes the arrows' steps; the default step, 1, means a whole number.
  const whole = el.type === 'number' && (el.step === '' || el.step === '1');
  if (v.badInput || v.rangeUnderflow || v.rangeOverflow || (whole && v.stepMismatch)) {
    const range =
      el.min !== '' && el.max !== ''
        ? ` from ${el.min} to ${el.max}`
        : el.min !== ''
          ? ` of at least ${el.min}`
          : el.max !== ''
            ? ` of at most ${el.max}`
            : '';
    const got = v.badInput ? 'something that is not a number' : el.value;
    throw new BoxError(`${boxLabel(el)}: must be ${whole ? 'an integer' : 'a number'}${range}, got ${got}`);
  }
  return Number(el.value);
}
const num = (id: string): number => boxNumber(id, false)!;
const optionalNum = (id: string): number | undefined => boxNumber(id, true);

const engine = new Worker(new URL('./engine.js', import.meta.url), { type: 'module' });
const send = (m: EngineRequest, transfer: Transferable[] = []): void => engine.postMessage(m, transfer);

// ---- tabs: arrow keys move between them, as the WAI-ARIA tabs pattern has it ----
const tabs = [$('tab-text'), $('tab-forecast')];
function selectTab(tab: HTMLElement): void {
  for (const t of tabs) {
    const on = t === tab;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')!).hidden = !on;
  }
  tab.focus();
}
tabs.forEach((t, i) => {
  t.addEventListener('click', () => selectTab(t));
  t.addEventListener('keydown', (e) => {
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft')
      selectTab(tabs[(i + (e.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length]);
  });
});

// ---- text sources: the bundled sample, pasted text, dropped or opened files ----
let sample: string | null = null;
async function sampleText(): Promise<string> {
  sample ??= await (await fetch(new URL('./moby-dick.txt', import.meta.url))).text();
  return sample;
}
/**
 * How many distinct characters (code points, as a Set of the string counts them) `t` holds: marked in a table, about
 * ten times faster than a Set (a 5 MB text in Chromium: 25–50 ms, not 240–290).
 */
function distinctCharacters(t: string): number {
  const seen = new Uint8Array(0x110000);
  let distinct = 0;
  for (let i = 0; i < t.length; i++) {
    let c = t.charCodeAt(i);
    const next = i + 1 < t.length ? t.charCodeAt(i + 1) : 0;
    if (c >= 0xd800 && c < 0xdc00 && next >= 0xdc00 && next < 0xe000) {
      c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
      i++;
    }
    if (seen[c] === 0) {
      seen[c] = 1;
      distinct++;
    }
  }
  return distinct;
}
let describeTimer: ReturnType<typeof setTimeout> | undefined;
function describeText(): void {
  clearTimeout(describeTimer);
  const t = input('text').value;
  $('text-info').textContent = t
    ? `${t.length.toLocaleString('en-US')} characters, ${distinctCharacters(t.toLowerCase())} distinct (lowercased).`
    : 'No text yet.';
}
/**
 * Past this many characters, typing in the Text box is described once typing pauses, not at every keystroke: counting
 * a pasted 5 MB text's characters still takes tens of milliseconds.
 */
const DESCRIBE_AT_ONCE = 200_000;
function describeTextSoon(): void {
  clearTimeout(describeTimer);
  if (input('text').value.length <= DESCRIBE_AT_ONCE) describeText();
  else describeTimer = setTimeout(describeText, 300);
}
async function useSample(): Promise<void> {
  input('text').value = await sampleText();
  describeText();
}
$('source').addEventListener('change', () => {
  if ($<HTMLSelectElement>('source').value === 'sample') void useSample();
  else {
    input('text').value = '';
    textName = PASTED_TEXT;
    describeText();
    input('text').focus();
  }
});
input('text').addEventListener('input', () => {
  $<HTMLSelectElement>('source').value = 'own';
  describeTextSoon();
});
/** What the user's own text is called (the model's name, and the training errors'): the file it came from, if any. */
const PASTED_TEXT = 'pasted text';
let textName = PASTED_TEXT;
function acceptDrop(el: HTMLElement, onFiles: (files: File[]) => void): void {
  el.addEventListener('dragover', (e) => {
    e.preventDefault();
    el.classList.add('drag');
  });
  el.addEventListener('dragleave', () => el.classList.remove('drag'));
  el.addEventListener('drop', (e) => {
    e.preventDefault();
    el.classList.remove('drag');
    onFiles(Array.from(e.dataTransfer?.files ?? []));
  });
}
/**
 * A file box's chosen files go to `onFiles`, and the box is emptied: the browser fires no change when the same files
 * are chosen again, so a file refused (no Text for a Keras model, training still running) could not be opened again
 * once the cause was put right.
 */
function onFilesChosen(id: string, onFiles: (files: File[]) => Promise<void>): void {
  const box = input(id);
  box.addEventListener('change', () => {
    const files = Array.from(box.files ?? []);
    box.value = '';
    void onFiles(files);
  });
}
/**
 * The largest text or CSV file the page opens: the file goes into a text box, and a box of tens of MB freezes the page
 * (a 20 MB text took Chromium 22 s to open, then over a second per keystroke); the CLI reads any size.
 */
const MAX_FILE_BYTES = 5_000_000;
/**
 * An opened or dropped file's text as `recur train` and `recur forecast` read one: a binary, non-UTF-8, empty or too
 * large file is said so in `where`, and null returned (the box keeps its text). `cli`: the command that takes a file
 * too large for the page.
 */
async function fileText(f: File, where: string, cli: string): Promise<string | null> {
  try {
    if (f.size > MAX_FILE_BYTES)
      throw new TextFileError(
        `${f.name} is ${(f.size / 1e6).toFixed(1)} MB; the page opens files of at most ${MAX_FILE_BYTES / 1e6} MB (a larger one freezes its text box): use \`${cli} ${f.name}\` for it`,
      );
    const text = decodeText(new Uint8Array(await f.arrayBuffer()), f.name);
    if (text === '') throw new TextFileError(`${f.name} is empty`);
    return text;
  } catch (e) {
    if (!(e instanceof TextFileError)) throw e;
    showError(where, e.message);
    return null;
  }
}
async function openText(files: File[]): Promise<void> {
  const f = files[0];
  if (!f) return;
  // A description still to come would replace a refusal shown now.
  clearTimeout(describeTimer);
  const text = await fileText(f, 'text-info', 'recur train');
  if (text === null) return;
  input('text').value = text;
  textName = f.name;
  $<HTMLSelectElement>('source').value = 'own';
  describeText();
}
// Model files dropped on the Text box are the model's to load (the panel's drop handler, to which the drop bubbles):
// they must not replace the user's text with model.json's JSON.
acceptDrop(input('text'), (f) => f.some(isModelFile) || void openText(f));
onFilesChosen('text-file', openText);

// ---- the loss chart ----
const lossX: number[] = [];
const lossY: number[] = [];
const valY: (number | null)[] = [];
let smoothed = NaN;
let chart: uPlot | null = null;
let chartDirty = false;
function chartWidth(): number {
  return Math.max(280, Math.min(900, $('loss-chart').clientWidth || 600));
}
function makeChart(): uPlot {
  return new uPlot(
    {
      width: chartWidth(),
      height: 260,
      scales: { x: { time: false } },
      axes: [{ label: 'batch' }, { label: 'loss' }],
      series: [
        { label: 'batch' },
        { label: 'training loss (smoothed)', stroke: '#1f4e8c', width: 2 },
        {
          label: 'validation loss',
          stroke: '#d0661c',
          width: 2,
          points: { show: true, size: 7 },
          spanGaps: true,
        },
      ],
    },
    [lossX, lossY, valY],
    $('loss-chart'),
  );
}
// Redraw at most four times a second: the chart must never make a long task.
setInterval(() => {
  if (!chartDirty) return;
  chartDirty = false;
  chart ??= makeChart();
  chart.setData([lossX, lossY, valY]);
}, 250);
window.addEventListener('resize', () => chart?.setSize({ width: chartWidth(), height: 260 }));

// ---- training ----
let batchesPerEpoch = 1;
let totalEpochs = 1;
let globalBatch = 0;
/** Whether a training run is going on (a generation started now takes the weights as they are). */
let trainingRuns = false;
const setRunning = (on: boolean, canResume = false): void => {
  trainingRuns = on;
  $<HTMLButtonElement>('train').disabled = on;
  $<HTMLButtonElement>('stop').disabled = !on;
  $<HTMLButtonElement>('resume').disabled = on || !canResume;
};
$('train').addEventListener('click', async () => {
  const text = $<HTMLSelectElement>('source').value === 'sample' ? await sampleText() : input('text').value;
  let request: EngineRequest;
  try {
    request = {
      type: 'train',
      text,
      source: $<HTMLSelectElement>('source').value === 'sample' ? 'moby-dick' : textName,
      recipe: $<HTMLSelectElement>('recipe').value as 'keras' | 'char-rnn',
      cell: $<HTMLSelectElement>('cell').value,
      units: num('units'),
      layers: num('layers'),
      epochs: num('epochs'),
      stepsPerEpoch: num('steps'),
      validationSplit: num('val-split') / 100,
      seed: num('seed'),
      sampleLength: 200,
      temperatures: [0.2, 0.5, 1.0, 1.2],
    };
  } catch (e) {
    return showBoxError('progress', e);
  }
  // The last run's chart, log and samples stay until the engine starts this one: a refused Train (a text too short)
  // leaves that run there to resume.
  $('progress').textContent = 'Preparing…';
  setRunning(true);
  send(request);
});
/** A new run started: the last one's loss chart, epoch log and samples go. */
function clearRun(): void {
  lossX.length = lossY.length = valY.length = 0;
  smoothed = NaN;
  globalBatch = 0;
  $('epoch-log').querySelector('tbody')!.replaceChildren();
  $('samples').replaceChildren();
  chartDirty = true;
}
$('stop').addEventListener('click', () => {
  $('progress').textContent += ' — stopping after this batch…';
  send({ type: 'stop' });
});
$('resume').addEventListener('click', () => {
  setRunning(true);
  send({ type: 'resume' });
});
$('recipe').addEventListener('change', () => {
  const charRnn = $<HTMLSelectElement>('recipe').value === 'char-rnn';
  input('units').value = charRnn ? '256' : '128';
  input('layers').value = charRnn ? '2' : '1';
});

function fmtSeconds(s: number): string {
  if (!Number.isFinite(s)) return '…';
  if (s < 90) return `${Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function onProgress(m: Extract<EngineReply, { type: 'progress' }>): void {
  for (const loss of m.losses) {
    smoothed = Number.isNaN(smoothed) ? loss : 0.9 * smoothed + 0.1 * loss;
    lossX.push(++globalBatch);
    lossY.push(smoothed);
    valY.push(null);
  }
  chartDirty = true;
  const bar = $<HTMLProgressElement>('bar');
  bar.max = totalEpochs * batchesPerEpoch;
  bar.value = m.epoch * batchesPerEpoch + m.batch;
  $('progress').textContent =
    `Epoch ${m.epoch + 1}/${totalEpochs}, batch ${m.batch}/${batchesPerEpoch} — loss ${smoothed.toFixed(4)}, ` +
    `${Math.round(m.samplesPerSec).toLocaleString('en-US')} samples/s, ETA ${fmtSeconds(m.etaSeconds)}`;
}

function onEpoch(m: Extract<EngineReply, { type: 'epoch' }>): void {
  if (m.valLoss !== null && valY.length > 0) valY[valY.length - 1] = m.valLoss;
  chartDirty = true;
  const row = document.createElement('tr');
  row.dataset.loss = String(m.loss);
  row.dataset.samplesPerSec = String(m.samplesPerSec);
  if (m.valLoss !== null) row.dataset.valLoss = String(m.valLoss);
  row.innerHTML = `<td>${m.epoch}</td><td>${m.loss.toFixed(4)}</td><td>${m.valLoss?.toFixed(4) ?? '—'}</td><td>${Math.round(m.samplesPerSec).toLocaleString('en-US')}</td><td>${m.seconds.toFixed(1)}</td>`;
  $('epoch-log').querySelector('tbody')!.append(row);
}

function onSamples(m: Extract<EngineReply, { type: 'samples' }>): void {
  const box = document.createElement('details');
  box.className = 'sample';
  box.open = true;
  const summary = document.createElement('summary');
  summary.textContent = `Samples after epoch ${m.epoch}, from “${m.prime.replace(/\n/g, ' ')}”`;
  box.append(summary);
  for (const s of m.samples) {
    const h = document.createElement('h3');
    h.textContent = `temperature ${s.temperature}`;
    const p = document.createElement('pre');
    p.textContent = s.text;
    box.append(h, p);
  }
  // The newest first, the older ones folded.
  Array.from($('samples').querySelectorAll('details')).forEach((d) => (d.open = false));
  $('samples').prepend(box);
}

// ---- generation ----
let generation = 0;
let modelInfo: ModelInfo | null = null;
input('temperature').addEventListener('input', () => {
  $('temperature-value').textContent = input('temperature').value;
});
/** While a generation runs, Stop ends it (keeping its text) and Generate waits for it. */
let generating = false;
const setGenerating = (on: boolean): void => {
  generating = on;
  $<HTMLButtonElement>('generate').disabled = on || modelInfo === null;
  $<HTMLButtonElement>('stop-generate').disabled = !on;
};
$('generate').addEventListener('click', () => {
  // Only one generation at a time: a new one never queues behind an unseen one.
  if (generating) send({ type: 'stop-generation', id: generation });
  generation++;
  const out = $('output');
  out.textContent = '';
  out.dataset.done = '';
  $('gen-status').textContent = '';
  try {
    const length = optionalNum('length') ?? 400;
    send({
      type: 'generate',
      id: generation,
      prime: input('prime').value,
      // An empty box is the default, 400 as `recur generate` and /v1/generate, not 0 characters without a word.
      length,
      temperature: num('temperature'),
      topK: optionalNum('top-k'),
      topP: optionalNum('top-p'),
      seed: optionalNum('gen-seed'),
    });
    // The engine generates from a snapshot of the weights taken now: the text is one model's, training goes on.
    // A forecast holds the engine's queue until it ends: the generation waits for it, and the page says so.
    const n = length.toLocaleString('en-US');
    $('gen-status').textContent = forecastRuns
      ? `Generating ${n} characters once the forecast under way ends (Stop on the Forecast tab ends it now)…`
      : trainingRuns
        ? `Generating ${n} characters from the weights as they are now (training goes on)…`
        : `Generating ${n} characters…`;
    setGenerating(true);
  } catch (e) {
    showBoxError('output', e);
  }
});
$('stop-generate').addEventListener('click', () => {
  $('gen-status').textContent = 'Stopping…';
  send({ type: 'stop-generation', id: generation });
});
const outputChunks: string[] = [];
function onChars(m: Extract<EngineReply, { type: 'chars' }>): void {
  if (m.id !== generation) return;
  outputChunks.push(m.text);
  // One text node per chunk: appending never re-lays out the whole text.
  $('output').append(document.createTextNode(m.text));
}
function onGenerated(m: Extract<EngineReply, { type: 'generated' }>): void {
  if (m.id !== generation) return;
  const out = $('output');
  out.textContent = m.text;
  out.dataset.prime = m.prime;
  out.dataset.done = '1';
  outputChunks.length = 0;
  const n = Array.from(m.text).length.toLocaleString('en-US');
  $('gen-status').textContent = m.stopped ? `Stopped after ${n} characters.` : `Done: ${n} characters.`;
  setGenerating(false);
}

// ---- models: IndexedDB, downloads, dropped files ----
let pendingSave: 'idb' | 'download' | null = null;
function setModel(info: ModelInfo): void {
  modelInfo = info;
  $('model-info').textContent =
    `Model “${info.name}”: ${info.layers}×${info.cell.toUpperCase()}(${info.units}), ${info.recipe} recipe, ` +
    `${info.vocabulary} characters${info.lowercase ? ' (lowercase)' : ''}.`;
  input('prime').placeholder = info.defaultPrime;
  for (const id of ['save-idb', 'download']) $<HTMLButtonElement>(id).disabled = false;
  $<HTMLButtonElement>('generate').disabled = generating;
}
async function refreshSaved(select?: string): Promise<void> {
  const names = await savedModelNames();
  const list = $<HTMLSelectElement>('idb-list');
  list.replaceChildren(...names.map((n) => new Option(n, n)));
  if (select) list.value = select;
}
$('save-idb').addEventListener('click', () => {
  pendingSave = 'idb';
  send({ type: 'export' });
});
$('download').addEventListener('click', () => {
  pendingSave = 'download';
  send({ type: 'export' });
});
function download(name: string, data: BlobPart, type: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([data], { type }));
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}
async function onExported(files: ModelFiles): Promise<void> {
  if (pendingSave === 'idb') {
    pendingSave = null;
    const name = files.name;
    try {
      // A model saved under the same name earlier is replaced only when the user says so.
      if (
        (await savedModelNames()).includes(name) &&
        !confirm(`Replace the model “${name}” saved in this browser?`)
      )
        return void ($('model-status').textContent = `Not saved: “${name}” is kept as it was.`);
      await saveModelFiles({ ...files, savedAt: new Date().toISOString() });
      await refreshSaved(name);
    } catch (e) {
      // Storage full, or IndexedDB off (some private windows): said where the user looks, not lost in the console.
      return showError('model-status', `cannot save “${name}” in this browser: ${(e as Error).message}`);
    }
    $('model-status').textContent = `Saved “${name}” in this browser (IndexedDB).`;
  } else {
    download('model.json', JSON.stringify(files.modelJson, null, 1), 'application/json');
    download('weights.bin', files.weights, 'application/octet-stream');
    $('model-status').textContent = 'Downloaded model.json and weights.bin (recur’s tfjs format).';
  }
  pendingSave = null;
}
$('load-idb').addEventListener('click', async () => {
  const name = $<HTMLSelectElement>('idb-list').value;
  if (!name) return void ($('model-status').textContent = 'Nothing saved in this browser yet.');
  let m: Awaited<ReturnType<typeof loadModelFiles>>;
  try {
    m = await loadModelFiles(name);
  } catch (e) {
    return showError('model-status', `cannot read “${name}” from this browser: ${(e as Error).message}`);
  }
  if (!m) return void ($('model-status').textContent = `“${name}” is no longer saved.`);
  $('model-status').textContent = `Loading “${name}” from this browser…`;
  send({
    type: 'import',
    name,
    jsonName: `${name}/model.json`,
    modelJson: JSON.stringify(m.modelJson),
    files: [{ name: 'weights.bin', data: m.weights }],
  });
});
const KERAS_FILE = /\.(h5|hdf5|keras)$/i;
/** A file that names a model to load: a model.json (with its weights alongside) or a Keras file. */
function isModelFile(f: File): boolean {
  return f.name.endsWith('.json') || KERAS_FILE.test(f.name);
}
/** A Keras file: the engine rebuilds its vocabulary from the characters box, or else from the Text box. */
async function openKerasFile(file: File): Promise<void> {
  $('model-status').textContent = `Loading ${file.name}…`;
  const bytes = await file.arrayBuffer();
  send(
    {
      type: 'import-keras',
      name: file.name,
      bytes,
      corpus: input('text').value,
      chars: input('keras-chars').value,
    },
    [bytes],
  );
}
async function openModelFiles(files: File[]): Promise<void> {
  const keras = files.find((f) => KERAS_FILE.test(f.name));
  if (keras) return openKerasFile(keras);
  const json = files.find((f) => f.name.endsWith('.json'));
  if (!json)
    return void ($('model-status').textContent = 'Choose model.json together with its weights file(s).');
  const weights = await Promise.all(
    files.filter((f) => f !== json).map(async (f) => ({ name: f.name, data: await f.arrayBuffer() })),
  );
  $('model-status').textContent = `Loading ${files.map((f) => f.name).join(', ')}…`;
  send(
    {
      type: 'import',
      name: 'dropped model',
      jsonName: json.name,
      modelJson: await json.text(),
      files: weights,
    },
    weights.map((w) => w.data),
  );
}
onFilesChosen('model-files', openModelFiles);
acceptDrop($('panel-text'), (files) => {
  if (files.some(isModelFile)) void openModelFiles(files);
});

// ---- forecast ----
let lastForecast: ForecastResult | null = null;
/** What the CSV is called in the forecast's errors (a bad date's line): the file it came from, if any. */
const PASTED_CSV = 'the CSV';
let csvName = PASTED_CSV;
async function openCsv(files: File[]): Promise<void> {
  const f = files[0];
  const text = f ? await fileText(f, 'fc-status', 'recur forecast') : null;
  if (text === null) return;
  input('csv').value = text;
  csvName = f.name;
}
acceptDrop(input('csv'), (f) => void openCsv(f));
input('csv').addEventListener('input', () => (csvName = PASTED_CSV));
onFilesChosen('csv-file', openCsv);
$('fc-sample').addEventListener('click', async () => {
  input('csv').value = await (await fetch(new URL('./us-births.csv', import.meta.url))).text();
  csvName = 'us-births.csv';
});
/** What Stop says it does to the step of the forecast under way (the engine says with each step). */
let forecastStopping = 'Stopping…';
$('run-forecast').addEventListener('click', () => {
  let request: EngineRequest;
  try {
    request = {
      type: 'forecast',
      csv: input('csv').value,
      source: csvName,
      horizon: num('horizon'),
      method: $<HTMLSelectElement>('method').value as 'hybrid' | 'network',
      cell: $<HTMLSelectElement>('fc-cell').value,
      epochs: num('fc-epochs'),
      seeds: num('fc-seeds'),
      holdout: input('holdout').checked,
    };
  } catch (e) {
    return showBoxError('fc-status', e);
  }
  // The last forecast goes: its chart and downloads would pass for this one's if it fails or is stopped.
  lastForecast = null;
  for (const id of ['fc-chart', 'fc-metrics', 'fc-table']) $(id).replaceChildren();
  for (const id of ['download-csv', 'download-svg']) $<HTMLButtonElement>(id).disabled = true;
  setForecasting(true);
  forecastStopping = 'Stopping…';
  // A generation holds the engine's queue until it ends: the forecast waits for it.
  $('fc-status').textContent = generating
    ? 'Starting once the generation under way ends (Stop generating ends it now)…'
    : 'Starting…';
  send(request);
});
/**
 * While a forecast runs, Stop ends it — its networks' training after the current batch, SARIMA's fit at once — and
 * Forecast waits.
 */
let forecastRuns = false;
function setForecasting(on: boolean): void {
  forecastRuns = on;
  $<HTMLButtonElement>('run-forecast').disabled = on;
  $<HTMLButtonElement>('stop-forecast').disabled = !on;
}
$('stop-forecast').addEventListener('click', () => {
  $<HTMLButtonElement>('stop-forecast').disabled = true;
  $('fc-status').textContent = forecastStopping;
  send({ type: 'stop-forecast' });
});
function cell(tag: 'td' | 'th', text: string): HTMLElement {
  const c = document.createElement(tag);
  c.textContent = text;
  if (tag === 'th') c.setAttribute('scope', 'col');
  return c;
}
function table(el: HTMLElement, head: string[], rows: string[][]): void {
  const thead = document.createElement('thead');
  thead.append(Object.assign(document.createElement('tr'), {}));
  thead.firstElementChild!.append(...head.map((h) => cell('th', h)));
  const tbody = document.createElement('tbody');
  for (const r of rows) {
    const tr = document.createElement('tr');
    tr.append(...r.map((v) => cell('td', v)));
    tbody.append(tr);
  }
  el.replaceChildren(thead, tbody);
}
function onForecast(r: ForecastResult): void {
  lastForecast = r;
  setForecasting(false);
  $('fc-status').textContent =
    `${r.note}Done: ${r.title}.` +
    (r.skipped.length ? ` Skipped: ${r.skipped.map(([n, w]) => `${n} (${w})`).join('; ')}.` : '') +
    ` ${RANGE_NOTE}`;
  $('fc-chart').innerHTML = r.svg;
  const f = (v: number): string => v.toLocaleString('en-US', { maximumFractionDigits: 2 });
  table(
    $('fc-metrics'),
    ['method', 'RMSE', 'MAE', 'MAPE %', 'sMAPE %', 'MASE'],
    r.metrics.map(([n, m]) => [n, f(m.rmse), f(m.mae), f(m.mape), f(m.smape), f(m.mase)]),
  );
  table(
    $('fc-table'),
    ['date', 'forecast', ...RANGE_COLUMNS, ...(r.actual ? ['actual'] : [])],
    r.dates.map((d, i) => [
      d,
      f(r.forecast[i]),
      f(r.lower[i]),
      f(r.upper[i]),
      ...(r.actual ? [f(r.actual[i])] : []),
    ]),
  );
  $<HTMLButtonElement>('download-csv').disabled = false;
  $<HTMLButtonElement>('download-svg').disabled = false;
}
$('download-csv').addEventListener('click', () => {
  const r = lastForecast;
  if (!r) return;
  const head = [
    'date',
    'forecast',
    ...RANGE_COLUMNS.map((c) => c.replace(' ', '_')),
    ...(r.actual ? ['actual'] : []),
  ];
  const lines = r.dates.map((d, i) =>
    [d, r.forecast[i], r.lower[i], r.upper[i], ...(r.actual ? [r.actual[i]] : [])].join(','),
  );
  download('forecast.csv', [head.join(','), ...lines].join('\n') + '\n', 'text/csv');
});
$('download-svg').addEventListener('click', () => {
  if (lastForecast) download('forecast.svg', lastForecast.svg, 'image/svg+xml');
});

// ---- the engine's replies ----
/** Shows an error where the user looks for the result of what failed. */
function showError(where: string, message: string): void {
  $(where).textContent = `Error: ${message}`;
  $(where).classList.add('error');
  setTimeout(() => $(where).classList.remove('error'), 5000);
  document.body.dataset.error = message;
}
/** A BoxError, shown where `where` says; anything else is a bug, thrown on. */
function showBoxError(where: string, e: unknown): void {
  if (!(e instanceof BoxError)) throw e;
  showError(where, e.message);
}

/**
 * Where a failed request's error shows: next to the control that sent it, so a bad model file dropped on the page
 * says so under the model, not in the training progress line (every request type must be listed).
 */
const ERROR_SHOWN_IN: Record<EngineRequest['type'], string> = {
  train: 'progress',
  resume: 'progress',
  stop: 'progress',
  generate: 'output',
  'stop-generation': 'output',
  export: 'model-status',
  import: 'model-status',
  'import-keras': 'model-status',
  forecast: 'fc-status',
  'stop-forecast': 'fc-status',
};
engine.addEventListener('message', (e: MessageEvent<EngineReply>) => {
  const m = e.data;
  switch (m.type) {
    case 'ready':
      $('env').textContent = `Engine ready: ${m.note}.`;
      document.body.dataset.ready = '1';
      break;
    case 'started':
      clearRun();
      batchesPerEpoch = m.batchesPerEpoch;
      totalEpochs = m.epochs;
      $('progress').textContent =
        `Training on ${m.chars.toLocaleString('en-US')} characters (${m.vocabulary} distinct), ` +
        `${m.batchesPerEpoch} batches per epoch, ${m.threads} thread(s)…`;
      break;
    case 'progress':
      onProgress(m);
      break;
    case 'epoch':
      onEpoch(m);
      break;
    case 'samples':
      onSamples(m);
      break;
    case 'stopped':
      setRunning(false, true);
      $('progress').textContent =
        `Stopped in epoch ${m.epoch}, after batch ${m.batch}. Resume continues exactly there.`;
      break;
    case 'trained':
      setRunning(false);
      $('progress').textContent = `Done: ${m.epochs} epoch(s).`;
      document.body.dataset.trained = String(m.epochs);
      break;
    case 'model':
      // A model loaded while a run is stopped replaces the run's (the engine drops the run): it cannot resume.
      if (!trainingRuns && !$<HTMLButtonElement>('resume').disabled) {
        setRunning(false);
        $('progress').textContent =
          `Stopped; loading “${m.info.name}” ended the run (Train starts a new one).`;
      }
      setModel(m.info);
      $('model-status').textContent = [`Model “${m.info.name}” ready.`, ...(m.info.notes ?? [])].join(' ');
      document.body.dataset.model = m.info.name;
      break;
    case 'chars':
      onChars(m);
      break;
    case 'generated':
      onGenerated(m);
      break;
    case 'exported':
      void onExported(m.files);
      break;
    case 'forecast-progress':
      $('fc-status').textContent = m.message;
      forecastStopping = m.stopping;
      break;
    case 'forecast':
      onForecast(m.result);
      break;
    case 'forecast-stopped':
      setForecasting(false);
      $('fc-status').textContent = 'Stopped: no forecast (Forecast starts it again).';
      break;
    case 'error': {
      showError(ERROR_SHOWN_IN[m.during], m.message);
      if (m.during === 'train' || m.during === 'resume') setRunning(false, m.resumable === true);
      if (m.during === 'forecast') setForecasting(false);
      if (m.during === 'generate') {
        $('gen-status').textContent = '';
        setGenerating(false);
      }
      if (m.during === 'export') pendingSave = null;
      break;
    }
  }
});
engine.addEventListener('error', (e) => {
  $('env').textContent = `The engine failed to start: ${e.message}`;
});

void useSample();
void refreshSaved();
void modelInfo;
