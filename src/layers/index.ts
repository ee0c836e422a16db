/** Layer factories, named as in tfjs (`layers.lstm({units: 128})`), and the layer classes. */
import { Activation, type ActivationArgs } from './activation.js';
import { Dense, type DenseArgs } from './dense.js';
import { Dropout, SpatialDropout1D, type DropoutArgs } from './dropout.js';
import { Embedding, type EmbeddingArgs } from './embedding.js';
import { GRU, type GRUArgs } from './gru.js';
import { LSTM, type LSTMArgs } from './lstm.js';
import { SimpleRNN, type SimpleRNNArgs } from './simple_rnn.js';
import { Add, Concatenate, type AddArgs, type ConcatenateArgs } from './merge.js';
import { RepeatVector, type RepeatVectorArgs } from './repeat_vector.js';
import { AdditiveAttention, Attention, type AdditiveAttentionArgs, type AttentionArgs } from './attention.js';
import { Bidirectional, type BidirectionalArgs } from './bidirectional.js';
import { AttentionDecoder, type AttentionDecoderArgs } from './attention_decoder.js';
import { TimeDistributed, type TimeDistributedArgs } from './time_distributed.js';
import { Masking, type MaskingArgs } from './masking.js';
import { AttentionWeightedAverage, type AttentionWeightedAverageArgs } from './attention_weighted_average.js';
import { GlobalMaxPooling1D, type GlobalMaxPooling1DArgs } from './global_max_pooling_1d.js';
import { GlobalAveragePooling1D, type GlobalAveragePooling1DArgs } from './global_average_pooling_1d.js';

export { Activation, Dense, Dropout, Embedding, GRU, LSTM, SimpleRNN };
export type { ActivationArgs, DenseArgs, DropoutArgs, EmbeddingArgs, GRUArgs, LSTMArgs, SimpleRNNArgs };
export { RNN, RNN_DEFAULTS, RecurrentStepState, type RNNArgs, type CallOptions } from './recurrent.js';
export { DENSE_DEFAULTS } from './dense.js';
export { LSTM_DEFAULTS } from './lstm.js';
export { GRU_DEFAULTS } from './gru.js';
export { recurrentLayer, CELL_TYPES, type CellType, type RecurrentLayerArgs } from './recurrent_factory.js';

export const dense = (args: DenseArgs): Dense => new Dense(args);
export const activation = (args: ActivationArgs): Activation => new Activation(args);
export const dropout = (args: DropoutArgs): Dropout => new Dropout(args);
export const spatialDropout1D = (args: DropoutArgs): SpatialDropout1D => new SpatialDropout1D(args);
export { SpatialDropout1D };
export const embedding = (args: EmbeddingArgs): Embedding => new Embedding(args);
export const simpleRNN = (args: SimpleRNNArgs): SimpleRNN => new SimpleRNN(args);
export const lstm = (args: LSTMArgs): LSTM => new LSTM(args);
export const gru = (args: GRUArgs): GRU => new GRU(args);
export const attentionWeightedAverage = (args: AttentionWeightedAverageArgs = {}): AttentionWeightedAverage =>
  new AttentionWeightedAverage(args);
export { AttentionWeightedAverage, type AttentionWeightedAverageArgs };
export const globalMaxPooling1d = (args: GlobalMaxPooling1DArgs = {}): GlobalMaxPooling1D =>
  new GlobalMaxPooling1D(args);
export const globalAveragePooling1d = (args: GlobalAveragePooling1DArgs = {}): GlobalAveragePooling1D =>
  new GlobalAveragePooling1D(args);
export {
  GlobalMaxPooling1D,
  GlobalAveragePooling1D,
  type GlobalMaxPooling1DArgs,
  type GlobalAveragePooling1DArgs,
};
export { StepState, type StepInput, type StepOptions } from './layer.js';
export {
  registerLayer,
  registeredLayers,
  layerRegistration,
  serializeLayer,
  deserializeLayer,
  isLayerSpec,
  type LayerSpec,
  type LayerFromConfig,
  type LayerRegistration,
  type FileWriter,
} from './registry.js';
export { stepProduct, gatherTable, type StepProduct } from './step_weights.js';

export { Concatenate, Add, type ConcatenateArgs, type AddArgs } from './merge.js';
export { RepeatVector, type RepeatVectorArgs } from './repeat_vector.js';
export { Attention, AdditiveAttention, type AttentionArgs, type AdditiveAttentionArgs } from './attention.js';
export const concatenate = (args: ConcatenateArgs = {}): Concatenate => new Concatenate(args);
export const add = (args: AddArgs = {}): Add => new Add(args);
export const repeatVector = (args: RepeatVectorArgs): RepeatVector => new RepeatVector(args);
export const attention = (args: AttentionArgs = {}): Attention => new Attention(args);
export const additiveAttention = (args: AdditiveAttentionArgs = {}): AdditiveAttention =>
  new AdditiveAttention(args);
export { AttentionDecoder, type AttentionDecoderArgs } from './attention_decoder.js';
export const attentionDecoder = (args: AttentionDecoderArgs): AttentionDecoder => new AttentionDecoder(args);

export { Bidirectional, type BidirectionalArgs, type BidirectionalMergeMode } from './bidirectional.js';
export { TimeDistributed, type TimeDistributedArgs } from './time_distributed.js';
export const bidirectional = (args: BidirectionalArgs): Bidirectional => new Bidirectional(args);
export const timeDistributed = (args: TimeDistributedArgs): TimeDistributed => new TimeDistributed(args);
export { Masking, type MaskingArgs } from './masking.js';
export const masking = (args: MaskingArgs = {}): Masking => new Masking(args);
export type { SequenceMask } from './layer.js';
export type { ActivationName, ActivationIdentifier } from './activations.js';
export type { InitializerName, InitializerSpec, InitializerIdentifier } from './initializers.js';
import {
  ReLU,
  LeakyReLU,
  ThresholdedReLU,
  type ReLUArgs,
  type LeakyReLUArgs,
  type ThresholdedReLUArgs,
} from './relu.js';
import { ELU, type ELUArgs } from './elu.js';
import { Softmax, type SoftmaxArgs } from './softmax.js';
import { PReLU, type PReLUArgs } from './prelu.js';
export { ActivationLayer } from './activation_layer.js';
export {
  ReLU,
  LeakyReLU,
  ThresholdedReLU,
  RELU_DEFAULTS,
  LEAKY_RELU_DEFAULTS,
  THRESHOLDED_RELU_DEFAULTS,
  type ReLUArgs,
  type LeakyReLUArgs,
  type ThresholdedReLUArgs,
} from './relu.js';
export { ELU, ELU_DEFAULTS, type ELUArgs } from './elu.js';
export { Softmax, SOFTMAX_DEFAULTS, type SoftmaxArgs } from './softmax.js';
export { PReLU, PRELU_DEFAULTS, type PReLUArgs } from './prelu.js';
export const reLU = (args: ReLUArgs = {}): ReLU => new ReLU(args);
export const leakyReLU = (args: LeakyReLUArgs = {}): LeakyReLU => new LeakyReLU(args);
export const thresholdedReLU = (args: ThresholdedReLUArgs = {}): ThresholdedReLU => new ThresholdedReLU(args);
export const elu = (args: ELUArgs = {}): ELU => new ELU(args);
export const softmax = (args: SoftmaxArgs = {}): Softmax => new Softmax(args);
export const prelu = (args: PReLUArgs = {}): PReLU => new PReLU(args);
