// The API's answers to malformed requests, through the real app (app.inject): the cases the
// api fuzz target (test/fuzz) found answered with statuses docs/api.md does not have.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from './api.js';
import { Host } from './host.js';
import { Store } from './store.js';

const dir = mkdtempSync(join(tmpdir(), 'tshv-api-test-'));
const store = new Store(join(dir, 'tshv.db'));
const app = await buildApp({ host: new Host(store), store, token: 't', version: '0' });
after(async () => { await app.close(); store.close(); rmSync(dir, { recursive: true, force: true }); });

const auth = { authorization: 'Bearer t' };

test('a body that is not JSON is a 400 naming "body", whatever its Content-Type (not a 415)', async () => {
  for (const headers of [{ 'content-type': 'application/xml' }, { 'content-type': 'multipart/form-data; boundary=x' }, {}]) {
    const r = await app.inject({ method: 'DELETE', url: '/api/vms/x', headers: { ...auth, ...headers }, payload: '<vm/>' });
    assert.equal(r.statusCode, 400, JSON.stringify(headers));
    assert.equal(r.json().field, 'body');
    assert.match(r.json().error, /must be JSON/);
  }
});

test('URLs the router cannot take are a 400 naming "url" with the documented body (not a 414, not Fastify\'s body)', async () => {
  for (const url of ['/api/vms/%zz', `/api/vms/${'x'.repeat(300)}/stop`, '/assets/%E0%A4%A']) {
    const r = await app.inject({ method: 'GET', url, headers: auth });
    assert.equal(r.statusCode, 400, url);
    assert.deepEqual(Object.keys(r.json()).sort(), ['error', 'field']);
    assert.equal(r.json().field, 'url');
  }
});

test('a {vm} of 101 to 200 characters is looked up (404); longer ones fail the schema (400, field vm)', async () => {
  const r = await app.inject({ method: 'GET', url: `/api/vms/${'x'.repeat(150)}`, headers: auth });
  assert.equal(r.statusCode, 404);
  const long = await app.inject({ method: 'GET', url: `/api/vms/${'x'.repeat(201)}`, headers: auth });
  assert.equal(long.statusCode, 400);
  assert.equal(long.json().field, 'vm');
});
