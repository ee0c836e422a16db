/**
 * Parsers of the CLI's flag values, one zod schema each: every error names the flag, the value given and the range
 * allowed. Commander stays the parser; these are its per-option argument parsers.
 */
import { availableParallelism } from 'node:os';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { z } from 'zod';
import { UsageError, makeOutput } from './output.js';

/** Largest seed: seeds are used as unsigned 32-bit integers. */
export const MAX_SEED = 2 ** 32 - 1;

/** Worker threads cannot usefully exceed the cores this process may use (each thread is a full replica). */
export function maxThreads(): number {
  return availableParallelism();
}

const numberText = z
  .string()
  .trim()
  .min(1)
  .transform((v) => Number(v));

function rangeText(min: number, max: number, integer: boolean): string {
  const kind = integer ? 'an integer' : 'a number';
  if (max === Infinity) return `${kind} ≥ ${min}`;
  return `${kind} from ${min} to ${max}`;
}

/** An integer flag in [min, max]. */
export function intFlag(flag: string, min: number, max: number): (v: string) => number {
  const schema = numberText.pipe(z.number().int().min(min).max(max));
  return (v) => {
    const r = schema.safeParse(v);
    if (!r.success)
      throw new InvalidArgumentError(`${flag} must be ${rangeText(min, max, true)}, got '${v}'`);
    return r.data;
  };
}

/** Comma-separated distinct integers in [min, max] (`--season 7,365`), in the order given. */
export function intListFlag(flag: string, min: number, max: number): (v: string) => number[] {
  const one = intFlag(flag, min, max);
  return (v) => {
    const list = v.split(',').map((t) => one(t));
    if (new Set(list).size !== list.length)
      throw new InvalidArgumentError(`${flag} lists a value twice, got '${v}'`);
    return list;
  };
}

/** A finite number flag in [min, max]. */
export function numFlag(flag: string, min: number, max: number): (v: string) => number {
  const schema = numberText.pipe(z.number().min(min).max(max));
  return (v) => {
    const r = schema.safeParse(v);
    if (!r.success)
      throw new InvalidArgumentError(`${flag} must be ${rangeText(min, max, false)}, got '${v}'`);
    return r.data;
  };
}

/** A comma-separated list of numbers in [min, max], at least one. */
export function listFlag(flag: string, min: number, max: number): (v: string) => number[] {
  const schema = z.array(numberText.pipe(z.number().min(min).max(max))).min(1);
  return (v) => {
    const r = schema.safeParse(v.trim() === '' ? [] : v.split(','));
    if (!r.success)
      throw new InvalidArgumentError(
        `${flag} must be a comma-separated list of numbers from ${min} to ${max} (e.g. 0.2,0.5,1.0), got '${v}'`,
      );
    return r.data;
  };
}

/** --threads: from 1 to the cores available. */
export function threadsFlag(flag = '--threads'): (v: string) => number {
  return (v) => intFlag(flag, 1, maxThreads())(v);
}

/*
 * The flags several commands share, each with one range for every command that takes it: wide enough for any real
 * run, narrow enough that a typo is caught before it allocates. Two differences are deliberate (README, "When things
 * go wrong"): --units of recur train goes to MAX_TEXT_UNITS, the others' to MAX_UNITS (seq2seq's settings schema has
 * the same cap); below either, every training command's memory estimate (memory.ts) refuses a model too big; and
 * --validation-split of classify train, which needs a validation set beside its test split.
 */

/** Batches, counted in windows, texts or sources. */
export const MAX_BATCH = 1_000_000;
/** Epochs, steps per epoch, sources or texts scored. */
export const MAX_COUNT = 1_000_000_000;
/** Recurrent units of a layer of classify, seq2seq and forecast models. */
export const MAX_UNITS = 8192;
/** Recurrent units of a text model's layer: its memory estimate refuses what would not fit. */
export const MAX_TEXT_UNITS = 65_536;
export const MAX_LAYERS = 64;
export const MAX_DROPOUT = 0.99;
/** Members of a seed ensemble. */
export const MAX_ENSEMBLE = 1000;
export const MAX_BEAM = 1000;

/** --seed (and --init-seed): any unsigned 32-bit integer. */
export function seedFlag(flag = '--seed'): (v: string) => number {
  return intFlag(flag, 0, MAX_SEED);
}

export function batchSizeFlag(): (v: string) => number {
  return intFlag('--batch-size', 1, MAX_BATCH);
}

export function epochsFlag(): (v: string) => number {
  return intFlag('--epochs', 1, MAX_COUNT);
}

export function stepsPerEpochFlag(): (v: string) => number {
  return intFlag('--steps-per-epoch', 1, MAX_COUNT);
}

/** --limit: score only the first n (sources, texts). */
export function limitFlag(): (v: string) => number {
  return intFlag('--limit', 1, MAX_COUNT);
}

