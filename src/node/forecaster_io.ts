/**
 * A fitted forecaster on disk. Version 2 (`recur forecast … --out DIR`): forecaster.json, a zod-checked manifest of
 * what was chosen for one series or for every series of a panel (src/forecast/saved.ts: the members of the point
 * forecast, their transforms and covariate regressions, the calibrated interval half-widths, frequency, season, horizon,
 * the file layout with the covariate columns), and one
 * TensorFlow.js-format model directory per network ensemble member:
 *
 *   DIR/forecaster.json                        the manifest (written last, atomically)
 *   DIR/network-<k>/member-<i>/                one series: the k-th member of the point forecast, if a network
 *   DIR/series-<j>/network-<k>/member-<i>/     a panel: the j-th saved series' network members
 *   DIR/global-<season>x<horizon>/member-<i>/  a panel: the global network of that season and horizon
 *   DIR/gen-<hex>/…                            the same, for a forecaster that replaced one using those names
 *   DIR/.recur-replaced.json                   while a replacement is committed (commitForecaster)
 *
 * Version 1 (`--save` before #16, and the library's saveForecaster until it saved version 2: one network or hybrid,
 * DIR/forecaster.json and DIR/member-<i>/) still loads.
 * Loading checks the manifest against a schema and every member model as loadModel does (sha256, shapes, finite
 * weights). `--overwrite` deletes only these names (prepareForecasterDir); anything else in DIR stays.
 */
