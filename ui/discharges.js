// Discharge planning: the flow centre's queue and a ward's discharge list, kept live by the
// whiteboard socket (its snapshot and deltas carry the discharge plans and the community
// capacity pools), and the forms that change a plan, one request each. The clocks (time
// since referral, time in the pathway's queue, length of stay) are worked out here from
// the plans' timestamps, so the lists keep moving without a reload.
//
// A ward's list also shows each patient's red or green day (SAFER) for today, on the
// browser's calendar, and marks it: colour and words, never colour alone.

import { byName, el } from "./dom.js";
import {
  PATHWAYS,
  QUEUE_GROUPS,
  SERVICES,
  TASKS,
  TASK_STATES,
  blockers as whatBlocks,
  free,
  holds,
  lateTasks,
  localDay,
  openReferral,
  outstanding,
} from "./discharge_work.js";
import { liveLink } from "./live.js";
import {
  describeProblem,
  field,
  onceAFrame,
  onSubmit,
  pageProblem,
  request,
  signedIn,
  signedOutOfPage,
} from "./page.js";
import { dayAndClock, duration, logClock } from "./time.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const REFERRAL_TARGET_MS = 24 * HOUR_MS;
const STRANDED_MS = 7 * DAY_MS;
const SUPER_STRANDED_MS = 21 * DAY_MS;

const API = "api/v1/discharges";

const TASK_ACTIONS = [
  ["started", "Started"],
  ["done", "Done"],
  ["not_needed", "Not needed"],
];

// The triage conversation (flowcentre/domain/triage.py, TriageAnswers).
const QUESTIONS = [
  {
    name: "residence",
    label: "Lived before admission in",
    options: {
      own_home: "Own home",
      sheltered_housing: "Sheltered housing",
      care_home: "Care home",
      nursing_home: "Nursing home",
      no_fixed_abode: "No fixed abode",
    },
  },
  { name: "lives_alone", label: "Lives alone", options: { true: "Yes", false: "No" }, yesNo: true },
  {
    name: "previous_care",
    label: "Care before admission",
    options: {
      none: "None",
      family: "Family",
      home_care: "Home care",
      residential: "Residential care",
    },
  },
  {
    name: "mobility",
    label: "Mobility",
    options: {
      independent: "Independent",
      with_aid: "With a walking aid",
      one_to_assist: "One person to assist",
      two_to_assist: "Two people to assist",
      bed_bound: "Bed-bound",
    },
  },
  {
    name: "daily_living",
    label: "Daily living (washing, dressing, eating, toileting)",
    options: {
      independent: "Independent",
      some_help: "Needs some help",
      full_help: "Needs full help",
    },
  },
  {
    name: "cognition",
    label: "Cognition",
    options: {
      intact: "Intact",
      mild_impairment: "Mild impairment",
      severe_impairment: "Severe impairment",
    },
  },
  {
    name: "rehabilitation_potential",
    label: "Rehabilitation potential",
    options: { none: "None", some: "Some", good: "Good" },
  },
  {
    name: "equipment_needed",
    label: "Needs equipment at home",
    options: { false: "No", true: "Yes" },
    yesNo: true,
    preset: "false",
  },
];

const picture = {
  sites: new Map(),
  wards: new Map(),
  beds: new Map(),
  discharges: new Map(),
  pools: new Map(),
};

const clock = logClock();
const scheduleRender = onceAFrame(render);
const live = liveLink({ takeSnapshot, applyDeltas, scheduleRender, forget, signedOut });

// The wards this account plans discharges for (null: every ward), from its session.
const reference = { delayReasons: new Map(), planWards: null };

function options(choices, selected, blank = null) {
  const list = blank === null ? [] : [el("option", { value: "" }, blank)];
  for (const [value, label] of Object.entries(choices)) {
    list.push(el("option", { value, selected: value === selected }, label));
  }
  return list;
}

// --- Time ----------------------------------------------------------------------------------

function calendarDay(isoDate) {
  // A date without a time is a calendar day where the ward is, not UTC midnight.
  const [year, month, day] = isoDate.split("-").map(Number);
  return new Date(year, month - 1, day).toLocaleDateString("en-GB", {
    weekday: "short",
    day: "numeric",
    month: "short",
  });
}

function elapsed(iso, now) {
  return iso ? now - Date.parse(iso) : null;
}

function moment(iso) {
  return el("time", { datetime: iso }, dayAndClock(new Date(iso)));
}

// --- The plans' clocks and blockers, as the API works them out ----------------------------

function longStay(item, now) {
  const stay = elapsed(item.admitted_at, now);
  if (stay === null || stay < STRANDED_MS) return null;
  return stay >= SUPER_STRANDED_MS ? "super_stranded" : "stranded";
}

function blockers(item, now, today) {
  return whatBlocks(item, now, today, delayReason);
}

function delayReason(code) {
  return reference.delayReasons.get(code) ?? code;
}

