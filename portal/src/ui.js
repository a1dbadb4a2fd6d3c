// Shared pieces: links that route in the page, sortable tables, loading / empty / error states.

import { h } from 'preact';
import { useState } from 'preact/hooks';
import htm from 'htm';
import { EngineDown, NotFound } from './api.js';

export const html = htm.bind(h);

/** Navigates in the page (history API) and tells the router. */
export function navigate(path) {
  if (path === location.pathname + location.search) return;
  history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}

/** A link routed in the page (a real href, so it opens in a new tab and is keyboard-focusable). */
export function Link({ href, children, ...rest }) {
  const onClick = (e) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${onClick} ...${rest}>${children}</a>`;
}

/**
 * A table whose columns sort by a click or Enter on their header. `columns`: [{ key, label, sort?: row => value,
 * render?: row => vnode, numeric? }]; `rows`: objects; `empty`: what to say without rows.
 */
export function Table({ columns, rows, empty, label, initial }) {
  const [sort, setSort] = useState(initial ?? { key: null, dir: 1 });
  const col = columns.find((c) => c.key === sort.key);
  const sorted = col?.sort
    ? [...rows].sort((a, b) => {
        const x = col.sort(a);
        const y = col.sort(b);
        if (x === y) return 0;
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        return (x < y ? -1 : 1) * sort.dir;
      })
    : rows;
  if (!rows.length) return html`<p class="empty">${empty}</p>`;
  return html`<div class="table-wrap"><table aria-label=${label}>
    <thead><tr>${columns.map((c) => {
      const active = sort.key === c.key;
      const aria = active ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none';
      return html`<th scope="col" class=${c.numeric ? 'num' : ''} aria-sort=${c.sort ? aria : undefined}>
        ${c.sort
          ? html`<button type="button" class="sort" onClick=${() => setSort({ key: c.key, dir: active ? -sort.dir : 1 })}>
              ${c.label}<span aria-hidden="true">${active ? (sort.dir > 0 ? ' ▲' : ' ▼') : ''}</span></button>`
          : c.label}</th>`;
    })}</tr></thead>
    <tbody>${sorted.map((r) => html`<tr>${columns.map((c) => html`<td class=${c.numeric ? 'num' : ''}>${c.render ? c.render(r) : r[c.key]}</td>`)}</tr>`)}</tbody>
  </table></div>`;
}

/** The state of a `useLive` load that has no data yet: loading, not found, engine down, or an error. */
export function Pending({ state, what }) {
  if (state.error instanceof NotFound) return html`<${NotFoundPage} what=${what} detail=${state.error.message} />`;
  if (state.error instanceof EngineDown) return html`<p class="empty">Waiting for the matching engine to answer…</p>`;
  if (state.error) return html`<p class="error" role="alert">Cannot load ${what}: ${state.error.message}</p>`;
  return html`<p class="loading" role="status">Loading ${what}…</p>`;
}

/** The not-found page. */
export function NotFoundPage({ what, detail }) {
  return html`<section class="not-found" data-testid="not-found">
    <h1>Not found</h1>
    <p>${what ? `There is no ${what}.` : 'There is no page at this address.'}${detail ? ` (${detail})` : ''}</p>
    <p><${Link} href="/">Back to the markets<//></p>
  </section>`;
}

/** A label and a value, in a definition list. */
export function Facts({ items }) {
  return html`<dl class="facts">${items.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>`;
}
