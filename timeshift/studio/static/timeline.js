// The timeline: covered ranges and gaps of the stream, ticks in the user's zone and UTC,
// the in/out selection, the playhead and (zoomed in) the frame grid. Wheel or the zoom
// buttons zoom around a point, dragging pans, a click seeks.

import { localClock, localDate, tickStep, utcClock } from './timefmt.js';

const MIN_SPAN_MS = 400; // ten frames at 25 fps: single frames are a finger wide
const DAY_MS = 86400000;

function div(cls, parent, testid) {
  const el = document.createElement('div');
  el.className = cls;
  if (testid) el.dataset.testid = testid;
  parent.appendChild(el);
  return el;
}

export class Timeline {
  constructor(el, { onSeek, onView }) {
    this.el = el;
    this.onSeek = onSeek;
    this.onView = onView;
    this.track = div('tl-track', el);
    this.ticks = div('tl-ticks', el);
    this.playheadEl = div('tl-playhead', el);
    this.hover = div('tl-hover', el);
    this.data = { ranges: [], gaps: [] };
    this.window = { start: 0, end: 1 };
    this.bounds = { start: 0, end: 1 };
    this.view = { start: 0, end: 1 };
    this.playhead = null;
    this.marks = { in: null, out: null };
    this.grid = null;
    this.listen();
  }

  setWindow(startMs, endMs, keepView = false) {
    this.window = { start: startMs, end: endMs };
    // Zooming out goes to a day at least, or the whole window when it is longer.
    // (Never past now: the future is not a gap, it has not happened yet.)
    const span = Math.max(endMs - startMs, DAY_MS);
    const end = Math.max(endMs, Math.min((startMs + endMs) / 2 + span / 2, Date.now()));
    this.bounds = { start: Math.min(startMs, end - span), end };
    if (keepView) this.setView(this.view.start, this.view.end);
    else this.setView(startMs, endMs);
  }

  setData(tl) {
    this.data = tl;
    this.render();
  }

  get span() { return this.view.end - this.view.start; }
  get width() { return this.el.clientWidth || 1; }
  x(ms) { return ((ms - this.view.start) / this.span) * this.width; }
  timeAt(px) { return this.view.start + (px / this.width) * this.span; }

  setView(start, end, notify = true) {
    const maxSpan = this.bounds.end - this.bounds.start;
    let span = Math.min(Math.max(end - start, MIN_SPAN_MS), maxSpan);
    let s = (start + end) / 2 - span / 2;
    s = Math.max(this.bounds.start, Math.min(s, this.bounds.end - span));
    this.view = { start: s, end: s + span };
    this.render();
    if (notify && this.onView) this.onView(this.view);
  }

  zoom(spanMs, centerMs = null) {
    const c = centerMs ?? this.playhead ?? (this.view.start + this.view.end) / 2;
    this.setView(c - spanMs / 2, c + spanMs / 2);
  }

  zoomBy(factor, atMs) {
    const span = this.span * factor;
    const frac = (atMs - this.view.start) / this.span;
    const start = atMs - frac * span;
    this.setView(start, start + span);
  }

  setPlayhead(ms) { this.playhead = ms; this.renderPlayhead(); }
  setMarks(inMs, outMs) { this.marks = { in: inMs, out: outMs }; this.render(); }
  setFrameGrid(originMs, durMs) { this.grid = { origin: originMs, dur: durMs }; this.render(); }

