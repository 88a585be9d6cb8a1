// The studio page: wires the timeline, thumbnails, the still, preview, marks and exports.

import { ApiError, get, post } from './api.js';
import { Exports } from './exports.js';
import { Thumbs } from './thumbs.js';
import { Timeline } from './timeline.js';
import * as T from './timefmt.js';

const $ = (id) => document.getElementById(id);

const state = {
  cfg: null,
  win: null, // the window, in ms
  frame: null, // the frame on screen at the playhead (from the server), times as BigInt ns
  playhead: null, // BigInt ns
  marks: { in: null, out: null }, // BigInt ns: the in frame's and the out frame's instants
  fetched: null, // the span of the timeline data we hold, in ms
};

const timeline = new Timeline($('timeline'), {
  onSeek: (ms) => seek(T.nsOf(ms)),
  onView: () => { showView(); thumbs.schedule(); scheduleTimeline(); },
});
const thumbs = new Thumbs($('thumbs'), timeline, (ms) => seek(T.nsOf(ms)));
const exportsList = new Exports($('exports'));

function message(id, text, kind = 'error') {
  const box = $(id);
  box.textContent = text || '';
  box.className = `msg ${text ? kind : ''}`;
}

// ---------------------------------------------------------------- timeline data

let timelineTimer = null;
function scheduleTimeline() {
  clearTimeout(timelineTimer);
  timelineTimer = setTimeout(() => loadTimeline(false).catch(showError), 250);
}

async function loadTimeline(force) {
  const v = timeline.view;
  const need = { start: Math.min(v.start, state.win.start), end: Math.max(v.end, state.win.end) };
  const have = state.fetched;
  if (!force && have && need.start >= have.start && need.end <= have.end) return;
  const tl = await get('/api/timeline', {
    start: (Math.floor(need.start / 1000)).toString(),
    end: (Math.ceil(need.end / 1000)).toString(),
  });
  state.fetched = need;
  timeline.setData(tl);
  thumbs.schedule();
  const pct = (100 * tl.covered_seconds) / Math.max(tl.requested.end - tl.requested.start, 1);
  $('coverage').textContent = `${tl.ranges.length} range(s) with data, ${tl.gaps.length} gap(s), ` +
    `${pct.toFixed(1)} % covered`;
}

/** Ask the window again: with no --end it runs up to now, so a live stream's new minutes appear. */
async function refreshWindow() {
  const cfg = await get('/api/config');
  const end = T.msOf(T.parseUnix(cfg.window.end));
  if (end !== state.win.end) {
    state.win.end = end;
    timeline.setWindow(state.win.start, end, true);
  }
  await loadTimeline(true);
}

function showView() {
  const v = timeline.view;
  const sameDay = T.localDate(v.start) === T.localDate(v.end);
  $('view-info').textContent = `${T.localDate(v.start)} ${T.localClock(v.start, false)} → ` +
    `${sameDay ? '' : T.localDate(v.end) + ' '}${T.localClock(v.end, false)} · ` +
    `${T.duration((v.end - v.start) / 1000)} in view`;
}

// ---------------------------------------------------------------- the still

let chain = Promise.resolve();
let queued = 0;

/** Run seeks one after another, so stepping three frames steps three frames. */
function enqueue(fn) {
  if (queued > 12) return; // a held-down key: drop what the server cannot keep up with
  queued += 1;
  chain = chain.then(fn).catch(showError).finally(() => { queued -= 1; });
}

function seek(ns) { enqueue(() => showFrame(ns)); }

async function showFrame(ns) {
  state.playhead = ns;
  timeline.setPlayhead(T.msOf(ns));
  const still = $('still');
  still.dataset.state = 'loading';
  let f;
  try {
    f = await get('/api/frame', { t: T.unixText(ns) });
  } catch (e) {
    state.frame = null;
    still.dataset.state = 'empty';
    still.removeAttribute('src');
    $('playhead-time').value = T.localIso(T.msOf(ns));
    $('still-local').textContent = T.localClock(T.msOf(ns));
    $('still-utc').textContent = T.utcClock(T.msOf(ns));
    $('still-info').textContent = '';
    message('still-msg', e.message, e instanceof ApiError && e.body.gap ? 'gap' : 'error');
    return;
  }
  const start = T.parseUnix(f.start);
  state.frame = { ...f, startNs: start, endNs: T.parseUnix(f.end) };
  state.playhead = start;
  const ms = T.msOf(start);
  timeline.setPlayhead(ms);
  timeline.setFrameGrid(ms, f.duration * 1000);
  await new Promise((resolve) => {
    still.onload = resolve;
    still.onerror = resolve;
    still.src = f.image;
  });
  still.dataset.frameStart = f.start;
  still.dataset.state = 'ready';
  message('still-msg', '');
  const shown = T.ceilMs(start);
  $('playhead-time').value = T.localIso(shown);
  $('still-local').textContent = `${T.localDate(shown)} ${T.localClock(shown)}`;
  $('still-utc').textContent = T.utcClock(shown);
  $('still-info').textContent = `frame ${(f.duration * 1000).toFixed(2)} ms · ${f.width}×${f.height}`;
  updateSelection();
}

