// One generator: stake (free, locked, pending), compute in use per market, its quotes and tasks, earnings, slashes
// and discards over time.

import { NotFound, get, useLive } from '../api.js';
import { TimeChart } from '../chart.js';
import { pay, seconds, stake, time, units } from '../format.js';
import { Facts, Link, Pending, Table, html } from '../ui.js';
import { askLink, newest } from './market.js';

async function loadGenerator(address) {
  const g = await get(`/v1/generators/${address}`);
  const [tasks, markets] = await Promise.all([
    newest(`generator=${address}`, 500),
    Promise.all(g.markets.map((m) => get(`/v1/markets/${m}`))),
  ]);
  return { g, tasks: tasks.asks, markets };
}

/** Running sums of `amount` over time for the activity of `kind`. */
function cumulative(activity, kinds, decimals) {
  let sum = 0;
  return activity
    .filter((e) => kinds.includes(e.kind))
    .sort((a, b) => a.timestamp - b.timestamp)
    .map((e) => {
      sum += Number(units(e.amount ?? '0', decimals));
      return [e.timestamp, sum];
    });
}

export function GeneratorPage({ address, config }) {
  const valid = /^0x[0-9a-fA-F]{40}$/.test(address);
  const state = useLive(() => (valid ? loadGenerator(address) : Promise.reject(new NotFound(`generator ${address}`))), [address]);
  if (!valid) return html`<${Pending} state=${{ error: new Error('a generator is a 0x address of 40 hex digits') }} what=${`generator ${address}`} />`;
  if (!state.data) return html`<${Pending} state=${state} what=${`generator ${address}`} />`;
  const { g, tasks, markets } = state.data;
  const activity = g.activity ?? [];
  const quotes = markets.flatMap((m) =>
    (m.quoteList ?? []).filter((q) => q.generator.toLowerCase() === address.toLowerCase()).map((q) => ({ market: m.market, ...q })),
  );
  const inUse = markets.map((m) => {
    const q = quotes.find((x) => x.market === m.market);
    const assigned = tasks.filter((t) => t.market === m.market && t.status === 'assigned').length;
    return { market: m.market, assigned, compute: assigned * (q?.quote.computePerProof ?? 1) };
  });
  const free = BigInt(g.stake) - BigInt(g.locked);
  const earnings = cumulative(activity, ['proven', 'invalidInputs'], config.paymentDecimals);
  const slashes = cumulative(activity, ['slashed', 'discarded'], config.stakingDecimals);
  return html`<h1>Generator <code class="addr">${g.generator}</code></h1>
    <${Facts} items=${[
      ['registered', g.registered ? 'yes' : 'no'],
      ['native stake', stake(g.stake, config)],
      ['locked by tasks', stake(g.locked, config)],
      ['free', stake(free.toString(), config)],
      ['compute in use', `${g.consumedCompute} of ${g.declaredCompute}`],
      ['earned', pay(g.earnings ?? '0', config)],
      ['slashed and discarded', stake(g.penalties ?? '0', config)],
    ]} />
    <section aria-labelledby="use-h"><h2 id="use-h">Compute in use per market</h2>
      <${Table} label="compute per market" rows=${inUse} empty="Not in any market." columns=${[
        { key: 'market', label: 'market', render: (r) => html`<${Link} href=${`/markets/${r.market}`}>market ${r.market}<//>` },
        { key: 'assigned', label: 'tasks in flight', numeric: true, render: (r) => r.assigned },
        { key: 'compute', label: 'compute', numeric: true, render: (r) => r.compute },
      ]} />
    </section>
    <section aria-labelledby="q-h"><h2 id="q-h">Quotes</h2>
      <${Table} label="quotes" rows=${quotes} empty="No quote." columns=${[
        { key: 'market', label: 'market', render: (q) => html`<${Link} href=${`/markets/${q.market}`}>market ${q.market}<//>` },
        { key: 'price', label: 'price', numeric: true, render: (q) => pay(q.quote.price, config) },
        { key: 'time', label: 'proving time', numeric: true, render: (q) => seconds(q.quote.maxProofTime) },
        { key: 'listed', label: 'listed', render: (q) => (q.listed ? 'yes' : 'no') },
      ]} />
    </section>
    <section aria-labelledby="over-h"><h2 id="over-h">Earnings, slashes and discards over time</h2>
      ${earnings.length || slashes.length
        ? html`${earnings.length ? html`<${TimeChart} yLabel=${`earned (${config.paymentSymbol})`} series=${[{ label: 'earned', points: earnings }]} />` : ''}
            ${slashes.length ? html`<${TimeChart} yLabel=${`penalties (${config.stakingSymbol})`} series=${[{ label: 'slashed and discarded', points: slashes }]} />` : ''}`
        : html`<p class="empty">No proof, slash or discard yet.</p>`}
      <${Table} label="activity" rows=${activity} empty="No activity." initial=${{ key: 'time', dir: -1 }} columns=${[
        { key: 'time', label: 'time', sort: (e) => e.timestamp, render: (e) => time(e.timestamp) },
        { key: 'kind', label: 'what', render: (e) => e.kind },
        { key: 'ask', label: 'ask', render: (e) => askLink(e.ask) },
        { key: 'amount', label: 'amount', numeric: true, render: (e) => (e.token === 'staking' ? stake(e.amount, config) : pay(e.amount, config)) },
      ]} />
    </section>
    <section aria-labelledby="t-h"><h2 id="t-h">Tasks</h2>
      <${Table} label="tasks" rows=${tasks} empty="No task." initial=${{ key: 'id', dir: -1 }} columns=${[
        { key: 'id', label: 'ask', numeric: true, sort: (a) => a.id, render: (a) => askLink(a.id) },
        { key: 'market', label: 'market', render: (a) => a.market },
        { key: 'status', label: 'status', render: (a) => a.status },
        { key: 'price', label: 'price', numeric: true, render: (a) => (a.price ? pay(a.price, config) : '–') },
        { key: 'proof', label: 'to proof', numeric: true, render: (a) => seconds(a.timeToProof) },
      ]} />
    </section>`;
}
