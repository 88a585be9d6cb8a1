// Times: exact instants as BigInt nanoseconds (a JS number cannot hold them), positions
// and labels from milliseconds; labels in the user's zone and in UTC.

export const NS_PER_MS = 1000000n;
export const NS_PER_S = 1000000000n;

/** "1763705000.480000000" (what the server sends) -> BigInt ns. */
export function parseUnix(text) {
  const [s, frac = ''] = String(text).split('.');
  const negative = s.startsWith('-');
  const whole = BigInt(s) * NS_PER_S;
  const part = BigInt((frac + '000000000').slice(0, 9));
  return negative ? whole - part : whole + part;
}

/** BigInt ns -> "unix.seconds" with nine decimals: exact, and a time the server accepts. */
export function unixText(ns) {
  const negative = ns < 0n;
  const abs = negative ? -ns : ns;
  const text = `${abs / NS_PER_S}.${String(abs % NS_PER_S).padStart(9, '0')}`;
  return negative ? `-${text}` : text;
}

export const msOf = (ns) => Number(ns / NS_PER_MS) + Number(ns % NS_PER_MS) / 1e6;
export const nsOf = (ms) => BigInt(Math.round(ms * 1000)) * 1000n;
/** Milliseconds rounded up: a frame's start shown to the millisecond stays inside the frame. */
export const ceilMs = (ns) => Number((ns + NS_PER_MS - 1n) / NS_PER_MS);

const pad = (n, w = 2) => String(n).padStart(w, '0');

export const zoneName = () => Intl.DateTimeFormat().resolvedOptions().timeZone || 'local';

function offsetText(date) {
  const off = -date.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  return `${sign}${pad(Math.floor(Math.abs(off) / 60))}:${pad(Math.abs(off) % 60)}`;
}

export function zoneLabel(ms = Date.now()) {
  return `${zoneName()} (UTC${offsetText(new Date(ms))})`;
}

function clock(h, m, s, millis, withMs) {
  return `${pad(h)}:${pad(m)}:${pad(s)}${withMs ? '.' + pad(millis, 3) : ''}`;
}

/** "17:40:10.480" in the user's zone. */
export function localClock(ms, withMs = true) {
  const d = new Date(ms);
  return clock(d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds(), withMs);
}

/** "09:40:10.480Z". */
export function utcClock(ms, withMs = true) {
  const d = new Date(ms);
  return clock(d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds(),
    withMs) + 'Z';
}

export function localDate(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** ISO 8601 in the user's zone with its offset, to the millisecond: a time the CLI accepts. */
export function localIso(ms) {
  const d = new Date(ms);
  return `${localDate(ms)}T${localClock(ms, true)}${offsetText(d)}`;
}

export function duration(seconds) {
  if (seconds < 60) return `${seconds.toFixed(3)} s`;
  const m = Math.floor(seconds / 60);
  const s = seconds - 60 * m;
  if (m < 60) return `${m} min ${s.toFixed(3).padStart(6, '0')} s`;
  return `${Math.floor(m / 60)} h ${pad(m % 60)} min ${s.toFixed(0).padStart(2, '0')} s`;
}

/** The tick spacing (ms) that keeps labels at least `minPx` apart. */
const STEPS = [40, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000,
  600000, 900000, 1800000, 3600000, 7200000, 10800000, 21600000, 43200000, 86400000];

export function tickStep(spanMs, widthPx, minPx = 96) {
  const perPx = spanMs / Math.max(widthPx, 1);
  return STEPS.find((s) => s / perPx >= minPx) || STEPS[STEPS.length - 1];
}