import {
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  unlinkSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { InvalidInputError, noSuchPath } from '../core/errors.js';
import { JsonSyntaxError, parseJsonText } from '../core/json_text.js';
import { GlobalForecaster, type GlobalOptions } from '../forecast/global.js';
import { maseScale } from '../forecast/metrics.js';
import { RNNForecaster, type NetworkOptions } from '../forecast/network.js';
import {
  isNetworkMember,
  SAVED_METHODS,
  type SavedMember,
  type SavedNetworkRef,
  type SavedSeries,
} from '../forecast/saved.js';
import { frequencyOfDates, type MonthlySeries } from '../forecast/series.js';
import type { FittedTransform } from '../forecast/transforms.js';
import type { Sequential } from '../models/sequential.js';
import { ModelFileError, fieldPath } from '../models/serialization.js';
import { makeDirectories, parseAtomicTempName, processAlive, writeFileAtomic } from './atomic.js';
import { LOCK_FILE, acquireRunLock } from './run_lock.js';
import { loadModel, saveModel } from './model_io.js';
import { isModelFileName, isOwnTemp, isRealDirectory, overwriteRefusal, plainEntries } from './run_files.js';

interface ForecasterFile {
  format: 'recur-forecaster';
  version: 1;
  options: NetworkOptions;
  transform: FittedTransform;
  history: MonthlySeries;
  /** Conformal half-widths per horizon step, calibrated on the backtest when it was fitted (absent before #16). */
  intervals?: SavedInterval[];
}

export type { SavedInterval } from '../forecast/saved.js';
import type { SavedInterval } from '../forecast/saved.js';

/**
 * Saves a fitted network or hybrid forecaster (what `recur serve` serves) into `dir` as a version-2 forecaster, as
 * `recur forecast … --out DIR --overwrite` saves one: a forecaster already there is replaced (only recur's own files),
 * a directory holding anything else is refused. The members are written aside and put in place by commitForecaster, so
 * a save stopped anywhere (kill -9) leaves the old forecaster or the new one, never a mix.
 */
export function saveForecaster(
  f: RNNForecaster,
  history: MonthlySeries,
  dir: string,
  intervals: SavedInterval[] = [],
): void {
  if (!f.transform) throw new Error('saveForecaster: the forecaster is not fitted');
  checkSavedIntervals(intervals, f.opts.horizon);
  prepareForecasterDir(dir, true);
  // A history given without its frequency has it detected from its dates, as a file's is: `forecast predict` then
  // checks a new file against it, as for a forecaster the CLI saved (undated: t-labels, or no dates).
  const frequency = history.frequency ?? frequencyOfDates(history.dates);
  const { series, name } = singleNetworkSeries(
    f.opts,
    { ...history, ...(frequency ? { frequency } : {}) },
    intervals,
  );
  const staging = stagingDirOf(dir);
  let networks: SavedNetworkRef[];
  try {
    networks = saveSeriesNetworks(staging, '', series, new Map([[name, f]]));
  } catch (e) {
    discardStaging(staging);
    throw e;
  }
  commitForecaster(dir, staging, {
    format: 'recur-forecaster',
    version: 2,
    kind: 'series',
    saved: new Date().toISOString(),
    layout: { interpolate: false },
    settings: {},
    series: [{ ...series, networks }],
    history: { dates: history.dates, values: history.values },
  });
}

/**
 * Intervals the loader would refuse, refused before anything is written: a save must not replace a forecaster with one
 * that does not load. The loader's own schema (`interval`) and its horizon check.
 */
function checkSavedIntervals(intervals: readonly SavedInterval[], horizon: number): void {
  const r = z.array(interval).safeParse(intervals, { reportInput: true });
  if (!r.success) {
    const issue = r.error.issues[0];
    const got = 'input' in issue ? `, got ${String(issue.input)}` : '';
    throw new InvalidInputError(
      `saveForecaster: intervals${fieldPath(issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)))}: ${issue.message.replace(/^Invalid input: /, '')}${got}`,
    );
  }
  for (const [i, iv] of intervals.entries())
    if (iv.halfWidths.length !== horizon)
      throw new InvalidInputError(
        `saveForecaster: intervals[${i}].halfWidths: expected ${horizon} half-widths (the forecaster's horizon), got ${iv.halfWidths.length}`,
      );
}

/**
 * The version-2 series entry (without its saved networks) of a single network or hybrid forecaster fitted on
 * `history`, and the name of its one member.
 */
function singleNetworkSeries(
  o: NetworkOptions,
  history: MonthlySeries,
  intervals: SavedInterval[],
): { series: SavedSeries; name: string } {
  const name = o.method;
  return {
    series: {
      id: history.name || 'series',
      ...(history.frequency ? { frequency: history.frequency } : {}),
      season: o.season,
      horizon: o.horizon,
      method: name,
      members: [{ name, method: name, transform: 'none' }],
      intervals,
      scale: maseScale(history.values, o.season),
      points: history.values.length,
    },
    name,
  };
}

/** A saved conformal interval: its level and a half-width per horizon step. */
const interval = z.object({
  level: z
    .number({ error: 'expected a level in (0, 1)' })
    .gt(0, { error: 'expected a level in (0, 1)' })
    .lt(1, { error: 'expected a level in (0, 1)' }),
  halfWidths: z.array(
    z
      .number({ error: 'expected a finite half-width ≥ 0' })
      .min(0, { error: 'expected a finite half-width ≥ 0' }),
    {
      error: 'expected an array of half-widths',
    },
  ),
});

/**
 * What loadForecaster relies on in forecaster.json (the rest is passed on as written): checked so that a damaged
 * file is an error naming the field, never NaN forecasts.
 */
const forecasterFileSchema = z.looseObject({
  format: z.literal('recur-forecaster', { error: 'expected "recur-forecaster"' }),
  // Reached for any version but 2 (loadForecasterDir), so a version from a newer recur is named as such.
  version: z.literal(1, { error: 'expected 1 or 2 (the versions this recur reads)' }),
  options: z.looseObject({
    seeds: z
      .array(z.number().int().min(0), { error: 'expected an array of integer seeds' })
      .min(1, { error: 'expected at least one seed' })
      .max(1000, { error: 'expected at most 1000 seeds' }),
    horizon: z.number().int().min(1, { error: 'expected a positive integer' }),
    lookback: z.number().int().min(1, { error: 'expected a positive integer' }),
  }),
  transform: z.looseObject({
    center: z.number({ error: 'expected a finite number' }),
    scale: z.number({ error: 'expected a finite number' }),
  }),
  history: z.looseObject({
    dates: z.array(z.string(), { error: 'expected an array of dates' }),
    values: z.array(z.number({ error: 'expected a finite number' }), {
      error: 'expected an array of numbers',
    }),
  }),
  intervals: z.array(interval, { error: 'expected an array of intervals' }).optional(),
});

/** forecaster.json's JSON; a missing or unparsable file is an error naming it. */
function readManifest(dir: string): unknown {
  const path = join(dir, FORECASTER_FILE);
  if (!existsSync(dir))
    throw new InvalidInputError(noSuchPath(dir, "a directory written by 'recur forecast … --out DIR'"));
  if (!existsSync(path)) {
    // A model's directory (recur train, classify, seq2seq) is no place to save a forecaster: name what it holds.
    const model = ['model.json', 'ensemble.json'].find((f) => existsSync(join(dir, f)));
    throw new ModelFileError(
      path,
      FORECASTER_FILE,
      'missing',
      model !== undefined
        ? `${dir} holds a model (${model}), not a saved forecaster (no ${FORECASTER_FILE}); give a directory written by 'recur forecast … --out DIR'`
        : `${dir}: no ${FORECASTER_FILE} here; save a forecaster with 'recur forecast … --out ${dir}'`,
    );
  }
  try {
    return parseJsonText(readFileSync(path, 'utf8'), path);
  } catch (e) {
    if (!(e instanceof JsonSyntaxError)) throw e;
    throw new ModelFileError(path, e.where, `not valid JSON at ${e.where} (${e.problem})`, e.message);
  }
}

/** `raw` checked against `schema`; the first problem is an error naming the field and what was expected. */
function checked<T>(schema: z.ZodType<T>, raw: unknown, path: string): T {
  const r = schema.safeParse(raw, { reportInput: true });
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const got =
    'input' in issue && issue.input !== undefined
      ? `, got ${JSON.stringify(issue.input)?.slice(0, 60)}`
      : ' (missing)';
  throw new ModelFileError(
    path,
    fieldPath(issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))) || '(the whole file)',
    `${issue.message.replace(/^Invalid input: /, '')}${got}; not a recur forecaster file?`,
  );
}

/** The members of a saved network, loaded as loadModel loads them; `notes` gets what could not be verified. */
function loadMembers(dir: string, count: number, notes: string[]): Sequential[] {
  const models: Sequential[] = [];
  for (let i = 0; i < count; i++) {
    const loaded = loadModel(join(dir, `member-${i}`));
    models.push(loaded.model);
    notes.push(...loaded.notes);
  }
  return models;
}

