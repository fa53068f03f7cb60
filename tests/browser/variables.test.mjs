// The console shows what each state assigned and links a Distributed Map's
// child executions with their parent, both ways. Started by tests/browser.rs
// with a real `sluice serve`.

import assert from 'node:assert/strict';
import { browser, env, shot } from './lib.mjs';

const base = env('SLUICE_URL');
const parent = env('PARENT_EXECUTION');

const { page, problems, close } = await browser();
try {
  await page.goto(`${base}/executions/${parent}`);
  await page.locator('#graph svg [data-state="Init"]').waitFor();
  assert.equal(await page.locator('#graph [data-state="Fan"]').getAttribute('data-status'), 'succeeded');

  // The state's details list the variables it assigned, as JSON text.
  await page.locator('#graph [data-state="Init"]').click();
  await page.locator('#state-details[data-selected="Init"] #state-variables').waitFor();
  assert.equal(await page.locator('#state-variables tr[data-variable="greeting"] .variable-value').textContent(), '"hello"');
  assert.equal(await page.locator('#state-variables tr[data-variable="count"] .variable-value').textContent(), '2');
  await shot(page, 'variables-1-state');

  // The Map's child executions are listed, each a link to its own page.
  const children = page.locator('#child-executions');
  await children.waitFor();
  assert.equal(await children.getAttribute('data-count'), '3');
  const first = page.locator('#child-executions tbody tr').first();
  await first.locator('a').click();
  await page.locator('#parent-execution').waitFor();
  assert.ok(page.url().includes('/executions/'), page.url());
  assert.notEqual(page.url(), `${base}/executions/${parent}`);
  await shot(page, 'variables-2-child');

  // And the child links back to its parent.
  await page.locator('#parent-execution a').click();
  await page.waitForURL(`**/executions/${parent}`);
  await page.locator('#child-executions').waitFor();
  assert.deepEqual(problems, []);
} finally {
  await close();
}
