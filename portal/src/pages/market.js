// One market: its quotes in the price × time plane with free capacity, its open asks, recent assignments and proofs,
// and the engine's live feed for it.

import { useState } from 'preact/hooks';
import { NotFound, get, useFeed, useLive } from '../api.js';
import { QuoteChart } from '../chart.js';
import { marketName, marketPackage, pay, seconds, short, stake, time } from '../format.js';
import { Facts, Link, Pending, Table, html } from '../ui.js';

/** The newest `n` asks matching `query` (the API lists oldest first). */
export async function newest(query, n) {
  const { total } = await get(`/v1/asks?${query}&limit=1`);
  return get(`/v1/asks?${query}&limit=${n}&offset=${Math.max(0, total - n)}`);
}

async function loadMarket(id) {
  const [market, stats, open, recent, generators] = await Promise.all([
    get(`/v1/markets/${id}`),
    get(`/v1/markets/${id}/stats`),
    get(`/v1/asks?market=${id}&status=open&limit=100`),
    newest(`market=${id}`, 100),
    get('/v1/generators'),
  ]);
  return { market, stats, open, recent, generators };
}

export function askLink(id) {
  return html`<${Link} href=${`/asks/${id}`}>ask ${id}<//>`;
}

export function generatorLink(address, label) {
  return address ? html`<${Link} href=${`/generators/${address}`}><code title=${address}>${label ?? short(address)}</code><//>` : '–';
}

function LiveFeed({ id }) {
  const [items, setItems] = useState([]);
  useFeed((item) => {
    if (item.market === undefined || String(item.market) !== String(id)) return;
    setItems((list) => [item, ...list].slice(0, 30));
  });
  return html`<section aria-labelledby="feed-h"><h2 id="feed-h">Live</h2>
    ${items.length
      ? html`<ol class="feed" aria-live="polite" data-testid="live-feed">${items.map(
          (i) => html`<li><time>${time(i.timestamp)}</time> <strong>${i.event}</strong>${i.ask !== undefined ? html` ${askLink(i.ask)}` : ''}</li>`,
        )}</ol>`
      : html`<p class="empty" data-testid="live-feed">Listening to the engine's feed: new asks, assignments and proofs of this market appear here.</p>`}
  </section>`;
}

export function MarketPage({ id, config }) {
  const valid = /^\d+$/.test(id);
  const state = useLive(() => (valid ? loadMarket(id) : Promise.reject(new NotFound(`market ${id}`))), [id]);
  if (!valid) return html`<${Pending} state=${{ error: new Error('a market id is a number') }} what=${`market ${id}`} />`;
  if (!state.data) return html`<${Pending} state=${state} what=${`market ${id}`} />`;
  const { market, stats, open, recent, generators } = state.data;
  const free = new Map(generators.map((g) => [g.generator.toLowerCase(), Math.max(0, g.declaredCompute - g.consumedCompute)]));
  const quotes = market.quoteList ?? [];
  const points = quotes
    .filter((q) => q.listed)
    .map((q) => {
      const f = Math.floor((free.get(q.generator.toLowerCase()) ?? 0) / Math.max(1, q.quote.computePerProof));
      return {
        label: `${short(q.generator)} · ${f} free`,
        time: q.quote.maxProofTime,
        price: Number(q.quote.price) / 10 ** config.paymentDecimals,
        free: f,
      };
    });
  const pkg = marketPackage(market);
  const settled = recent.asks
    .filter((a) => a.assignedAt)
    .sort((a, b) => (b.settledAt ?? b.assignedAt) - (a.settledAt ?? a.assignedAt))
    .slice(0, 20);
  return html`<h1>${marketName(market)} <small>market ${market.market}</small></h1>
    <${Facts} items=${[
      ['verifier', html`<code>${market.verifier}</code>`],
      ['prover package', pkg ? html`<a href=${pkg}>${pkg}</a>` : 'none'],
      ['slashing penalty', stake(market.slashingPenalty, config)],
      ['minimum stake', stake(market.minStake, config)],
      ['inputs', market.confidential ? 'confidential (sealed to the engine, opened in an enclave)' : 'public'],
      ['asks', `${stats.asks.open} open · ${stats.asks.assigned} assigned · ${stats.asks.proven} proven · ${stats.asks.invalidInputs} invalid · ${stats.asks.refunded} refunded`],
      ['time to assign p50 / p90', `${seconds(stats.timeToAssignSeconds.p50)} / ${seconds(stats.timeToAssignSeconds.p90)}`],
      ['time to proof p50 / p90', `${seconds(stats.timeToProofSeconds.p50)} / ${seconds(stats.timeToProofSeconds.p90)}`],
    ]} />
    <p><${Link} class="button" href=${`/asks/new?market=${market.market}`}>Create an ask in this market<//></p>
    <section aria-labelledby="quotes-h"><h2 id="quotes-h">Quotes: price × proving time</h2>
      ${points.length
        ? html`<${QuoteChart} points=${points} priceLabel=${`price (${config.paymentSymbol})`} />`
        : html`<p class="empty">No generator quotes in this market yet.</p>`}
      <${Table} label="quotes" rows=${quotes} empty="No quotes." initial=${{ key: 'price', dir: 1 }} columns=${[
        { key: 'generator', label: 'generator', render: (q) => generatorLink(q.generator) },
        { key: 'price', label: 'price', numeric: true, sort: (q) => Number(q.quote.price), render: (q) => pay(q.quote.price, config) },
        { key: 'time', label: 'proving time', numeric: true, sort: (q) => q.quote.maxProofTime, render: (q) => seconds(q.quote.maxProofTime) },
        { key: 'compute', label: 'compute / proof', numeric: true, render: (q) => q.quote.computePerProof },
        { key: 'free', label: 'free compute', numeric: true, sort: (q) => free.get(q.generator.toLowerCase()), render: (q) => free.get(q.generator.toLowerCase()) ?? 0 },
        { key: 'listed', label: 'listed', render: (q) => (q.listed ? 'yes' : 'no (no capacity or collateral now)') },
      ]} />
    </section>
    <section aria-labelledby="open-h"><h2 id="open-h">Open asks</h2>
      <${Table} label="open asks" rows=${open.asks} empty="No open ask." columns=${[
        { key: 'id', label: 'ask', numeric: true, sort: (a) => a.id, render: (a) => askLink(a.id) },
        { key: 'reward', label: 'reward', numeric: true, sort: (a) => Number(a.reward), render: (a) => pay(a.reward, config) },
        { key: 'preference', label: 'preference', render: (a) => a.preference },
        { key: 'deadline', label: 'deadline', sort: (a) => a.deadline, render: (a) => time(a.deadline) },
      ]} />
    </section>
    <section aria-labelledby="recent-h"><h2 id="recent-h">Recent assignments and proofs</h2>
      <${Table} label="recent assignments" rows=${settled} empty="Nothing assigned yet." columns=${[
        { key: 'id', label: 'ask', numeric: true, render: (a) => askLink(a.id) },
        { key: 'generator', label: 'generator', render: (a) => generatorLink(a.generator) },
        { key: 'status', label: 'status', render: (a) => a.status },
        { key: 'price', label: 'price', numeric: true, render: (a) => (a.price ? pay(a.price, config) : '–') },
        { key: 'assign', label: 'to assign', numeric: true, render: (a) => seconds(a.timeToAssign) },
        { key: 'proof', label: 'to proof', numeric: true, render: (a) => seconds(a.timeToProof) },
      ]} />
    </section>
    <${LiveFeed} id=${id} />`;
}
