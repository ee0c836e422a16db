/**
 * Messages between the page (main thread: the UI only) and its engine Web Worker (training, generation, model files,
 * forecasts). The main thread never runs the numerics, which is what keeps the page responsive while training.
 */
import type { ModelJson } from '../../models/serialization.js';

export interface TrainRequest {
  type: 'train';
  text: string;
  source: string;
  recipe: 'keras' | 'char-rnn';
  cell: string;
  units: number;
  layers: number;
  epochs: number;
  /** Cap batches per epoch (0: the whole text). */
  stepsPerEpoch: number;
  /** Fraction of the end of the text held out for the validation loss. */
  validationSplit: number;
  seed: number;
  sampleLength: number;
  temperatures: number[];
}

export interface GenerateRequest {
  type: 'generate';
  id: number;
  prime: string;
  length: number;
  temperature: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

export interface ForecastRequest {
  type: 'forecast';
  csv: string;
  source: string;
  horizon: number;
  method: 'hybrid' | 'network';
  cell: string;
  epochs: number;
  seeds: number;
  /** Score on the last `horizon` points (true) or forecast the future (false). */
  holdout: boolean;
}

/** A model in recur's tfjs format: model.json (naming `weights.bin`) and that file's bytes. */
export interface ModelFiles {
  name: string;
  modelJson: ModelJson;
  weights: ArrayBuffer;
}

export type EngineRequest =
  | TrainRequest
  | GenerateRequest
  | ForecastRequest
  | { type: 'stop' }
  /** Stops generation `id` (running or still queued), keeping what it generated. */
  | { type: 'stop-generation'; id: number }
  /** Stops the forecast (running or still queued): its networks' training ends after the current batch. */
  | { type: 'stop-forecast' }
  | { type: 'resume' }
  | { type: 'export' }
  /** `jsonName`: what the model.json is called in its errors (the chosen file's name, or the saved model's). */
  | {
      type: 'import';
      name: string;
      jsonName: string;
      modelJson: string;
      files: { name: string; data: ArrayBuffer }[];
    }
  /**
   * A Keras .h5/.hdf5/.keras file: its vocabulary from `chars` when given, else rebuilt the tutorial's way from
   * `corpus` (the Text box), as `recur generate model.h5 --chars/--corpus` does.
   */
  | { type: 'import-keras'; name: string; bytes: ArrayBuffer; corpus: string; chars: string };

export interface ModelInfo {
  name: string;
  recipe: string;
  cell: string;
  units: number;
  layers: number;
  vocabulary: number;
  lowercase: boolean;
  defaultPrime: string;
  temperatures: number[];
  /**
   * What the user should know about a loaded file (a Keras model's rebuilt vocabulary, hard_sigmoid, CuDNN; a
   * model.json's reader notes, e.g. the defaults it took).
   */
  notes?: string[];
}

export interface ForecastResult {
  title: string;
  dates: string[];
  forecast: number[];
  lower: number[];
  upper: number[];
  actual: number[] | null;
  metrics: [string, Record<string, number>][];
  skipped: [string, string][];
  baselines: [string, number[]][];
  svg: string;
  note: string;
}

export type EngineReply =
  | { type: 'ready'; isolated: boolean; kernels: string; threads: number; note: string }
  | {
      type: 'started';
      chars: number;
      vocabulary: number;
      batchesPerEpoch: number;
      samplesPerEpoch: number;
      epochs: number;
      threads: number;
      summary: string;
    }
  | {
      type: 'progress';
      epoch: number;
      batch: number;
      /** Losses of the batches since the last progress message, in order. */
      losses: number[];
      samplesPerSec: number;
      etaSeconds: number;
    }
  | {
      type: 'epoch';
      epoch: number;
      loss: number;
      valLoss: number | null;
      seconds: number;
      samplesPerSec: number;
    }
  | { type: 'samples'; epoch: number; prime: string; samples: { temperature: number; text: string }[] }
  | { type: 'stopped'; epoch: number; batch: number }
  | { type: 'trained'; epochs: number }
  | { type: 'model'; info: ModelInfo }
  | { type: 'chars'; id: number; text: string }
  /** `stopped`: Stop ended it before its length; `text` is what it generated until then. */
  | { type: 'generated'; id: number; prime: string; text: string; stopped: boolean }
  | { type: 'exported'; files: ModelFiles }
  /** `stopping`: what the page says when Stop is clicked during this step (what Stop ends, and when). */
  | { type: 'forecast-progress'; message: string; stopping: string }
  | { type: 'forecast'; result: ForecastResult }
  /** Stop ended the forecast before it had a result. */
  | { type: 'forecast-stopped' }
  /**
   * `during`: the request that failed; the page shows its message where that request reports. `resumable` (a failed
   * Train or Resume): whether the engine still holds a stopped run that Resume continues.
   */
  | { type: 'error'; during: EngineRequest['type']; message: string; resumable?: boolean };