/** Where a step goes: from the frame on screen, or from the playhead in a gap; over gaps. */
function stepTarget(step) {
  const f = state.frame;
  const dir = step.startsWith('+') ? 1n : -1n;
  let ns;
  if (f) {
    const half = (f.endNs - f.startNs) / 2n;
    if (step.endsWith('f')) ns = T.parseUnix(dir > 0n ? f.next : f.prev);
    else ns = f.startNs + dir * T.NS_PER_S + half;
  } else {
    const base = state.playhead ?? T.nsOf(state.win.start);
    ns = base + dir * (step.endsWith('f') ? 40n * T.NS_PER_MS : T.NS_PER_S);
  }
  const ms = T.msOf(ns);
  const gap = (timeline.data.gaps || []).find((g) => g.start * 1000 <= ms && ms < g.end * 1000);
  if (gap) ns = dir > 0n ? BigInt(gap.end) * T.NS_PER_S : BigInt(gap.start) * T.NS_PER_S - T.NS_PER_MS;
  return ns;
}

function step(kind) {
  enqueue(async () => {
    await showFrame(stepTarget(kind));
    const ms = T.msOf(state.playhead);
    if (ms < timeline.view.start || ms > timeline.view.end) timeline.zoom(timeline.span, ms);
  });
}

// ---------------------------------------------------------------- marks and export

function setMark(which, ns) {
  state.marks[which] = ns;
  $(`${which}-time`).value = ns === null ? '' : T.localIso(T.ceilMs(ns));
  updateSelection();
}

/** The frame at a mark, small, beside its time: what the clip will start or end with. */
async function markStill(which) {
  const img = $(`${which}-still`);
  const ns = state.marks[which];
  if (ns === null) { img.removeAttribute('src'); return; }
  try {
    const f = await get('/api/frame', { t: T.unixText(ns) });
    img.src = f.image;
    img.title = `${which}: the frame at ${T.localClock(T.ceilMs(T.parseUnix(f.start)))} (click to go there)`;
  } catch (e) {
    img.removeAttribute('src');
    img.title = e.message;
  }
}

function markHere(which) {
  enqueue(async () => {
    const ns = state.frame ? state.frame.startNs : state.playhead;
    if (ns !== null) setMark(which, ns);
  });
}

async function typedMark(which) {
  const input = $(`${which}-time`);
  if (!input.value.trim()) { setMark(which, null); return; }
  try {
    const r = await get('/api/parse', { t: input.value, option: which === 'in' ? '--start' : '--end' });
    const ns = T.parseUnix(r.t);
    state.marks[which] = ns;
    input.value = ns % T.NS_PER_MS === 0n ? T.localIso(T.msOf(ns)) : r.iso;
    message('marks-msg', '');
    updateSelection();
    seek(ns);
  } catch (e) {
    message('marks-msg', e.message);
  }
}

let shownMarks = { in: null, out: null };

function updateSelection() {
  const { in: a, out: b } = state.marks;
  for (const which of ['in', 'out']) {
    if (state.marks[which] !== shownMarks[which]) {
      shownMarks = { ...shownMarks, [which]: state.marks[which] };
      markStill(which);
    }
  }
  timeline.setMarks(a === null ? null : T.msOf(a), b === null ? null : T.msOf(b));
  const info = $('sel-info');
  if (a === null || b === null) { info.textContent = 'mark in and out (I, O)'; $('cli').textContent = ''; return; }
  if (b < a) { info.textContent = 'the out mark is before the in mark'; return; }
  const frameNs = state.frame ? state.frame.endNs - state.frame.startNs : 40n * T.NS_PER_MS;
  const seconds = Number(b - a + frameNs) / 1e9;
  const frames = Number((b - a) / frameNs) + 1;
  info.textContent = `${T.duration(seconds)} · ${frames} frame(s), both marks included`;
  const c = state.cfg;
  $('cli').textContent = `timeshift clip --domain ${c.domain} --app ${c.app} --stream ${c.stream} ` +
    `--scheme ${c.scheme} --start ${T.unixText(a)} --end ${T.unixText(b + frameNs / 2n)} -o clip.mp4`;
}

async function exportClip() {
  message('marks-msg', '');
  try {
    await post('/api/exports', {
      start: $('in-time').value,
      end: $('out-time').value,
      allow_gaps: $('allow-gaps').checked,
      name: $('export-name').value || null,
    });
  } catch (e) {
    message('marks-msg', e.message);
  }
  await exportsList.refresh();
}

