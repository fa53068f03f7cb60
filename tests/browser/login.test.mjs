// With `sluice serve --auth`: a page sends the browser to /login; a wrong
// token is refused; the right one comes back to the page, signed in.

import assert from 'node:assert/strict';
import { browser, env, shot } from './lib.mjs';

const base = env('SLUICE_URL');
const token = env('TOKEN');

const { page, problems, close } = await browser();
try {
  await page.goto(`${base}/executions`);
  await page.waitForURL(/\/login\?next=/);
  await page.locator('#token').fill('not-the-token-0000000');
  await page.locator('form.login button[type=submit]').click();
  await page.locator('.error-box').waitFor();
  assert.match(page.url(), /\/login/);
  await page.locator('#token').fill(token);
  await page.locator('form.login button[type=submit]').click();
  await page.waitForURL(`${base}/executions`);
  await page.locator('#executions').waitFor();
  await page.locator('#live[data-live="on"]').waitFor();
  assert.ok(await page.locator('#logout').isVisible(), 'signed in, the page offers to log out');
  await shot(page, '8-signed-in', false);
  await page.locator('#logout button').click();
  await page.waitForURL(/\/login/);
  const res = await page.request.get(`${base}/api/v1/executions`);
  assert.equal(res.status(), 401, 'logged out: the API refuses the browser again');
  assert.deepEqual(problems, []);
  console.log('login browser test passed');
} finally {
  await close();
}
