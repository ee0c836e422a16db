/**
 * The names of seq2seq's learning-rate options, in a module without the library behind it: the CLI's flag table
 * reads them at start-up.
 */
/** The quantities the learning-rate schedule can watch (both logged every epoch by seq2seq training). */
export const LR_MONITORS = ['val_loss', 'val_wer'] as const;
export type LrMonitor = (typeof LR_MONITORS)[number];
/**
 * How the learning rate moves: 'plateau' cuts it when lrMonitor stalls (ReduceLROnPlateau); 'cosine' anneals it
 * from learningRate to 0 over lrDecayEpochs by the optimisation step (no monitor).
 */
export const LR_SCHEDULES = ['plateau', 'cosine'] as const;
export type LrSchedule = (typeof LR_SCHEDULES)[number];
