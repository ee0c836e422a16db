/**
 * recur — recurrent neural networks (SimpleRNN, LSTM, GRU) for Node.js and the browser, with a Keras-style API.
 * This entry point is browser-safe; file I/O, the CLI helpers and the worker pool are in `recur/node`.
 */
export {
  Tensor,
  IndexTensor,
  tensor,
  indexTensor,
  type AnyTensor,
  type Shape,
  type NestedArray,
} from './core/tensor.js';
export { Random } from './core/random.js';
export { kernels, setKernels } from './core/backend.js';
export { referenceKernels } from './core/reference_kernels.js';
export type { Kernels } from './core/kernels.js';
export * as layers from './layers/index.js';
export {
  Layer,
  Weight,
  StepState,
  type LayerArgs,
  type StepInput,
  type StepOptions,
} from './layers/layer.js';
export {
  Sequential,
  sequential,
  type CompileArgs,
  type FitArgs,
  type FitDatasetArgs,
  type Batch,
  type BatchDataset,
  type SequentialArgs,
} from './models/sequential.js';
export type { EvaluateDatasetOptions, EpochProgress, InferenceOptions } from './models/fit_loop.js';
export type { CarriedStates } from './models/pool_model.js';
/** What a layer class of your own implements (forward, step) takes and gives. */
export type {
  LayerShape,
  ForwardOptions,
  StepLookup,
  StepConstant,
  StepAheadProduct,
} from './layers/layer.js';
export type { ApplyOptions, SymbolicDtype } from './layers/symbolic.js';
export * from './models/callbacks.js';
export {
  SGD,
  RMSprop,
  Adam,
  Adagrad,
  Optimizer,
  createOptimizer,
  OPTIMIZER_DEFAULTS,
  type OptimizerArgs,
  type SGDArgs,
  type RMSpropArgs,
  type AdamArgs,
  type AdagradArgs,
  type OptimizerName,
  type NamedWeight,
} from './models/optimizers.js';
export { computeLoss, computeMaskedLoss, lossName, type LossName } from './models/losses.js';
export { Stepper, type StepAheadRunner } from './models/stepper.js';
export {
  StepHelper,
  newStepHelper,
  runStepHelper,
  stepHelperControl,
  type StepHelperInit,
} from './parallel/step_helper.js';
export { GraphStepper, type GraphStepperArgs } from './models/graph_stepper.js';
export {
  Functional,
  InputLayer,
  SymbolicTensor,
  input,
  model,
  type FunctionalArgs,
  type FunctionalCompileArgs,
  type FunctionalFitArgs,
  type FunctionalBatch,
  type FunctionalDataset,
  type FunctionalFitDatasetArgs,
  type GraphValues,
  type InputLayerArgs,
  type LossSpec,
  type TensorsArg,
} from './models/functional.js';
export {
  serializeFunctional,
  deserializeFunctional,
  parseFunctionalModelJson,
  type LoadedFunctional,
} from './models/functional_serialization.js';
export type {
  SaveOptions,
  ModelJson,
  ModelArtifacts,
  WeightSpec,
  WeightFile,
  KerasLayerJson,
} from './models/serialization.js';
export {
  TextCorpus,
  Permutation,
  type CorpusOptions,
  type WindowOptions,
  type StreamOptions,
  type SyncBatchDataset,
} from './text/corpus.js';
export { Vocabulary } from './text/vocabulary.js';
export { TextGenerator, type GenerateOptions } from './text/generator.js';
export { sampleFromLogits, type SampleOptions } from './text/sampling.js';
export {
  KERAS_RECIPE,
  CHAR_RNN_RECIPE,
  textSettings,
  buildTextModel,
  compileTextModel,
  textDatasets,
  resettingDataset,
  minTrainingChars,
  defaultPrimeOf,
  epochSampleTexts,
  type TextSettingsOverrides,
  type TextDatasetOptions,
} from './text/recipes.js';
export {
  parseTextMetadata,
  parseTextModelMetadata,
  textMetadata,
  vocabularyOf,
  type Recipe,
  type CellType,
  type InitScheme,
  type TextSettings,
  type TrainingState,
  type TextMetadata,
} from './text/metadata.js';
export { InvalidInputError } from './core/errors.js';
/** Text classification: tokenizers, the classifier recipe, bucketed batches, metrics and baselines. */
export * as classify from './classify/index.js';
export { tfjsCompatibilityNotes } from './models/tfjs_compat.js';
export { installModelSaver, type ModelSaver, type SaveResult } from './models/model_saver.js';
export * as keras from './keras/index.js';
export { loadModel, type LoadedAny, type ModelFiles } from './keras/index.js';
export * as seq2seq from './seq2seq/index.js';
