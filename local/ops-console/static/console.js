// The ops console page: draws the server's snapshots (Server-Sent Events from /api/events) as uPlot charts,
// alarm tiles, tables and trace waterfalls. Text goes in with textContent only: nothing from the service
// is ever parsed as HTML.

const palette = [
  '#0073bb',
  '#ec7211',
  '#1d8102',
  '#d13212',
  '#8456ce',
  '#067f68',
  '#b7ca9d',
  '#e07941',
  '#3184c2',
  '#6b40b2',
];
const charts = new Map();

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (name === 'class') node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children)
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

function number(value) {
  if (value === null || value === undefined) return '–';
  return Math.abs(value) >= 100 ? value.toFixed(0) : String(Math.round(value * 100) / 100);
}

/** Axis numbers that fit: 12k rather than 12,000. */
function compact(value) {
  return Math.abs(value) >= 1000 ? `${Math.round(value / 100) / 10}k` : String(Math.round(value * 100) / 100);
}

function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function time(ms) {
  return ms ? new Date(ms).toLocaleTimeString() : '–';
}

const comparisons = {
  GreaterThanThreshold: '>',
  GreaterThanOrEqualToThreshold: '≥',
  LessThanThreshold: '<',
  LessThanOrEqualToThreshold: '≤',
};

function alarmTile(alarm) {
  return el(
    'div',
    { class: 'alarm', 'data-alarm': alarm.name, 'data-state': alarm.state, title: alarm.description },
    el('b', {}, alarm.name),
    alarm.local
      ? `${alarm.state} · now ${number(alarm.value)}, alarm ${comparisons[alarm.comparison]} ${alarm.threshold} (${alarm.evaluation})`
      : 'AWS only: not collected locally',
  );
}

/** The alarms this machine can evaluate as tiles; those on AWS-only metrics folded away beneath them. */
function drawAlarms(alarms) {
  const local = alarms.filter((alarm) => alarm.local);
  const awsOnly = alarms.filter((alarm) => !alarm.local);
  const folded = document.getElementById('aws-only-alarms');
  const details = el(
    'details',
    { id: 'aws-only-alarms' },
    el(
      'summary',
      {},
      `${awsOnly.length} more alarms on AWS-only metrics (Lambda, DynamoDB, queues): no local data`,
    ),
    el('div', { class: 'alarms' }, ...awsOnly.map(alarmTile)),
  );
  if (folded?.open) details.open = true;
  document
    .getElementById('alarms')
    .replaceChildren(el('div', { class: 'alarms' }, ...local.map(alarmTile)), details);
}

/** Stacked widgets draw each line on top of the ones before it, as CloudWatch does. */
function stackedValues(lines) {
  const sums = [];
  return lines.map((line) =>
    line.values.map((value, i) => {
      sums[i] = (sums[i] ?? 0) + (value ?? 0);
      return value === null ? null : sums[i];
    }),
  );
}