/** One line for a whole ensemble's notes: its members were saved together, so what holds for one holds for all. */
function summarize(notes: string[]): string[] {
  return notes.length > 1
    ? [`${notes[0]} (and ${notes.length - 1} more notes for the other member models)`]
    : notes;
}

/** A version-1 directory (one network or hybrid, `--save` before #16). */
function loadV1(
  dir: string,
  raw: unknown,
): { forecaster: RNNForecaster; history: MonthlySeries; notes: string[]; intervals: SavedInterval[] } {
  const path = join(dir, FORECASTER_FILE);
  checked(forecasterFileSchema, raw, path);
  const file = raw as ForecasterFile;
  const f = new RNNForecaster(file.options);
  f.transform = file.transform;
  const notes: string[] = [];
  f.models.push(...loadMembers(dir, file.options.seeds.length, notes));
  const intervals = file.intervals ?? [];
  for (const [i, iv] of intervals.entries())
    if (iv.halfWidths.length !== file.options.horizon)
      throw new ModelFileError(
        path,
        `intervals[${i}].halfWidths`,
        `expected ${file.options.horizon} half-widths (the horizon), got ${iv.halfWidths.length}`,
      );
  // Files saved before recur recorded frequencies have none: their dates give it, as they gave the training run's, so
  // that new data of another frequency is refused as it is for a version-2 directory.
  const frequency = file.history.frequency ?? frequencyOfDates(file.history.dates);
  const history = { ...file.history, ...(frequency ? { frequency } : {}) };
  return { forecaster: f, history, notes: summarize(notes), intervals };
}

/**
 * Loads a single network or hybrid forecaster (what `recur serve` serves): a version-1 directory, or a version-2 one
 * whose forecast is one network without a transform. Member models go through loadModel, so damaged or non-finite
 * weights are refused; `notes` collects what could not be verified (members saved before recur recorded sha256).
 */
export function loadForecaster(dir: string): {
  forecaster: RNNForecaster;
  history: MonthlySeries;
  notes: string[];
  intervals: SavedInterval[];
} {
  const raw = readManifest(dir);
  if ((raw as { version?: unknown } | null)?.version !== 2) return loadV1(dir, raw);
  const d = loadForecasterDir(dir);
  const s = d.manifest.series[0];
  const net = d.networks.get(s.id)?.get(s.members[0].name);
  if (
    d.manifest.kind !== 'series' ||
    s.members.length !== 1 ||
    !net ||
    s.members[0].transform !== 'none' ||
    s.members[0].covariates
  )
    throw new ModelFileError(
      join(dir, FORECASTER_FILE),
      'series',
      `a saved ${d.manifest.kind === 'panel' ? 'panel' : s.method} forecaster; only a single network or hybrid without a transform or regressors is served here (forecast with 'recur forecast predict ${dir} CSV')`,
    );
  const h = d.manifest.history!;
  return {
    forecaster: net,
    history: {
      name: s.id,
      dates: h.dates,
      values: h.values,
      ...(s.frequency ? { frequency: s.frequency } : {}),
    },
    notes: d.notes,
    intervals: s.intervals,
  };
}

/** The manifest's name in a forecaster directory. */
export const FORECASTER_FILE = 'forecaster.json';

export type { SavedNetworkRef } from '../forecast/saved.js';

/** A series' saved forecaster in the manifest. */
export interface SavedSeriesEntry extends SavedSeries {
  /** Season position of the first training point (the global network's input), when the dates give it. */
  phase?: number;
  networks: SavedNetworkRef[];
}

/** A panel's global network of one season and horizon. */
export interface SavedGlobal {
  dir: string;
  /** windowsPerSeries null: all of them (JSON has no Infinity). */
  options: Omit<GlobalOptions, 'windowsPerSeries'> & { windowsPerSeries: number | null };
}

/** How the training file was read (the prediction reads new files the same way unless told otherwise). */
export interface ForecasterLayout {
  idColumn?: string;
  wide?: boolean;
  dateColumn?: string;
  valueColumn?: string;
  interpolate: boolean;
  /** The covariate columns (--regressors): a new file carries them, with the known future after each history. */
  regressors?: string[];
}

export interface ForecasterManifest {
  format: 'recur-forecaster';
  version: 2;
  kind: 'series' | 'panel';
  /** When it was saved (ISO 8601). */
  saved: string;
  layout: ForecasterLayout;
  /** The options of the training run, as given (for the record). */
  settings: Record<string, unknown>;
  series: SavedSeriesEntry[];
  /** One series: the training part it was fitted on (`--model DIR` without a CSV forecasts after it). */
  history?: { dates: string[]; values: number[] };
  panel?: {
    /** The panel's method ('ets+theta+global', 'auto', …). */
    method: string;
    /** What a series not seen in training is forecast with (the panel's default, statistical methods re-fitted). */
    fallback: { method: string; members: SavedSeries['members'] };
    global: SavedGlobal[];
  };
}

const posInt = z
  .number()
  .int({ error: 'expected an integer' })
  .min(1, { error: 'expected a positive integer' });
const finite = z.number({ error: 'expected a finite number' });
/** A relative directory recur wrote: lower-case names of its own, never '..' or absolute. */
const relDir = z.string().regex(/^(gen-[0-9a-f]{8}\/)?(series-\d+\/)?(network-\d+|global-\d+x\d+)$/, {
  error: 'expected a directory recur names',
});
const seeds = z
  .array(z.number().int().min(0), { error: 'expected an array of integer seeds' })
  .min(1, { error: 'expected at least one seed' })
  .max(1000, { error: 'expected at most 1000 seeds' });
