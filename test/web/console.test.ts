// The web console in a real browser against a real `tshv serve` with a real guest: the
// token from the URL, the create form's checks (its own and the service's), start, the
// shell in the in-page terminal driven by the keyboard, pause/resume, stop, delete, a
// refused token, the narrow layout and a basic accessibility sweep. Screenshots go to
// test-artifacts/ (git-ignored).
//
// Needs Chromium: Debian's /usr/bin/chromium (apt-get install -y chromium) or $CHROMIUM.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { ROOT, TSHV } from '../lib/guest-shell.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'test-artifacts');
const BOOT_MS = 180_000;
const skip = existsSync(CHROMIUM) ? false : `no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM)`;

/** Starts `tshv serve` on a free port; resolves to the web console's URL (with #token=). */
async function startService(dataDir: string): Promise<{ proc: ChildProcess; url: string; output: () => string }> {
  const proc = spawn(process.execPath, [TSHV, 'serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => { out += d; });
  proc.stderr!.on('data', (d) => { out += d; });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tshv serve printed no URL in 30 s:\n${out}`)), 30_000);
    const look = () => {
      const m = /web console: (http:\/\/\S+#token=\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    };
    proc.stdout!.on('data', look);
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`tshv serve exited (${code}):\n${out}`)); });
  });
  return { proc, url, output: () => out };
}

/** What the in-page terminal shows (xterm.js's DOM renderer: one div a row). */
function terminalText(page: Page): Promise<string> {
  return page.locator('#terminal .xterm-rows').innerText().then((t) => t.replace(/\u00a0/g, ' '));
}

async function waitForTerminal(page: Page, what: string, re: RegExp, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const text = await terminalText(page).catch(() => '');
    if (re.test(text)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} in the terminal; it shows:\n${text}`);
    await page.waitForTimeout(250);
  }
}

/** The state badge of a VM's row in the list. */
const rowState = (page: Page, name: string) => page.locator('#vm-rows tr', { has: page.getByRole('button', { name, exact: true }) }).locator('.state');

/**
 * A small accessibility sweep: form controls and buttons have names, ids are unique,
 * live regions exist. Returns the problems found.
 */
function accessibilityProblems(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const problems: string[] = [];
    const visible = (e: Element) => (e as HTMLElement).offsetParent !== null || getComputedStyle(e).position === 'fixed';
    for (const e of document.querySelectorAll('input, select, textarea')) {
      const input = e as HTMLInputElement;
      if (input.classList.contains('xterm-helper-textarea')) continue; // xterm.js labels its own
      const named = (input.labels && input.labels.length > 0) || input.getAttribute('aria-label') || input.getAttribute('aria-labelledby');
      if (!named) problems.push(`unlabelled ${input.tagName.toLowerCase()} name=${input.name}`);
    }
    for (const b of document.querySelectorAll('button')) {
      if (visible(b) && !(b.textContent ?? '').trim() && !b.getAttribute('aria-label')) problems.push(`button without a name: ${b.outerHTML.slice(0, 80)}`);
    }
    const ids = [...document.querySelectorAll('[id]')].map((e) => e.id);
    for (const id of new Set(ids.filter((id, i) => ids.indexOf(id) !== i))) problems.push(`duplicate id ${id}`);
    for (const e of document.querySelectorAll('[aria-describedby], [aria-labelledby], [aria-controls]')) {
      for (const attr of ['aria-describedby', 'aria-labelledby', 'aria-controls']) {
        for (const id of (e.getAttribute(attr) ?? '').split(/\s+/).filter(Boolean)) {
          if (!document.getElementById(id)) problems.push(`${attr}="${id}" points nowhere`);
        }
      }
    }
    if (!document.querySelector('[aria-live], [role=status], [role=alert]')) problems.push('no live region');
    if (document.documentElement.lang === '') problems.push('no lang on <html>');
    if (document.querySelectorAll('h1').length !== 1) problems.push('not exactly one h1');
    return problems;
  });
}

