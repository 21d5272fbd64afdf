/** Every protocol the proxy speaks, by name (the routes in server.ts pick one). */
import { chat } from './chat.js';
import { completions } from './completions.js';
import { embeddings } from './embeddings.js';
import { messages } from './messages.js';
import type { Protocol, ProtocolName } from './protocol.js';
import { responses } from './responses.js';

export const protocols: Readonly<Record<ProtocolName, Protocol>> = { chat, responses, completions, embeddings, messages };
