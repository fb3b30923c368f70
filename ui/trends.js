// Trends on the managers' page: the measures the alert watch samples each quarter hour of
// the log's clock, for the whole system or one acute site, drawn as line charts over the
// last 24 hours or 7 days, with the same figures in a table for whoever cannot see them.
// The socket sends no samples (a week of them would swell every board's deltas): they are
// read from the API when a tick of the clock on the socket passes the latest one's quarter
// hour, so the page follows the watch's samples without polling.

import { el, svg } from "./dom.js";
import { dayAndClock } from "./time.js";

const HOUR_MS = 3_600_000;
const PERIODS = { 24: "last 24 hours", 168: "last 7 days" };
// A tick can reach the page before the watch has written that quarter hour's sample:
// it is asked for a moment later, and again a few times while it is not in (the next
// tick asks again); the API is asked at most this often, but for a change of choice.
const SETTLE_MS = 2_000;
const RETRIES = 3;
const AT_MOST_EVERY_MS = 5_000;

// The chart's own units: its viewBox scales with the figure, so a phone and a wide
// screen draw the same chart at their own size.
const WIDTH = 360;
const HEIGHT = 190;
const PAD = { left: 44, right: 38, top: 10, bottom: 26 };
const PLOT_WIDTH = WIDTH - PAD.left - PAD.right;
const PLOT_HEIGHT = HEIGHT - PAD.top - PAD.bottom;
// Samples further apart than this many quarter hours are not joined.
const GAP_SAMPLES = 5;
// Narrower than this apart, every other time on the axis is left out.
const LABEL_ROOM = 52;

// Everything about the panel in one place: what is chosen, what the API last answered.
export function trendsPanel({ now, places, placeName, measureName, measured, scheduleRender }) {
  const chosen = { place: "system", hours: 24 };
  let answer = null;
  let answered = 0;
  let asked = 0;
  let asking = null;
  let pending = null;
  // The latest tick whose quarter hour has no sample yet, and how often it was asked for.
  let awaited = null;
  let tries = 0;
  const shown = { key: null };

  const select = document.getElementById("trend-place");
  select.addEventListener("change", () => {
    chosen.place = select.value;
    ask();
  });
  for (const radio of document.querySelectorAll("input[name='trend-hours']")) {
    radio.addEventListener("change", () => {
      if (!radio.checked) return;
      chosen.hours = Number(radio.value);
      ask();
    });
  }

  function problem(words) {
    document.getElementById("trend-problem").textContent = words;
  }

  async function ask() {
    clearTimeout(pending);
    pending = null;
    asked = Date.now();
    const wanted = { ...chosen };
    const query = new URLSearchParams({ scope: wanted.place, hours: String(wanted.hours) });
    const sent = fetch(`api/v1/trends?${query}`);
    asking = sent;
    try {
      const response = await sent;
      // A choice made while it was on its way has asked again.
      if (asking !== sent) return;
      if (response.status === 401) return; // the socket says the session ended
      if (!response.ok) {
        problem(`The trends could not be read (the server answered ${response.status}).`);
        return;
      }
      answer = { ...wanted, body: await response.json() };
      answered += 1;
      problem("");
      scheduleRender();
      if (awaited !== null && missing(awaited) && tries < RETRIES) {
        tries += 1;
        later(SETTLE_MS * 2 ** tries);
      } else {
        awaited = null;
      }
    } catch {
      if (asking === sent) problem("The trends could not be read: check the connection.");
    }
  }

  function later(ms) {
    if (pending !== null) return;
    pending = setTimeout(ask, Math.max(ms, asked + AT_MOST_EVERY_MS - Date.now()));
  }

  // Whether a tick at `at` is past the quarter hour of the latest sample shown.
  function missing(at) {
    const latest = answer.body.samples.at(-1);
    const quarter = answer.body.every_minutes * 60_000;
    return latest === undefined || at - Date.parse(latest.at) >= quarter;
  }

  // A tick past the quarter hour of the latest sample brings a new one.
  function ticked(iso) {
    const at = Date.parse(iso);
    if (answer === null || !missing(at)) return;
    if (awaited === null || at > awaited) {
      awaited = at;
      tries = 0;
    }
    later(SETTLE_MS);
  }

  function choices() {
    const wanted = places();
    const have = [...select.options].map((option) => option.value);
    if (JSON.stringify(have) !== JSON.stringify(wanted)) {
      select.replaceChildren(
        ...wanted.map((place) => el("option", { value: place }, placeName(place))),
      );
    }
    for (const option of select.options) {
      const name = placeName(option.value);
      if (option.textContent !== name) option.textContent = name;
    }
    if (!wanted.includes(chosen.place)) chosen.place = "system";
    select.value = chosen.place;
  }

  function render() {
    choices();
    // The first drawing asks, and so does a drawing after a question that went unanswered.
    const stale = answer === null || answer.place !== chosen.place || answer.hours !== chosen.hours;
    if (stale && Date.now() - asked >= AT_MOST_EVERY_MS) ask();
    if (answer === null) return;
    const minute = Math.floor(now() / 60_000);
    const key = JSON.stringify([answered, minute, placeName(answer.place)]);
    if (shown.key === key) return;
    shown.key = key;
    const to = now();
    const from = to - answer.hours * HOUR_MS;
    const body = answer.body;
    const samples = body.samples.filter((one) => {
      const at = Date.parse(one.at);
      return at >= from && at <= to;
    });
    const where = `${placeName(answer.place)}, ${PERIODS[answer.hours]}`;
    const series = body.measures.map(({ measure, references }) => ({
      measure,
      references: [...references].sort((a, b) => a.value - b.value),
      name: measureName(measure),
      points: samples.map((one) => ({ at: Date.parse(one.at), value: one.values[measure] })),
    }));
    const gap = GAP_SAMPLES * body.every_minutes * 60_000;
    document
      .getElementById("trend-charts")
      .replaceChildren(
        ...(samples.length
          ? series.map((one) => chart(one, { from, to, gap, where, measured }))
          : [el("p", { class: "empty" }, `No samples for ${where} yet.`)]),
      );
    document
      .getElementById("trend-figures")
      .replaceChildren(...(samples.length ? [figuresTable(series, where, measured)] : []));
  }

  function forget() {
    clearTimeout(pending);
    pending = null;
    awaited = null;
    answer = null;
    shown.key = null;
    select.replaceChildren();
    document.getElementById("trend-charts").replaceChildren();
    document.getElementById("trend-figures").replaceChildren();
  }

  return { render, ticked, forget };
}

