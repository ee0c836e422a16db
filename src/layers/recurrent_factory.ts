/**
 * One place that turns a cell name ('lstm', 'gru', 'simple-rnn') into a recurrent layer, used by the text recipes
 * and the forecasters alike.
 */
import { GRU, type GRUArgs } from './gru.js';
import { LSTM, type LSTMArgs } from './lstm.js';
import type { RNN } from './recurrent.js';
import { SimpleRNN, type SimpleRNNArgs } from './simple_rnn.js';

export const CELL_TYPES = ['lstm', 'gru', 'simple-rnn'] as const;
export type CellType = (typeof CELL_TYPES)[number];

/** The options of every cell; the cell-specific ones (unitForgetBias: LSTM; resetAfter: GRU) only for their cell. */
export type RecurrentLayerArgs = SimpleRNNArgs & LSTMArgs & GRUArgs;

/** A recurrent layer of the named cell. An unknown cell, or an option of another cell, is an error naming it. */
export function recurrentLayer(cell: CellType, options: RecurrentLayerArgs): RNN {
  switch (cell) {
    case 'lstm':
      return new LSTM(options);
    case 'gru':
      return new GRU(options);
    case 'simple-rnn':
      return new SimpleRNN(options);
    default:
      throw new Error(`unknown recurrent cell '${String(cell)}': expected ${CELL_TYPES.join(', ')}`);
  }
}

/** The cell name of a recurrent layer (the inverse of recurrentLayer). */
export function cellTypeOf(layer: RNN): CellType {
  return layer instanceof LSTM ? 'lstm' : layer instanceof GRU ? 'gru' : 'simple-rnn';
}