function poolsFor(pathway, now, today) {
  return [...picture.pools.values()]
    .filter((pool) => pool.declared_at && pool.pathway === pathway && pool.day >= today)
    .sort((a, b) => byName(`${a.day} ${a.service} ${a.area}`, `${b.day} ${b.service} ${b.area}`))
    .map((pool) => ({ pool, free: free(pool, now) }));
}

function capacityLabel(capacity) {
  return `${SERVICES[capacity.service] ?? capacity.service}, ${capacity.area}, ${calendarDay(capacity.day)}`;
}

// --- The picture ---------------------------------------------------------------------------

function takeSnapshot(data) {
  picture.sites = new Map(data.sites.map((site) => [site.site_id, site]));
  picture.wards = new Map(data.wards.map((ward) => [ward.ward_id, ward]));
  picture.beds = new Map(data.beds.map((bed) => [bed.bed_id, bed]));
  picture.discharges = new Map(
    (data.discharges ?? []).filter((item) => item.listed).map((item) => [item.spell_id, item]),
  );
  picture.pools = new Map((data.capacity ?? []).map((pool) => [pool.key, pool]));
}

function applyDeltas(deltas) {
  for (const delta of deltas) {
    if (delta.kind === "bed") picture.beds.set(delta.bed.bed_id, delta.bed);
    else if (delta.kind === "ward") picture.wards.set(delta.ward.ward_id, delta.ward);
    else if (delta.kind === "site") picture.sites.set(delta.site.site_id, delta.site);
    else if (delta.kind === "capacity") picture.pools.set(delta.capacity.key, delta.capacity);
    else if (delta.kind === "clock") clock.ticked(delta.clock.at);
    else if (delta.kind === "discharge") {
      const item = delta.discharge;
      // A plan no longer listed has left the lists: discharged, or gone from these wards.
      if (item.listed) picture.discharges.set(item.spell_id, item);
      else picture.discharges.delete(item.spell_id);
    }
  }
}

// Nothing of a board stays on screen for whoever uses the browser next.
function forget() {
  clock.forget();
  picture.sites.clear();
  picture.wards.clear();
  picture.beds.clear();
  picture.discharges.clear();
  picture.pools.clear();
  for (const id of ["queue", "ward-list", "plan"]) document.getElementById(id).hidden = true;
  document.getElementById("queue-groups").replaceChildren();
  document.getElementById("ward-patients").replaceChildren();
  document.getElementById("plan-facts").replaceChildren();
  document.getElementById("plan-actions").replaceChildren();
  built.clear();
  dayControls.clear();
}

// --- What the page is showing: the ward and the patient, kept in the address -------------

function chosen() {
  const params = new URLSearchParams(location.hash.slice(1));
  return { ward: params.get("ward"), spell: params.get("spell") };
}

function choose(change) {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const [name, value] of Object.entries(change)) {
    if (value === null) params.delete(name);
    else params.set(name, value);
  }
  location.hash = params.toString();
}

// --- Pieces of a row -------------------------------------------------------------------------

function bedName(item) {
  const bed = item.bed_id ? picture.beds.get(item.bed_id) : null;
  if (!item.bed_id) return "No bed";
  if (!bed) return item.bed_id;
  return bed.room ? `${bed.room}, ${bed.label}` : bed.label;
}

function wardName(wardId) {
  return picture.wards.get(wardId)?.name ?? wardId;
}

function patientCell(item) {
  return el(
    "td",
    {},
    item.initials === null
      ? el(
          "span",
          { class: "initials withheld", title: "The patient objects to sharing" },
          "Withheld",
        )
      : el("span", { class: "initials", title: "Patient initials" }, item.initials),
    item.initials !== null && item.sharing_objection
      ? el("span", { class: "flag" }, "Do not share")
      : null,
  );
}

function who(item) {
  return item.initials ?? "Withheld";
}

function planButton(item) {
  const label = `Open plan: ${who(item)}, ${bedName(item)}`;
  return el(
    "td",
    {},
    el(
      "button",
      {
        type: "button",
        class: "open-plan",
        "data-spell": item.spell_id,
        "data-focus": `plan-${item.spell_id}`,
        "aria-label": label,
      },
      "Open plan",
    ),
  );
}

function list(items, empty) {
  if (!items.length) return el("span", { class: "none" }, empty);
  return el(
    "ul",
    { class: "plain" },
    items.map((item) => el("li", {}, item)),
  );
}

function sinceReferral(referral, now) {
  const age = elapsed(referral.referred_at, now);
  const over = age >= REFERRAL_TARGET_MS;
  return [
    duration(age),
    " ",
    over
      ? el("span", { class: "flag flag-hazard" }, "Over 24 h target")
      : el("span", { class: "muted" }, `(${duration(REFERRAL_TARGET_MS - age)} to 24 h target)`),
  ];
}

function reservationsText(item, now) {
  return item.reservations
    .filter((held) => holds(held, now))
    .map((held) => `${capacityLabel(held)}, held until ${dayAndClock(new Date(held.expires_at))}`);
}

