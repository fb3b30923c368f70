// A patient's discharge plan on their bed's card: criteria to reside, today's red or
// green day, the pathway and the tasks still to do; and the two-tap changes ward staff
// make to it (changes.js): the expected discharge date, the criteria to reside, the day's
// colour and a task's progress. Boards are sent plans only for the wards their account
// plans discharges on, so a plan on a card is one its reader may change.

import { el } from "./dom.js";
import { TASKS, TASK_STATES, localDay } from "./discharge_work.js";
import { dayAndClock } from "./time.js";

const FORBIDDEN = "This account may not plan discharges on this ward.";

const OUTSTANDING = new Set(["pending", "started"]);

const DAY_MS = 86_400_000;

export function calendarDay(isoDate) {
  // A date without a time is a calendar day where the ward is, not UTC midnight.
  const [year, month, day] = isoDate.split("-").map(Number);
  return new Date(year, month - 1, day).toLocaleDateString("en-GB", { day: "numeric", month: "short" });
}

const planPath = (plan, rest) => `api/v1/discharges/${encodeURIComponent(plan.spell_id)}/${rest}`;
const toggleKey = (spellId) => `plan-toggle:${spellId}`;
const fieldKey = (spellId, field) => `plan:${spellId}:${field}`;
const taskField = (task) => `task:${task}`;

// Each part of a plan staff change from the board: what it is called in an announcement,
// the request that sets it to ``value``, the value the plan shows now (for undo, undefined
// when it cannot be put back) and the plan as shown while a change is pending.
const FIELDS = {
  edd: {
    name: "expected discharge date",
    outcome: (value) => (value === null ? "cleared" : `set to ${calendarDay(value)}`),
    request: (plan, value) => ["PATCH", planPath(plan, "readiness"), { expected_discharge_date: value }],
    current: (plan) => plan.expected_discharge_date,
    show: (plan, value) => ({ ...plan, expected_discharge_date: value }),
  },
  ctr: {
    name: "criteria to reside",
    outcome: (value) => (value.meets ? "set to met" : "set to not met"),
    request: (plan, value) => [
      "POST",
      planPath(plan, "reside-reviews"),
      { meets_criteria: value.meets, delay_reason: value.meets ? null : (value.delay_reason ?? null) },
    ],
    // Not put back: a review undone would be a new review, and would restart the time
    // the patient has been without criteria to reside.
    current: () => undefined,
    show: (plan, value) => ({
      ...plan,
      criteria_to_reside: {
        ...(plan.criteria_to_reside ?? {}),
        meets: value.meets,
        delay_reason: value.meets ? null : (value.delay_reason ?? null),
        not_met_since: value.meets ? null : (plan.criteria_to_reside?.not_met_since ?? null),
      },
    }),
  },
  day: {
    name: "day",
    outcome: (value) => (value.green ? "marked green" : "marked red"),
    request: (plan, value) => [
      "PUT",
      planPath(plan, `days/${value.date}`),
      { green: value.green, reason: value.green ? null : (value.reason ?? null) },
    ],
    // Only today's colour can be put back: a day not marked cannot be unmarked.
    current: (plan, today) =>
      plan.day?.date === today ? { date: today, green: plan.day.green, reason: plan.day.reason } : undefined,
    show: (plan, value) => ({ ...plan, day: { ...value } }),
  },
};

function taskFieldOf(task) {
  return {
    name: `${TASKS[task]?.toLowerCase() ?? task} task`,
    outcome: (value) => `set to ${TASK_STATES[value].toLowerCase()}`,
    request: (plan, value) => ["PUT", planPath(plan, `tasks/${task}`), { status: value }],
    current: (plan) => plan.tasks.find((one) => one.task === task)?.status,
    show: (plan, value) => ({
      ...plan,
      tasks: plan.tasks.map((one) => (one.task === task ? { ...one, status: value } : one)),
    }),
  };
}

const fieldOf = (field) => (field.startsWith("task:") ? taskFieldOf(field.slice(5)) : FIELDS[field]);

