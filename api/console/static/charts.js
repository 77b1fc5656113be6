// uPlot line charts (vendored, global `uPlot`): time on x in the store's time zone, drag to zoom.
import { tz } from "./console.js";

const COLOURS = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#57606a"];

/**
 * Draw a chart into `el`: `x` are epoch seconds, `series` [{label, values, colour?, dash?, width?}].
 * `onZoom(fromSeconds, toSeconds)` is called after the user drags a range. Returns the uPlot instance.
 */
export function lineChart(el, { x, series, height = 260, onZoom, yLabel }) {
  el.replaceChildren();
  const width = Math.max(320, el.clientWidth || el.parentElement.clientWidth || 600);
  const options = {
    width,
    height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), tz()),
    cursor: { drag: { x: true, y: false } },
    scales: { x: { time: true } },
    axes: [{}, { label: yLabel, size: 60 }],
    series: [{}, ...series.map((s, i) => ({
      label: s.label,
      stroke: s.colour || COLOURS[i % COLOURS.length],
      width: s.width ?? 1.5,
      dash: s.dash,
      points: { show: s.points ?? false, size: 4 },
      spanGaps: s.spanGaps ?? false,
    }))],
    hooks: onZoom ? { setSelect: [(u) => {
      if (u.select.width < 5) return;
      const from = u.posToVal(u.select.left, "x");
      const to = u.posToVal(u.select.left + u.select.width, "x");
      u.setSelect({ left: 0, width: 0 }, false);
      onZoom(from, to);
    }] } : {},
  };
  if (onZoom) options.cursor.drag.setScale = false;
  const chart = new uPlot(options, [x, ...series.map((s) => s.values)], el);
  new ResizeObserver(() => {
    const w = el.clientWidth;
    if (w && Math.abs(w - chart.width) > 4) chart.setSize({ width: w, height });
  }).observe(el);
  return chart;
}

/** A constant line across `x` (baseline, threshold). */
export const flat = (x, value) => x.map(() => value);
