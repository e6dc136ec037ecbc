import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startControlServer } from '../../src/ipc/server.js';
import { connectControl } from '../../src/ipc/client.js';
import { RawJson } from '../../src/ipc/protocol.js';
import { SupervisorError } from '../../src/core/errors.js';
import { makeRows, tempDir } from './harness.js';

test('callRaw hands back the result as the JSON text sent, for a cached RawJson and a plain value alike; errors stay errors', async () => {
  const tmp = await tempDir();
  const rows = makeRows(50);
  let mode: 'raw' | 'plain' | 'fail' = 'raw';
  const server = await startControlServer({ socketPath: tmp.socketPath, serverInfo: { version: 't', libDir: tmp.dir }, handlers: {
    ps: () => {
      if (mode === 'fail') throw new SupervisorError('E_UNKNOWN_HANDLER', 'no rows today');
      return mode === 'raw' ? RawJson.of(rows) : rows;
    },
  } });
  const client = await connectControl(tmp.socketPath);
  try {
    const text = await client.callRaw('ps', {});
    assert.equal(text, JSON.stringify(rows));
    mode = 'plain';
    assert.deepEqual(JSON.parse(await client.callRaw('ps', {})), rows);
    assert.deepEqual(await client.call('ps', {}), rows, 'a parsed call on the same connection still works');
    mode = 'fail';
    await assert.rejects(client.callRaw('ps', {}), { code: 'E_UNKNOWN_HANDLER' });
  } finally {
    await client.close();
    await server.close();
    await tmp.cleanup();
  }
});
