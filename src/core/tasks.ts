/**
 * The tasks recur records in a model's metadata (userDefinedMetadata.task), and how a model of one task given where
 * another's is wanted is named to the user: the same words from the CLI's loaders and the page's.
 */

/** The tasks recur records in a model's metadata (userDefinedMetadata.task). */
export type RecordedTask = 'text' | 'classify' | 'seq2seq' | 'forecast';

/** What each task's model is, and the command that trains it. */
export const RECORDED_TASKS: Readonly<Record<RecordedTask, { what: string; command: string }>> = {
  text: { what: 'a text model', command: 'recur train' },
  classify: { what: 'a text classifier', command: 'recur classify train' },
  seq2seq: { what: 'a seq2seq model', command: 'recur seq2seq train' },
  forecast: { what: "a forecaster's network", command: 'recur forecast' },
};

/**
 * `where holds a text classifier (from recur classify train), not a text model` when `recorded` is another of recur's
 * tasks than `wanted`; null when it is `wanted`, or no task recur knows (the loader then says what is wrong).
 */
export function otherTaskMessage(where: string, recorded: unknown, wanted: RecordedTask): string | null {
  if (typeof recorded !== 'string' || recorded === wanted || !Object.hasOwn(RECORDED_TASKS, recorded))
    return null;
  const held = RECORDED_TASKS[recorded as RecordedTask];
  return `${where} holds ${held.what} (from ${held.command}), not ${RECORDED_TASKS[wanted].what}`;
}
