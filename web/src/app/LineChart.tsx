/** Line charts on uPlot (canvas, fast enough to redraw every step): training curves, a job's progress. Labelled axes. */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
/** uPlot's aligned columns: x values, then one column per series (null where a series has no point). */
type Aligned = readonly (readonly (number | null)[])[];

export interface ChartSeries {
  readonly label: string;
  readonly stroke: string;
}

export function LineChart({
  data,
  series,
  title,
  testId,
  xLabel = 'step',
  yLabel,
}: {
  data: Aligned;
  series: readonly ChartSeries[];
  title: string;
  testId: string;
  xLabel?: string;
  yLabel?: string;
}) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    if (!host.current) return;
    const p = new uPlot(
      {
        title,
        // Narrower than 420 px on a phone: the chart fits its panel instead of widening the page.
        width: Math.min(420, host.current.parentElement?.clientWidth || 420),
        height: 200,
        scales: { x: { time: false } },
        axes: [
          { label: xLabel, stroke: 'currentColor' },
          { label: yLabel, stroke: 'currentColor', size: 60 },
        ],
        series: [
          { label: xLabel },
          ...series.map((s) => ({ label: s.label, stroke: s.stroke, spanGaps: true, width: 1.5 })),
        ],
      },
      data as uPlot.AlignedData,
      host.current,
    );
    plot.current = p;
    // Follows its panel's width (a phone, a rotated screen) instead of keeping the width it was drawn at.
    const parent = host.current.parentElement;
    const resize = new ResizeObserver(() => {
      const width = Math.min(420, parent?.clientWidth || 420);
      if (width !== p.width) p.setSize({ width, height: 200 });
    });
    if (parent) resize.observe(parent);
    return () => {
      resize.disconnect();
      p.destroy();
      plot.current = null;
    };
    // The chart is made once per series set; data changes go through setData below.
  }, [title, series, xLabel, yLabel]);

  useEffect(() => {
    plot.current?.setData(data as uPlot.AlignedData);
  }, [data]);

  const points = series.map((_, k) => (data[k + 1] ?? []).filter((v) => v !== null).length);
  return <div ref={host} className="chart" data-testid={testId} data-points={points.join(',')} />;
}
