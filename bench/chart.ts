/**
 * A plain SVG bar chart (no scripts, fonts or other external resources) of operations per second,
 * one group per row, Latchkey's bars against oidc-provider's. Bars are scaled within each group,
 * so rows of very different speeds stay readable; each bar carries its value and ratio.
 */
export interface ChartRow {
  row: string;
  server: string;
  latchkey: boolean;
  opsPerSecond: number;
  errors: number;
}

const escape = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

export function renderChart(results: ChartRow[], options: { title: string }): string {
  const groups = new Map<string, ChartRow[]>();
  for (const r of results) {
    if (!Number.isFinite(r.opsPerSecond)) continue;
    groups.set(r.row, [...(groups.get(r.row) ?? []), r]);
  }
  const width = 980;
  const labelWidth = 290;
  const barArea = width - labelWidth - 250;
  const barHeight = 18;
  const gap = 6;
  let y = 56;
  const parts: string[] = [];
  for (const [row, rows] of groups) {
    const max = Math.max(...rows.map((r) => r.opsPerSecond), 1);
    const baseline = rows.find((r) => !r.latchkey);
    parts.push(`<text x="16" y="${y + 13}" class="row">${escape(row)}</text>`);
    y += 22;
    for (const r of rows) {
      const w = Math.max(1, (r.opsPerSecond / max) * barArea);
      const ratio = baseline && r.latchkey ? `  (${(r.opsPerSecond / baseline.opsPerSecond).toFixed(2)} × oidc-provider)` : '';
      const value = `${Math.round(r.opsPerSecond).toLocaleString('en-US')}/s${ratio}${r.errors > 0 ? ` (${r.errors} errors)` : ''}`;
      parts.push(`<text x="${labelWidth - 8}" y="${y + 13}" class="server" text-anchor="end">${escape(r.server)}</text>`);
      parts.push(`<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" class="${r.latchkey ? 'latchkey' : 'peer'}"/>`);
      parts.push(`<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 13}" class="value">${escape(value)}</text>`);
      y += barHeight + gap;
    }
    y += 14;
  }
  const height = y + 30;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escape(options.title)}">
<style>
  text { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 12px; fill: #1f2328; }
  .title { font-size: 15px; font-weight: 600; }
  .row { font-weight: 600; }
  .server { fill: #57606a; }
  .latchkey { fill: #1f6feb; }
  .peer { fill: #d29922; }
  .note { fill: #57606a; font-size: 11px; }
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="16" y="26" class="title">${escape(options.title)}</text>
<text x="16" y="44" class="note">Bars scaled within each row; blue = Latchkey, amber = oidc-provider 9 (in memory). Errors are never counted as throughput.</text>
${parts.join('\n')}
<text x="16" y="${height - 12}" class="note">Written by npm run bench (bench/run.ts).</text>
</svg>
`;
}
