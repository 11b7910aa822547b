// Helpers shared by the CLI's unit tests.
import assert from 'node:assert/strict';
import { ClientError } from './client.js';

/** The ClientError a promise rejects with (fails the test if it resolves or rejects otherwise). */
export async function rejection(p: Promise<unknown>): Promise<ClientError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ClientError, `expected a ClientError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a rejection');
}
