// The portal's view of its two upstreams: the matching engine's HTTP API (proxied by the portal server under /api,
// documented by the engine's /openapi.json) and its websocket feed, plus the portal's own /config.json. Every call
// reports whether the engine answered, so the page can say when it is down and recover when it is back.

import { useEffect, useRef, useState } from 'preact/hooks';

/** The engine did not answer (connection refused, timeout, or the proxy's 502/504). */
export class EngineDown extends Error {}

/** The engine answered 404 for an id. */
export class NotFound extends Error {}

const listeners = new Set();
let engineUp = true;

function setEngineUp(up) {
  if (up !== engineUp) {
    engineUp = up;
    for (const l of listeners) l(up);
  }
}

/** Whether the engine answered the last call; re-renders the caller when that changes. */
export function useEngineUp() {
  const [up, setUp] = useState(engineUp);
  useEffect(() => {
    listeners.add(setUp);
    setUp(engineUp); // it may have changed before this subscription
    return () => listeners.delete(setUp);
  }, []);
  return up;
}

/** GET `path` of the engine API (`/v1/...`), as JSON. */
export async function get(path) {
  let response;
  try {
    response = await fetch(`/api${path}`, { headers: { accept: 'application/json' } });
  } catch (e) {
    setEngineUp(false);
    throw new EngineDown(`the portal server is not answering (${e.message})`);
  }
  if (response.status === 502 || response.status === 504) {
    setEngineUp(false);
    throw new EngineDown('the matching engine is not answering');
  }
  setEngineUp(true);
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: reported below by status
  }
  if (response.status === 404) throw new NotFound(body?.error ?? 'not found');
  if (!response.ok) throw new Error(body?.error ?? `HTTP ${response.status}`);
  return body;
}

let config;
/** The portal's configuration: deployment, tokens, chain (fetched once it succeeds). */
export async function getConfig() {
  if (!config) {
    let response;
    try {
      response = await fetch('/config.json');
    } catch (e) {
      throw new Error(`the portal server is not answering (${e.message})`);
    }
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      throw new Error(body?.error ?? `the portal's /config.json answered ${response.status}`);
    }
    config = await response.json();
  }
  return config;
}

// ----- the engine's websocket feed: one connection, reconnected with back-off -----

const feedListeners = new Set();
let socket;
let feedUp = false;
const feedStateListeners = new Set();

function setFeedUp(up) {
  if (up !== feedUp) {
    feedUp = up;
    for (const l of feedStateListeners) l(up);
  }
}

function connectFeed(url, delay = 500) {
  socket = new WebSocket(url);
  socket.onopen = () => {
    setFeedUp(true);
    delay = 500;
  };
  socket.onmessage = (m) => {
    let item;
    try {
      item = JSON.parse(m.data);
    } catch {
      return;
    }
    for (const l of feedListeners) l(item);
  };
  socket.onclose = () => {
    setFeedUp(false);
    setTimeout(() => connectFeed(url, Math.min(delay * 2, 5000)), delay);
  };
}

/** Starts the feed (once): the portal relays the engine's websocket at /api/v1/events on its own origin. */
export function startFeed() {
  if (socket) return;
  connectFeed(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/api/v1/events`);
}

/** Calls `f(item)` for every feed item while the component is mounted. */
export function useFeed(f) {
  const ref = useRef(f);
  ref.current = f;
  useEffect(() => {
    const l = (item) => ref.current(item);
    feedListeners.add(l);
    return () => feedListeners.delete(l);
  }, []);
}

/** Whether the feed is connected. */
export function useFeedUp() {
  const [up, setUp] = useState(feedUp);
  useEffect(() => {
    feedStateListeners.add(setUp);
    setUp(feedUp); // the socket may have opened before this subscription
    return () => feedStateListeners.delete(setUp);
  }, []);
  return up;
}

/**
 * Live data: `load()` on mount, after every feed item (coalesced) and every `everyMs`, keeping the last good data
 * while the engine is down. Returns `{ data, error, loading }`; `error` is a NotFound, EngineDown or Error.
 */
export function useLive(load, deps, everyMs = 5000) {
  const [state, setState] = useState({ data: undefined, error: undefined, loading: true });
  const timer = useRef();
  const alive = useRef(true);
  // One load at a time (a trigger during one runs once more after it), and a result counts only for the page it
  // was loaded for (`generation` moves with `deps`): a slow answer for another id never lands here.
  const busy = useRef(false);
  const again = useRef(false);
  const generation = useRef(0);
  const run = async () => {
    if (busy.current) {
      again.current = true;
      return;
    }
    busy.current = true;
    const mine = generation.current;
    const current = () => alive.current && mine === generation.current;
    try {
      const data = await load();
      if (current()) setState({ data, error: undefined, loading: false });
    } catch (error) {
      if (current()) setState((s) => ({ data: error instanceof NotFound ? undefined : s.data, error, loading: false }));
    } finally {
      busy.current = false;
      if (again.current && alive.current) {
        again.current = false;
        clearTimeout(timer.current);
        timer.current = setTimeout(run, 1000);
      }
    }
  };
  useEffect(() => {
    alive.current = true;
    generation.current += 1;
    busy.current = false;
    again.current = false;
    setState({ data: undefined, error: undefined, loading: true });
    run();
    const every = setInterval(run, everyMs);
    return () => {
      alive.current = false;
      clearInterval(every);
      clearTimeout(timer.current);
    };
  }, deps);
  // Feed items come in bursts (a block's events): one reload at most a second after the first of them.
  useFeed(() => {
    if (!timer.current) {
      timer.current = setTimeout(() => {
        timer.current = undefined;
        run();
      }, 1000);
    }
  });
  return state;
}