function stayCell(item, now) {
  const stay = elapsed(item.admitted_at, now);
  const flag = longStay(item, now);
  return el(
    "td",
    {},
    stay === null ? "–" : `${Math.floor(stay / DAY_MS)} days`,
    flag === "stranded" ? el("span", { class: "flag flag-late" }, "Stranded (7+ days)") : null,
    flag === "super_stranded"
      ? el("span", { class: "flag flag-hazard" }, "Super-stranded (21+ days)")
      : null,
  );
}

function eddText(item, today) {
  const expected = item.expected_discharge_date;
  if (!expected) return [el("span", { class: "none" }, "Not set")];
  const moved = item.expected_discharge_date_changes;
  return [
    calendarDay(expected),
    expected < today ? el("span", { class: "flag flag-hazard" }, "Past") : null,
    moved > 0 ? el("span", { class: "muted" }, ` (moved ${moved}×)`) : null,
  ];
}

function resideText(item, now) {
  const reside = item.criteria_to_reside;
  if (reside === null) return [el("span", { class: "none" }, "Not reviewed")];
  if (reside.meets)
    return [`Meets criteria (reviewed ${dayAndClock(new Date(reside.reviewed_at))})`];
  const since = reside.not_met_since;
  return [
    el("span", { class: "flag flag-late" }, "No criteria to reside"),
    since ? ` since ${dayAndClock(new Date(since))} (${duration(elapsed(since, now))})` : null,
    reside.delay_reason
      ? el("span", { class: "reason" }, `Delay: ${delayReason(reside.delay_reason)}`)
      : null,
  ];
}

function referralText(item, now) {
  const referral = openReferral(item);
  if (!referral) return [el("span", { class: "none" }, "Not referred")];
  return [
    `Referred ${duration(elapsed(referral.referred_at, now))} ago`,
    el("br"),
    referral.pathway === null ? "Awaiting triage" : `Pathway ${referral.pathway}`,
  ];
}

// --- The flow centre's queue -------------------------------------------------------------------

function queueRow(item, now, today) {
  const referral = openReferral(item);
  const inQueue = elapsed(referral.in_queue_since, now);
  const held = reservationsText(item, now);
  return el(
    "tr",
    { "data-spell": item.spell_id },
    el(
      "th",
      { scope: "row" },
      bedName(item),
      el("span", { class: "specialty" }, wardName(item.ward_id)),
    ),
    patientCell(item),
    el("td", {}, sinceReferral(referral, now)),
    el(
      "td",
      {},
      inQueue === null ? el("span", { class: "none" }, "Not triaged") : duration(inQueue),
    ),
    el("td", {}, list(blockers(item, now, today), "None")),
    el(
      "td",
      {},
      list(
        item.tasks.map(
          (task) => `${TASKS[task.task] ?? task.task}: ${TASK_STATES[task.status] ?? task.status}`,
        ),
        "None yet",
      ),
    ),
    el("td", {}, list(held, "None")),
    planButton(item),
  );
}

function queueTable(items, now, today, caption) {
  return el(
    "table",
    { class: "counts discharge-list" },
    el("caption", { class: "visually-hidden" }, caption),
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        [
          "Bed",
          "Patient",
          "Since referral",
          "In pathway queue",
          "Blockers",
          "Tasks",
          "Reservation",
          "Plan",
        ].map((heading) => el("th", { scope: "col" }, heading)),
      ),
    ),
    el(
      "tbody",
      {},
      items.map((item) => queueRow(item, now, today)),
    ),
  );
}

function queueView(now, today) {
  const groups = new Map(QUEUE_GROUPS.map((group) => [group, []]));
  for (const item of picture.discharges.values()) {
    const referral = openReferral(item);
    if (!referral) continue;
    groups.get(referral.pathway ?? "untriaged")?.push(item);
  }
  return QUEUE_GROUPS.map((group) => {
    const items = groups
      .get(group)
      .sort(
        (a, b) =>
          Date.parse(a.referral.referred_at) - Date.parse(b.referral.referred_at) ||
          byName(a.spell_id, b.spell_id),
      );
    const title = group === "untriaged" ? "Awaiting triage" : PATHWAYS[group];
    const headingId = `queue-${group}`;
    const facts = [`${items.length} waiting`];
    if (group !== "untriaged" && group !== "0") {
      const places = poolsFor(group, now, today).reduce(
        (sum, one) => sum + Math.max(one.free, 0),
        0,
      );
      facts.push(`${places} ${places === 1 ? "place" : "places"} free from today`);
    }
    return el(
      "section",
      { class: "queue-group", "aria-labelledby": headingId },
      el("h3", { id: headingId }, title),
      el("p", { class: "muted" }, facts.join(" · ")),
      items.length ? queueTable(items, now, today, title) : null,
    );
  });
}

// --- A ward's discharge list -------------------------------------------------------------------

