import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { startServer, type TestServer } from '../../helpers/packages-server.js';
import { gzipSync } from 'node:zlib';
import { SupervisorError } from '../../../src/core/errors.js';
import { GOAL_STATE_MAX_BYTES, fetchGoalState } from '../../../src/supervisor/goal/goal-fetch.js';

const CAP = 1024 * 1024;
const HUGE = 1.2e9; // what each endless body would send if nobody stopped reading
const GOAL = JSON.stringify({ etag: 'e1', handlers: [{ name: 'A', version: '1.0' }] });
// 1 MiB of spaces in about 1 KB; concatenated gzip members decode as one body.
const MEMBER = gzipSync(Buffer.alloc(1024 * 1024, 0x20));

/** Resolves when the response can take more, or when the client went away. */
function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => { res.off('drain', done); res.off('close', done); resolve(); };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** Writes `chunk` until `total` bytes or until the client disconnects; resolves with the bytes the socket accepted. */
async function pour(res: ServerResponse, chunk: Buffer, total: number): Promise<number> {
  let written = 0;
  while (written < total && !res.destroyed) {
    written += chunk.length;
    if (!res.write(chunk)) await drainOrClose(res);
  }
  res.end();
  return written;
}

describe('fetchGoalState: the URL body is capped while it streams, after decoding', () => {
  let server: TestServer;
  let base = '';
  let served: Promise<number> = Promise.resolve(0);
  before(async () => {
    server = await startServer();
    server.route('/chunked', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }); // no Content-Length: chunked
      served = pour(res, Buffer.alloc(64 * 1024, 0x20), HUGE);
    });
    server.route('/bomb', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
      served = pour(res, MEMBER, Math.ceil(HUGE / (1024 * 1024)) * MEMBER.length);
    });
    server.route('/small.gz', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', etag: '"v1"' }).end(gzipSync(GOAL));
    });
    server.route('/exact', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(GOAL + ' '.repeat(CAP - GOAL.length));
    });
    base = server.base;
  });
  after(async () => {
    await server.close();
  });

  const overCap = async (path: string): Promise<SupervisorError> => {
    const err = await fetchGoalState(`${base}${path}`, null, { maxBytes: CAP }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof SupervisorError, String(err));
    assert.equal(err.code, 'E_GOAL_STATE_READ');
    assert.match(err.message, new RegExp(`^goal state ${base}${path} is over the ${CAP} byte limit \\(read stopped at \\d+ bytes, counted after decoding\\)$`));
    const read = err.details['bytesRead'] as number;
    assert.ok(read > CAP && read <= CAP + 1024 * 1024, `read ${read}`);
    return err;
  };

  test('a chunked body without Content-Length: the read stops past the cap and the server stops sending', async () => {
    await overCap('/chunked');
    const written = await served;
    // The socket buffers hold a few MiB at most; the server had 1.2 GB to send.
    assert.ok(written < CAP + 32 * 1024 * 1024, `the server wrote ${written} bytes`);
  });

  test('a gzip bomb that expands to 1.2 GB: counted after decoding, refused just past the cap', async () => {
    const err = await overCap('/bomb');
    // The whole compressed body is ~1.2 MB and may sit in socket buffers: the decoded count is the proof.
    assert.ok((err.details['bytesRead'] as number) < HUGE / 1000);
    await served;
  });

  test('a gzip body under the cap is decoded and read as usual', async () => {
    const got = await fetchGoalState(`${base}/small.gz`, null, { maxBytes: CAP });
    assert.equal(got.kind, 'goal');
    assert.ok(got.kind === 'goal' && got.goal.etag === 'e1' && got.httpEtag === '"v1"');
  });

  test('a body of exactly the cap is accepted', async () => {
    const got = await fetchGoalState(`${base}/exact`, null, { maxBytes: CAP });
    assert.ok(got.kind === 'goal' && got.goal.handlers.length === 1);
    assert.equal(GOAL_STATE_MAX_BYTES, 16 * 1024 * 1024);
  });
});
