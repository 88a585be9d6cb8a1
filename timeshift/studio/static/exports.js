// The export list: queued and running exports with their progress, finished files with
// their duration and a download link, failures as the CLI would report them.

import { get } from './api.js';
import { duration, localClock } from './timefmt.js';

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function item(job) {
  const li = el('li', `export export-${job.status}`);
  const head = el('div', 'export-head');
  const when = `${localClock(Number(job.start) * 1000)} → ${localClock(Number(job.last_frame_end) * 1000)}`;
  if (job.status === 'done') {
    li.dataset.testid = 'export-item';
    const link = el('a', 'export-link', job.name);
    link.href = job.url;
    link.download = job.name;
    head.append(link, el('span', 'export-meta',
      `${duration(job.duration || 0)} · ${(job.size / 1e6).toFixed(1)} MB · ${when}`));
  } else if (job.status === 'failed') {
    li.dataset.testid = 'export-error';
    head.append(el('span', 'export-name', job.name), el('span', 'export-meta', when));
    li.append(head, el('pre', 'export-error', job.error.message));
    return li;
  } else {
    li.dataset.testid = 'export-pending';
    const bar = el('progress');
    bar.max = 1;
    bar.value = job.progress;
    head.append(el('span', 'export-name', job.name), bar,
      el('span', 'export-meta', job.status === 'queued' ? 'queued' : `${job.phase || 'starting'} · ${when}`));
  }
  li.append(head);
  if (job.gaps && job.gaps.length) {
    li.append(el('div', 'export-gaps', `${job.gaps.length} gap(s) closed up in this file`));
  }
  li.append(el('code', 'export-cmd', job.command));
  return li;
}

export class Exports {
  constructor(listEl) {
    this.listEl = listEl;
    this.timer = null;
  }

  async refresh() {
    const { exports } = await get('/api/exports');
    this.listEl.replaceChildren(...exports.slice().reverse().map(item));
    const busy = exports.some((j) => j.status === 'queued' || j.status === 'running');
    clearTimeout(this.timer);
    if (busy) this.timer = setTimeout(() => this.refresh().catch(() => {}), 400);
  }
}
