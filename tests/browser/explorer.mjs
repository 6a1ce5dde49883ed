// Drives the explorer a node serves at `/` in headless Chromium: the page loads and names the
// chain, shows a new block within 3 s, finds a tx by its hash, searches receipts, and lists
// disputes and slashes. Prints one JSON line per step; exits non-zero, naming the step, on the
// first failure.
//
//   node explorer.mjs http://127.0.0.1:PORT/ 0xTXHASH [CHROMIUM]
//   node explorer.mjs --down http://127.0.0.1:PORT/ [CHROMIUM]
//
// With --down the page loads, prints {"step":"loaded"}, and then waits up to 20 s for the
// page to say the node is down (whoever runs it stops the node after "loaded").

import { chromium } from "playwright-core";

const args = process.argv.slice(2);
const down = args[0] === "--down";
if (down) args.shift();
const [url, txHash, executablePath = "/usr/bin/chromium"] = down ? [args[0], null, args[1]] : args;
if (!url || (!down && !txHash)) {
  console.error("usage: node explorer.mjs URL TX_HASH [CHROMIUM] | --down URL [CHROMIUM]");
  process.exit(2);
}
const say = (o) => console.log(JSON.stringify(o));
const fail = (step, e) => {
  say({ step, ok: false, error: String(e && e.message ? e.message : e) });
  process.exit(1);
};

const browser = await chromium
  .launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-gpu"] })
  .catch((e) => fail("launch", e));
const errors = [];
try {
  const page = await browser.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));

  // Loads, names the chain, shows the head and the latest blocks.
  await page.goto(url).catch((e) => fail("load", e));
  await page.waitForFunction(() => /^\d+$/.test(document.getElementById("head").textContent), null, { timeout: 10_000 })
    .catch((e) => fail("head", e));
  const first = Number(await page.textContent("#head"));
  const title = await page.title();
  const rows = await page.locator("#blocks tr").count();
  say({ step: "load", ok: true, title, head: first, rows });

  if (down) {
    await page.waitForFunction(() => document.getElementById("live").textContent === "live", null, { timeout: 10_000 })
      .catch((e) => fail("live", e));
    say({ step: "loaded", ok: true });
    const t0 = Date.now();
    await page.waitForFunction(() => document.getElementById("live").textContent === "node down"
      && document.getElementById("node-down") !== null, null, { timeout: 20_000 })
      .catch(async (e) => fail("down", `${e.message}; live: ${await page.textContent("#live")}`));
    say({ step: "down", ok: true, ms: Date.now() - t0, live: await page.textContent("#live"),
      says: await page.textContent("#node-down") });
    say({ step: "done", ok: true });
    process.exit(0);
  }

  // Disputes and slashes are listed from read methods (none on a fresh dev chain).
  await page.waitForFunction(() => document.querySelectorAll("#disputes tr").length > 0, null, { timeout: 10_000 })
    .catch((e) => fail("disputes", e));
  say({ step: "disputes", ok: true, text: (await page.textContent("#disputes")).trim() });

  // A new block arrives over the WebSocket subscription within 3 s, as a row and as the head.
  const t0 = Date.now();
  await page
    .waitForFunction((h) => Number(document.getElementById("head").textContent) > h
      && document.querySelector(`#blocks tr[data-height="${Number(document.getElementById("head").textContent)}"]`) !== null,
    first, { timeout: 3_000 })
    .catch((e) => fail("new-block", e));
  const live = await page.textContent("#live");
  say({ step: "new-block", ok: true, head: Number(await page.textContent("#head")), ms: Date.now() - t0, live });

  // Search finds the tx by hash and shows it included.
  await page.fill("#q", txHash);
  await page.click("#search button");
  await page.waitForFunction((h) => document.getElementById("detail-hash")?.textContent === h, txHash, { timeout: 10_000 })
    .catch(async (e) => fail("find-tx", `${e.message}; detail: ${await page.textContent("#detail")}`));
  const detail = await page.textContent("#detail");
  say({ step: "find-tx", ok: true, included: detail.includes("included"), detail: detail.slice(0, 300) });

  // An id that is no tx, block, receipt or job says it was looked up as each.
  const nothing = "0x" + "ab".repeat(32);
  await page.fill("#q", nothing);
  await page.click("#search button");
  await page.waitForSelector("#detail-error", { timeout: 10_000 }).catch((e) => fail("unknown-id", e));
  say({ step: "unknown-id", ok: true, error: await page.textContent("#detail-error") });

  // An unknown address is the node's own error, shown as such.
  await page.fill("#q", "not-an-address");
  await page.click("#search button");
  await page.waitForSelector("#detail-error", { timeout: 10_000 }).catch((e) => fail("bad-search", e));
  say({ step: "bad-search", ok: true, error: await page.textContent("#detail-error") });

  if (errors.length) fail("page-errors", errors.join("; "));
  say({ step: "done", ok: true });
} finally {
  await browser.close();
}
