// Send a test event from the Sources page and watch the execution it
// starts appear and finish live (server-sent events, no reload). Needs
// POST /api/v1/events and trigger rules (issue 5); tests/browser.rs runs it
// unless `PUT /api/v1/triggers/x` answers 404.

import assert from 'node:assert/strict';
import { browser, env, shot } from './lib.mjs';

const base = env('SLUICE_URL');
const type = env('EVENT_TYPE');

const { page, problems, close } = await browser();
try {
  await page.goto(`${base}/sources`);
  const box = page.locator('#event-json');
  await box.waitFor();
  const event = {
    specversion: '1.0', id: `browser-${Date.now()}`, source: 'browser-test', type,
    datacontenttype: 'application/json', data: { orderId: 'o-42' },
  };
  await box.fill(JSON.stringify(event));
  await page.locator('#send-event').click();
  await page.locator('#event-result pre').waitFor();
  const row = page.locator('#event-executions [data-execution]').first();
  await row.waitFor();
  // The workflow waits a moment, so the status turns SUCCEEDED only through the live stream.
  await page.locator('#event-executions [data-execution][data-status="SUCCEEDED"]').waitFor({ timeout: 20000 });
  await shot(page, '6-test-event');
  const id = await row.getAttribute('data-execution');
  await page.locator(`a[href="/executions/${id}"]`).click();
  await page.locator('#graph [data-state]').first().waitFor();
  assert.equal(await page.locator('#execution-summary').getAttribute('data-status'), 'SUCCEEDED');
  assert.deepEqual(problems, []);
  console.log('events browser test passed');
} finally {
  await close();
}
