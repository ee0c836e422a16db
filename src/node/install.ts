/**
 * What importing recur's Node half installs into the library — worker threads for `fit({threads})` and the file
 * writer behind `model.save(path)` — without the rest of recur/node's exports. The CLI imports this module alone
 * (src/cli/load_command.ts) and each command imports what it uses: recur/node's index would also load the
 * forecasters, the chart code (vega), the inference pool and the data loaders, ≈ 20 MB of heap in every command.
 */
import './runtime_hooks.js';
import { installModelSaver } from '../models/model_saver.js';
import { saveAnyModel } from './keras_io.js';
import { installWorkerPool } from './pool.js';

installWorkerPool();
// model.save(path) writes files from here on (the format by the path's extension).
installModelSaver(saveAnyModel);