/** --units of the classify, seq2seq and forecast commands (and seq2seq's --post-attention); see MAX_TEXT_UNITS. */
export function unitsFlag(flag = '--units'): (v: string) => number {
  return intFlag(flag, 1, MAX_UNITS);
}

export function layersFlag(): (v: string) => number {
  return intFlag('--layers', 1, MAX_LAYERS);
}

/** --dropout and its kinds (--embedding-dropout, --recurrent-dropout …): a rate below 1. */
export function dropoutFlag(flag = '--dropout'): (v: string) => number {
  return numFlag(flag, 0, MAX_DROPOUT);
}

export function lrFlag(): (v: string) => number {
  return numFlag('--lr', 1e-9, 10);
}

export function clipnormFlag(): (v: string) => number {
  return numFlag('--clipnorm', 1e-9, 1e9);
}

export function ensembleFlag(): (v: string) => number {
  return intFlag('--ensemble', 1, MAX_ENSEMBLE);
}

export function beamFlag(): (v: string) => number {
  return intFlag('--beam', 1, MAX_BEAM);
}

/** --temperature and --temperatures' values. */
export const MAX_TEMPERATURE = 100;

export const OPTIMIZERS = ['sgd', 'rmsprop', 'adam', 'adagrad'] as const;

export function optimizerFlag(): (v: string) => (typeof OPTIMIZERS)[number] {
  return choiceFlag('--optimizer', OPTIMIZERS);
}

/** A flag that takes one of a few words. */
export function choiceFlag<const T extends string>(
  flag: string,
  values: readonly [T, ...T[]],
): (v: string) => T {
  const schema = z.enum(values);
  const listed = values.length === 1 ? values[0] : `${values.slice(0, -1).join(', ')} or ${values.at(-1)}`;
  return (v) => {
    const r = schema.safeParse(v);
    if (!r.success) throw new InvalidArgumentError(`${flag} must be ${listed}, got '${v}'`);
    return r.data;
  };
}

/** A training command's budget flags (run_dir.ts TrainingBudget), as parsed. */
export interface BudgetOptions {
  timeLimit?: number;
  cpuTimeLimit?: number;
}

/** `recur evaluate`'s windows per batch for a window (keras-recipe) model; a stateful model uses its own batch. */
export const EVALUATE_BATCH_SIZE = 512;

/** --time-limit, shared by the training commands. */
export function timeLimitOption(): Option {
  return new Option(
    '--time-limit <minutes>',
    'stop training after this long (a checkpoint is saved, and the run ends as after its last epoch)',
  ).argParser(numFlag('--time-limit', 0.01, 1e6));
}

/** --cpu-time-limit, shared by the training commands. */
export function cpuTimeLimitOption(): Option {
  return new Option(
    '--cpu-time-limit <minutes>',
    'stop after this much CPU time of this process, all its threads together (on a shared machine: what an idle one would spend; with --threads N it runs out about N times faster than wall time)',
  ).argParser(numFlag('--cpu-time-limit', 0.01, 1e6));
}

/** Options kept under an older name: the option → the flag that replaced it, and why it was renamed. */
const replacedBy = new WeakMap<Option, { current: string; why: string }>();

/**
 * A flag's older name, still taken so that scripts keep working: hidden from --help; `takeOlderNames` moves its value
 * to the flag that replaced it, with a note on stderr saying so (`why`: what the older name was confused with).
 */
export function olderNameOption(
  flags: string,
  current: string,
  why: string,
  parse?: (v: string) => unknown,
): Option {
  const option = new Option(flags).hideHelp();
  if (parse) option.argParser(parse);
  replacedBy.set(option, { current, why });
  return option;
}

/**
 * Before a command runs: each value given under an older name (olderNameOption) goes to the flag that replaced it,
 * with a one-line note (Output.note); both names with different values are refused.
 */
export function takeOlderNames(action: Command): void {
  for (let cmd: Command | null = action; cmd; cmd = cmd.parent)
    for (const option of cmd.options) {
      const renamed = replacedBy.get(option);
      const key = option.attributeName();
      if (!renamed || cmd.getOptionValueSource(key) !== 'cli') continue;
      const target = cmd.options.find((o) => o.long === renamed.current)!;
      const value: unknown = cmd.getOptionValue(key);
      const given = cmd.getOptionValueSource(target.attributeName()) === 'cli';
      if (given && JSON.stringify(cmd.getOptionValue(target.attributeName())) !== JSON.stringify(value))
        throw new UsageError(`${option.long} is the older name of ${renamed.current}; give one of them`);
      cmd.setOptionValueWithSource(target.attributeName(), value, 'cli');
      cmd.setOptionValue(key, undefined);
      // A note as every other (the command's own Output says it as --json and --quiet have it).
      makeOutput(action.opts()).note(
        `${option.long} is now ${renamed.current} (${renamed.why}); the older name still works for now`,
      );
    }
}
