/**
 * recur's version, as package.json states it (a test keeps the two equal). It lives here, not read from package.json
 * at run time, because the library is browser-safe and model files record it (`generatedBy`).
 */
export const RECUR_VERSION = '0.1.0';
