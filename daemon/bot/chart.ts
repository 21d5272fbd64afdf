/**
 * The 📊 chart: revenue and profit per day as a PNG (pngjs), drawn with plain rectangles and a 5×7 pixel
 * font for the few labels it needs (amounts and dates), so it has no font or canvas dependency.
 * Revenue is a blue bar per day; profit a green bar beside it (red below the zero line when negative).
 */
import { PNG } from 'pngjs';

export interface ChartDay {
  /** UTC YYYY-MM-DD */
  day: string;
  revenueMicros: number;
  profitMicros: number;
}

type Rgb = readonly [number, number, number];

export const CHART_COLORS = {
  background: [255, 255, 255] as Rgb,
  axis: [90, 90, 90] as Rgb,
  grid: [225, 225, 225] as Rgb,
  revenue: [52, 120, 246] as Rgb,
  profit: [46, 160, 67] as Rgb,
  loss: [215, 58, 73] as Rgb,
  text: [40, 40, 40] as Rgb,
};

// 5×7 glyphs, one string of 7 rows of 5 bits per character
const GLYPHS: Record<string, string> = {
  '0': '01110100011001110101110011000101110',
  '1': '00100011000010000100001000010001110',
  '2': '01110100010000100010001000100011111',
  '3': '11111000100010000010000011000101110',
  '4': '00010001100101010010111110001000010',
  '5': '11111100001111000001000011000101110',
  '6': '00110010001000011110100011000101110',
  '7': '11111000010001000100010000100001000',
  '8': '01110100011000101110100011000101110',
  '9': '01110100011000101111000010001001100',
  $: '00100011111010001110001011111000100',
  '.': '00000000000000000000000000110001100',
  '-': '00000000000000011111000000000000000',
  ',': '00000000000000000000001100010001000',
  k: '10000100001001010100110001010010010',
  M: '10001110111010110101100011000110001',
  ' ': '00000000000000000000000000000000000',
};

/** Days from `from` to `to` (UTC YYYY-MM-DD), each present once; missing days are zero. */
export function fillDays(days: readonly ChartDay[], from: string, to: string): ChartDay[] {
  const byDay = new Map(days.map((d) => [d.day, d]));
  const out: ChartDay[] = [];
  for (let t = Date.parse(`${from}T00:00:00Z`); t <= Date.parse(`${to}T00:00:00Z`); t += 86_400_000) {
    const day = new Date(t).toISOString().slice(0, 10);
    out.push(byDay.get(day) ?? { day, revenueMicros: 0, profitMicros: 0 });
  }
  return out;
}

/** $12.34, $1.2k, $3.4M: short enough for the axis. */
export function shortUsd(micros: number): string {
  const usd = micros / 1e6;
  const sign = usd < 0 ? '-' : '';
  const a = Math.abs(usd);
  if (a >= 1e6) return `${sign}$${(a / 1e6).toFixed(1)}M`;
  if (a >= 1e4) return `${sign}$${(a / 1e3).toFixed(1)}k`;
  return `${sign}$${a.toFixed(2)}`;
}

/** Renders the chart; `days` in order, oldest first. */
export function renderRevenueChart(days: readonly ChartDay[], size: { width: number; height: number } = { width: 800, height: 400 }): Buffer {
  const { width, height } = size;
  const png = new PNG({ width, height });
  const set = (x: number, y: number, c: Rgb) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const i = (y * width + x) * 4;
    png.data[i] = c[0];
    png.data[i + 1] = c[1];
    png.data[i + 2] = c[2];
    png.data[i + 3] = 255;
  };
  const rect = (x0: number, y0: number, x1: number, y1: number, c: Rgb) => {
    for (let y = Math.min(y0, y1); y <= Math.max(y0, y1); y++) for (let x = Math.min(x0, x1); x <= Math.max(x0, x1); x++) set(x, y, c);
  };
  const text = (s: string, x: number, y: number, c: Rgb, scale = 2) => {
    let cx = x;
    for (const ch of s) {
      const g = GLYPHS[ch] ?? GLYPHS[' '];
      for (let r = 0; r < 7; r++) for (let col = 0; col < 5; col++) if (g[r * 5 + col] === '1') rect(cx + col * scale, y + r * scale, cx + col * scale + scale - 1, y + r * scale + scale - 1, c);
      cx += 6 * scale;
    }
  };
  const textWidth = (s: string, scale = 2) => s.length * 6 * scale;

  rect(0, 0, width - 1, height - 1, CHART_COLORS.background);
  const left = 110;
  const right = width - 20;
  const top = 20;
  const bottom = height - 40;
  const max = Math.max(1, ...days.map((d) => Math.max(d.revenueMicros, d.profitMicros)));
  const min = Math.min(0, ...days.map((d) => d.profitMicros));
  const span = max - min;
  const yOf = (micros: number) => Math.round(bottom - ((micros - min) / span) * (bottom - top));
  const zero = yOf(0);

  // grid and amounts: top, zero, bottom (when negative)
  for (const v of [max, max / 2, 0, ...(min < 0 ? [min] : [])]) {
    const y = yOf(v);
    rect(left, y, right, y, CHART_COLORS.grid);
    const label = shortUsd(Math.round(v));
    text(label, left - 8 - textWidth(label), y - 7, CHART_COLORS.text);
  }
  rect(left, top, left, bottom, CHART_COLORS.axis);
  rect(left, zero, right, zero, CHART_COLORS.axis);

  const n = Math.max(1, days.length);
  const slot = (right - left - 4) / n;
  const bar = Math.max(1, Math.floor(slot * 0.38));
  days.forEach((d, i) => {
    const x = Math.round(left + 4 + i * slot);
    if (d.revenueMicros > 0) rect(x, yOf(d.revenueMicros), x + bar - 1, zero - 1, CHART_COLORS.revenue);
    if (d.profitMicros > 0) rect(x + bar, yOf(d.profitMicros), x + 2 * bar - 1, zero - 1, CHART_COLORS.profit);
    if (d.profitMicros < 0) rect(x + bar, zero + 1, x + 2 * bar - 1, yOf(d.profitMicros), CHART_COLORS.loss);
  });
  // first and last day under the axis (MM-DD)
  if (days.length > 0) {
    const first = days[0].day.slice(5);
    const last = days[days.length - 1].day.slice(5);
    text(first, left, height - 28, CHART_COLORS.text);
    if (days.length > 1) text(last, right - textWidth(last), height - 28, CHART_COLORS.text);
  }
  return PNG.sync.write(png);
}
