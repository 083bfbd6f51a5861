// uPlot (pinned by web/package-lock.json, served from /static/vendor) with the few things the
// dashboards need: a shaded target band, histograms, and charts that follow their box's width.
/* global uPlot */

const BAND_FILL = "rgba(27,138,58,0.13)";
const BAND_LINE = "rgba(27,138,58,0.55)";

// Shade lo..hi on the y scale (a target band) behind the series.
export function bandPlugin(getBand, scale = "y") {
  return {
    hooks: {
      drawClear: (u) => {
        const b = getBand();
        if (!b) return;
        const top = u.valToPos(b[1], scale, true);
        const bottom = u.valToPos(b[0], scale, true);
        const { left, width } = u.bbox;
        const ctx = u.ctx;
        ctx.save();
        ctx.fillStyle = BAND_FILL;
        ctx.fillRect(left, top, width, bottom - top);
        ctx.strokeStyle = BAND_LINE;
        ctx.setLineDash([6, 4]);
        ctx.beginPath();
        ctx.moveTo(left, top);
        ctx.lineTo(left + width, top);
        ctx.moveTo(left, bottom);
        ctx.lineTo(left + width, bottom);
        ctx.stroke();
        ctx.restore();
      },
    },
  };
}

// Shade lo..hi on the x axis (a target band on a histogram).
export function xBandPlugin(getBand) {
  return {
    hooks: {
      drawClear: (u) => {
        const b = getBand();
        if (!b) return;
        const a = u.valToPos(b[0], "x", true);
        const z = u.valToPos(b[1], "x", true);
        const { top, height } = u.bbox;
        u.ctx.save();
        u.ctx.fillStyle = BAND_FILL;
        u.ctx.fillRect(a, top, z - a, height);
        u.ctx.restore();
      },
    },
  };
}

function widthOf(box) {
  return Math.max(280, box.clientWidth || box.parentElement.clientWidth || 600);
}

export function follow(u, box) {
  const ro = new ResizeObserver(() => u.setSize({ width: widthOf(box), height: u.height }));
  ro.observe(box);
  return u;
}

export function lineChart(box, { title, x, series, data, height = 240, plugins = [], scales, axes, time = false, ...rest }) {
  const opts = {
    title,
    width: widthOf(box),
    height,
    scales: scales || { x: { time } },
    series: [{ label: x }, ...series],
    axes: axes || [{}, { label: series[0].axis || "" }],
    plugins,
    ...rest,
  };
  return follow(new uPlot(opts, data, box), box);
}

export function histogram(box, { title, edges, counts, xLabel, band, color = "#1f5fbf", height = 200 }) {
  const centers = edges.slice(0, -1).map((e, i) => (e + edges[i + 1]) / 2);
  const opts = {
    title,
    width: widthOf(box),
    height,
    legend: { show: false },
    scales: { x: { time: false, range: [edges[0], edges[edges.length - 1]] }, y: { range: (u, lo, hi) => [0, Math.max(1, hi * 1.1)] } },
    series: [
      { label: xLabel },
      { label: "strokes", fill: color + "99", stroke: color, paths: uPlot.paths.bars({ size: [1, Infinity], gap: 1 }), points: { show: false } },
    ],
    axes: [{ label: xLabel }, { label: "strokes" }],
    plugins: [xBandPlugin(() => band)],
  };
  return follow(new uPlot(opts, [centers, counts], box), box);
}

// Counts of values in bins of `step` from `lo` to `hi` (values above go in the last bin).
export function bin(values, lo, hi, step) {
  const edges = [];
  for (let e = lo; e <= hi + 1e-9; e += step) edges.push(Number(e.toFixed(6)));
  const counts = new Array(edges.length - 1).fill(0);
  for (const v of values) {
    if (v === null || v === undefined || Number.isNaN(v)) continue;
    const i = Math.min(counts.length - 1, Math.max(0, Math.floor((v - lo) / step)));
    counts[i] += 1;
  }
  return { edges, counts };
}

export const PALETTE = ["#1f5fbf", "#c62828", "#1b8a3a", "#8e44ad", "#c77c00", "#00838f", "#5d4037"];