function wardRow(item, now, today) {
  const late = lateTasks(item, today);
  const tasks = outstanding(item).map((task) => [
    TASKS[task.task] ?? task.task,
    task.status === "started" ? " (started)" : "",
    late.has(task.task) ? el("span", { class: "flag flag-hazard" }, "Due by discharge date") : null,
  ]);
  return el(
    "tr",
    { "data-spell": item.spell_id },
    el("th", { scope: "row" }, bedName(item)),
    patientCell(item),
    el("td", {}, eddText(item, today)),
    el("td", {}, resideText(item, now)),
    el("td", { class: "day-cell" }, dayText(item, today), dayControl(item, today)),
    el("td", {}, referralText(item, now)),
    el("td", {}, list(tasks, "None")),
    stayCell(item, now),
    planButton(item),
  );
}

// --- Red and green days --------------------------------------------------------------------

// Today's mark in words as well as colour; a mark of another day is not today's.
function dayText(item, today) {
  const day = item.day;
  if (!day || day.date !== today) return [el("span", { class: "none" }, "Not marked today")];
  return [
    el(
      "span",
      { class: `day-mark ${day.green ? "day-mark-green" : "day-mark-red"}` },
      day.green ? "Green day" : "Red day",
    ),
    !day.green && day.reason ? el("span", { class: "reason" }, day.reason) : null,
  ];
}

// Each patient's marking form is kept while their mark stays as it is, so a live update
// of the list keeps a reason half typed; a new mark brings an empty form.
const dayControls = new Map();

function dayControl(item, today) {
  // The form names the patient by bed: a move draws it anew.
  const key = JSON.stringify([today, item.day, item.bed_id]);
  const kept = dayControls.get(item.spell_id);
  if (kept?.key === key) return kept.node;
  const node = dayForm(item, today);
  dayControls.set(item.spell_id, { key, node });
  return node;
}

function dayForm(item, today) {
  const patient = `${who(item)}, ${bedName(item)}`;
  const reason = el("input", {
    name: "reason",
    maxlength: 200,
    autocomplete: "off",
    "data-focus": `day-reason-${item.spell_id}`,
  });
  const button = (green, words) =>
    el(
      "button",
      {
        type: "submit",
        name: green ? "green" : "red",
        class: `secondary day-button ${green ? "day-button-green" : "day-button-red"}`,
        "aria-label": `${words}: ${patient}`,
        "data-focus": `day-${green ? "green" : "red"}-${item.spell_id}`,
      },
      words,
    );
  const form = el(
    "form",
    { class: "day-form", "aria-label": `Mark today: ${patient}` },
    field("Reason for a red day (optional)", reason),
    el("div", { class: "day-buttons" }, button(false, "Red day"), button(true, "Green day")),
  );
  return onSubmit(form, (pressed) => {
    const green = pressed.name === "green";
    const body = { green, reason: green ? null : reason.value.trim() || null };
    const path = spellPath(item.spell_id, `/days/${today}`);
    send("PUT", path, body, pressed, "ward");
  });
}

function wardView(wardId, now, today) {
  const items = [...picture.discharges.values()]
    .filter((item) => item.ward_id === wardId)
    .sort(
      (a, b) =>
        (a.expected_discharge_date ?? "9999").localeCompare(b.expected_discharge_date ?? "9999") ||
        byName(a.spell_id, b.spell_id),
    );
  const shown = new Set(items.map((item) => item.spell_id));
  for (const spellId of dayControls.keys()) {
    if (!shown.has(spellId)) dayControls.delete(spellId);
  }
  if (!items.length)
    return [el("p", { class: "empty" }, "No patients of this ward are on your lists.")];
  return [
    el(
      "table",
      { class: "counts discharge-list" },
      el("caption", { class: "visually-hidden" }, `Discharge list of ${wardName(wardId)}`),
      el(
        "thead",
        {},
        el(
          "tr",
          {},
          [
            "Bed",
            "Patient",
            "Expected discharge",
            "Criteria to reside",
            "Today: red or green day",
            "Referral",
            "Tasks outstanding",
            "Length of stay",
            "Plan",
          ].map((heading) => el("th", { scope: "col" }, heading)),
        ),
      ),
      el(
        "tbody",
        {},
        items.map((item) => wardRow(item, now, today)),
      ),
    ),
  ];
}

// The wards whose lists the account may see, by name.
function plannedWards() {
  return [...picture.wards.values()]
    .filter((ward) => reference.planWards === null || reference.planWards.has(ward.ward_id))
    .sort((a, b) => byName(a.name, b.name));
}

function wardChoices(selected) {
  const select = document.getElementById("ward");
  const wards = plannedWards();
  const key = JSON.stringify(wards.map((ward) => [ward.ward_id, ward.name, ward.site_id]));
  if (select.dataset.key !== key) {
    select.dataset.key = key;
    select.replaceChildren(
      ...wards.map((ward) => {
        const site = picture.sites.get(ward.site_id)?.name;
        return el("option", { value: ward.ward_id }, site ? `${ward.name} (${site})` : ward.name);
      }),
    );
  }
  if (select.value !== selected) select.value = selected ?? "";
}