// The choices the board offers for a plan: each with the field it sets, the value, its
// words and an id unique within the plan. What the plan shows already is not offered.
function choicesFor(plan, today) {
  const tomorrow = localDay(new Date(Date.parse(`${today}T12:00:00`) + DAY_MS));
  const choices = [];
  const offer = (group, field, id, value, label) => choices.push({ group, field, id, value, label });
  for (const [day, label] of [
    [today, "Today"],
    [tomorrow, "Tomorrow"],
  ]) {
    if (plan.expected_discharge_date !== day) offer("Expected discharge", "edd", `edd:${day}`, day, label);
  }
  const reside = plan.criteria_to_reside;
  if (reside?.meets !== true) {
    offer("Criteria to reside", "ctr", "ctr:met", { meets: true }, "Meets criteria");
  }
  if (reside?.meets !== false) {
    offer("Criteria to reside", "ctr", "ctr:not-met", { meets: false }, "No criteria to reside");
  }
  const marked = plan.day?.date === today ? plan.day.green : null;
  if (marked !== true) offer("Today", "day", "day:green", { date: today, green: true }, "Green day");
  if (marked !== false) offer("Today", "day", "day:red", { date: today, green: false }, "Red day");
  for (const task of plan.tasks.filter((one) => OUTSTANDING.has(one.status))) {
    const name = TASKS[task.task] ?? task.task;
    const steps = task.status === "pending" ? ["started", "done", "not_needed"] : ["done", "not_needed"];
    for (const step of steps) {
      offer("Tasks", taskField(task.task), `task:${task.task}:${step}`, step, `${name}: ${TASK_STATES[step].toLowerCase()}`);
    }
  }
  return choices;
}

function fieldsOf(plan) {
  return ["edd", "ctr", "day", ...plan.tasks.map((one) => taskField(one.task))];
}

