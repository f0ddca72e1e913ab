import { parentPort } from 'node:worker_threads';
import type { Store } from '../src/storage/store.js';
const x: number = 3;
parentPort!.postMessage({ ok: x });
