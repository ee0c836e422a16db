/**
 * The Python project 'recur export pytorch' writes: the model as a PyTorch nn.Module (model.py), recur model
 * directories read and written with numpy (recur_io.py), recur's optimizers (optim.py), what every training script
 * shares (run.py: flags, processes, checkpoints, log.csv), and per kind of model the recipe's data (data.py) and the
 * training script with DistributedDataParallel (train.py):
 *
 *   text      recur's character models (recur train): windows or TBPTT streams cut from the text, as recur cuts them
 *   classify  recur's text classifiers (recur classify train): the texts encoded and split by recur at export time
 *             (classify_data.json, written by the CLI), the recipe's loss, early stopping and save-best
 *   seq2seq   recur's encoder–decoders (recur seq2seq train): the pairs encoded and split by recur at export time
 *             (seq2seq_data.json), teacher forcing, the masked next-token loss, ReduceLROnPlateau, save-best
 *
 * The files are generic: they read the model's layers, weights and recipe from the recur model directory beside them
 * (start/), so one project text serves every exportable model of a kind. They are kept as text — one module per shared
 * Python file and one per recipe, in pytorch/ — so the library can hand them to any writer (the CLI writes them
 * atomically).
 */
import { CLASSIFY_DATA, CLASSIFY_README, CLASSIFY_TRAIN } from './pytorch/classify.js';
import { MODEL } from './pytorch/model_py.js';
import { OPTIM } from './pytorch/optim_py.js';
import { RECUR_IO } from './pytorch/recur_io_py.js';
import { RUN } from './pytorch/run_py.js';
import { SEQ2SEQ_DATA, SEQ2SEQ_README, SEQ2SEQ_TRAIN } from './pytorch/seq2seq.js';
import { TEXT_DATA, TEXT_README, TEXT_TRAIN } from './pytorch/text.js';

/** The kinds of recur model the PyTorch export knows. */
export type PytorchProjectKind = 'text' | 'classify' | 'seq2seq';

/** File name → contents of the exported project for a kind of model (start/, the model, is written beside them). */
export function pytorchProjectFiles(kind: PytorchProjectKind = 'text'): Record<string, string> {
  const own = {
    text: { 'README.md': TEXT_README, 'data.py': TEXT_DATA, 'train.py': TEXT_TRAIN },
    classify: { 'README.md': CLASSIFY_README, 'data.py': CLASSIFY_DATA, 'train.py': CLASSIFY_TRAIN },
    seq2seq: { 'README.md': SEQ2SEQ_README, 'data.py': SEQ2SEQ_DATA, 'train.py': SEQ2SEQ_TRAIN },
  }[kind];
  return { ...own, 'model.py': MODEL, 'recur_io.py': RECUR_IO, 'optim.py': OPTIM, 'run.py': RUN };
}