// ``changes``: the board's two-tap changes (changes.js); ``today()``: the ward's calendar
// day now, as localDay gives it.
export function planChanges(changes, today) {
  function change(plan, bed, field, value, undoValue) {
    const part = fieldOf(field);
    const [method, path, body] = part.request(plan, value);
    return {
      subject: `plan:${plan.spell_id}`,
      key: fieldKey(plan.spell_id, field),
      wardId: plan.ward_id,
      what: `${bed.label} ${part.name}`,
      outcome: part.outcome(value),
      shown: { field, value },
      method,
      path,
      body,
      forbidden: FORBIDDEN,
      focus: toggleKey(plan.spell_id),
      undo: undoValue === undefined ? null : change(plan, bed, field, undoValue, undefined),
    };
  }

  function set(plan, bed, field, value) {
    changes.make(change(plan, bed, field, value, fieldOf(field).current(plan, today())));
  }

  // The plan as the board draws it: with the changes on their way, each marked pending.
  function shown(plan) {
    let drawn = plan;
    const saving = [];
    for (const field of fieldsOf(plan)) {
      const pending = changes.shown(fieldKey(plan.spell_id, field));
      if (pending === undefined) continue;
      drawn = fieldOf(field).show(drawn, pending.value);
      saving.push(field);
    }
    return saving.length ? { ...drawn, saving } : drawn;
  }

  const drawnWith = (plan) =>
    changes.drawnWith(
      toggleKey(plan.spell_id),
      fieldsOf(plan).map((field) => fieldKey(plan.spell_id, field)),
    );

  // What the card says of the plan, in words as well as colour.
  function facts(plan, now) {
    const saving = new Set(plan.saving ?? []);
    const mark = (field) => (saving.has(field) ? el("span", { class: "flag flag-pending" }, "Saving") : null);
    const reside = plan.criteria_to_reside;
    // Ward staff say CtR and NCTR; the abbreviation's title spells it out.
    const ctrWords = (short, long) => el("abbr", { title: long }, short);
    const ctr = reside
      ? reside.meets
        ? el("span", { class: "ctr ctr-met" }, "Meets ", ctrWords("CtR", "criteria to reside"))
        : el(
            "span",
            { class: "ctr ctr-not-met" },
            ctrWords("NCTR", "no criteria to reside"),
            reside.not_met_since ? ` since ${dayAndClock(new Date(reside.not_met_since))}` : "",
            reside.delay_reason ? ` (${reside.delay_reason})` : "",
          )
      : el("span", { class: "ctr" }, ctrWords("CtR", "criteria to reside"), " not reviewed");
    const marked = plan.day?.date === localDay(new Date(now)) ? plan.day : null;
    const day = marked
      ? el(
          "span",
          { class: `day day-${marked.green ? "green" : "red"}` },
          marked.green ? "Green day" : "Red day",
          !marked.green && marked.reason ? `: ${marked.reason}` : "",
        )
      : el("span", { class: "day" }, "Day not marked");
    const referral = plan.referral;
    const pathway = referral
      ? el("span", { class: "pathway" }, referral.pathway === null ? "Referred, not triaged" : `Pathway ${referral.pathway}`)
      : null;
    const stillToDo = plan.tasks.filter((one) => OUTSTANDING.has(one.status));
    const edd = plan.expected_discharge_date
      ? el("span", { class: "edd" }, `EDD ${calendarDay(plan.expected_discharge_date)}`)
      : el("span", { class: "edd edd-missing" }, "No EDD");
    return [
      el("p", { class: "bed-plan-facts" }, edd, mark("edd"), " ", ctr, mark("ctr"), " ", day, mark("day"), pathway ? " " : null, pathway),
      stillToDo.length
        ? el(
            "p",
            { class: "bed-plan-tasks" },
            "To do: ",
            stillToDo.flatMap((one, index) => [
              index ? ", " : null,
              el("span", { class: `task task-${one.status}` }, TASKS[one.task] ?? one.task, one.status === "started" ? " (started)" : ""),
              mark(taskField(one.task)),
            ]),
          )
        : null,
    ];
  }

  // Any other date than today or tomorrow: a date field and its button, not a choice,
  // since a date typed in parts is not meant until it is whole.
  function dateForm(plan) {
    return el(
      "form",
      { class: "plan-date", "data-plan-date": plan.spell_id },
      el(
        "label",
        {},
        "Expected discharge on another date ",
        el("input", {
          type: "date",
          name: "day",
          required: true,
          value: plan.expected_discharge_date ?? "",
          "data-focus-key": `plan-date:${plan.spell_id}`,
        }),
      ),
      el("button", { type: "submit" }, "Set date"),
    );
  }

  function control(plan, bed) {
    const spellId = plan.spell_id;
    const choices = choicesFor(plan, today());
    const isOpen = changes.isOpen(toggleKey(spellId));
    const listId = `plan-choices-${spellId}`;
    const groups = [...new Set(choices.map((one) => one.group))];
    const choice = (one) =>
      el(
        "button",
        {
          type: "button",
          class: `plan-choice choice-${one.id.split(":")[0]}`,
          "data-plan-choice": one.id,
          "data-spell": spellId,
          "data-focus-key": `plan-choice:${spellId}:${one.id}`,
        },
        one.label,
      );
    return el(
      "div",
      { class: "plan-change" },
      el(
        "button",
        {
          type: "button",
          class: "plan-toggle",
          "data-plan-toggle": spellId,
          "data-focus-key": toggleKey(spellId),
          "aria-label": `Update the plan of ${bed.label}`,
          "aria-expanded": isOpen ? "true" : "false",
          "aria-controls": isOpen ? listId : null,
        },
        "Update plan",
      ),
      isOpen
        ? el(
            "div",
            { id: listId, class: "plan-choices", role: "group", "aria-label": `Plan of ${bed.label}` },
            groups.map((group) =>
              el(
                "div",
                { class: "choice-group", role: "group", "aria-label": group },
                el("span", { class: "choice-group-name", "aria-hidden": "true" }, group),
                choices.filter((one) => one.group === group).map(choice),
              ),
            ),
            // Last, since a date field takes a keyboard three stops to cross.
            dateForm(plan),
          )
        : null,
      changes.problemLine(fieldsOf(plan).map((field) => fieldKey(spellId, field))),
    );
  }

  // ``placeOf(spellId)``: the plan and the bed it is drawn on, or null.
  function listen(root, placeOf) {
    root.addEventListener("click", (event) => {
      const target = event.target.closest("button");
      if (!target) return;
      if (target.dataset.planToggle) {
        const place = placeOf(target.dataset.planToggle);
        if (!place) return;
        const first = choicesFor(place.plan, today())[0];
        changes.toggle(toggleKey(place.plan.spell_id), first ? `plan-choice:${place.plan.spell_id}:${first.id}` : null);
      } else if (target.dataset.planChoice) {
        const place = placeOf(target.dataset.spell);
        const one = place && choicesFor(place.plan, today()).find((c) => c.id === target.dataset.planChoice);
        if (one) set(place.plan, place.bed, one.field, one.value);
      }
    });
    root.addEventListener("submit", (event) => {
      const form = event.target.closest("form[data-plan-date]");
      if (!form) return;
      event.preventDefault();
      const place = placeOf(form.dataset.planDate);
      const day = form.elements.day.value;
      if (place && day) set(place.plan, place.bed, "edd", day);
    });
  }

  return { shown, drawnWith, facts, control, listen };
}
