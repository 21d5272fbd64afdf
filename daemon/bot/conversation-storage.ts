/**
 * Where the conversations plugin keeps a conversation between updates: the `bot_conversations` table (one
 * row per chat), so a guided conversation survives a restart and continues on whichever daemon replica
 * gets the admin's next update.
 */
import type { ConversationData, VersionedState, VersionedStateStorage } from '@grammyjs/conversations';
import type { DbHandle } from '../../src/db/dialect.js';
import { toDbTime } from '../../src/time.js';

export function dbConversationStorage(handle: DbHandle, now: () => Date = () => new Date()): VersionedStateStorage<string, ConversationData> {
  const key = (chat: string) => `chat:${chat}`;
  return {
    async read(chat) {
      const row = await handle.db.selectFrom('bot_conversations').select('value').where('key', '=', key(chat)).executeTakeFirst();
      return row ? (JSON.parse(row.value) as VersionedState<ConversationData>) : undefined;
    },
    async write(chat, state) {
      const value = JSON.stringify(state);
      const at = toDbTime(now());
      await handle.db
        .insertInto('bot_conversations')
        .values({ key: key(chat), value, updated_at: at })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value, updated_at: at }))
        .execute();
    },
    async delete(chat) {
      await handle.db.deleteFrom('bot_conversations').where('key', '=', key(chat)).execute();
    },
  };
}
