// The web console's Save and checkpoint controls in a real browser against a real
// `tshv serve` with a real guest: take a checkpoint of a running VM, save it, resume it
// with Start (the shell's history proves it resumed rather than booted), apply the
// checkpoint, delete it. Screenshots go to test-artifacts/ (git-ignored).
//
// Needs Chromium: Debian's /usr/bin/chromium (apt-get install -y chromium) or $CHROMIUM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { ROOT } from '../lib/guest-shell.js';
import { Service } from '../mgmt/service.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts');
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM)`;

const stateOf = (page: Page) => page.locator('#detail-state');
const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });

async function waitForState(page: Page, state: string, ms = 120_000): Promise<void> {
  await page.locator('#detail-state', { hasText: new RegExp(`^${state}$`) }).waitFor({ timeout: ms });
}

test('web console: take a checkpoint, save, resume with Start, apply the checkpoint, delete it', { skip, timeout: 420_000 }, async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const s = await Service.start();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const pageErrors: string[] = [];
  try {
    await s.ok('POST', '/api/vms', { name: 'web-state', memoryMiB: 128 }, 201);
    await s.ok('POST', '/api/vms/web-state/start');
    const shell = await s.console('web-state');
    await shell.waitForPrompt(180_000);
    await shell.run('echo before-checkpoint > /tmp/m');

    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('dialog', (d) => void d.accept()); // apply and delete ask first
    await page.goto(`${s.url}/#token=${s.token}`);
    await button(page, 'web-state').click();
    await waitForState(page, 'running');
    assert.equal(await button(page, 'Save').isEnabled(), true);
    assert.equal(await button(page, 'Discard saved state').isEnabled(), false, 'nothing saved yet');
    await page.locator('#checkpoint-list', { hasText: 'No checkpoints' }).waitFor();

    await button(page, 'Take checkpoint').click();
    await page.locator('#checkpoint-list li', { hasText: /\(current\).*with memory/ }).waitFor({ timeout: 60_000 });
    await shell.run('echo after-checkpoint > /tmp/m');

    await button(page, 'Save').click();
    await waitForState(page, 'saved');
    await page.screenshot({ path: join(ARTIFACTS, 'web-saved.png') });
    assert.equal(await button(page, 'Discard saved state').isEnabled(), true);
    assert.equal(await button(page, 'Save').isEnabled(), false);

    await button(page, 'Start').click();
    await waitForState(page, 'running');
    let c = await s.console('web-state');
    assert.match(await c.run('cat /tmp/m'), /after-checkpoint/, 'Start resumed the saved VM');

    await page.getByRole('button', { name: /^Apply checkpoint / }).click();
    await waitForState(page, 'running');
    c = await s.console('web-state');
    assert.match(await c.run('cat /tmp/m'), /before-checkpoint/, 'the VM is back at the checkpoint');
    await page.screenshot({ path: join(ARTIFACTS, 'web-checkpoints.png') });

    await page.getByRole('button', { name: /^Delete checkpoint / }).click();
    await page.locator('#checkpoint-list', { hasText: 'No checkpoints' }).waitFor({ timeout: 30_000 });
    assert.deepEqual(await s.ok('GET', '/api/vms/web-state/checkpoints'), []);
    assert.deepEqual(pageErrors, []);
  } finally {
    await browser.close();
    await s.kill();
  }
});
