import { Worker } from 'node:worker_threads';
console.log(process.execArgv);
const w = new Worker(new URL('./_w.ts', import.meta.url));
w.on('message', (m) => { console.log('msg', m); });
w.on('error', (e) => console.log('err', e));
