// Charts of the last hour of a guest's figures (GET /v1/guests/NAME/history, sampled by the
// daemon), drawn with uPlot.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { get, type Json } from './api.js';
import { h } from './dom.js';

interface Chart {
  title: string;
  series: { key: string; label: string; scale?: number }[];
  unit: string;
}

const CHARTS: Chart[] = [
  { title: 'CPU', unit: '%', series: [{ key: 'cpuPercent', label: 'CPU %' }] },
  {
    title: 'Resident memory',
    unit: 'MiB',
    series: [{ key: 'rssBytes', label: 'MiB', scale: 1 / 1048576 }],
  },
  { title: 'Guest MIPS', unit: 'MIPS', series: [{ key: 'mips', label: 'MIPS' }] },
  {
    title: 'Disk',
    unit: 'KiB/s',
    series: [
      { key: 'diskReadBps', label: 'read KiB/s', scale: 1 / 1024 },
      { key: 'diskWriteBps', label: 'write KiB/s', scale: 1 / 1024 },
    ],
  },
  {
    title: 'Network',
    unit: 'KiB/s',
    series: [
      { key: 'netRxBps', label: 'rx KiB/s', scale: 1 / 1024 },
      { key: 'netTxBps', label: 'tx KiB/s', scale: 1 / 1024 },
    ],
  },
];
const COLOURS = ['#2a7ab8', '#d9822b'];

function data(samples: Json[], c: Chart): uPlot.AlignedData {
  const xs = samples.map((s) => s.t / 1000);
  const ys = c.series.map((s) =>
    samples.map((x) => (x[s.key] === null ? null : x[s.key] * (s.scale ?? 1))),
  );
  return [xs, ...ys];
}

/** The charts, refreshed every `everyMs`; stop() ends the refreshing. */
export function chartsPanel(name: string, everyMs = 5000): { el: HTMLElement; stop: () => void } {
  const el = h('div', { class: 'charts', 'data-testid': 'charts' });
  const plots: uPlot[] = [];
  const note = h('p', { class: 'note' });
  el.append(note);
  for (const c of CHARTS) {
    const box = h('div', { class: 'chart' });
    el.append(box);
    plots.push(
      new uPlot(
        {
          title: c.title,
          width: 360,
          height: 160,
          scales: { x: { time: true } },
          axes: [{}, { label: c.unit, size: 50 }],
          series: [
            {},
            ...c.series.map((s, i) => ({ label: s.label, stroke: COLOURS[i], width: 1.5 })),
          ],
        },
        data([], c),
        box,
      ),
    );
  }
  const refresh = async (): Promise<void> => {
    const h1 = await get(`/v1/guests/${name}/history`).catch(() => null);
    if (!h1) return;
    note.textContent = `last hour, a sample every ${h1.intervalMs / 1000} s (${h1.samples.length} samples)`;
    CHARTS.forEach((c, i) => plots[i].setData(data(h1.samples, c)));
  };
  void refresh();
  const timer = window.setInterval(() => void refresh(), everyMs);
  return { el, stop: () => (clearInterval(timer), plots.forEach((p) => p.destroy())) };
}