// --- Words ---------------------------------------------------------------------------------

function valued(points) {
  return points.filter((point) => point.value !== null && point.value !== undefined);
}

function pointWords(point, measure, measured) {
  return `${measured(measure, point.value)} at ${dayAndClock(new Date(point.at))}`;
}

function extremes(points) {
  const known = valued(points);
  if (!known.length) return null;
  let low = known[0];
  let high = known[0];
  for (const point of known) {
    if (point.value < low.value) low = point;
    if (point.value > high.value) high = point;
  }
  return { first: known[0], last: known.at(-1), low, high };
}

function summary(series, where, measured) {
  const found = extremes(series.points);
  if (!found) return `${series.name}, ${where}: nothing to measure.`;
  const words = (point) => pointWords(point, series.measure, measured);
  const lines = series.references.map((one) => measured(series.measure, one.value)).join(" and ");
  return (
    `${series.name}, ${where}: ${words(found.first)}, latest ${words(found.last)};` +
    ` lowest ${words(found.low)}, highest ${words(found.high)}.` +
    (lines ? ` Lines mark ${lines}.` : "")
  );
}

// Focusable, as the OPEL parameters are, for when it scrolls sideways on a phone.
function figuresTable(series, where, measured) {
  const cell = (point, measure) =>
    point
      ? el(
          "td",
          {},
          measured(measure, point.value),
          el("span", { class: "muted" }, ` at ${dayAndClock(new Date(point.at))}`),
        )
      : el("td", { class: "none" }, "None");
  return el(
    "table",
    { class: "counts trend-table", tabindex: "0" },
    el("caption", {}, `In figures: ${where}`),
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        ...["Measure", "Latest", "Lowest", "Highest"].map((words) =>
          el("th", { scope: "col" }, words),
        ),
      ),
    ),
    el(
      "tbody",
      {},
      series.map((one) => {
        const found = extremes(one.points);
        return el(
          "tr",
          {},
          el("th", { scope: "row" }, one.name),
          cell(found?.last, one.measure),
          cell(found?.low, one.measure),
          cell(found?.high, one.measure),
        );
      }),
    ),
  );
}

// --- Drawing -------------------------------------------------------------------------------

// A step of 1, 2 or 5 times a power of ten, about a quarter of the span.
function niceStep(span, whole) {
  const rough = Math.max(span / 4, whole ? 1 : 0.1);
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((one) => one * power).find((one) => one >= rough);
  return whole ? Math.max(1, Math.round(step)) : step;
}

// The values the axis runs between: percentages from at most 80 up to 100, so the lines
// at 85% and 92% are always in sight; counts from nought.
function valueRange(series) {
  const values = valued(series.points).map((point) => point.value);
  const marks = series.references.map((one) => one.value);
  const percent = series.measure.endsWith("_pct");
  const low = percent ? Math.min(...values, ...marks, 80) : 0;
  const high = percent ? 100 : Math.max(...values, ...marks, 4);
  const step = niceStep(high - low, !percent);
  const bottom = Math.floor(low / step) * step;
  const top = Math.max(Math.ceil(high / step) * step, bottom + step);
  const ticks = [];
  for (let value = bottom; value <= top + step / 2; value += step) ticks.push(value);
  return { bottom, top, ticks };
}

