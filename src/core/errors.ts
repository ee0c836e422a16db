/**
 * Errors the library throws for bad input (a wrong option value, a damaged file's content): the caller's mistake,
 * not a failure while running. The CLI maps them to exit code 2.
 */
export class InvalidInputError extends Error {
  override readonly name: string = 'InvalidInputError';
}
