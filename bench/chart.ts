import type { ScalePoint } from "./real-opencode.bench.js";

/**
 * The scale curve as a small standalone SVG: client CPU per turn of both designs against the number
 * of concurrent turns. Each label is the ratio of the two points drawn above it (median CPU over the
 * rounds of each design), so label and points agree; results.json's `ratio` is another statistic,
 * the median of each round's paired ratio, and can differ from it.
 */
export function scaleChart(points: readonly ScalePoint[]): string {
  const width = 560;
  const height = 320;
  const left = 64;
  const right = 150;
  const top = 24;
  const bottom = 48;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const perTurn = (ms: number, n: number) => ms / n;
  const ys = points.flatMap((p) => [perTurn(p.perTurnReadersMs, p.turns), perTurn(p.sharedHubMs, p.turns)]);
  const yMax = niceCeiling(Math.max(...ys, 1));
  const xMax = Math.max(...points.map((p) => p.turns));
  const x = (n: number) => left + (n / xMax) * plotW;
  const y = (v: number) => top + plotH - (v / yMax) * plotH;
  const line = (pick: (p: ScalePoint) => number, color: string) =>
    `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((p) => `${x(p.turns).toFixed(1)},${y(pick(p)).toFixed(1)}`).join(" ")}"/>` +
    points.map((p) => `<circle cx="${x(p.turns).toFixed(1)}" cy="${y(pick(p)).toFixed(1)}" r="3" fill="${color}"/>`).join("");
  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => f * yMax);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...yTicks.map(
      (v) =>
        `<line x1="${left}" x2="${left + plotW}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/><text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${round(v)}</text>`,
    ),
    ...points.map((p) => `<text x="${x(p.turns).toFixed(1)}" y="${top + plotH + 16}" text-anchor="middle">${p.turns}</text>`),
    `<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`,
    `<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`,
    `<text x="${left + plotW / 2}" y="${height - 10}" text-anchor="middle">concurrent turns on one opencode</text>`,
    `<text x="16" y="${top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${top + plotH / 2})">client CPU per turn (ms)</text>`,
    line((p) => perTurn(p.perTurnReadersMs, p.turns), "#c0392b"),
    line((p) => perTurn(p.sharedHubMs, p.turns), "#2471a3"),
    `<rect x="${left + plotW + 12}" y="${top + 4}" width="12" height="3" fill="#c0392b"/><text x="${left + plotW + 30}" y="${top + 9}">a reader per turn</text>`,
    `<rect x="${left + plotW + 12}" y="${top + 24}" width="12" height="3" fill="#2471a3"/><text x="${left + plotW + 30}" y="${top + 29}">shared hub</text>`,
    `<text x="${left + plotW + 12}" y="${top + 56}">per turn ÷ shared,</text>`,
    `<text x="${left + plotW + 12}" y="${top + 72}">of the medians drawn:</text>`,
    ...points.map((p, i) => `<text x="${left + plotW + 12}" y="${top + 92 + i * 18}">n=${p.turns}: ${round(p.perTurnReadersMs / p.sharedHubMs)}×</text>`),
    "</svg>",
  ];
  return `${parts.join("\n")}\n`;
}

function niceCeiling(v: number): number {
  const step = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * step >= v) return m * step;
  return 10 * step;
}

const round = (v: number) => Number(v.toPrecision(3));