// Local hours or midnights at a spacing that suits the period.
function timeTicks(from, to) {
  const span = to - from;
  const ticks = [];
  const start = new Date(from);
  if (span > 2 * 24 * HOUR_MS) {
    start.setHours(24, 0, 0, 0);
    for (const at = start; at.getTime() <= to; at.setDate(at.getDate() + 1)) {
      ticks.push({ at: at.getTime(), words: dayWords(at) });
    }
    return ticks;
  }
  const every = span > 12 * HOUR_MS ? 6 : span > 4 * HOUR_MS ? 2 : 1;
  start.setMinutes(0, 0, 0);
  while (start.getTime() < from || start.getHours() % every !== 0) {
    start.setHours(start.getHours() + 1);
  }
  for (const at = start; at.getTime() <= to; at.setHours(at.getHours() + every)) {
    ticks.push({ at: at.getTime(), words: at.toLocaleTimeString("en-GB", { timeStyle: "short" }) });
  }
  return ticks;
}

function dayWords(date) {
  return date.toLocaleDateString("en-GB", { weekday: "short", day: "numeric" });
}

function chart(series, { from, to, gap, where, measured }) {
  const range = valueRange(series);
  const x = (at) => PAD.left + ((at - from) / (to - from)) * PLOT_WIDTH;
  const y = (value) =>
    PAD.top + PLOT_HEIGHT - ((value - range.bottom) / (range.top - range.bottom)) * PLOT_HEIGHT;
  const shapes = [];
  for (const value of range.ticks) {
    shapes.push(
      svg("line", {
        class: "trend-grid",
        x1: PAD.left,
        x2: WIDTH - PAD.right,
        y1: y(value),
        y2: y(value),
      }),
      svg(
        "text",
        { class: "trend-value", x: PAD.left - 4, y: y(value) },
        measured(series.measure, value),
      ),
    );
  }
  const times = timeTicks(from, to);
  const spaced = times.length > 1 && x(times[1].at) - x(times[0].at) < LABEL_ROOM;
  times.forEach((tick, index) => {
    shapes.push(
      svg("line", {
        class: "trend-grid",
        x1: x(tick.at),
        x2: x(tick.at),
        y1: PAD.top,
        y2: PAD.top + PLOT_HEIGHT,
      }),
    );
    if (!spaced || index % 2 === 0) {
      shapes.push(svg("text", { class: "trend-time", x: x(tick.at), y: HEIGHT - 6 }, tick.words));
    }
  });
  // The highest line's value written above it, the others' below, so that two lines
  // close together keep their words apart.
  series.references.forEach((reference, index) => {
    const at = y(reference.value);
    const highest = index === series.references.length - 1;
    shapes.push(
      svg("line", {
        class: "trend-reference",
        x1: PAD.left,
        x2: WIDTH - PAD.right,
        y1: at,
        y2: at,
      }),
      svg(
        "text",
        {
          class: `trend-reference-label ${highest ? "above" : "below"}`,
          x: WIDTH - PAD.right + 3,
          y: highest ? at - 1 : at + 1,
        },
        measured(series.measure, reference.value),
      ),
    );
  });
  // One stroke a run of samples, broken where the watch took none for over an hour (it was
  // stopped): a shorter stop is bridged, as a line between any two samples is.
  let path = "";
  let before = null;
  for (const point of series.points) {
    if (point.value === null || point.value === undefined) {
      before = null;
      continue;
    }
    const command = before === null || point.at - before.at > gap ? "M" : "L";
    path += `${command}${x(point.at).toFixed(1)},${y(point.value).toFixed(1)} `;
    before = point;
  }
  if (path) shapes.push(svg("path", { class: "trend-line", d: path.trim() }));
  const found = extremes(series.points);
  if (found) {
    shapes.push(
      svg("circle", {
        class: "trend-latest",
        cx: x(found.last.at),
        cy: y(found.last.value),
        r: 3.5,
      }),
    );
  }
  const latest = found
    ? [
        el("strong", { class: "trend-now" }, measured(series.measure, found.last.value)),
        el("span", { class: "muted" }, ` at ${dayAndClock(new Date(found.last.at))}`),
      ]
    : [el("span", { class: "none" }, "Nothing to measure")];
  const meanings = series.references.map(
    (one) => `${measured(series.measure, one.value)}: ${one.meaning}`,
  );
  return el(
    "figure",
    { class: "trend", "data-measure": series.measure },
    el("figcaption", {}, el("span", { class: "trend-name" }, series.name), " ", ...latest),
    svg(
      "svg",
      {
        viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
        role: "img",
        "aria-label": summary(series, where, measured),
      },
      ...shapes,
    ),
    meanings.length
      ? el("p", { class: "trend-key" }, `Dashed lines: ${meanings.join("; ")}.`)
      : null,
  );
}