test('web console: create, start, type into the guest\'s shell, stop, delete', { skip, timeout: 420_000 }, async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), 'tshv-web-'));
  const service = await startService(dataDir);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const pageErrors: string[] = [];
  try {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
    const requested: string[] = [];
    page.on('request', (r) => requested.push(new URL(r.url()).pathname));

    // The token comes from the fragment and leaves the address bar at once.
    await page.goto(service.url);
    await page.getByRole('heading', { name: 'Virtual machines' }).waitFor();
    assert.doesNotMatch(page.url(), /token/);
    assert.ok(await page.evaluate(() => sessionStorage.getItem('tshv.token')));
    await page.getByText(hostname(), { exact: true }).waitFor();
    await page.getByText('Live', { exact: true }).waitFor();
    assert.ok(requested.includes('/api/lifecycle'), 'the actions offered come from the service\'s lifecycle table');
    assert.equal(await page.locator('#vm-empty').isVisible(), true, 'no VMs yet');

    // The form checks the API's rules itself, and names each wrong field.
    await page.getByRole('button', { name: 'New VM', exact: true }).click();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'f-name', 'the form opens on its first field');
    await page.getByLabel('Name').fill('Bad Name');
    await page.getByLabel('Memory (MiB)').fill('8');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    assert.match(await page.locator('#f-name-error').innerText(), /lowercase/);
    assert.match(await page.locator('#f-memoryMiB-error').innerText(), /16 to 4094|from 16/);
    assert.equal(await page.getByLabel('Name').getAttribute('aria-invalid'), 'true');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'f-name', 'focus goes to the first wrong field');

    // What only the service can know (the kernel file is missing) comes back as its 400,
    // shown next to the field it names.
    await page.getByLabel('Name').fill('web-test');
    await page.getByLabel('Memory (MiB)').fill('128');
    await page.getByText('Boot and disks').click();
    await page.getByLabel('Kernel', { exact: true }).fill(join(dataDir, 'images', 'no-such-Image')); // inside a storage root
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.locator('#f-kernel-error').getByText(/no such file/).waitFor();
    assert.equal(await page.locator('#f-memoryMiB-error').isVisible(), false, 'the fixed field\'s error is gone');

    await page.getByLabel('Kernel', { exact: true }).fill('');
    await page.getByRole('button', { name: 'Create', exact: true }).click();
    await page.getByRole('heading', { name: 'web-test' }).waitFor();
    await rowState(page, 'web-test').getByText('off').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Start', exact: true }).isEnabled(), true);
    assert.equal(await page.getByRole('button', { name: 'Stop', exact: true }).isEnabled(), false);
    assert.match(await page.locator('#detail-facts').innerText(), /128 MiB/);
    assert.match(page.url(), /#vm=web-test$/);

    // Start, and the guest's shell appears in the terminal. The pressed button keeps the
    // focus though it no longer applies.
    await page.getByRole('button', { name: 'Start', exact: true }).focus();
    await page.keyboard.press('Enter');
    await rowState(page, 'web-test').getByText('running').waitFor({ timeout: 60_000 });
    await waitForTerminal(page, 'the shell prompt', /tshv:~# /, BOOT_MS);
    assert.equal(await page.getByRole('button', { name: 'Start', exact: true }).isEnabled(), false);
    assert.equal(await page.getByRole('button', { name: 'Delete', exact: true }).isEnabled(), false);
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Start');

    // Type with the keyboard, as a user would: focus the terminal, type, Enter.
    await page.locator('#terminal').click();
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('xterm-helper-textarea')), true, 'the terminal has the focus');
    await page.keyboard.type('uname -a');
    await page.keyboard.press('Enter');
    await waitForTerminal(page, 'uname\'s answer', /riscv64/, 30_000);
    // In screen reader mode xterm.js keeps an accessible copy of the rows.
    await page.getByLabel('Screen reader mode').check();
    await page.locator('#terminal .xterm-accessibility-tree').getByText(/^Linux tshv .* riscv64/).waitFor();
    await page.getByLabel('Screen reader mode').uncheck();
    await page.locator('#terminal').click();
    // Shift+Tab leaves the terminal (no keyboard trap).
    await page.keyboard.press('Shift+Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.classList.contains('xterm-helper-textarea')), false, 'Shift+Tab left the terminal');

    // The CPU chart has a figure once two samples are in; a few more make a line worth a
    // screenshot.
    await page.locator('#vm-rows .cpu-text').filter({ hasText: /%$/ }).waitFor({ timeout: 15_000 });
    await page.waitForFunction(() => (document.querySelector('#vm-rows polyline')?.getAttribute('points') ?? '').split(' ').length >= 5,
      undefined, { timeout: 30_000 });

    await page.screenshot({ path: join(ARTIFACTS, 'web-console.png') });

    // Pause and resume.
    await page.getByRole('button', { name: 'Pause', exact: true }).click();
    await rowState(page, 'web-test').getByText('paused').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Resume', exact: true }).isEnabled(), true);
    await page.getByRole('button', { name: 'Resume', exact: true }).click();
    await rowState(page, 'web-test').getByText('running').waitFor();

    // Restart: a new run, and the console follows it (the screen starts again with the
    // new run's output).
    await page.locator('#terminal').click();
    await page.keyboard.type('echo before-$((6*7))\n');
    await waitForTerminal(page, 'the echo', /before-42/, 30_000);
    await page.getByRole('button', { name: 'Restart', exact: true }).click();
    await waitForTerminal(page, 'the new run\'s prompt', /^(?![\s\S]*before-42)[\s\S]*tshv:~# /, BOOT_MS);
    await rowState(page, 'web-test').getByText('running').waitFor();
    await page.locator('#console-status').getByText('Connected').waitFor();

    // The narrow layout, with the console still there.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForTimeout(500);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling at 390 px');
    await page.screenshot({ path: join(ARTIFACTS, 'web-console-narrow.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 800 });

    assert.deepEqual(await accessibilityProblems(page), []);

    // Stop: the state shows off, the console says so.
    await page.getByRole('button', { name: 'Stop', exact: true }).click();
    await rowState(page, 'web-test').getByText('off').waitFor({ timeout: 60_000 });
    await page.locator('#detail-state').getByText('off').waitFor();
    await page.locator('#console-status').getByText(/Off/).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Start', exact: true }).isEnabled(), true);

    // Delete, confirming the browser's dialog.
    page.once('dialog', (d) => void d.accept());
    await page.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.locator('#vm-empty').waitFor();
    assert.equal(await page.getByRole('button', { name: 'web-test', exact: true }).count(), 0);

    // A wrong token is refused and asked for again; the right one gets in.
    const other = await context.newPage();
    other.on('pageerror', (e) => pageErrors.push(e.message));
    await other.goto(service.url.replace(/#token=.*/, '#token=wrong'));
    await other.getByText(/refused this token/).waitFor();
    assert.equal(await other.evaluate(() => document.activeElement?.id), 'auth-token');
    await other.getByLabel('Token', { exact: true }).fill(new URL(service.url).hash.replace('#token=', ''));
    await other.keyboard.press('Enter');
    await other.getByRole('heading', { name: 'Virtual machines' }).waitFor();
    // Forgetting the token asks for one; a URL with it pasted into the same tab (a change
    // of the fragment only, no reload) lets the page in again.
    await other.getByRole('button', { name: 'Forget token', exact: true }).click();
    await other.getByLabel('Token', { exact: true }).waitFor();
    assert.equal(await other.evaluate(() => sessionStorage.getItem('tshv.token')), null);
    await other.goto(service.url);
    await other.getByRole('heading', { name: 'Virtual machines' }).waitFor();
    assert.doesNotMatch(other.url(), /token/);

    // The browser saw no errors but the answers the test asked for: the service's 400 for
    // the missing kernel and the 401s of the wrong token.
    assert.deepEqual(pageErrors.filter((e) => !/status of (400|401)\b/.test(e)), []);
  } catch (e) {
    for (const p of browser.contexts().flatMap((c) => c.pages())) {
      await p.screenshot({ path: join(ARTIFACTS, `web-console-failure-${Date.now()}.png`) }).catch(() => {});
    }
    throw new Error(`${(e as Error).stack}\n--- tshv serve ---\n${service.output().slice(-3000)}`);
  } finally {
    await browser.close();
    const exited = new Promise((r) => service.proc.once('exit', r));
    service.proc.kill('SIGTERM');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
});
