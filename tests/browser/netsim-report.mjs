// Opens a netsim report.html (file://) in headless Chromium and checks that it reads: the
// scenario's parameters, a legend entry per node, the propagation histogram with its
// percentile marks, the finality CDF, the height / throughput / mempool / peer charts with a
// line per node, the node and evidence tables, the events as sentences; no console error, no
// request for anything outside the file. Then takes a full-page screenshot. Prints one JSON
// line per step; exits non-zero, naming the step, on the first failure.
//
//   node netsim-report.mjs /path/to/report.html /path/to/screenshot.png NODES [CHROMIUM]

import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";

const [file, png, nodesArg, executablePath = "/usr/bin/chromium"] = process.argv.slice(2);
const nodes = Number(nodesArg);
if (!file || !png || !(nodes > 0)) {
  console.error("usage: node netsim-report.mjs REPORT_HTML SCREENSHOT_PNG NODES [CHROMIUM]");
  process.exit(2);
}
const say = (o) => console.log(JSON.stringify(o));
const fail = (step, e) => {
  say({ step, ok: false, error: String(e && e.message ? e.message : e) });
  process.exit(1);
};
const check = (step, cond, detail) => {
  if (!cond) fail(step, `failed: ${JSON.stringify(detail)}`);
  say({ step, ok: true, ...detail });
};

const browser = await chromium
  .launch({ executablePath, headless: true, args: ["--no-sandbox", "--disable-gpu"] })
  .catch((e) => fail("launch", e));
const errors = [];
const outside = [];
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 800 } });
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("request", (r) => {
    if (!r.url().startsWith("file:") && !r.url().startsWith("data:")) outside.push(r.url());
  });
  await page.goto(pathToFileURL(file).href).catch((e) => fail("load", e));
  const title = await page.title();
  check("load", title.startsWith("netsim "), { title });

  // Each part: present, with content.
  const count = (sel) => page.locator(sel).count();
  const text = async (sel) => ((await page.locator(sel).first().textContent()) || "").trim();

  const params = await count("#parameters tr");
  const links = await text("#parameters");
  check("parameters", params >= 8 && links.includes("one way"), { rows: params });

  const legend = await count("#legend .node");
  const roles = await page.locator("#legend .role").allTextContents();
  const tags = await page.locator("#legend .tag").allTextContents();
  check("legend", legend === nodes && roles.includes("validator") && roles.includes("full node"), {
    entries: legend,
    roles: [...new Set(roles)],
    tags,
  });

  const bars = await count("#propagation rect.bar");
  const marks = await page.locator("#propagation text.mark").allTextContents();
  check("propagation", bars >= 2 && ["p50", "p95", "p99", "max"].every((p) => marks.some((m) => m.startsWith(p))), {
    bars,
    marks,
  });

  const cdf = await page.locator("#finality path.series").getAttribute("d").catch(() => null);
  check("finality", cdf !== null && cdf.split("L").length > 3, { points: cdf ? cdf.split("L").length : 0 });

  for (const id of ["heights", "mempool", "peers"]) {
    const lines = await count(`#${id} path.series`);
    check(id, lines === nodes, { lines });
  }
  const throughput = await count("#throughput path.series");
  check("throughput", throughput === 2, { lines: throughput });

  // The charts are drawn at a size a person can read.
  const box = await page.locator("#heights").boundingBox();
  check("chart-size", box && box.width > 600 && box.height > 150, { width: box?.width, height: box?.height });

  const rows = await count("#nodes tbody tr");
  const heights = await page.locator("#nodes tbody tr td:nth-child(4)").allTextContents();
  check("nodes-table", rows === nodes && heights.every((h) => /^\d+$/.test(h.trim())), { rows, heights });
  const evidence = await count("#evidence tbody tr");
  check("evidence-table", evidence === nodes, { rows: evidence });

  const events = await page.locator("#events li").allTextContents();
  const debug = events.filter((e) => /[{]\s*node:|Crash \{|Partition \{|Restart \{/.test(e));
  check("events", events.length >= 1 && debug.length === 0, { events });

  if (errors.length) fail("console", errors.join("; "));
  if (outside.length) fail("offline", `requested ${outside.join(", ")}`);
  say({ step: "clean", ok: true });

  await page.screenshot({ path: png, fullPage: true }).catch((e) => fail("screenshot", e));
  const size = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.scrollHeight]);
  say({ step: "screenshot", ok: true, path: png, width: size[0], height: size[1] });
  say({ step: "done", ok: true });
} finally {
  await browser.close();
}