const transformKind = z.enum(['none', 'log', 'box-cox']);
const networkOptions = z.looseObject({
  method: z.enum(['network', 'hybrid']),
  cell: z.enum(['lstm', 'gru', 'simple-rnn']),
  units: posInt,
  layers: posInt,
  dropout: z.number().min(0).max(1),
  lookback: posInt,
  horizon: posInt,
  strategy: z.enum(['direct', 'recursive']),
  epochs: posInt,
  batchSize: posInt,
  learningRate: finite,
  seeds,
  log: z.boolean(),
  differencing: z.enum(['none', 'first', 'seasonal']),
  season: posInt,
  scaling: z.enum(['standard', 'minmax']),
});
const finiteArray = z.array(finite, { error: 'expected an array of numbers' });
const member = z.object({
  name: z.string().min(1),
  method: z.enum(SAVED_METHODS as [string, ...string[]]),
  transform: transformKind,
  lambda: finite.optional(),
  covariates: z.boolean().optional(),
  regression: z
    .object({
      means: finiteArray,
      sds: finiteArray,
      standardised: finiteArray,
      perUnit: finiteArray,
      lag: z.number().int().min(0, { error: 'expected an integer ≥ 0' }),
    })
    .optional(),
});
const seriesEntry = z.object({
  id: z.string(),
  frequency: z.enum(['hourly', 'daily', 'weekly', 'monthly', 'quarterly', 'yearly']).optional(),
  season: posInt,
  seasons: z.array(posInt).min(2).optional(),
  horizon: posInt,
  method: z.string().min(1),
  members: z.array(member).min(1, { error: 'expected at least one member' }),
  intervals: z.array(interval),
  scale: z.number().min(0),
  points: posInt,
  phase: z.number().int().min(0).optional(),
  networks: z.array(
    z.object({
      member: z.string(),
      dir: relDir,
      options: networkOptions,
      scaling: z.looseObject({
        log: z.boolean(),
        differencing: z.enum(['none', 'first', 'seasonal']),
        season: posInt,
        scaling: z.enum(['standard', 'minmax']),
        center: finite,
        scale: finite,
      }),
    }),
  ),
});
const manifestSchema = z.object({
  format: z.literal('recur-forecaster', { error: 'expected "recur-forecaster"' }),
  version: z.literal(2, { error: 'expected 2' }),
  kind: z.enum(['series', 'panel']),
  saved: z.string(),
  layout: z.object({
    idColumn: z.string().optional(),
    wide: z.boolean().optional(),
    dateColumn: z.string().optional(),
    valueColumn: z.string().optional(),
    interpolate: z.boolean(),
    regressors: z.array(z.string().min(1)).min(1).optional(),
  }),
  settings: z.record(z.string(), z.unknown()),
  series: z.array(seriesEntry).min(1, { error: 'expected at least one series' }),
  history: z
    .object({
      dates: z.array(z.string()),
      values: z.array(finite, { error: 'expected an array of numbers' }),
    })
    .optional(),
  panel: z
    .object({
      method: z.string(),
      fallback: z.object({ method: z.string(), members: z.array(member).min(1) }),
      global: z.array(
        z.object({
          dir: relDir,
          options: z.looseObject({
            season: posInt,
            horizon: posInt,
            lookback: posInt,
            cell: z.enum(['lstm', 'gru', 'simple-rnn']),
            units: posInt,
            epochs: posInt,
            batchSize: posInt,
            learningRate: finite,
            seeds,
            windowsPerSeries: posInt.nullable(),
            minHistory: posInt,
          }),
        }),
      ),
    })
    .optional(),
});

/** The key of a global network: its season and horizon. */
export const globalKey = (season: number, horizon: number): string => `${season}x${horizon}`;

/** A loaded forecaster directory: the manifest, every series' networks (by id, then member) and the global networks. */
export interface LoadedForecasterDir {
  manifest: ForecasterManifest;
  networks: Map<string, Map<string, RNNForecaster>>;
  globals: Map<string, GlobalForecaster>;
  /** The version the directory was saved in (1: a network or hybrid from before #16). */
  version: 1 | 2;
  notes: string[];
}

