// The portal in a real headless Chromium (Debian's `chromium`, driven by playwright-core), against a running devnet
// and `kalypso portal`. Run by `cargo test -p kalypso-cli --test portal`, which starts both and passes:
//
//   PORTAL_URL       the portal                        RPC_URL     the chain (the injected wallet signs there)
//   REQUESTER        an unlocked dev account with payment tokens
//   ASK_MARKET       a public market id                ASK_INPUTS  valid 0x inputs for it
//   CHROMIUM         the browser (default /usr/bin/chromium)
//   SCREENSHOTS      a directory to write each page's screenshots to (optional)
//
// `node portal/tests/browser.mjs <phase>`: `pages` (markets, a market, live ask, wallet flow, ask timeline,
// generator, not-found, keyboard, widths, console), `engine-down` (prints ENGINE_DOWN_SEEN, then waits for the page
// to recover once the engine is back) or `rpc-down` (the same for the chain: RPC_DOWN_SEEN). Prints one JSON line of findings and exits non-zero on the first failure.

import { createRequire } from 'node:module';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const modules = process.env.KALYPSO_NODE_MODULES ?? join(here, '..', '..', '.tools', 'node_modules');
const { chromium } = createRequire(join(modules, 'noop.js'))('playwright-core');

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`set ${k}`);
  return v;
};
const portal = env('PORTAL_URL');
const phase = process.argv[2] ?? 'pages';
const shots = process.env.SCREENSHOTS;
const findings = {};

function check(ok, what) {
  if (!ok) throw new Error(`portal test failed: ${what}`);
}

/** A page that records console errors and uncaught exceptions (`allowed`: patterns of expected ones). */
async function open(browser, width, allowed = []) {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  const page = await context.newPage();
  page.errors = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && !allowed.some((a) => a.test(m.text()))) page.errors.push(m.text());
  });
  page.on('pageerror', (e) => page.errors.push(`uncaught: ${e.message}`));
  return page;
}

