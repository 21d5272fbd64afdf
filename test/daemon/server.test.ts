import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newRequestId } from '../../daemon/http/server.js';

test('request ids: req_ + 32 hex digits, unique, increasing in creation order (appended at the right edge of the request_id indexes)', () => {
  const ids = Array.from({ length: 2000 }, () => newRequestId());
  for (const id of ids) assert.match(id, /^req_[0-9a-f]{32}$/);
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
});
