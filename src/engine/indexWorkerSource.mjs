// Starts the index worker from TypeScript sources (npm start, tests): registers the tsx
// loader inside the worker thread, then loads the worker. Built code (dist/) starts
// indexWorker.js directly and never uses this file.
import { register } from 'tsx/esm/api';

register();
await import('./indexWorker.ts');
