import { loadConfigOrExit } from '../bootstrap.js';

/** `node dist/src/config/check-config.js`: exits 0 when the configuration is valid, else prints one sentence and exits 1. */
await loadConfigOrExit();
