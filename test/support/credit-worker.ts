// Child process for concurrency tests: credits `count` × 1,000 µ$ to telegram id 5 on the given SQLite file.
import { openDb } from '../../src/db/dialect.js';
import { creditUser } from '../../src/ledger/ledger.js';

const [file, countText] = process.argv.slice(2);
const handle = openDb({ dbName: file });
for (let i = 0; i < Number(countText); i++) {
  await creditUser({ handle }, { telegramId: 5, amountMicros: 1_000, type: 'topup' });
}
await handle.close();