function drawWidgets(snapshot) {
  const box = document.getElementById('widgets');
  const width = box.clientWidth;
  snapshot.widgets.forEach((widget, index) => {
    let entry = charts.get(index);
    if (entry && !entry.plot) return;
    const plotWidth = Math.max(200, Math.floor((width * widget.width) / 24) - 16);
    if (!entry) {
      const node = el('div', { class: 'widget', 'data-widget': widget.title }, el('h3', {}, widget.title));
      node.style.gridColumn = `span ${widget.width}`;
      box.append(node);
      if (!widget.lines.some((line) => line.local)) {
        // Nothing on this machine publishes these (API Gateway, Lambda, DynamoDB service metrics): no chart.
        node.append(el('p', { class: 'aws-only' }, 'AWS only: its metrics are not collected locally'));
        node.dataset.series = JSON.stringify(
          widget.lines.map((line) => ({ label: line.label, local: false, max: null })),
        );
        charts.set(index, { node });
        return;
      }
      const series = [
        {},
        ...widget.lines.map((line, i) => ({
          label: line.local ? line.label : `${line.label} (AWS only)`,
          stroke: palette[i % palette.length],
          fill: widget.stacked ? `${palette[i % palette.length]}55` : undefined,
          scale: line.axis === 'right' ? 'right' : 'y',
          width: 1.5,
          spanGaps: false,
          // A burst that just happened is one point at the right edge: draw the points, not only the line.
          points: { show: !widget.stacked, size: 4 },
        })),
      ];
      const hasRight = widget.lines.some((line) => line.axis === 'right');
      const plot = new uPlot(
        {
          width: plotWidth,
          height: 150,
          series,
          scales: {
            x: { time: true },
            y: { range: (_u, min, max) => [Math.min(0, min ?? 0), Math.max(1, max ?? 1)] },
          },
          axes: [
            { values: (_u, splits) => splits.map(clock) },
            { size: 50, values: (_u, splits) => splits.map(compact) },
            ...(hasRight
              ? [
                  {
                    scale: 'right',
                    side: 1,
                    grid: { show: false },
                    size: 50,
                    values: (_u, splits) => splits.map(compact),
                  },
                ]
              : []),
          ],
          legend: { live: false },
          cursor: { drag: { x: false, y: false } },
          hooks: {
            draw: [
              (u) => {
                for (const annotation of widget.annotations) {
                  const y = u.valToPos(annotation.value, 'y', true);
                  if (y < u.bbox.top || y > u.bbox.top + u.bbox.height) continue;
                  u.ctx.save();
                  u.ctx.strokeStyle = '#d13212';
                  u.ctx.setLineDash([4, 4]);
                  u.ctx.beginPath();
                  u.ctx.moveTo(u.bbox.left, y);
                  u.ctx.lineTo(u.bbox.left + u.bbox.width, y);
                  u.ctx.stroke();
                  u.ctx.restore();
                }
              },
            ],
          },
        },
        [[]],
        node,
      );
      entry = { node, plot, plotWidth };
      charts.set(index, entry);
    }
    if (entry.plotWidth !== plotWidth) {
      entry.plot.setSize({ width: plotWidth, height: 150 });
      entry.plotWidth = plotWidth;
    }
    // A line with no local source comes without points: an empty line of the same length for the chart.
    const lines = widget.lines.map((line) =>
      line.values.length > 0 ? line : { ...line, values: snapshot.times.map(() => null) },
    );
    const values = widget.stacked ? stackedValues(lines) : lines.map((line) => line.values);
    entry.plot.setData([snapshot.times, ...values]);
    // What the chart shows, for the browser tests and for anyone reading the page's source.
    entry.node.dataset.series = JSON.stringify(
      widget.lines.map((line) => ({
        label: line.label,
        local: line.local,
        max: line.values.reduce((max, value) => (value === null ? max : Math.max(max ?? value, value)), null),
      })),
    );
  });
}

function table(title, columns, rows, note) {
  return el(
    'div',
    { 'data-table': title },
    el('h3', {}, title, ' ', el('small', {}, note ?? '')),
    el(
      'table',
      {},
      el(
        'thead',
        {},
        el('tr', {}, ...columns.map(([name, , numeric]) => el('th', numeric ? { class: 'num' } : {}, name))),
      ),
      el(
        'tbody',
        {},
        ...rows.map((row) =>
          el(
            'tr',
            {},
            ...columns.map(([, cell, numeric]) =>
              el('td', numeric ? { class: 'num' } : {}, cell(row) ?? '–'),
            ),
          ),
        ),
      ),
    ),
  );
}

