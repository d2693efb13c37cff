/** Bars over labelled categories (e.g. days) on uPlot, with labelled axes; shared by the provider's views. */
import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export function BarChart({
  labels,
  values,
  xLabel,
  yLabel,
  testId,
  tick = (label) => label.slice(5),
}: {
  /** What an x tick shows of its label; by default a day's label without its year. */
  tick?: (label: string) => string;
  labels: readonly string[];
  values: readonly number[];
  xLabel: string;
  yLabel: string;
  testId: string;
}) {
  const host = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!host.current || labels.length === 0) return;
    // The panel's width, not the chart's own (an empty flex item measures 0): a phone got 520 px, the
    // second provider's bar off screen.
    const parent = host.current.parentElement;
    const widthNow = () => Math.min(520, parent?.clientWidth || 520);
    const bars = uPlot.paths.bars?.({ size: [0.6, 48] });
    const plot = new uPlot(
      {
        width: widthNow(),
        height: 180,
        legend: { show: false },
        scales: {
          x: { time: false, range: [-0.5, labels.length - 0.5] },
          y: { range: (_u, _min, max) => [0, max || 1] },
        },
        axes: [
          {
            label: xLabel,
            stroke: 'currentColor',
            splits: () => labels.map((_, i) => i),
            values: (_u, splits) => splits.map((i) => tick(labels[i] ?? '')),
          },
          { label: yLabel, stroke: 'currentColor', size: 60 },
        ],
        series: [{}, { label: yLabel, stroke: '#7aa2ff', fill: 'rgba(122,162,255,0.4)', paths: bars }],
      },
      [labels.map((_, i) => i), [...values]],
      host.current,
    );
    // Follows its panel's width (a phone, a rotated screen), as LineChart does.
    const resize = new ResizeObserver(() => {
      const width = widthNow();
      if (width !== plot.width) plot.setSize({ width, height: 180 });
    });
    if (parent) resize.observe(parent);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
    // `tick` is a rendering detail: a new function each render must not rebuild the chart.
  }, [labels, values, xLabel, yLabel]);

  return (
    <div
      ref={host}
      className="chart"
      data-testid={testId}
      role="img"
      aria-label={`${yLabel} by ${xLabel}: ${labels.map((l, i) => `${l} ${values[i]}`).join(', ') || 'none yet'}`}
    />
  );
}