/** What the manifest says must hold beyond its schema: sizes agree, every member it names is there. */
function crossCheck(m: ForecasterManifest, path: string): void {
  const fail = (field: string, detail: string): never => {
    throw new ModelFileError(path, field, detail);
  };
  if (m.kind === 'series' && (m.series.length !== 1 || !m.history))
    fail('series', 'a single-series forecaster has one series and its history');
  if (m.kind === 'panel' && !m.panel) fail('panel', 'a panel forecaster needs its panel section (missing)');
  const regressors = m.layout.regressors?.length ?? 0;
  const checkMember = (mb: SavedMember, field: string): void => {
    if (mb.covariates && regressors === 0)
      fail(`${field}.covariates`, `'${mb.name}' forecasts with regressors, but layout.regressors names none`);
    if (mb.covariates && isNetworkMember(mb) && !mb.regression)
      fail(
        `${field}.regression`,
        `the network member '${mb.name}' with regressors needs its regression (missing)`,
      );
    if (mb.regression && !mb.covariates)
      fail(`${field}.regression`, `'${mb.name}' has a regression but no covariates`);
    if (mb.regression)
      for (const k of ['means', 'sds', 'standardised', 'perUnit'] as const)
        if (mb.regression[k].length !== regressors)
          fail(
            `${field}.regression.${k}`,
            `expected ${regressors} value(s) (one per regressor), got ${mb.regression[k].length}`,
          );
  };
  m.panel?.fallback.members.forEach((mb, k) => checkMember(mb, `panel.fallback.members[${k}]`));
  const ids = new Set<string>();
  m.series.forEach((s, i) => {
    if (ids.has(s.id)) fail(`series[${i}].id`, `series ${JSON.stringify(s.id)} is saved twice`);
    ids.add(s.id);
    if (s.seasons && s.seasons[0] !== s.season)
      fail(
        `series[${i}].seasons`,
        `expected the primary season ${s.season} first, got ${s.seasons.join(', ')}`,
      );
    s.intervals.forEach((iv, k) => {
      if (iv.halfWidths.length !== s.horizon)
        fail(
          `series[${i}].intervals[${k}].halfWidths`,
          `expected ${s.horizon} half-widths (the horizon), got ${iv.halfWidths.length}`,
        );
    });
    s.members.forEach((mb, k) => {
      checkMember(mb, `series[${i}].members[${k}]`);
      if (isNetworkMember(mb) && !s.networks.some((n) => n.member === mb.name))
        fail(`series[${i}].members[${k}]`, `the network member '${mb.name}' has no saved network`);
      if (isNetworkMember(mb) && mb.transform !== 'none' && mb.lambda === undefined)
        fail(`series[${i}].members[${k}].lambda`, 'a network on a transform needs its λ (missing)');
      if (
        mb.method === 'global' &&
        !m.panel?.global.some((g) => g.options.season === s.season && g.options.horizon === s.horizon)
      )
        fail(`series[${i}].members[${k}]`, `no global network of season ${s.season}, horizon ${s.horizon}`);
    });
    s.networks.forEach((n, k) => {
      if (n.options.horizon !== s.horizon)
        fail(
          `series[${i}].networks[${k}].options.horizon`,
          `expected ${s.horizon} (the series' horizon), got ${n.options.horizon}`,
        );
    });
  });
}

/**
 * Loads a forecaster directory of either version: the manifest checked against its schema and for consistency, every
 * network's members through loadModel.
 */
export function loadForecasterDir(dir: string): LoadedForecasterDir {
  const raw = readManifest(dir);
  const path = join(dir, FORECASTER_FILE);
  if ((raw as { version?: unknown } | null)?.version !== 2) {
    const v1 = loadV1(dir, raw);
    const { series, name } = singleNetworkSeries(v1.forecaster.opts, v1.history, v1.intervals);
    return {
      manifest: {
        format: 'recur-forecaster',
        version: 2,
        kind: 'series',
        saved: '',
        layout: { interpolate: false },
        settings: {},
        series: [{ ...series, networks: [] }],
        history: { dates: v1.history.dates, values: v1.history.values },
      },
      networks: new Map([[series.id, new Map([[name, v1.forecaster]])]]),
      globals: new Map(),
      version: 1,
      notes: v1.notes,
    };
  }
  const m = checked(manifestSchema, raw, path) as ForecasterManifest;
  crossCheck(m, path);
  const notes: string[] = [];
  const networks = new Map<string, Map<string, RNNForecaster>>();
  for (const s of m.series) {
    const byMember = new Map<string, RNNForecaster>();
    for (const n of s.networks) {
      const f = new RNNForecaster(n.options);
      f.transform = n.scaling;
      f.models.push(...loadMembers(join(dir, n.dir), n.options.seeds.length, notes));
      byMember.set(n.member, f);
    }
    networks.set(s.id, byMember);
  }
  const globals = new Map<string, GlobalForecaster>();
  for (const g of m.panel?.global ?? []) {
    const o = g.options;
    const f = new GlobalForecaster({
      ...o,
      windowsPerSeries: o.windowsPerSeries ?? Number.POSITIVE_INFINITY,
    });
    f.models.push(...loadMembers(join(dir, g.dir), o.seeds.length, notes));
    globals.set(globalKey(o.season, o.horizon), f);
  }
  return { manifest: m, networks, globals, version: 2, notes: summarize(notes) };
}

/** Saves the seed members of a network (a series' or the global one) under `dir`/member-<i>. */
export function saveNetworkMembers(models: readonly Sequential[], dir: string): void {
  models.forEach((m, i) =>
    saveModel(m, join(dir, `member-${i}`), { includeOptimizer: false, metadata: { task: 'forecast' } }),
  );
}

/**
 * Saves a series' networks (by member name) under `dir`/`prefix`network-<k>, k the member's place in the point
 * forecast, and returns their manifest entries.
 */
export function saveSeriesNetworks(
  dir: string,
  prefix: string,
  s: SavedSeries,
  networks: ReadonlyMap<string, RNNForecaster>,
): SavedNetworkRef[] {
  const refs: SavedNetworkRef[] = [];
  s.members.forEach((m, k) => {
    const f = networks.get(m.name);
    if (!f) return;
    if (!f.transform) throw new Error(`the ${m.name} network is not fitted`);
    const rel = `${prefix}network-${k}`;
    saveNetworkMembers(f.models, join(dir, rel));
    refs.push({ member: m.name, dir: rel, options: f.opts, scaling: f.transform });
  });
  return refs;
}