async function preview() {
  const ns = state.frame ? state.frame.startNs : state.playhead;
  if (ns === null) return;
  message('preview-msg', `cutting ${state.cfg.preview_seconds} s from ${T.localClock(T.msOf(ns))}…`, 'info');
  try {
    const r = await post('/api/preview', { t: T.unixText(ns) });
    const video = $('preview');
    video.src = r.url;
    message('preview-msg', `${T.duration(r.duration || 0)} from ${T.localClock(T.msOf(ns))}` +
      (r.gaps.length ? ' (gaps closed up)' : ''), 'info');
    await video.play().catch(() => {});
  } catch (e) {
    message('preview-msg', e.message);
  }
}

function showError(e) {
  message('marks-msg', e && e.message ? e.message : String(e));
}

// ---------------------------------------------------------------- controls

function wire() {
  for (const b of document.querySelectorAll('[data-step]')) {
    b.addEventListener('click', () => step(b.dataset.step));
  }
  for (const b of document.querySelectorAll('[data-zoom]')) {
    b.addEventListener('click', () => {
      const z = b.dataset.zoom;
      if (z === 'window') timeline.setView(state.win.start, state.win.end);
      else if (z === 'frames') timeline.zoom(400);
      else if (z === 'marks' && state.marks.in !== null && state.marks.out !== null) {
        const a = T.msOf(state.marks.in);
        const b2 = T.msOf(state.marks.out);
        const pad = Math.max((b2 - a) * 0.1, 200);
        timeline.setView(a - pad, b2 + pad);
      } else if (Number(z)) timeline.zoom(Number(z) * 1000);
    });
  }
  $('mark-in').addEventListener('click', () => markHere('in'));
  $('mark-out').addEventListener('click', () => markHere('out'));
  $('export').addEventListener('click', exportClip);
  $('preview-button').addEventListener('click', preview);
  $('refresh').addEventListener('click', () => refreshWindow().catch(showError));
  for (const which of ['in', 'out']) {
    $(`${which}-still`).addEventListener('click', () => {
      if (state.marks[which] !== null) seek(state.marks[which]);
    });
  }
  for (const which of ['in', 'out']) {
    $(`${which}-time`).addEventListener('change', () => typedMark(which));
  }
  $('playhead-time').addEventListener('change', async () => {
    try {
      const r = await get('/api/parse', { t: $('playhead-time').value, option: 'time' });
      const ns = T.parseUnix(r.t);
      seek(ns);
      timeline.zoom(timeline.span, T.msOf(ns));
    } catch (e) { message('still-msg', e.message); }
  });
  document.addEventListener('keydown', (e) => {
    if (e.target.matches('input, textarea, select') || e.ctrlKey || e.metaKey || e.altKey) return;
    const keys = {
      ArrowRight: () => step(e.shiftKey ? '+1s' : '+1f'),
      ArrowLeft: () => step(e.shiftKey ? '-1s' : '-1f'),
      i: () => markHere('in'), I: () => markHere('in'),
      o: () => markHere('out'), O: () => markHere('out'),
      ' ': preview,
      '+': () => timeline.zoomBy(0.5, T.msOf(state.playhead ?? 0n)),
      '=': () => timeline.zoomBy(0.5, T.msOf(state.playhead ?? 0n)),
      '-': () => timeline.zoomBy(2, T.msOf(state.playhead ?? 0n)),
    };
    const action = keys[e.key];
    if (action) { e.preventDefault(); action(); }
  });
}

async function start() {
  history.replaceState(null, '', '/'); // the token stays in the cookie, not in the address bar
  const cfg = await get('/api/config');
  state.cfg = cfg;
  state.win = { start: T.msOf(T.parseUnix(cfg.window.start)), end: T.msOf(T.parseUnix(cfg.window.end)) };
  $('source').textContent = `${cfg.app}/${cfg.stream} on ${cfg.scheme}://${cfg.domain}` +
    (cfg.signed ? ' (signed on the server)' : '');
  $('zone').textContent = `times in ${T.zoneLabel(state.win.end)} and UTC`;
  $('preview-button').textContent = `▶ Preview ${cfg.preview_seconds} s`;
  $('output-dir').textContent = cfg.output_dir;
  wire();
  timeline.setWindow(state.win.start, state.win.end);
  await loadTimeline(true);
  await exportsList.refresh();
  const first = (timeline.data.ranges || [])[0];
  seek(T.nsOf(first ? Math.max(first.start * 1000, state.win.start) : state.win.start));
  updateSelection();
  document.body.dataset.ready = 'true';
  if (cfg.follow) setInterval(() => refreshWindow().catch(() => {}), 30000);
}

start().catch(showError);
