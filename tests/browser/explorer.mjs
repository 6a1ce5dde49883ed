// Drives the explorer a node serves at `/` in headless Chromium: the page loads and names the
// chain, shows a new block within 3 s, and finds a tx by its hash. Prints one JSON line per
// step; exits non-zero, naming the step, on the first failure.
//
//   node explorer.mjs http://127.0.0.1:PORT/ 0xTXHASH [CHROMIUM]

import { chromium } from "playwright-core";

const [url, txHash, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);
if (!url || !txHash) {
  console.error("usage: node explorer.mjs URL TX_HASH [CHROMIUM]");
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
