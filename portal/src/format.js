// Formatting: token amounts from the API's decimal strings of base units, times, addresses.

/** `raw` base units (a decimal string or bigint) with `decimals`, trimmed: "1.5". */
export function units(raw, decimals) {
  if (raw === undefined || raw === null || raw === '') return '–';
  let v;
  try {
    v = BigInt(raw);
  } catch {
    return String(raw);
  }
  const negative = v < 0n;
  if (negative) v = -v;
  const base = 10n ** BigInt(decimals);
  const whole = v / base;
  let frac = (v % base).toString().padStart(decimals, '0').replace(/0+$/, '');
  if (frac.length > 6) frac = frac.slice(0, 6);
  return `${negative ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}

/** A payment-token amount with its symbol. */
export function pay(raw, config) {
  return `${units(raw, config.paymentDecimals)} ${config.paymentSymbol}`;
}

/** A staking-token amount with its symbol. */
export function stake(raw, config) {
  return `${units(raw, config.stakingDecimals)} ${config.stakingSymbol}`;
}

/** Seconds as "12 s", "3 min 5 s". */
export function seconds(s) {
  if (s === undefined || s === null || s === '') return '–';
  const n = Number(s);
  if (n < 120) return `${n} s`;
  const m = Math.floor(n / 60);
  return n % 60 ? `${m} min ${n % 60} s` : `${m} min`;
}

/** A unix time as a local date and time. */
export function time(t) {
  if (!t) return '–';
  return new Date(Number(t) * 1000).toLocaleString();
}

/** "0x1234…abcd". */
export function short(hex) {
  if (!hex) return '–';
  return hex.length > 14 ? `${hex.slice(0, 6)}…${hex.slice(-4)}` : hex;
}

/** The `name` in a market's metadata (JSON), else the metadata itself, else "market N". */
export function marketName(m) {
  const meta = m?.metadata;
  if (meta) {
    try {
      const parsed = JSON.parse(meta);
      if (parsed && typeof parsed.name === 'string') return parsed.name;
    } catch {
      return meta.length > 40 ? `${meta.slice(0, 40)}…` : meta;
    }
  }
  return `market ${m?.market ?? m?.id}`;
}

/**
 * A market's circuit package URL from its metadata, if it has an http(s) one (the metadata is the market creator's:
 * anything else, a `javascript:` URL say, is not made a link).
 */
export function marketPackage(m) {
  let url;
  try {
    const parsed = JSON.parse(m?.metadata ?? '');
    url = parsed?.package?.url;
  } catch {
    return null;
  }
  if (typeof url !== 'string') return null;
  try {
    return ['http:', 'https:'].includes(new URL(url).protocol) ? url : null;
  } catch {
    return null;
  }
}
