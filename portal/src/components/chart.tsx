import type { RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { SeriesPoint } from '../types';

/**
 * A time series as plain SVG: the average (or raw value) as a line, min–max per bucket as a band.
 * No chart library: a few hundred points per series is all the monitoring API returns.
 */

const H = 130;
const PAD = { left: 44, right: 8, top: 8, bottom: 20 };

function ticks(min: number, max: number): number[] {
  if (min === max) return [min];
  return [min, (min + max) / 2, max];
}

function label(v: number): string {
  const a = Math.abs(v);
  if (a >= 10_000) return `${Math.round(v / 1000)}k`;
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
  return v.toFixed(1);
}

function clock(t: number): string {
  return new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });
}

/** The element's width in CSS pixels, kept current: the chart is drawn at its real size, so its text stays legible. */
function useWidth<T extends Element>(initial: number): [RefObject<T | null>, number] {
  const ref = useRef<T>(null);
  const [width, setWidth] = useState(initial);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const observer = new ResizeObserver(([entry]) => {
      const w = Math.round(entry!.contentRect.width);
      if (w > 0) setWidth(w);
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

export function LineChart(props: { points: SeriesPoint[]; from: number; to: number; unit?: string; title: string }) {
  const [ref, width] = useWidth<HTMLDivElement>(300);
  return (
    <div ref={ref} class="chart-wrap">
      <Plot {...props} width={width} />
    </div>
  );
}

function Plot({ points, from: windowFrom, to, unit, title, width: W }: { points: SeriesPoint[]; from: number; to: number; unit?: string; title: string; width: number }) {
  const data = points
    .map((p) => ({ t: Date.parse(p.at), v: p.avg ?? p.value, lo: p.min ?? p.value, hi: p.max ?? p.value }))
    .filter((p): p is { t: number; v: number; lo: number; hi: number } => p.v !== undefined && p.lo !== undefined && p.hi !== undefined && !Number.isNaN(p.t));
  if (data.length === 0) {
    return (
      <div class="chart chart-empty" role="img" aria-label={`${title}: no samples`}>
        no samples in this period
      </div>
    );
  }
  // The axis starts at the first sample when the device has been watched for less than the period.
  const from = Math.max(windowFrom, Math.min(data[0]!.t, to - 60_000));
  let lo = Math.min(...data.map((d) => d.lo));
  let hi = Math.max(...data.map((d) => d.hi));
  if (lo === hi) {
    lo -= 1;
    hi += 1;
  }
  const span = Math.max(to - from, 1);
  const x = (t: number) => PAD.left + ((t - from) / span) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - (v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const line = data.map((d, i) => `${i ? 'L' : 'M'}${x(d.t).toFixed(1)},${y(d.v).toFixed(1)}`).join('');
  const band =
    data.map((d, i) => `${i ? 'L' : 'M'}${x(d.t).toFixed(1)},${y(d.hi).toFixed(1)}`).join('') +
    [...data]
      .reverse()
      .map((d) => `L${x(d.t).toFixed(1)},${y(d.lo).toFixed(1)}`)
      .join('') +
    'Z';
  const last = data[data.length - 1]!;
  return (
    <svg class="chart" width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}: latest ${label(last.v)}${unit ? ` ${unit}` : ''}`}>
      {ticks(lo, hi).map((v) => (
        <g>
          <line x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} class="grid" />
          <text x={PAD.left - 4} y={y(v) + 4} text-anchor="end" class="axis">
            {label(v)}
          </text>
        </g>
      ))}
      <text x={PAD.left} y={H - 4} class="axis">
        {clock(from)}
      </text>
      <text x={W - PAD.right} y={H - 4} text-anchor="end" class="axis">
        {clock(to)}
      </text>
      <path d={band} class="band" />
      <path d={line} class="line" />
      {data.length === 1 && <circle cx={x(last.t)} cy={y(last.v)} r="3" class="dot" />}
    </svg>
  );
}
