/** Small dependency-free SVG charts: bars for counts, lines for durations. */
export interface Point {
  label: string
  value: number | null
}

const W = 640
const H = 200
const PAD = { top: 12, right: 12, bottom: 28, left: 48 }

function scale(points: Point[]) {
  const max = Math.max(1, ...points.map((p) => p.value ?? 0))
  const innerW = W - PAD.left - PAD.right
  const innerH = H - PAD.top - PAD.bottom
  const step = innerW / Math.max(points.length, 1)
  return { max, innerW, innerH, step, y: (v: number) => PAD.top + innerH - (v / max) * innerH }
}

function Axes({ max, unit, points, step }: { max: number; unit: string; points: Point[]; step: number }) {
  const every = Math.ceil(points.length / 8)
  return (
    <g className="axes" fontSize="11">
      <text x={PAD.left - 6} y={PAD.top + 8} textAnchor="end">
        {Number(max.toFixed(1)).toLocaleString('en-US')}
      </text>
      <text x={PAD.left - 6} y={H - PAD.bottom} textAnchor="end">
        0
      </text>
      <text x={4} y={H / 2} transform={`rotate(-90 10 ${H / 2})`}>
        {unit}
      </text>
      {points.map((p, i) =>
        // Counted from the newest, so the latest point always has its label.
        (points.length - 1 - i) % every === 0 ? (
          <text key={p.label} x={PAD.left + step * i + step / 2} y={H - 8} textAnchor="middle">
            {p.label.length > 5 ? p.label.slice(5) : p.label}
          </text>
        ) : null,
      )}
    </g>
  )
}

export function BarChart({ title, points, unit }: { title: string; points: Point[]; unit: string }) {
  const { max, step, y } = scale(points)
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`${title}: ${describe(points, unit)}`}>
        <Axes max={max} unit={unit} points={points} step={step} />
        {points.map((p, i) => (
          <rect
            key={p.label}
            className="bar"
            x={PAD.left + step * i + step * 0.15}
            width={step * 0.7}
            y={y(p.value ?? 0)}
            height={H - PAD.bottom - y(p.value ?? 0)}
          >
            <title>{`${p.label}: ${p.value ?? 0} ${unit}`}</title>
          </rect>
        ))}
      </svg>
    </figure>
  )
}

export function LineChart({
  title,
  series,
  unit,
}: {
  title: string
  series: { name: string; points: Point[] }[]
  unit: string
}) {
  const all = series.flatMap((s) => s.points)
  const first = series[0]?.points ?? []
  const { max, step, y } = scale(all.length ? all : first)
  const stepX = (W - PAD.left - PAD.right) / Math.max(first.length, 1)
  return (
    <figure className="chart">
      <figcaption>
        {title}
        <span className="legend">
          {series.map((s, i) => (
            <span key={s.name} className={`swatch s${i}`}>
              {s.name}
            </span>
          ))}
        </span>
      </figcaption>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        role="img"
        aria-label={`${title}: ${series.map((s) => `${s.name} ${describe(s.points, unit)}`).join('; ')}`}
      >
        <Axes max={max} unit={unit} points={first} step={stepX || step} />
        {series.map((s, i) => {
          const at = s.points.flatMap((p, j) =>
            p.value == null ? [] : [{ x: PAD.left + stepX * j + stepX / 2, y: y(p.value), p }],
          )
          // A dot on every value: a week alone between empty ones would otherwise draw nothing.
          return (
            <g key={s.name} className={`line s${i}`}>
              <polyline fill="none" points={at.map((a) => `${a.x},${a.y}`).join(' ')} />
              {at.map((a) => (
                <circle key={a.p.label} cx={a.x} cy={a.y} r={3}>
                  <title>{`${s.name} ${a.p.label}: ${Number((a.p.value ?? 0).toFixed(1))} ${unit}`}</title>
                </circle>
              ))}
            </g>
          )
        })}
      </svg>
    </figure>
  )
}

export function describe(points: Point[], unit: string): string {
  if (!points.length) return 'no data'
  return (
    points.map((p) => `${p.label} ${p.value == null ? 'none' : Number(p.value.toFixed(1))}`).join(', ') + ` (${unit})`
  )
}