// The ward asked for, or else the first with patients on the lists, or else the first.
function wardShown() {
  const asked = chosen().ward;
  const names = plannedWards();
  if (asked && names.some((ward) => ward.ward_id === asked)) return asked;
  const withPatients = [...picture.discharges.values()].map((item) => item.ward_id).filter(Boolean);
  return (
    names.find((ward) => withPatients.includes(ward.ward_id))?.ward_id ?? names[0]?.ward_id ?? null
  );
}

// --- One patient's plan, and the forms that change it ----------------------------------------

function planFacts(item, now, today) {
  const referral = openReferral(item);
  const fact = (label, ...value) => [el("dt", {}, label), el("dd", {}, ...value)];
  const triage = referral?.pathway
    ? [
        PATHWAYS[referral.pathway],
        referral.proposed && referral.proposed.pathway !== referral.pathway
          ? ` (proposed pathway ${referral.proposed.pathway}; chosen because: ${referral.override_reason})`
          : null,
        referral.triaged_at ? ` · triaged ${dayAndClock(new Date(referral.triaged_at))}` : null,
      ]
    : ["Not triaged"];
  return el(
    "dl",
    { class: "plan-facts" },
    fact("Ward", wardName(item.ward_id)),
    fact("Admitted", item.admitted_at ? moment(item.admitted_at) : "–"),
    fact("Expected discharge", ...eddText(item, today)),
    fact("Clinical criteria for discharge", item.clinical_criteria ?? "None recorded"),
    fact("Criteria to reside", ...resideText(item, now)),
    fact("Today", ...dayText(item, today)),
    fact(
      "Referral",
      referral
        ? [
            `Referred ${dayAndClock(new Date(referral.referred_at))}`,
            referral.referred_by ? ` by ${referral.referred_by.id}` : null,
            " · ",
            ...sinceReferral(referral, now),
            referral.note ? el("span", { class: "reason" }, `Note: ${referral.note}`) : null,
          ]
        : "Not referred",
    ),
    referral ? fact("Pathway", ...triage) : null,
    fact("Blockers", list(blockers(item, now, today), "None")),
  );
}

// Each block of forms is built again only when what it shows changes, so a live update
// never wipes what someone is typing.
const built = new Map();

function block(name, key, build) {
  const holder = document.getElementById(`block-${name}`);
  if (built.get(name) === key) return;
  built.set(name, key);
  holder.replaceChildren(...[build()].flat().filter(Boolean));
}

// One request; its problem, if any, shown where its form is: by the plan's forms, or
// ("ward") above the ward's list.
async function send(method, path, body, control, where = "plan") {
  const problem = document.getElementById(`${where}-problem`);
  const sent = document.getElementById(`${where}-sent`);
  problem.textContent = "";
  sent.textContent = "";
  try {
    const { response, answer } = await request(method, path, body, control);
    if (response.status === 401) {
      problem.textContent = "Your session has ended: sign in again on the whiteboard page.";
      return null;
    }
    if (!response.ok) {
      problem.textContent = describeProblem(
        answer,
        response.status,
        "This account may not do that for this ward.",
      );
      return null;
    }
    sent.textContent = "Sent: the lists show the change as soon as it is recorded.";
    return answer ?? {};
  } catch {
    problem.textContent =
      "The change did not reach the server: check the connection and try again.";
    return null;
  }
}

function spellPath(spellId, rest = "") {
  return `${API}/${encodeURIComponent(spellId)}${rest}`;
}

function eddForm(item) {
  const input = el("input", {
    type: "date",
    name: "expected_discharge_date",
    value: item.expected_discharge_date,
  });
  const form = el(
    "form",
    { class: "action", "aria-label": "Set the expected discharge date" },
    field("Expected discharge date", input),
    el("button", { type: "submit" }, "Set date"),
  );
  return onSubmit(form, (button) =>
    send(
      "PATCH",
      spellPath(item.spell_id, "/readiness"),
      { expected_discharge_date: input.value || null },
      button,
    ),
  );
}

function reviewForm(item) {
  const reason = el(
    "select",
    { name: "delay_reason" },
    options(Object.fromEntries(reference.delayReasons), null, "No delay reason"),
  );
  const note = el("input", { name: "note", maxlength: 500, autocomplete: "off" });
  const meets = el("input", { type: "radio", name: "meets", value: "yes", required: true });
  const notMet = el("input", { type: "radio", name: "meets", value: "no", required: true });
  const sync = () => {
    reason.disabled = !notMet.checked;
    if (reason.disabled) reason.value = "";
  };
  meets.addEventListener("change", sync);
  notMet.addEventListener("change", sync);
  sync();
  const form = el(
    "form",
    { class: "action", "aria-label": "Record a criteria to reside review" },
    el(
      "fieldset",
      {},
      el("legend", {}, "Meets the criteria to reside?"),
      el("label", { class: "choice" }, meets, " Yes"),
      el("label", { class: "choice" }, notMet, " No: medically optimised"),
    ),
    field("Delay reason", reason),
    field("Note", note),
    el("button", { type: "submit" }, "Record review"),
  );
  return onSubmit(form, (button) => {
    const body = { meets_criteria: meets.checked };
    if (notMet.checked && reason.value) body.delay_reason = reason.value;
    if (note.value.trim()) body.note = note.value.trim();
    send("POST", spellPath(item.spell_id, "/reside-reviews"), body, button).then((answer) => {
      if (answer) form.reset();
      sync();
    });
  });
}

