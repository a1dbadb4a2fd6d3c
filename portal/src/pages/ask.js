// One ask: its lifecycle as a timeline with block times and transaction hashes, price and refund, and its proof.

import { NotFound, get, useLive } from '../api.js';
import { pay, seconds, short, stake, time } from '../format.js';
import { Facts, Link, Pending, html } from '../ui.js';
import { generatorLink } from './market.js';

const STEP = {
  created: 'created',
  assigned: 'assigned',
  proven: 'proven',
  invalidInputs: 'inputs attested invalid',
  slashed: 'generator slashed',
  discarded: 'generator gave up',
  reopened: 're-opened for matching',
  refunded: 'refunded',
  cancelled: 'cancelled',
  compensation: 'compensation paid',
};

async function downloadProof(id) {
  const p = await get(`/v1/asks/${id}/proof`);
  const blob = new Blob([JSON.stringify(p, null, 2)], { type: 'application/json' });
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = `kalypso-ask-${id}-proof.json`;
  a.click();
  URL.revokeObjectURL(a.href);
}

export function AskPage({ id, config }) {
  const valid = /^\d+$/.test(id);
  const state = useLive(() => (valid ? get(`/v1/asks/${id}`) : Promise.reject(new NotFound(`ask ${id}`))), [id]);
  if (!valid) return html`<${Pending} state=${{ error: new Error('an ask id is a number') }} what=${`ask ${id}`} />`;
  if (!state.data) return html`<${Pending} state=${state} what=${`ask ${id}`} />`;
  const a = state.data;
  const history = a.history ?? [];
  return html`<h1>Ask ${a.id} <small class=${`status ${a.status}`} data-testid="ask-status">${a.status}</small></h1>
    <${Facts} items=${[
      ['market', html`<${Link} href=${`/markets/${a.market}`}>market ${a.market}<//>`],
      ['requester', html`<code>${a.requester}</code>`],
      ['reward (price cap)', pay(a.reward, config)],
      ['preference', a.preference],
      ['deadline', time(a.deadline)],
      ['generator', generatorLink(a.generator)],
      ['price paid', a.price ? pay(a.price, config) : '–'],
      ['refund', a.refund ? pay(a.refund, config) : '–'],
      ['time to assign / to proof', `${seconds(a.timeToAssign)} / ${seconds(a.timeToProof)}`],
      ...(a.refused ? [['refused by the engine', a.refused]] : []),
    ]} />
    ${a.status === 'proven'
      ? html`<p><button type="button" class="button" onClick=${() => downloadProof(a.id)}>Download the proof</button></p>`
      : ''}
    <section aria-labelledby="timeline-h"><h2 id="timeline-h">Timeline</h2>
      ${history.length
        ? html`<ol class="timeline" data-testid="timeline">${history.map(
            (s) => html`<li class=${`step ${s.kind}`} data-step=${s.kind}>
              <strong>${STEP[s.kind] ?? s.kind}</strong>
              ${s.generator ? html` · ${generatorLink(s.generator)}` : ''}
              ${s.amount ? html` · ${s.token === 'staking' ? stake(s.amount, config) : pay(s.amount, config)}` : ''}
              <div class="meta"><time>${time(s.timestamp)}</time> · block ${s.block} · tx <code title=${s.txHash}>${short(s.txHash)}</code></div>
            </li>`,
          )}</ol>`
        : html`<p class="empty">No events yet.</p>`}
    </section>`;
}
