// Charts, drawn by uPlot (canvas; a table next to each chart carries the same data for keyboards and screen
// readers).

import { h } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import htm from 'htm';
import uPlot from 'uplot';

const html = htm.bind(h);

const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#ca8a04', '#db2777'];

function useChart(make, deps) {
  const box = useRef();
  useEffect(() => {
    const el = box.current;
    if (!el) return undefined;
    const width = () => Math.max(240, Math.min(el.clientWidth || 600, 900));
    const plot = make(width());
    el.replaceChildren(plot.root);
    const resize = () => plot.setSize({ width: width(), height: plot.height });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      plot.destroy();
    };
  }, deps);
  return box;
}

/**
 * A market's quotes in the price × time plane the engine matches on: one point per quote at (committed proving
 * time, price), larger the more compute the generator has free; one legend entry per generator.
 * `points`: [{ label, time, price, free }].
 */
export function QuoteChart({ points, priceLabel }) {
  const xs = [...new Set(points.map((p) => p.time))].sort((a, b) => a - b);
  const box = useChart(
    (width) =>
      new uPlot(
        {
          width,
          height: 300,
          scales: { x: { time: false, range: (u, min, max) => [0, Math.max(max * 1.15, 1)] }, y: { range: (u, min, max) => [0, Math.max(max * 1.2, 1e-9)] } },
          axes: [{ label: 'committed proving time (s)' }, { label: priceLabel, size: 70 }],
          legend: { live: false },
          cursor: { drag: { x: false, y: false } },
          series: [
            { label: 'proving time (s)' },
            ...points.map((p, i) => ({
              label: p.label,
              stroke: COLORS[i % COLORS.length],
              fill: COLORS[i % COLORS.length],
              paths: () => null,
              points: { show: true, size: 8 + Math.min(p.free, 8) * 3, fill: COLORS[i % COLORS.length] },
            })),
          ],
        },
        [xs, ...points.map((p) => xs.map((x) => (x === p.time ? p.price : null)))],
      ),
    [JSON.stringify(points), priceLabel],
  );
  return html`<div class="chart" ref=${box} role="img" aria-label="quotes: price against committed proving time"></div>`;
}

/**
 * Values over time: `series` [{ label, points: [[unixTime, value]] }] on one time axis (steps for cumulative sums).
 */
export function TimeChart({ series, yLabel }) {
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
  const box = useChart(
    (width) =>
      new uPlot(
        {
          width,
          height: 220,
          axes: [{}, { label: yLabel, size: 70 }],
          legend: { live: false },
          series: [
            {},
            ...series.map((s, i) => ({
              label: s.label,
              stroke: COLORS[i % COLORS.length],
              width: 2,
              spanGaps: true,
              paths: uPlot.paths.stepped({ align: 1 }),
              points: { show: true, size: 6 },
            })),
          ],
        },
        [xs, ...series.map((s) => xs.map((x) => s.points.find((p) => p[0] === x)?.[1] ?? null))],
      ),
    [JSON.stringify(series), yLabel],
  );
  return html`<div class="chart" ref=${box} role="img" aria-label=${yLabel}></div>`;
}