function drawTables(snapshot) {
  const box = document.getElementById('tables');
  const tables = snapshot.tables;
  if (tables.error) {
    box.replaceChildren(el('p', {}, tables.error));
    return;
  }
  const now = snapshot.nowMs;
  const age = (ms) => (ms ? `${Math.max(0, Math.round((now - ms) / 1000))} s ago` : '–');
  const functions = Object.entries(snapshot.functions).map(([name, stats]) => ({ name, ...stats }));
  box.replaceChildren(
    table(
      'Sessions',
      [
        ['session', (s) => s.sessionId],
        ['user', (s) => s.userId],
        ['device', (s) => s.deviceId],
        ['state', (s) => (s.goneAt ? `${s.state} (out of coverage)` : s.state)],
        ['shard', (s) => s.shard, true],
        ['sign-in', (s) => s.signInMethod],
        ['last status', (s) => age(s.lastStatusAt)],
      ],
      tables.sessions,
      `count ${tables.sessionCount}; least recently active first${tables.moreSessions ? `, first ${tables.sessions.length}` : ''}`,
    ),
    table(
      'Pump shards',
      [
        ['shard', (s) => s.shard, true],
        ['sessions', (s) => `${s.sessions}${s.more ? '+' : ''}`, true],
        ['lease owner', (s) => (s.leaseExpiresAt && s.leaseExpiresAt > now ? s.leaseOwner : 'free')],
        ['token', (s) => s.leaseToken, true],
        ['lease until', (s) => (s.leaseExpiresAt && s.leaseExpiresAt > now ? time(s.leaseExpiresAt) : '–')],
      ],
      tables.shards,
    ),
    table(
      'Devices',
      [
        ['device', (d) => d.deviceId],
        ['user', (d) => d.userId],
        ['status', (d) => d.status],
        ['activated', (d) => (d.activatedAt ? new Date(d.activatedAt).toLocaleString() : '–')],
      ],
      tables.devices,
      tables.moreDevices ? `first ${tables.devices.length}` : '',
    ),
    table(
      'Functions',
      [
        ['function', (f) => f.name],
        ['invocations', (f) => f.invocations, true],
        ['cold starts', (f) => f.coldStarts, true],
        ['timeouts', (f) => f.timeouts, true],
        ['throttles', (f) => f.throttles, true],
        ['exits', (f) => f.exits, true],
      ],
      functions,
      'local Lambda runtime',
    ),
  );
}

function drawTraces(snapshot) {
  const box = document.getElementById('traces');
  box.replaceChildren(
    ...Object.entries(snapshot.traces).map(([name, traces]) => {
      const longest = Math.max(1, ...traces.map((t) => t.endMs - t.startMs));
      return el(
        'div',
        { class: 'fn', 'data-function': name },
        el('h3', {}, name, ' ', el('small', {}, traces.length ? `latest ${traces.length}` : 'no traces yet')),
        ...traces.map((trace) =>
          el(
            'div',
            { class: 'trace', 'data-trace': trace.traceId },
            el('p', {}, `${time(trace.startMs)} · ${trace.endMs - trace.startMs} ms · ${trace.traceId}`),
            // The invocation itself first, then its calls beneath it.
            ...[
              { name, startMs: trace.startMs, endMs: trace.endMs, depth: -1, error: false },
              ...trace.spans,
            ].map((span) => {
              const left = ((span.startMs - trace.startMs) / longest) * 100;
              const width = ((span.endMs - span.startMs) / longest) * 100;
              const bar = el('div', { class: 'bar' });
              bar.style.left = `${left}%`;
              bar.style.width = `${width}%`;
              const label = el(
                'span',
                { class: 'label', title: span.name },
                `${span.name} · ${span.endMs - span.startMs} ms`,
              );
              label.style.paddingLeft = `${(span.depth + 1) * 10}px`;
              return el(
                'div',
                { class: span.error ? 'span error' : 'span', 'data-span': span.name },
                label,
                el('div', { class: 'timeline' }, bar),
              );
            }),
            ...(trace.omittedSpans > 0 ? [el('p', {}, `… ${trace.omittedSpans} more calls`)] : []),
          ),
        ),
      );
    }),
  );
}

function draw(snapshot) {
  drawAlarms(snapshot.alarms);
  drawWidgets(snapshot);
  drawTables(snapshot);
  drawTraces(snapshot);
  const status = document.getElementById('status');
  status.dataset.state = 'live';
  status.textContent = `live · ${new Date(snapshot.nowMs).toLocaleTimeString()}`;
}

function connect() {
  const events = new EventSource('/api/events');
  events.addEventListener('snapshot', (event) => draw(JSON.parse(event.data)));
  events.onerror = () => {
    const status = document.getElementById('status');
    status.dataset.state = 'offline';
    status.textContent = 'reconnecting…';
  };
}

connect();