function referForm(item) {
  const note = el("input", { name: "note", maxlength: 500, autocomplete: "off" });
  const form = el(
    "form",
    { class: "action", "aria-label": "Refer the patient" },
    field("Note for the flow centre (optional)", note),
    el("button", { type: "submit" }, "Refer to the flow centre"),
  );
  return onSubmit(form, (button) => {
    const body = note.value.trim() ? { note: note.value.trim() } : {};
    send("POST", spellPath(item.spell_id, "/referrals"), body, button);
  });
}

function cancelForm(item, referral) {
  const reason = el("input", {
    name: "reason",
    required: true,
    maxlength: 500,
    autocomplete: "off",
  });
  const form = el(
    "form",
    { class: "action", "aria-label": "Cancel the referral" },
    field("Reason for cancelling", reason),
    el("button", { type: "submit", class: "secondary" }, "Cancel referral"),
  );
  const path = spellPath(
    item.spell_id,
    `/referrals/${encodeURIComponent(referral.referral_id)}/cancel`,
  );
  return onSubmit(form, (button) => send("POST", path, { reason: reason.value.trim() }, button));
}

function answersOf(form) {
  const answers = {};
  for (const question of QUESTIONS) {
    const value = form.elements[question.name].value;
    if (value === "") return null;
    answers[question.name] = question.yesNo ? value === "true" : value;
  }
  const preference = form.elements.preference.value.trim();
  if (preference) answers.preference = preference;
  return answers;
}

function triageForm(item, referral) {
  const questions = QUESTIONS.map((question) =>
    field(
      question.label,
      el(
        "select",
        { name: question.name, required: true },
        options(question.options, question.preset ?? null, question.preset ? null : "Choose…"),
      ),
    ),
  );
  const preference = el("input", { name: "preference", maxlength: 500, autocomplete: "off" });
  const proposal = el("div", { class: "proposal", hidden: true, "aria-live": "polite" });
  const form = el(
    "form",
    { class: "action triage", "aria-label": "Triage the referral" },
    el(
      "div",
      { class: "answers" },
      questions,
      field("What the patient and family want (optional)", preference),
    ),
    el("button", { type: "submit", name: "propose" }, "Propose a pathway"),
    proposal,
  );
  // An answer changed after the proposal makes it stale: propose again before allocating.
  const stale = () => {
    proposal.hidden = true;
    proposal.replaceChildren();
  };
  form.addEventListener("input", (event) => {
    if (event.target.closest(".answers")) stale();
  });
  const path = spellPath(
    item.spell_id,
    `/referrals/${encodeURIComponent(referral.referral_id)}/triage`,
  );
  return onSubmit(form, async (button) => {
    const answers = answersOf(form);
    if (answers === null) return;
    if (button.name === "propose") {
      const proposed = await send("POST", `${API}/triage-proposal`, answers, button);
      if (proposed === null) return;
      document.getElementById("plan-sent").textContent = "";
      showProposal(proposal, proposed);
      return;
    }
    const choice = form.elements.pathway.value;
    const reason = form.elements.override_reason.value.trim();
    const body = { answers };
    if (choice !== proposal.dataset.pathway) {
      if (!reason) {
        document.getElementById("plan-problem").textContent =
          `Say why you allocate pathway ${choice} instead of the proposed pathway ${proposal.dataset.pathway}.`;
        form.elements.override_reason.focus();
        return;
      }
      body.pathway = choice;
      body.override_reason = reason;
    }
    if (await send("POST", path, body, button)) stale();
  });
}

function showProposal(holder, proposed) {
  holder.dataset.pathway = proposed.pathway;
  const pathway = el("select", { name: "pathway" }, options(PATHWAYS, proposed.pathway));
  const reason = el("input", { name: "override_reason", maxlength: 500, autocomplete: "off" });
  const allocate = el(
    "button",
    { type: "submit", name: "allocate" },
    `Allocate pathway ${proposed.pathway}`,
  );
  const hint = el(
    "span",
    { class: "muted" },
    "Only when choosing another pathway than the one proposed.",
  );
  pathway.addEventListener("change", () => {
    const other = pathway.value !== proposed.pathway;
    // Checked when allocating, not by the form: it would also stop a new proposal.
    reason.setAttribute("aria-required", String(other));
    hint.textContent = other
      ? "Required: you are choosing another pathway than the one proposed."
      : "Only when choosing another pathway than the one proposed.";
    allocate.textContent = `Allocate pathway ${pathway.value}`;
  });
  holder.replaceChildren(
    el("p", { class: "proposed" }, el("strong", {}, `Proposed: ${PATHWAYS[proposed.pathway]}`)),
    el("p", {}, `Why: ${proposed.reason} (rule ${proposed.rule}, rules ${proposed.version}).`),
    el("p", {}, `Tasks it sets: ${proposed.tasks.map((task) => TASKS[task] ?? task).join(", ")}.`),
    field("Pathway to allocate", pathway),
    field("Reason for another pathway", reason, hint),
    allocate,
  );
  holder.hidden = false;
}