async function shot(page, name) {
  if (!shots) return;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function api(path) {
  const r = await fetch(`${portal}/api${path}`);
  check(r.ok, `${path} answered ${r.status}`);
  return r.json();
}

/** The portal's own surface: only the engine's /v1 API, only the page's reads of the chain, only from its page. */
async function surface() {
  const post = (body, headers = {}) =>
    fetch(`${portal}/rpc`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const call = (method, params) => ({ jsonrpc: '2.0', id: 1, method, params });
  check((await post(call('eth_getBlockByNumber', ['latest', false]))).ok, 'a block header is forwarded');
  for (const [what, body] of [
    ['eth_getLogs', call('eth_getLogs', [{ fromBlock: '0x0', toBlock: 'latest' }])],
    ['eth_sendRawTransaction', call('eth_sendRawTransaction', ['0x00'])],
    ['a block with its transactions', call('eth_getBlockByNumber', ['latest', true])],
    ['eth_call to another contract', call('eth_call', [{ to: '0x0000000000000000000000000000000000000001', data: '0x' }, 'latest'])],
    ['a batch', [call('eth_getBlockByNumber', ['latest', false])]],
  ]) {
    const r = await post(body);
    check(r.status === 403, `${what} answered ${r.status}, not 403`);
  }
  const other = await post(call('eth_getBlockByNumber', ['latest', false]), { origin: 'https://evil.example' });
  check(other.status === 403, `a request from another origin answered ${other.status}`);
  for (const path of ['/api/health', '/api/metrics', '/api/v1/../health']) {
    const r = await fetch(`${portal}${path}`);
    check(r.status === 404, `${path} answered ${r.status}: only the engine's /v1 API is forwarded`);
  }
  findings.surface = 'ok';
}

async function pages(browser) {
  await surface();
  const rpc = env('RPC_URL');
  const requester = env('REQUESTER');
  const page = await open(browser, 1280);

  // Markets: every market the engine knows, with its open asks and quotes as the API gives them.
  const started = Date.now();
  await page.goto(`${portal}/`);
  await page.waitForSelector('table[aria-label="markets"] tbody tr');
  findings.firstContentfulPaintMs = await page.evaluate(
    () => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
  );
  findings.marketsLoadedMs = Date.now() - started;
  const markets = await api('/v1/markets');
  const rows = await page.$$eval('table[aria-label="markets"] tbody tr', (trs) =>
    trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim())),
  );
  check(rows.length === markets.length, `markets page lists ${rows.length} markets, the engine ${markets.length}`);
  for (const m of markets) {
    const row = rows.find((r) => r[0] === String(m.market));
    check(row, `market ${m.market} is listed`);
    check(row[6] === String(m.openAsks), `market ${m.market}: open asks ${row[6]} vs ${m.openAsks}`);
    check(row[7] === `${m.listed} / ${m.quotes}`, `market ${m.market}: quotes ${row[7]} vs ${m.listed} / ${m.quotes}`);
  }
  // Sortable: sorted by id ascending at first; a click on its header sorts descending.
  await page.click('table[aria-label="markets"] th:first-child button');
  const firstId = await page.$eval('table[aria-label="markets"] tbody tr td', (td) => td.textContent.trim());
  check(firstId === String(Math.max(...markets.map((m) => m.market))), `sorted by id descending, first ${firstId}`);
  // The column headers are buttons: Enter on a focused one sorts by it.
  await page.focus('table[aria-label="markets"] th:nth-child(7) button');
  await page.keyboard.press('Enter');
  const sorted = await page.$eval('table[aria-label="markets"] th:nth-child(7)', (th) => th.getAttribute('aria-sort'));
  check(sorted === 'ascending', `Enter on the open-asks header sorts by it (aria-sort ${sorted})`);
  await shot(page, 'markets');

  // Keyboard: Tab to the first market link and Enter opens the market.
  await page.goto(`${portal}/`);
  await page.waitForSelector('table[aria-label="markets"] tbody tr');
  let reached = false;
  for (let i = 0; i < 40 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.getAttribute('href')?.startsWith('/markets/') ?? false);
  }
  check(reached, 'a market link is reachable with Tab');
  await page.keyboard.press('Enter');
  await page.waitForURL(/\/markets\/\d+$/);
  findings.keyboard = 'ok';

  // A market: the quote chart and table, and the live feed.
  const market = env('ASK_MARKET');
  const marketPage = await open(browser, 1280);
  await marketPage.goto(`${portal}/markets/${market}`);
  await marketPage.waitForSelector('.chart canvas');
  await marketPage.waitForSelector('table[aria-label="quotes"] tbody tr');
  await marketPage.waitForSelector('[data-testid="feed-status"].on');
  await shot(marketPage, 'market');

  // The wallet flow in another tab: an EIP-1193 provider backed by the chain's unlocked dev account.
  const flow = await open(browser, 1280);
  await flow.exposeFunction('kalypsoTestRpc', async (method, params) => {
    if (method === 'eth_requestAccounts' || method === 'eth_accounts') return { result: [requester] };
    const r = await fetch(rpc, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: params ?? [] }),
    });
    return r.json();
  });
  await flow.addInitScript(() => {
    window.ethereum = {
      request: async ({ method, params }) => {
        const r = await window.kalypsoTestRpc(method, params);
        if (r.error) throw Object.assign(new Error(r.error.message), { code: r.error.code });
        return r.result;
      },
    };
  });
  await flow.goto(`${portal}/asks/new?market=${market}`);
  await flow.click('text=Connect wallet');
  await flow.waitForSelector('[data-testid="account"]');
  await flow.fill('textarea[name="inputs"]', env('ASK_INPUTS'));
  await flow.fill('input[name="reward"]', '5');
  await shot(flow, 'new-ask');
  const before = Date.now();
  await flow.click('button[type="submit"]');
  await flow.waitForURL(/\/asks\/\d+$/, { timeout: 60_000 });
  const askId = flow.url().match(/\/asks\/(\d+)$/)[1];
  findings.askCreated = askId;

  // The new ask appears in the market page's live feed without a reload.
  await marketPage.waitForSelector(`[data-testid="live-feed"] a[href="/asks/${askId}"]`, { timeout: 10_000 });
  findings.liveFeedMs = Date.now() - before;

  // Its timeline: created, assigned and proven, each with a block time and a transaction hash.
  await flow.waitForSelector('[data-testid="timeline"] [data-step="proven"]', { timeout: 120_000 });
  const steps = await flow.$$eval('[data-testid="timeline"] li', (lis) =>
    lis.map((li) => ({ step: li.dataset.step, meta: li.querySelector('.meta')?.textContent ?? '' })),
  );
  for (const s of ['created', 'assigned', 'proven']) check(steps.some((x) => x.step === s), `timeline has ${s}: ${JSON.stringify(steps)}`);
  check(steps.every((x) => /block \d+/.test(x.meta) && /tx 0x/.test(x.meta)), `every step has a block and a tx: ${JSON.stringify(steps)}`);
  check((await flow.textContent('[data-testid="ask-status"]')).trim() === 'proven', 'the ask is proven');
  await shot(flow, 'ask');

  // The generator that proved it.
  const ask = await api(`/v1/asks/${askId}`);
  const gen = await open(browser, 1280);
  await gen.goto(`${portal}/generators/${ask.generator}`);
  await gen.waitForSelector('table[aria-label="tasks"] tbody tr');
  check((await gen.textContent('main')).includes(`ask ${askId}`), 'the generator page lists the task');
  await shot(gen, 'generator');

  // An unknown ask and an unknown path: the not-found page (the unknown path also answers 404; the browser logs
  // each 404 it is given, the only console errors allowed here).
  const lost = await open(browser, 1280, [/status of 404/]);
  await lost.goto(`${portal}/asks/999999999`);
  await lost.waitForSelector('[data-testid="not-found"]');
  const missing = await lost.goto(`${portal}/no/such/page`);
  check(missing.status() === 404, `an unknown path answers ${missing.status()}`);
  await lost.waitForSelector('[data-testid="not-found"]');
  await shot(lost, 'not-found');

  // 390 px wide: nothing wider than the viewport but the tables' own scrolling boxes.
  const narrow = await open(browser, 390);
  for (const path of ['/', `/markets/${market}`, `/asks/${askId}`]) {
    await narrow.goto(`${portal}${path}`);
    await narrow.waitForSelector('main h1');
    await narrow.waitForLoadState('networkidle');
    const overflow = await narrow.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `${path} at 390 px overflows by ${overflow} px`);
  }
  await narrow.goto(`${portal}/markets/${market}`);
  await narrow.waitForSelector('.chart canvas');
  await shot(narrow, 'market-390');

  for (const p of [page, marketPage, flow, gen, lost, narrow]) check(!p.errors.length, `console errors: ${p.errors.join(' | ')}`);
  findings.pages = 'ok';
}