/**
 * A generation directory: where a forecaster that replaces another (--overwrite) keeps its members when the old one's
 * use the same names, so that both are complete on disk until the manifest switches from one to the other.
 */
const GEN_DIR_RE = /^gen-[0-9a-f]{8}$/;
/**
 * The record of a commit's member directories, the replaced forecaster's and the new one's (relative to the
 * forecaster's), written before anything moves and removed once the commit is done: a commit killed in between
 * leaves it, and the next save into the directory removes those of them the manifest in place does not name (recur's
 * model files only).
 */
const REPLACED_FILE = '.recur-replaced.json';

/** The directory names recur writes in a forecaster directory (see the header), at the top and under series-<j>. */
const TOP_DIR_RE = /^(member-\d+|network-\d+|global-\d+x\d+|series-\d+|gen-[0-9a-f]{8})$/;
const MEMBER_DIR_RE = /^member-\d+$/;
const SERIES_SUBDIR_RE = /^network-\d+$/;

/**
 * The member model directories a saved forecaster's manifest names, relative to `dir`. A manifest that is not a recur
 * forecaster's is a ModelFileError: its directory was not written by recur.
 */
function manifestMemberDirs(dir: string): string[] {
  const raw = readManifest(dir);
  const path = join(dir, FORECASTER_FILE);
  const members = (at: string, count: number): string[] =>
    Array.from({ length: count }, (_, i) => join(at, `member-${i}`));
  if ((raw as { version?: unknown } | null)?.version !== 2)
    return members('', checked(forecasterFileSchema, raw, path).options.seeds.length);
  return namedMemberDirs(checked(manifestSchema, raw, path) as ForecasterManifest);
}

/** The member model directories a version-2 manifest names, relative to its directory. */
function namedMemberDirs(m: ForecasterManifest): string[] {
  const members = (at: string, count: number): string[] =>
    Array.from({ length: count }, (_, i) => join(at, `member-${i}`));
  return [
    ...m.series.flatMap((s) => s.networks.flatMap((n) => members(n.dir, n.options.seeds.length))),
    ...(m.panel?.global ?? []).flatMap((g) => members(g.dir, g.options.seeds.length)),
  ];
}

/**
 * Readies `dir` for a forecaster: a missing or empty directory is fine; one holding a forecaster is replaced only with
 * `overwrite` — and then only recur's own files in it are deleted (forecaster.json and the model files of the member
 * directories it names), anything else stays; a directory with other content and no forecaster.json is refused:
 * recur did not write it. So is a forecaster.json that is not a recur forecaster's, and any other member directory
 * with something in it, where a new save could write. What a killed save left and nothing else (a first save's staging
 * directory, its commit's temp files) is swept, and the directory is then empty: a new run takes it over, without
 * `overwrite`. A missing directory is made. Errors are the caller's (bad usage).
 */
export function prepareForecasterDir(dir: string, overwrite: boolean): void {
  // Made now, so that a path no directory can be made at fails before the run, not after it.
  if (!existsSync(dir)) return makeDirectories(dir);
  if (!lstatSync(dir).isDirectory()) throw new Error(`${dir} is a file; give a directory for the forecaster`);
  // The lock of the run saving here (claimForecasterDir), this process's or a killed one's: not the directory's content.
  const entries = readdirSync(dir).filter((n) => n !== LOCK_FILE);
  if (entries.length === 0) return;
  const isManifest = (n: string): boolean => n === FORECASTER_FILE;
  // A commit killed after its switch left the replaced forecaster's members: recur's own, removed now.
  finishReplacement(dir);
  // A run killed before it put its forecaster in place left its staging directory: recur's own, swept.
  for (const n of entries) {
    const m = STAGING_RE.exec(n);
    if (m && !processAlive(Number(m[1])) && isRealDirectory(join(dir, n)))
      rmSync(join(dir, n), { recursive: true, force: true });
  }
  // And the temp files of its manifest or commit record a killed write left: with its members gone (above), a first
  // save killed in its commit has left nothing else, and the same command takes the directory over, as a training
  // command does a run killed before its first save.
  for (const n of plainEntries(dir)) {
    const t = parseAtomicTempName(n);
    if (t && (t.target === FORECASTER_FILE || t.target === REPLACED_FILE) && !processAlive(t.pid))
      unlinkSync(join(dir, n));
  }
  const present = readdirSync(dir).filter((n) => n !== LOCK_FILE);
  if (present.length === 0) return;
  const complete = present.includes(FORECASTER_FILE);
  // Without a manifest, what a stopped save of recur's leaves: its member directories (a model recur saved for a
  // forecaster in one at least), a manifest's temp file — beside the user's own files, which stay.
  const recurs = (n: string): boolean =>
    TOP_DIR_RE.test(n) || isOwnTemp(n, isManifest) || isOwnTemp(n, (t) => t === REPLACED_FILE);
  if (!complete && !(present.every(recurs) || holdsForecastMember(dir)))
    throw new Error(
      `${dir} is not empty and holds no saved forecaster (no ${FORECASTER_FILE}); recur writes only into a new or empty directory or one it wrote — give another directory`,
    );
  let listed: string[] | null = null;
  if (complete) {
    try {
      listed = manifestMemberDirs(dir);
    } catch (e) {
      if (!(e instanceof ModelFileError)) throw e;
      throw new Error(
        `${dir} holds a ${FORECASTER_FILE} that is not a recur forecaster (${e.message}); recur will not replace it — give another directory`,
      );
    }
  }
  if (!overwrite)
    throw new Error(
      `${dir} already holds ${complete ? 'a saved forecaster' : 'part of a forecaster whose save was stopped'}; pass --overwrite to replace it, or give another directory`,
    );
  const refusal = overwriteRefusal(dir);
  if (refusal) throw new Error(`--overwrite: ${refusal}; give a directory of its own`);
  // Nothing is deleted yet: the old forecaster stays until the new one is complete (commitForecaster). Checked now,
  // so that a directory it could not be put in is refused before the run.
  checkMemberDirs(dir, listed);
}

