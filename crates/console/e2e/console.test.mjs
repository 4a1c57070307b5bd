// End-to-end: the console in Debian's Chromium. Started by crates/mamori/tests/console_e2e.rs,
// which runs `mamori console`, seeds events and an alarm, and passes MAMORI_URL, MAMORI_TOKEN and
// MAMORI_ARTIFACTS. Screenshots are kept in MAMORI_ARTIFACTS.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chromium } from "playwright-core";

const url = process.env.MAMORI_URL;
const token = process.env.MAMORI_TOKEN;
const artifacts = process.env.MAMORI_ARTIFACTS || ".";

test("load, sign in, filter, open an event, acknowledge an alarm", async () => {
  assert.ok(url && token, "MAMORI_URL and MAMORI_TOKEN must be set");
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors = [];
    page.on("pageerror", e => errors.push(String(e)));
    page.on("console", m => { if (m.type() === "error") errors.push(m.text()); });

    await page.goto(url);
    await page.fill("#token", "not-the-token");
    await page.click("#login-form button");
    await page.waitForSelector("#login-error:not([hidden])");
    errors.length = 0; // the refused sign-in logs its 401; nothing else may fail from here on
    await page.fill("#token", token);
    await page.click("#login-form button");
    await page.waitForSelector("#overview:not([hidden]) #top-rules .item");
    const topRule = await page.textContent("#top-rules .item span");
    assert.equal(topRule, "Read sensitive file untrusted");
    await page.screenshot({ path: `${artifacts}/overview.png`, fullPage: true });

    await page.click("nav button[data-view=events]");
    await page.waitForSelector("#event-table tbody tr.clickable");
    await page.fill("#filters [name=rule]", "Terminal shell in container");
    await page.click("#filters button[type=submit]");
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll("#event-table tbody tr.clickable")];
      return rows.length > 0 && rows.every(r => r.children[2].textContent === "Terminal shell in container");
    });
    const rows = await page.$$("#event-table tbody tr.clickable");
    assert.equal(rows.length, 3);
    await page.screenshot({ path: `${artifacts}/events-filtered.png`, fullPage: true });

    await rows[0].click();
    await page.waitForSelector("#detail[open]");
    const fields = await page.textContent("#detail-fields");
    assert.match(fields, /proc\.cmdline/);
    assert.match(fields, /bash/);
    await page.screenshot({ path: `${artifacts}/event-detail.png` });
    await page.click("#detail form button");

    await page.click("nav button[data-view=alarms]");
    await page.waitForSelector("#alarm-table button[data-ack]");
    await page.screenshot({ path: `${artifacts}/alarms.png`, fullPage: true });
    await page.click("#alarm-table button[data-ack]");
    await page.waitForSelector("#alarm-table .acked");
    assert.equal(await page.textContent("#alarm-table .acked"), "acknowledged");

    await page.click("nav button[data-view=compliance]");
    await page.waitForSelector("#compliance-table tbody tr");
    assert.equal((await page.$$("#compliance-table tbody tr")).length, 23);

    // Tokens: list the built-in ones, create one, use it, refuse a duplicate, delete it.
    await page.click("nav button[data-view=tokens]");
    await page.waitForSelector("#token-table tr[data-token=ingest]");
    assert.equal(await page.$("#token-table tr[data-token=admin] button[data-delete]"), null, "the admin token has no delete button");
    await page.fill("#token-form [name=name]", "node-eu-1");
    await page.selectOption("#token-form [name=role]", "ingest");
    await page.click("#token-form button[type=submit]");
    await page.waitForSelector("#token-new:not([hidden])");
    const secret = (await page.textContent("#token-new-value")).trim();
    assert.match(secret, /^[0-9a-f]{64}$/);
    await page.waitForSelector("#token-table tr[data-token=node-eu-1]");
    assert.equal(await page.textContent("#token-table tr[data-token=node-eu-1] td:nth-child(2)"), "ingest");
    await page.screenshot({ path: `${artifacts}/tokens.png`, fullPage: true });
    // The new token posts events and may not read them.
    const post = await fetch(`${url}/api/v1/events`, { method: "POST", headers: { Authorization: `Bearer ${secret}` },
      body: JSON.stringify({ rule: "Token page test", priority: "Notice", output: "posted with a token made in the page" }) });
    assert.equal(post.status, 200, await post.text());
    const read = await fetch(`${url}/api/v1/events`, { headers: { Authorization: `Bearer ${secret}` } });
    assert.equal(read.status, 403);
    // The same name again, without "replace": refused, and said so.
    await page.fill("#token-form [name=name]", "node-eu-1");
    await page.click("#token-form button[type=submit]");
    await page.waitForSelector("#token-msg.error:not([hidden])");
    assert.match(await page.textContent("#token-msg"), /exists/);
    errors.length = 0; // the refused create logs its 409
    // Delete takes two clicks.
    await page.click("#token-table button[data-delete=node-eu-1]");
    assert.match(await page.textContent("#token-table button[data-delete=node-eu-1]"), /Really delete/);
    await page.click("#token-table button[data-delete=node-eu-1]");
    await page.waitForSelector("#token-table tr[data-token=node-eu-1]", { state: "detached" });
    const gone = await fetch(`${url}/api/v1/events`, { method: "POST", headers: { Authorization: `Bearer ${secret}` },
      body: JSON.stringify({ rule: "Token page test", priority: "Notice" }) });
    assert.equal(gone.status, 401, "a deleted token is refused");

    await page.click("#theme");
    await page.click("nav button[data-view=overview]");
    await page.waitForSelector("#overview:not([hidden]) #top-rules .item");
    await page.screenshot({ path: `${artifacts}/overview-dark.png`, fullPage: true });

    assert.deepEqual(errors, [], "no script errors in the page");
  } finally {
    await browser.close();
  }
});
