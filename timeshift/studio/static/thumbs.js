// Keyframe thumbnails along the timeline, for the part in view only: the server decodes
// keyframes alone, and the images are asked for at times on a grid, so panning and
// zooming back reuse what the browser already has.

import { localClock } from './timefmt.js';

const SLOT_PX = 112;
const STEPS_S = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200];

export class Thumbs {
  constructor(el, timeline, onPick) {
    this.el = el;
    this.timeline = timeline;
    this.onPick = onPick;
    this.timer = null;
  }

  inGap(ms) {
    return (this.timeline.data.gaps || []).some((g) => g.start * 1000 <= ms && ms < g.end * 1000);
  }

  /** Redraw after the view settles (zooming fires many views in a row). */
  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.render(), 150);
  }

  render() {
    const tl = this.timeline;
    const slots = Math.max(1, Math.floor(tl.width / SLOT_PX));
    const stepS = STEPS_S.find((s) => s * 1000 >= tl.span / slots) || STEPS_S[STEPS_S.length - 1];
    const step = stepS * 1000;
    const items = [];
    for (let t = Math.floor(tl.view.start / step) * step; t < tl.view.end; t += step) {
      const left = tl.x(t);
      const right = tl.x(t + step);
      if (right < 0) continue;
      const cell = document.createElement('div');
      cell.className = 'thumb';
      cell.style.left = `${left}px`;
      cell.style.width = `${Math.max(right - left - 2, 8)}px`;
      // The slot's middle, kept inside the window (a slot may straddle its edge).
      const lo = Math.max(t, tl.window.start);
      const hi = Math.min(t + step, tl.window.end);
      const at = hi <= lo ? null : Math.min(Math.max(t + step / 2, lo), hi - 1);
      if (at === null || this.inGap(at)) {
        cell.classList.add('thumb-empty');
      } else {
        const img = document.createElement('img');
        img.loading = 'lazy';
        img.decoding = 'async';
        img.dataset.testid = 'thumbnail';
        img.alt = `keyframe near ${localClock(at, false)}`;
        img.src = `/api/thumb.jpg?t=${(at / 1000).toFixed(3)}`;
        img.addEventListener('error', () => cell.classList.add('thumb-empty'));
        cell.appendChild(img);
        cell.title = `keyframe at or before ${localClock(at, false)} (click to go there)`;
        cell.addEventListener('click', () => this.onPick(at));
      }
      items.push(cell);
    }
    this.el.replaceChildren(...items);
  }
}
