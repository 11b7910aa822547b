import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allowedHosts, hostAllowed, originAllowed, parseHost } from './host-check.js';

test('host syntax: NAME or NAME:PORT, DNS names, IPv4, [IPv6]; lower-cased', () => {
  assert.deepEqual(parseHost('LocalHost:7070'), { name: 'localhost', port: 7070 });
  assert.deepEqual(parseHost('[::1]:80'), { name: '[::1]', port: 80 });
  assert.deepEqual(parseHost('tshv.example'), { name: 'tshv.example', port: undefined });
  for (const bad of ['', ':80', 'a b', 'evil.example/x', 'user@host', '::1', '[::1', 'host:', 'host:0', 'host:65536', 'host.:80', '-x']) {
    assert.equal(parseHost(bad), undefined, bad);
  }
});

test('the hosts a service answers to: loopback names and its own on its port, never an unspecified address', () => {
  const allowed = allowedHosts(['0.0.0.0', 'Box.Lan', 'proxy.example:443', '::'], 7070);
  assert.deepEqual([...allowed].sort(), ['127.0.0.1:7070', '[::1]:7070', 'box.lan:7070', 'localhost:7070', 'proxy.example:443']);
  for (const ok of ['127.0.0.1:7070', 'localhost:7070', 'LOCALHOST:7070', '[::1]:7070', 'box.lan:7070', 'proxy.example:443']) assert.ok(hostAllowed(ok, allowed), ok);
  for (const bad of [undefined, '', 'evil.example:7070', 'localhost:7071', 'localhost', '0.0.0.0:7070', '127.0.0.1.evil.example:7070', 'box.lan']) {
    assert.equal(hostAllowed(bad, allowed), false, String(bad));
  }
  // A Host header without a port means 80.
  assert.ok(hostAllowed('localhost', allowedHosts([], 80)));
});

test('WebSocket origins: http(s):// pages of the allowed hosts only', () => {
  const allowed = allowedHosts(['box.lan', 'proxy.example:443'], 7070);
  for (const ok of ['http://127.0.0.1:7070', 'http://localhost:7070', 'http://[::1]:7070', 'http://BOX.lan:7070', 'https://proxy.example']) {
    assert.ok(originAllowed(ok, allowed), ok);
  }
  for (const bad of ['null', 'http://evil.example', 'http://localhost:7071', 'http://localhost', 'https://localhost:7070x', 'file://', 'ws://localhost:7070',
    'http://localhost:7070/', 'http://user@localhost:7070', 'https://proxy.example:8443']) {
    assert.equal(originAllowed(bad, allowed), false, bad);
  }
});