function tasksBlock(item) {
  if (!item.tasks.length) {
    return el("p", { class: "empty" }, "No tasks yet: triage sets the tasks the pathway needs.");
  }
  const path = (task) => spellPath(item.spell_id, `/tasks/${encodeURIComponent(task.task)}`);
  return el(
    "table",
    { class: "counts tasks" },
    el("caption", { class: "visually-hidden" }, "Discharge tasks"),
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        ["Task", "State", "Due", "Mark"].map((heading) => el("th", { scope: "col" }, heading)),
      ),
    ),
    el(
      "tbody",
      {},
      item.tasks.map((task) => {
        const name = TASKS[task.task] ?? task.task;
        return el(
          "tr",
          {},
          el("th", { scope: "row" }, name),
          el("td", { class: `task-${task.status}` }, TASK_STATES[task.status] ?? task.status),
          el("td", {}, task.due_at ? moment(task.due_at) : "–"),
          el(
            "td",
            { class: "task-actions" },
            TASK_ACTIONS.map(([status, words]) => {
              const button = el(
                "button",
                {
                  type: "button",
                  class: "secondary",
                  disabled: task.status === status,
                  "aria-label": `Mark ${name.toLowerCase()} ${words.toLowerCase()}`,
                },
                words,
              );
              button.addEventListener("click", () => {
                const body = { status };
                if (task.due_at) body.due_at = task.due_at;
                send("PUT", path(task), body, button);
              });
              return button;
            }),
          ),
        );
      }),
    ),
  );
}

function reservationsBlock(item, now) {
  const held = item.reservations.filter((one) => holds(one, now));
  if (!held.length) return el("p", { class: "empty" }, "No capacity is reserved for this patient.");
  return el(
    "ul",
    { class: "plain reservations" },
    held.map((one) => {
      const reason = el("input", {
        name: "reason",
        required: true,
        maxlength: 500,
        autocomplete: "off",
      });
      const path = spellPath(
        item.spell_id,
        `/reservations/${encodeURIComponent(one.reservation_id)}/release`,
      );
      const form = onSubmit(
        el(
          "form",
          { class: "action", "aria-label": `Release ${capacityLabel(one)}` },
          field("Reason for releasing", reason),
          el("button", { type: "submit", class: "secondary" }, "Release"),
        ),
        (button) => send("POST", path, { reason: reason.value.trim() }, button),
      );
      return el(
        "li",
        {},
        el("p", {}, `${capacityLabel(one)}: held until ${dayAndClock(new Date(one.expires_at))}`),
        form,
      );
    }),
  );
}

function reserveBlock(item, offered) {
  const pathway = openReferral(item)?.pathway ?? null;
  if (pathway === null)
    return el("p", { class: "empty" }, "Triage first: the pathway says which capacity to reserve.");
  if (pathway === "0") return el("p", { class: "empty" }, "Pathway 0 needs no community capacity.");
  if (!offered.length) {
    return el(
      "p",
      { class: "empty" },
      `No capacity with places free is declared for pathway ${pathway} from today.`,
    );
  }
  const select = el(
    "select",
    { name: "capacity", required: true },
    offered.map(({ pool, free: places }) =>
      el("option", { value: pool.key }, `${capacityLabel(pool)}: ${places} free`),
    ),
  );
  const form = el(
    "form",
    { class: "action", "aria-label": "Reserve capacity" },
    field("Capacity", select),
    el("button", { type: "submit" }, "Reserve"),
  );
  return onSubmit(form, (button) => {
    const pool = picture.pools.get(select.value);
    if (!pool) return;
    const capacity = { service: pool.service, area: pool.area, day: pool.day };
    send("POST", spellPath(item.spell_id, "/reservations"), { capacity }, button);
  });
}

function planSkeleton() {
  const part = (name, title) =>
    el(
      "section",
      { class: "plan-part", "aria-labelledby": `part-${name}` },
      el("h3", { id: `part-${name}` }, title),
      el("div", { id: `block-${name}` }),
    );
  return [
    part("edd", "Expected discharge date"),
    part("review", "Criteria to reside review"),
    part("referral", "Referral and triage"),
    part("tasks", "Discharge tasks"),
    part("reservations", "Reserved capacity"),
  ];
}

