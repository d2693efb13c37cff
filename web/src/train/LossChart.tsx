/** Live training curves on uPlot (canvas, fast enough to redraw every step); the data comes from chart-data.ts. */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { Aligned } from './chart-data';

export interface ChartSeries {
  readonly label: string;
  readonly stroke: string;
}

export function LineChart({
  data,
  series,
  title,
  testId,
}: {
  data: Aligned;
  series: readonly ChartSeries[];
  title: string;
  testId: string;
}) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    if (!host.current) return;
    const p = new uPlot(
      {
        title,
        width: 420,
        height: 200,
        scales: { x: { time: false } },
        axes: [{ label: 'step' }, {}],
        series: [
          { label: 'step' },
          ...series.map((s) => ({ label: s.label, stroke: s.stroke, spanGaps: true, width: 1.5 })),
        ],
      },
      data as uPlot.AlignedData,
      host.current,
    );
    plot.current = p;
    return () => {
      p.destroy();
      plot.current = null;
    };
    // The chart is made once per series set; data changes go through setData below.
  }, [title, series]);

  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData);
  }, [data]);

  const points = series.map((_, k) => (data[k + 1] ?? []).filter((v) => v !== null).length);
  return <div ref={host} className="chart" data-testid={testId} data-points={points.join(',')} />;
}