  listen() {
    let down = null;
    this.el.addEventListener('pointerdown', (e) => {
      down = { x: e.clientX, view: { ...this.view }, moved: false };
      this.el.setPointerCapture(e.pointerId);
    });
    this.el.addEventListener('pointermove', (e) => {
      const rect = this.el.getBoundingClientRect();
      const t = this.timeAt(e.clientX - rect.left);
      this.hover.textContent = `${localClock(t)}  ·  ${utcClock(t)}`;
      this.hover.style.left = `${Math.min(e.clientX - rect.left, this.width - 180)}px`;
      if (!down) return;
      const dx = e.clientX - down.x;
      if (Math.abs(dx) > 3) down.moved = true;
      if (down.moved) {
        const shift = (dx / this.width) * (down.view.end - down.view.start);
        this.setView(down.view.start - shift, down.view.end - shift);
      }
    });
    this.el.addEventListener('pointerup', (e) => {
      const rect = this.el.getBoundingClientRect();
      if (down && !down.moved) this.onSeek(this.timeAt(e.clientX - rect.left));
      down = null;
    });
    this.el.addEventListener('pointerleave', () => { this.hover.textContent = ''; });
    this.el.addEventListener('wheel', (e) => {
      e.preventDefault();
      const rect = this.el.getBoundingClientRect();
      this.zoomBy(Math.exp(e.deltaY * 0.0015), this.timeAt(e.clientX - rect.left));
    }, { passive: false });
    new ResizeObserver(() => this.render()).observe(this.el);
  }

  span_(cls, startMs, endMs, testid, title) {
    const a = Math.max(this.x(startMs), -2);
    const b = Math.min(this.x(endMs), this.width + 2);
    if (b <= a && !testid) return null;
    const el = div(cls, this.track, testid);
    el.style.left = `${a}px`;
    el.style.width = `${Math.max(b - a, 2)}px`;
    if (title) el.title = title;
    return el;
  }

  render() {
    this.track.replaceChildren();
    const { start, end } = this.view;
    if (this.window.start > start) this.span_('tl-outside', start, this.window.start);
    if (this.window.end < end) this.span_('tl-outside', this.window.end, end);
    for (const r of this.data.ranges || []) {
      if (r.end * 1000 > start && r.start * 1000 < end) this.span_('tl-range', r.start * 1000, r.end * 1000);
    }
    for (const g of this.data.gaps || []) {
      if (g.end * 1000 <= start || g.start * 1000 >= end) continue;
      const secs = g.end - g.start;
      this.span_('tl-gap', g.start * 1000, g.end * 1000, 'gap',
        `no data ${localClock(g.start * 1000, false)} → ${localClock(g.end * 1000, false)} (${secs} s)`);
    }
    const { in: a, out: b } = this.marks;
    if (a !== null && b !== null && b >= a) this.span_('tl-sel', a, b + (this.grid ? this.grid.dur : 0));
    if (a !== null && this.x(a) >= 0 && this.x(a) <= this.width) this.mark('tl-in', a, 'in');
    if (b !== null && this.x(b) >= 0 && this.x(b) <= this.width) this.mark('tl-out', b, 'out');
    this.renderGrid();
    this.renderTicks();
    this.renderPlayhead();
  }

  mark(cls, ms, title) {
    const el = div(`tl-mark ${cls}`, this.track);
    el.style.left = `${this.x(ms)}px`;
    el.title = title;
  }

  renderGrid() {
    if (!this.grid) return;
    const { origin, dur } = this.grid;
    if ((dur / this.span) * this.width < 6) return;
    const first = Math.ceil((this.view.start - origin) / dur);
    const last = Math.floor((this.view.end - origin) / dur);
    for (let k = first; k <= last; k++) {
      div('tl-frame', this.track).style.left = `${this.x(origin + k * dur)}px`;
    }
  }

  renderTicks() {
    this.ticks.replaceChildren();
    const step = tickStep(this.span, this.width, 120);
    const withMs = step < 1000;
    for (let t = Math.ceil(this.view.start / step) * step; t <= this.view.end; t += step) {
      const tick = div('tl-tick', this.ticks);
      tick.style.left = `${this.x(t)}px`;
      const midnight = localClock(t, false) === '00:00:00';
      const local = div('tl-local', tick);
      local.textContent = (step >= 21600000 || midnight ? localDate(t).slice(5) + ' ' : '') + localClock(t, withMs);
      div('tl-utc', tick).textContent = utcClock(t, withMs);
    }
  }

  renderPlayhead() {
    if (this.playhead === null) { this.playheadEl.hidden = true; return; }
    const px = this.x(this.playhead);
    this.playheadEl.hidden = px < 0 || px > this.width;
    this.playheadEl.style.left = `${px}px`;
  }
}
