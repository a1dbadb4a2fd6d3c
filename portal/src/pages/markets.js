// The markets: each with its circuit, verifier, package, terms, depth and the figures of its asks — sortable.

import { get, useLive } from '../api.js';
import { marketName, marketPackage, pay, seconds, short, stake } from '../format.js';
import { Link, Pending, Table, html } from '../ui.js';

async function loadMarkets() {
  const markets = await get('/v1/markets');
  const stats = await Promise.all(markets.map((m) => get(`/v1/markets/${m.market}/stats`)));
  return markets.map((m, i) => ({ ...m, stats: stats[i] }));
}

const num = (v) => (v === null || v === undefined ? null : Number(v));

export function MarketsPage({ config }) {
  const state = useLive(loadMarkets, []);
  if (!state.data) return html`<h1>Markets</h1><${Pending} state=${state} what="the markets" />`;
  const columns = [
    { key: 'market', label: 'id', numeric: true, sort: (m) => m.market, render: (m) => html`<${Link} href=${`/markets/${m.market}`}>${m.market}<//>` },
    { key: 'name', label: 'name', sort: (m) => marketName(m), render: (m) => html`<${Link} href=${`/markets/${m.market}`}>${marketName(m)}<//>${m.confidential ? html` <span class="tag">confidential</span>` : ''}${m.frozen ? html` <span class="tag warn">frozen</span>` : ''}` },
    { key: 'verifier', label: 'verifier', render: (m) => html`<code title=${m.verifier}>${short(m.verifier)}</code>` },
    { key: 'package', label: 'prover package', render: (m) => { const p = marketPackage(m); return p ? html`<a href=${p} title=${p}>package</a>` : '–'; } },
    { key: 'penalty', label: 'penalty', numeric: true, sort: (m) => Number(m.slashingPenalty), render: (m) => stake(m.slashingPenalty, config) },
    { key: 'minStake', label: 'min stake', numeric: true, sort: (m) => Number(m.minStake), render: (m) => stake(m.minStake, config) },
    { key: 'open', label: 'open asks', numeric: true, sort: (m) => m.openAsks, render: (m) => m.openAsks },
    { key: 'quotes', label: 'active quotes', numeric: true, sort: (m) => m.listed, render: (m) => `${m.listed} / ${m.quotes}` },
    { key: 'assign', label: 'to assign p50 / p90', numeric: true, sort: (m) => num(m.stats.timeToAssignSeconds.p50), render: (m) => `${seconds(m.stats.timeToAssignSeconds.p50)} / ${seconds(m.stats.timeToAssignSeconds.p90)}` },
    { key: 'proof', label: 'to proof p50 / p90', numeric: true, sort: (m) => num(m.stats.timeToProofSeconds.p50), render: (m) => `${seconds(m.stats.timeToProofSeconds.p50)} / ${seconds(m.stats.timeToProofSeconds.p90)}` },
    { key: 'price', label: 'price paid p50 (n)', numeric: true, sort: (m) => num(m.stats.price.p50), render: (m) => (m.stats.price.count ? `${pay(m.stats.price.p50, config)} (${m.stats.price.count})` : '–') },
  ];
  return html`<h1>Markets</h1>
    <p class="lede">Every market is one circuit. Asks are matched to the quotes in its price × time plane; the
      figures below are from the asks the engine has seen.</p>
    <${Table} label="markets" columns=${columns} rows=${state.data} empty="No market yet: create one with kalypso market create." initial=${{ key: 'market', dir: 1 }} />`;
}
