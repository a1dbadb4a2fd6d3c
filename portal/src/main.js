// The Kalypso portal: a single page over the matching engine's API (proxied by `kalypso portal` under /api),
// its websocket feed, and the chain's JSON-RPC (under /rpc) for the wallet flow.

import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { getConfig, startFeed, useEngineUp, useFeedUp } from './api.js';
import { AskPage } from './pages/ask.js';
import { GeneratorPage } from './pages/generator.js';
import { MarketPage } from './pages/market.js';
import { MarketsPage } from './pages/markets.js';
import { NewAskPage } from './pages/new-ask.js';
import { Link, NotFoundPage, html } from './ui.js';

/** The page for `path`. */
function route(path, config) {
  let m;
  try {
    decodeURIComponent(path);
  } catch {
    return html`<${NotFoundPage} />`;
  }
  if (path === '/' || path === '/markets') return html`<${MarketsPage} config=${config} />`;
  if ((m = path.match(/^\/markets\/([^/]+)$/))) return html`<${MarketPage} id=${decodeURIComponent(m[1])} config=${config} />`;
  if (path === '/asks/new') return html`<${NewAskPage} config=${config} />`;
  if ((m = path.match(/^\/asks\/([^/]+)$/))) return html`<${AskPage} id=${decodeURIComponent(m[1])} config=${config} />`;
  if ((m = path.match(/^\/generators\/([^/]+)$/))) return html`<${GeneratorPage} address=${decodeURIComponent(m[1])} config=${config} />`;
  return html`<${NotFoundPage} />`;
}

function Status() {
  const engine = useEngineUp();
  const feed = useFeedUp();
  if (!engine) {
    return html`<div class="banner down" role="alert" data-testid="engine-down">The matching engine is not answering.
      The page keeps what it last saw and retries every few seconds.</div>`;
  }
  return html`<span data-testid="feed-status" class=${`live ${feed ? 'on' : 'off'}`} title=${feed ? 'live: the engine feed is connected' : 'reconnecting to the engine feed'}>
    ${feed ? '● live' : '○ reconnecting'}</span>`;
}

function App() {
  const [path, setPath] = useState(location.pathname);
  const [config, setConfig] = useState();
  const [error, setError] = useState();
  useEffect(() => {
    const onPop = () => {
      setPath(location.pathname);
      window.scrollTo(0, 0);
    };
    addEventListener('popstate', onPop);
    // The configuration needs the chain (tokens, the ask fee): while its RPC or the portal is down, say so and
    // retry until it answers.
    let retry;
    const load = () =>
      getConfig().then(
        (c) => {
          setError(undefined);
          setConfig(c);
          startFeed();
        },
        (e) => {
          setError(e.message);
          retry = setTimeout(load, 3000);
        },
      );
    load();
    return () => {
      removeEventListener('popstate', onPop);
      clearTimeout(retry);
    };
  }, []);
  useEffect(() => {
    // Move focus to the new page's heading for keyboard and screen-reader users.
    if (history.length > 1) requestAnimationFrame(() => document.getElementById('main')?.focus({ preventScroll: true }));
  }, [path]);
  return html`<header class="top">
      <${Link} class="brand" href="/">Kalypso<//>
      <nav aria-label="main"><${Link} href="/">Markets<//><${Link} href="/asks/new">Create an ask<//></nav>
      ${config ? html`<${Status} />` : ''}
    </header>
    <main id="main" tabindex="-1">${error && !config
      ? html`<p class="banner down" role="alert" data-testid="rpc-down">Waiting for the chain: ${error}. Retrying every few
          seconds.</p>`
      : config
        ? route(path, config)
        : html`<p class="loading" role="status">Loading…</p>`}</main>
    <footer>${config ? html`chain ${config.chainId} · marketplace <code>${config.marketplace}</code> · ` : ''}<a href="/assets/licenses.txt">licences</a></footer>`;
}

const root = document.getElementById('app');
root.replaceChildren(); // the static "Loading…" placeholder
render(html`<${App} />`, root);