function planView(spellId, now, today) {
  const section = document.getElementById("plan");
  const facts = document.getElementById("plan-facts");
  const actions = document.getElementById("plan-actions");
  const title = document.getElementById("plan-title");
  if (spellId === null) {
    section.hidden = true;
    return;
  }
  section.hidden = false;
  const item = picture.discharges.get(spellId);
  if (!item) {
    title.textContent = "Discharge plan";
    facts.replaceChildren(
      el(
        "p",
        { class: "empty" },
        "This patient is no longer on your discharge lists: discharged, or moved to a ward you do not plan for.",
      ),
    );
    if (built.has("spell")) {
      // What was said about the plan's last change no longer applies.
      document.getElementById("plan-problem").textContent = "";
      document.getElementById("plan-sent").textContent = "";
    }
    actions.replaceChildren();
    built.clear();
    return;
  }
  title.textContent = `Discharge plan: ${who(item)}, ${bedName(item)}`;
  facts.replaceChildren(planFacts(item, now, today));
  if (built.get("spell") !== spellId) {
    built.clear();
    built.set("spell", spellId);
    actions.replaceChildren(...planSkeleton());
  }
  const referral = openReferral(item);
  block("edd", item.expected_discharge_date ?? "", () => eddForm(item));
  block("review", String(reference.delayReasons.size), () => reviewForm(item));
  block("referral", `${referral?.referral_id ?? ""} ${referral?.pathway ?? ""}`, () =>
    referral
      ? [
          el(
            "p",
            {},
            referral.pathway === null
              ? "Referred, awaiting triage."
              : "Triage again to change the pathway.",
          ),
          triageForm(item, referral),
          cancelForm(item, referral),
        ]
      : referForm(item),
  );
  block("tasks", JSON.stringify(item.tasks), () => tasksBlock(item));
  const offered = referral?.pathway
    ? poolsFor(referral.pathway, now, today).filter((one) => one.free > 0)
    : [];
  const heldNow = item.reservations
    .filter((one) => holds(one, now))
    .map((one) => one.reservation_id);
  const reserveKey = JSON.stringify([
    referral?.pathway ?? null,
    offered.map((one) => [one.pool.key, one.free]),
    heldNow,
  ]);
  block("reservations", reserveKey, () => [
    reservationsBlock(item, now),
    reserveBlock(item, offered),
  ]);
}

// --- Rendering -----------------------------------------------------------------------------

function render() {
  if (live.cursor === null) return;
  // The log's clock: the simulator's runs ahead of this computer's.
  const now = clock.now();
  const today = localDay(new Date(now));
  // A list drawn again keeps the keyboard where it was.
  const focused = document.activeElement?.dataset?.focus ?? null;
  document.getElementById("queue").hidden = false;
  document.getElementById("ward-list").hidden = false;
  document.getElementById("queue-groups").replaceChildren(...queueView(now, today));
  const wardId = wardShown();
  wardChoices(wardId);
  document
    .getElementById("ward-patients")
    .replaceChildren(
      ...(wardId === null
        ? [el("p", { class: "empty" }, "None of your wards is registered yet.")]
        : wardView(wardId, now, today)),
    );
  planView(chosen().spell, now, today);
  if (focused !== null) {
    const again = [...document.querySelectorAll("[data-focus]")].find(
      (node) => node.dataset.focus === focused,
    );
    again?.focus();
  }
}

function signedOut() {
  signedOutOfPage(live);
}

async function loadDelayReasons() {
  const response = await fetch(`${API}/delay-reasons`);
  if (!response.ok) return;
  reference.delayReasons = new Map(Object.entries(await response.json()));
  scheduleRender();
}

async function start() {
  const session = await signedIn(signedOut);
  if (session === null) return;
  const plans = session.grants.filter((held) => held.permissions.includes("discharge.plan"));
  reference.planWards = plans.some((held) => held.wards === null)
    ? null
    : new Set(plans.flatMap((held) => held.wards));
  if (!plans.length) {
    live.show("refused");
    pageProblem("This account may not plan discharges.");
    return;
  }
  loadDelayReasons();
  live.start();
  setInterval(live.watchdog, 1_000);
}

document
  .getElementById("ward")
  .addEventListener("change", (event) => choose({ ward: event.target.value }));
document.getElementById("main").addEventListener("click", (event) => {
  const button = event.target.closest("button.open-plan");
  if (!button) return;
  document.getElementById("plan-problem").textContent = "";
  document.getElementById("plan-sent").textContent = "";
  choose({ spell: button.dataset.spell });
  // The plan is drawn on the next frame; then the keyboard moves to it.
  requestAnimationFrame(() =>
    requestAnimationFrame(() => document.getElementById("plan-title").focus()),
  );
});
// The address holds the ward and the plan shown: the skip link moves the keyboard to the
// lists without following its own address, which would replace them.
document.querySelector(".skip-link").addEventListener("click", (event) => {
  event.preventDefault();
  document.getElementById("main").focus();
});
window.addEventListener("hashchange", scheduleRender);
// Keeps the clocks moving when nothing changes.
setInterval(scheduleRender, 30_000);
start();