/**
 * prepareForecasterDir for a run that will save into `dir`, holding the directory's lock (recur.lock, as the training
 * commands do) until the process exits: a second run saving into the same directory meanwhile is refused, naming the
 * first, instead of replacing the forecaster the first puts there — without --overwrite — or having it replaced.
 */
export function claimForecasterDir(dir: string, overwrite: boolean, command: string): void {
  if (existsSync(dir) && !lstatSync(dir).isDirectory())
    throw new Error(`${dir} is a file; give a directory for the forecaster`);
  acquireRunLock(dir, command);
  prepareForecasterDir(dir, overwrite);
}

/** A run's staging directory, inside the forecaster directory (so its moves are renames on one file system). */
const STAGING_RE = /^\.recur-staging-(\d+)$/;

/** Where this run saves its forecaster's member models before commitForecaster puts them in place. */
export function stagingDirOf(dir: string): string {
  return join(dir, `.recur-staging-${process.pid}`);
}

/** Removes a run's staging directory (a failed or stopped run's: the old forecaster is left as it was). */
export function discardStaging(staging: string): void {
  if (STAGING_RE.test(basename(staging)) && isRealDirectory(staging))
    rmSync(staging, { recursive: true, force: true });
}

/**
 * Puts a run's new forecaster in place so that at every instant the directory holds a complete forecaster, the old
 * or the new: the staged member directories move in beside the old ones (under a generation directory, gen-<hex>/,
 * when a name is taken), the new manifest replaces the old by one atomic rename, and only then do the old members go.
 * Both sets are listed in REPLACED_FILE first, so that after a kill the next save removes the set no manifest names.
 * Without an old forecaster, what a stopped save left is cleared first.
 */
export function commitForecaster(dir: string, staging: string, manifest: ForecasterManifest): void {
  makeDirectories(dir);
  const listed = existsSync(join(dir, FORECASTER_FILE)) ? manifestMemberDirs(dir) : null;
  // Refuses, before anything moves, model files in member directories no manifest names.
  checkMemberDirs(dir, listed);
  if (listed === null) removeForecasterFiles(dir, null);
  const staged = isRealDirectory(staging);
  const gen =
    staged && readdirSync(staging).some((n) => existsSync(join(dir, n)))
      ? `gen-${randomBytes(4).toString('hex')}`
      : null;
  const moved = (rel: string): string => (gen === null ? rel : `${gen}/${rel}`);
  const placed: ForecasterManifest = {
    ...manifest,
    series: manifest.series.map((e) => ({
      ...e,
      networks: e.networks.map((n) => ({ ...n, dir: moved(n.dir) })),
    })),
    ...(manifest.panel
      ? {
          panel: {
            ...manifest.panel,
            global: manifest.panel.global.map((g) => ({ ...g, dir: moved(g.dir) })),
          },
        }
      : {}),
  };
  // Both forecasters' members: whichever manifest a kill from here on leaves in place, the next save (or this one,
  // at the end) removes the other's.
  writeFileAtomic(
    join(dir, REPLACED_FILE),
    JSON.stringify([...(listed ?? []), ...namedMemberDirs(placed)]) + '\n',
  );
  if (gen !== null) renameSync(staging, join(dir, gen));
  else if (staged) {
    moveInto(staging, dir);
    rmdirSync(staging);
  }
  writeForecasterManifest(dir, placed);
  finishReplacement(dir);
}

/**
 * Removes the members a replaced forecaster left (REPLACED_FILE's list; see commitForecaster): recur's model files in
 * those member directories, each directory when it is left empty, then the list. A directory the manifest in place
 * names is never touched, nor is anything but recur's model files.
 */
function finishReplacement(dir: string): void {
  const record = join(dir, REPLACED_FILE);
  if (!existsSync(record) || !lstatSync(record).isFile()) return;
  let old: unknown;
  try {
    old = JSON.parse(readFileSync(record, 'utf8'));
  } catch {
    old = null;
  }
  let current: string[];
  try {
    current = existsSync(join(dir, FORECASTER_FILE)) ? manifestMemberDirs(dir) : [];
  } catch {
    // A manifest recur cannot read: what it names is unknown, so nothing is removed (prepareForecasterDir says why).
    return;
  }
  const ours = memberDirsOf(dir);
  const gone = Array.isArray(old)
    ? old.filter((m): m is string => typeof m === 'string' && ours.includes(m) && !current.includes(m))
    : [];
  for (const m of gone) {
    const p = join(dir, m);
    for (const n of plainEntries(p))
      if (isModelFileName(n) || isOwnTemp(n, isModelFileName)) unlinkSync(join(p, n));
  }
  for (const m of gone) removeEmptyParents(dir, m);
  unlinkSync(record);
}

