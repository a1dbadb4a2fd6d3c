// The requester flow: an ask created from the browser's EIP-1193 wallet (approve the payment token, then
// `createAsk`), then followed live on its page.

import { useEffect, useState } from 'preact/hooks';
import { decodeFunctionResult, encodeFunctionData, isHex, parseEventLogs, parseUnits, toHex } from 'viem';
import { ERC20, MARKETPLACE } from '../abi.gen.js';
import { get } from '../api.js';
import { marketName } from '../format.js';
import { html, navigate } from '../ui.js';

/** A JSON-RPC call to the chain through the portal's /rpc (reads go there, not through the wallet). */
async function rpc(method, params) {
  const response = await fetch('/rpc', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  });
  if (!response.ok) throw new Error(`the chain's RPC answered HTTP ${response.status}`);
  const body = await response.json();
  if (body.error) throw new Error(`${method}: ${body.error.message}`);
  return body.result;
}

/** `eth_call` of `functionName` on `address`, decoded. */
async function read(address, abi, functionName, args) {
  const data = await rpc('eth_call', [{ to: address, data: encodeFunctionData({ abi, functionName, args }) }, 'latest']);
  return decodeFunctionResult({ abi, functionName, data });
}

/** Sends a call through the wallet (it fills gas, fees and nonce and asks its user) and waits for the receipt. */
async function send(wallet, from, to, abi, functionName, args) {
  const hash = await wallet.request({
    method: 'eth_sendTransaction',
    params: [{ from, to, data: encodeFunctionData({ abi, functionName, args }) }],
  });
  // Sent: from here an error must not make the user send it again. A failing poll (the RPC briefly down) is retried.
  for (let i = 0; i < 240; i++) {
    let receipt = null;
    try {
      receipt = await rpc('eth_getTransactionReceipt', [hash]);
    } catch {
      // retried below
    }
    if (receipt) {
      if (receipt.status !== '0x1') throw new Error(`${functionName} reverted (tx ${hash})`);
      return receipt;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${functionName} (tx ${hash}) was not seen mined within 2 minutes: check it before sending again`);
}

/** Reads a file as 0x-hex. */
async function fileHex(file) {
  return toHex(new Uint8Array(await file.arrayBuffer()));
}

export function NewAskPage({ config }) {
  const params = new URLSearchParams(location.search);
  const [markets, setMarkets] = useState();
  const [form, setForm] = useState({ market: params.get('market') ?? '', inputs: '', reward: '5', minutes: '10', preference: 'COST' });
  const [account, setAccount] = useState();
  const [status, setStatus] = useState({ step: 'idle' });
  const wallet = typeof window !== 'undefined' ? window.ethereum : undefined;

  useEffect(() => {
    get('/v1/markets').then(
      (ms) => {
        const open = ms.filter((m) => !m.confidential && !m.frozen);
        setMarkets(open);
        if (!form.market && open.length) setForm((f) => ({ ...f, market: String(open[0].market) }));
      },
      (e) => setStatus({ step: 'error', message: `cannot list the markets: ${e.message}` }),
    );
  }, []);

  const set = (k) => (e) => setForm((f) => ({ ...f, [k]: e.target.value }));

  async function connect() {
    try {
      const [a] = await wallet.request({ method: 'eth_requestAccounts' });
      const chain = Number(await wallet.request({ method: 'eth_chainId' }));
      if (chain !== config.chainId) {
        setStatus({ step: 'error', message: `the wallet is on chain ${chain}; switch it to chain ${config.chainId}` });
        return;
      }
      setAccount(a);
      setStatus({ step: 'idle' });
    } catch (e) {
      setStatus({ step: 'error', message: `the wallet refused: ${e.shortMessage ?? e.message}` });
    }
  }

  async function submit(e) {
    e.preventDefault();
    const inputs = form.inputs.trim();
    if (!isHex(inputs) || inputs.length < 4 || inputs.length % 2) {
      setStatus({ step: 'error', message: 'inputs must be 0x-prefixed hex bytes (or pick a file)' });
      return;
    }
    let reward;
    try {
      reward = parseUnits(form.reward, config.paymentDecimals);
    } catch {
      reward = 0n;
    }
    if (reward <= 0n) {
      setStatus({ step: 'error', message: `the reward must be a positive amount of ${config.paymentSymbol}` });
      return;
    }
    const minutes = Number(form.minutes);
    if (!(minutes > 0 && minutes <= 7 * 24 * 60)) {
      setStatus({ step: 'error', message: 'the deadline must be between 1 minute and 7 days from now' });
      return;
    }
    try {
      // The fee is a protocol parameter: read now, not from the page's start.
      const fresh = await fetch('/config.json');
      if (!fresh.ok) throw new Error('the chain is not answering: try again in a moment');
      const cfg = await fresh.json();
      const bytes = (inputs.length - 2) / 2;
      const cost = reward + BigInt(cfg.feePerInputByte) * BigInt(bytes);
      const block = await rpc('eth_getBlockByNumber', ['latest', false]);
      const deadline = BigInt(block.timestamp) + BigInt(Math.round(minutes * 60));
      const allowance = await read(cfg.paymentToken, ERC20, 'allowance', [account, cfg.marketplace]);
      if (allowance < cost) {
        setStatus({ step: 'approve', message: `approving ${form.reward} ${cfg.paymentSymbol} (+ fee) for the marketplace…` });
        await send(wallet, account, cfg.paymentToken, ERC20, 'approve', [cfg.marketplace, cost]);
      }
      setStatus({ step: 'create', message: 'creating the ask…' });
      const request = { marketId: BigInt(form.market), reward, deadline, preference: form.preference === 'TIME' ? 1 : 0, refundAddress: account, proverData: inputs, secret: '0x', acl: '0x' };
      const receipt = await send(wallet, account, cfg.marketplace, MARKETPLACE, 'createAsk', [request]);
      const [created] = parseEventLogs({ abi: MARKETPLACE, logs: receipt.logs, eventName: 'AskCreated' });
      navigate(`/asks/${created.args.askId}`);
    } catch (e) {
      setStatus({ step: 'error', message: e.shortMessage ?? e.message });
    }
  }

  const busy = status.step === 'approve' || status.step === 'create';
  return html`<h1>Create an ask</h1>
    <p class="lede">Pay a reward (the most you pay; the generator's price is charged and the rest refunded) for a proof
      of your inputs in a public market, from your browser wallet. Confidential asks need the CLI (their secret is
      sealed to the engine's key).</p>
    ${!wallet
      ? html`<p class="error" role="alert">No browser wallet found (an EIP-1193 provider such as MetaMask).</p>`
      : !account
        ? html`<p><button type="button" class="button" onClick=${connect}>Connect wallet</button></p>`
        : html`<p>Connected as <code data-testid="account">${account}</code></p>`}
    <form class="ask-form" onSubmit=${submit} aria-describedby="ask-status">
      <label>Market
        <select name="market" value=${form.market} onChange=${set('market')} required>
          ${(markets ?? []).map((m) => html`<option value=${m.market}>${m.market} · ${marketName(m)}</option>`)}
        </select></label>
      <label>Inputs (0x hex)
        <textarea name="inputs" rows="3" value=${form.inputs} onInput=${set('inputs')} placeholder="0x…" spellcheck="false"></textarea></label>
      <label>…or from a file
        <input type="file" name="inputs-file" onChange=${async (e) => {
          const f = e.target.files?.[0];
          if (f) {
            const hex = await fileHex(f);
            setForm((x) => ({ ...x, inputs: hex }));
          }
        }} /></label>
      <label>Reward (${config.paymentSymbol})
        <input name="reward" inputmode="decimal" value=${form.reward} onInput=${set('reward')} required /></label>
      <label>Deadline (minutes from now)
        <input name="minutes" inputmode="numeric" value=${form.minutes} onInput=${set('minutes')} required /></label>
      <fieldset><legend>Preference</legend>
        <label class="inline"><input type="radio" name="preference" value="COST" checked=${form.preference === 'COST'} onChange=${set('preference')} /> COST (cheapest)</label>
        <label class="inline"><input type="radio" name="preference" value="TIME" checked=${form.preference === 'TIME'} onChange=${set('preference')} /> TIME (fastest)</label>
      </fieldset>
      <button type="submit" class="button" disabled=${!account || busy}>Create the ask</button>
    </form>
    <p id="ask-status" role="status" class=${status.step === 'error' ? 'error' : ''} data-testid="ask-flow-status">${status.message ?? ''}</p>`;
}