async function engineDown(browser) {
  // Failed loads of the proxied API are the expected console noise while the engine is down.
  const page = await open(browser, 1280, [/Failed to load resource/, /WebSocket/]);
  await page.goto(`${portal}/`);
  await page.waitForSelector('[data-testid="engine-down"]', { timeout: 20_000 });
  await shot(page, 'engine-down');
  console.log('ENGINE_DOWN_SEEN');
  // The test starts the engine again: the banner goes and the markets come back.
  await page.waitForSelector('[data-testid="engine-down"]', { state: 'detached', timeout: 90_000 });
  await page.waitForSelector('table[aria-label="markets"] tbody tr', { timeout: 30_000 });
  check(!page.errors.length, `console errors: ${page.errors.join(' | ')}`);
  findings.engineDown = 'ok';
}

async function rpcDown(browser) {
  // The chain's RPC is down when the page loads: it says so, and starts once the chain is back.
  const page = await open(browser, 1280, [/Failed to load resource/, /WebSocket/]);
  await page.goto(`${portal}/`);
  await page.waitForSelector('[data-testid="rpc-down"]', { timeout: 20_000 });
  await shot(page, 'rpc-down');
  console.log('RPC_DOWN_SEEN');
  await page.waitForSelector('table[aria-label="markets"] tbody tr', { timeout: 90_000 });
  check(!page.errors.length, `console errors: ${page.errors.join(' | ')}`);
  findings.rpcDown = 'ok';
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu'],
});
try {
  if (phase === 'pages') await pages(browser);
  else if (phase === 'engine-down') await engineDown(browser);
  else if (phase === 'rpc-down') await rpcDown(browser);
  else throw new Error(`unknown phase ${phase}`);
  console.log(JSON.stringify(findings));
} finally {
  await browser.close();
}