/** Removes `rel` (a member directory under `dir`) and its parents up to `dir`, each only if it is empty. */
function removeEmptyParents(dir: string, rel: string): string[] {
  const removed: string[] = [];
  for (let r = rel; r !== '.'; r = dirname(r)) {
    const p = join(dir, r);
    if (isRealDirectory(p) && readdirSync(p).length === 0) {
      rmdirSync(p);
      removed.push(p);
    }
  }
  return removed;
}

/** Moves every entry of `from` into `to`, merging into directories already there (their other files stay). */
function moveInto(from: string, to: string): void {
  for (const n of readdirSync(from)) {
    const src = join(from, n);
    const dst = join(to, n);
    if (isRealDirectory(src) && isRealDirectory(dst)) {
      moveInto(src, dst);
      rmdirSync(src);
    } else renameSync(src, dst);
  }
}

/** Whether some member directory of `dir` holds a model recur saved for a forecaster (task 'forecast'). */
function holdsForecastMember(dir: string): boolean {
  return memberDirsOf(dir).some((m) => {
    try {
      const json = JSON.parse(readFileSync(join(dir, m, 'model.json'), 'utf8')) as {
        userDefinedMetadata?: { task?: unknown };
      };
      return json.userDefinedMetadata?.task === 'forecast';
    } catch {
      return false;
    }
  });
}

/** recur's member directories in `dir` (relative paths), at the top, under network-<k>/ and series-<j>/network-<k>/. */
function memberDirsOf(dir: string, top = true): string[] {
  const memberDirs: string[] = [];
  for (const n of readdirSync(dir)) {
    const p = join(dir, n);
    if (!TOP_DIR_RE.test(n) || !isRealDirectory(p)) continue;
    if (GEN_DIR_RE.test(n)) {
      // A generation directory holds the same layout, one level down (never another generation).
      if (top) memberDirs.push(...memberDirsOf(p, false).map((m) => join(n, m)));
      continue;
    }
    const networks = n.startsWith('series-')
      ? readdirSync(p)
          .filter((k) => SERIES_SUBDIR_RE.test(k) && isRealDirectory(join(p, k)))
          .map((k) => join(n, k))
      : [n];
    if (MEMBER_DIR_RE.test(n)) memberDirs.push(n);
    else
      for (const net of networks)
        for (const m of readdirSync(join(dir, net)))
          if (MEMBER_DIR_RE.test(m) && isRealDirectory(join(dir, net, m))) memberDirs.push(join(net, m));
  }
  return memberDirs;
}

/**
 * The member directories of `dir` and those of them that are recur's to clear (`listed`: the ones its manifest
 * names; null: a stopped save's, all). A model file where the manifest names none is not recur's, and a new save
 * could write over it: refused.
 */
function checkMemberDirs(
  dir: string,
  listed: readonly string[] | null,
): { memberDirs: string[]; ours: string[] } {
  const memberDirs = memberDirsOf(dir);
  const ours = listed === null ? memberDirs : memberDirs.filter((m) => listed.includes(m));
  const foreign = memberDirs.find(
    (m) => !ours.includes(m) && readdirSync(join(dir, m)).some((n) => isModelFileName(n)),
  );
  if (foreign !== undefined)
    throw new Error(
      `--overwrite: ${join(dir, foreign)} holds model files the saved forecaster does not name; recur will not delete them or save over them — give another directory`,
    );
  return { memberDirs, ours };
}

/**
 * Deletes recur's files in a forecaster directory (see prepareForecasterDir); returns the deleted paths. `listed`:
 * the member directories its manifest names (then no other member directory may hold a model file: it is checked
 * before anything is deleted); null: a save stopped before its manifest, whose member directories are all recur's.
 */
export function removeForecasterFiles(dir: string, listed: readonly string[] | null): string[] {
  const { ours } = checkMemberDirs(dir, listed);
  const removed: string[] = [];
  const unlink = (p: string): void => {
    unlinkSync(p);
    removed.push(p);
  };
  const rmdirIfEmpty = (p: string): void => {
    if (isRealDirectory(p) && readdirSync(p).length === 0) {
      rmdirSync(p);
      removed.push(p);
    }
  };
  for (const m of ours) {
    const p = join(dir, m);
    for (const n of plainEntries(p))
      if (isModelFileName(n) || isOwnTemp(n, isModelFileName)) unlink(join(p, n));
  }
  // recur's member directories left empty, then their network and series directories, deepest first.
  for (const m of ours) removed.push(...removeEmptyParents(dir, m));
  if (listed === null) for (const n of readdirSync(dir)) if (TOP_DIR_RE.test(n)) rmdirIfEmpty(join(dir, n));
  const isManifest = (n: string): boolean => n === FORECASTER_FILE;
  for (const n of plainEntries(dir)) if (isManifest(n) || isOwnTemp(n, isManifest)) unlink(join(dir, n));
  return removed;
}

/** Writes the manifest (last, atomically: a directory with a manifest is complete). */
export function writeForecasterManifest(dir: string, m: ForecasterManifest): void {
  makeDirectories(dir);
  writeFileAtomic(join(dir, FORECASTER_FILE), JSON.stringify(m, null, 1) + '\n');
}
