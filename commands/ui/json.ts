/**
 * JSON documents: snake_case keys; money carried both as a USD number and as integer µ$
 * (`price_usd` + `price_micros`).
 */
import { microsToUsd } from '../../src/money.js';

/** money('price', 3_750_000) → { price_usd: 3.75, price_micros: 3750000 } */
export function money<K extends string>(name: K, micros: number): Record<`${K}_usd` | `${K}_micros`, number> {
  return { [`${name}_usd`]: microsToUsd(micros), [`${name}_micros`]: micros } as Record<`${K}_usd` | `${K}_micros`, number>;
}

/** Writes one JSON document followed by a newline. */
export function writeJson(stdout: NodeJS.WritableStream, doc: unknown): void {
  stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}
