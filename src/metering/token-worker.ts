/** The token counter's worker thread (see tokens.ts): counts the texts it is sent, several at once in slices. */
import { parentPort } from 'node:worker_threads';
import { countTexts } from './token-count.js';

parentPort!.on('message', (m: { id: number; texts: string[]; budget: number }) => {
  countTexts(m.texts, m.budget).then(
    (tokens) => parentPort!.postMessage({ id: m.id, tokens }),
    (e: unknown) => parentPort!.postMessage({ id: m.id, error: String((e as Error)?.message ?? e) }),
  );
});
