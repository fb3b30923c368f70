// Ward staff set a bed's state from the ward board in two taps: the bed's button opens
// its choices and a choice sets it. The bed shows the change at once as pending, until
// the change's own event comes back on the socket; a refused change rolls back with the
// server's reason; the last change can be undone. Every control is a button, so a
// keyboard alone does all of it.

import { el } from "./dom.js";
import { describeProblem, request } from "./page.js";

// The statuses staff set, in the order a bed goes through them, with the state each
// shows (a clean bed is an available one).
const CHOICES = [
  { status: "awaiting_clean", state: "awaiting_clean", label: "Awaiting clean" },
  { status: "cleaning", state: "cleaning", label: "Being cleaned" },
  { status: "clean", state: "available", label: "Clean" },
  { status: "isolated", state: "isolated", label: "Isolated" },
  { status: "contaminated", state: "contaminated", label: "Contaminated" },
  { status: "reserved", state: "reserved", label: "Reserved" },
  { status: "blocked", state: "blocked", label: "Blocked" },
  { status: "closed", state: "closed", label: "Closed" },
];

// A change the server took but whose event never came back is not left pending for ever:
// the board then shows the bed as the stream has it, and says so.
const CONFIRM_WITHIN_MS = 30_000;
// Enough to recognise an event that came back before the server's answer did.
const RECENT_EVENTS = 500;

const FORBIDDEN = "This account may not set the state of beds on this ward.";
const UNCONFIRMED =
  "The change has not reached the board, so it may not have been made: check the bed.";

// The status that puts a bed back as it was shown, or null when none can: an occupied
// bed takes isolation only, so its isolation cannot be taken back from the board.
function statusShowing(bed) {
  if (bed.state === "occupied") return bed.status === "isolated" ? "isolated" : null;
  if (bed.status) return bed.status;
  return bed.state === "available" ? "clean" : null;
}

function choicesFor(bed) {
  // Occupancy outranks every status, so on an occupied bed only isolation means anything.
  if (bed.state === "occupied") {
    return bed.status === "isolated" ? [] : CHOICES.filter((one) => one.status === "isolated");
  }
  return CHOICES.filter((one) => one.state !== bed.state);
}

export function bedStatusChanges(scheduleRender) {
  const pending = new Map(); // bed_id -> { choice, eventId, timer }
  const recent = new Set();
  let open = null; // the bed whose choices are showing
  // The last change made here: { bedId, wardId, label, choice, undo, eventId }. Its undo
  // is offered only until anything else changes the bed.
  let last = null;
  let problem = null; // { bedId, text }
  let focusAfter = null; // the control to focus once the board is drawn again
  let spoken = null; // the one live region that announces what happened to a change

  function announce(text) {
    if (spoken) spoken.textContent = text;
  }

  // ``bedIds``: the beds the event changed on this board.
  function heard(eventId, bedIds) {
    if (!eventId) return;
    recent.add(eventId);
    if (recent.size > RECENT_EVENTS) recent.delete(recent.values().next().value);
    if (last && eventId !== last.eventId && bedIds.includes(last.bedId)) {
      // Someone or something else changed the bed: undoing now would overwrite that.
      last = null;
      scheduleRender();
    }
    for (const [bedId, change] of pending) {
      if (change.eventId === eventId) {
        clearTimeout(change.timer);
        pending.delete(bedId);
        announce(`${change.label} is now ${change.choice.label}.`);
        scheduleRender();
      }
    }
  }

  async function set(bed, choice, undoing) {
    const bedId = bed.bed_id;
    const undo = undoing ? null : statusShowing(bed);
    open = null;
    problem = null;
    const change = { choice, label: bed.label, eventId: null, timer: null };
    pending.set(bedId, change);
    focusAfter = `bed-toggle:${bedId}`;
    announce(`Setting ${bed.label} to ${choice.label}…`);
    scheduleRender();
    let outcome;
    try {
      outcome = await request(
        "POST",
        `api/v1/beds/${encodeURIComponent(bedId)}/status`,
        { status: choice.status },
        null,
      );
    } catch {
      outcome = null;
    }
    // A later change of the same bed, made before this one's answer came, outranks it.
    const latest = pending.get(bedId) === change;
    if (!outcome?.response.ok) {
      if (latest) pending.delete(bedId);
      const text = outcome
        ? describeProblem(outcome.answer, outcome.response.status, FORBIDDEN)
        : "The server could not be reached: the bed is unchanged.";
      problem = { bedId, text };
      announce(`${bed.label} was not changed: ${text}`);
      scheduleRender();
      return;
    }
    const eventId = outcome.answer.event_id;
    last = { bedId, wardId: bed.ward_id, label: bed.label, choice, undo, eventId };
    // A superseded change leaves the bed to the later change's own event.
    if (latest && recent.has(eventId)) {
      pending.delete(bedId);
      announce(`${bed.label} is now ${choice.label}.`);
    } else if (latest) {
      change.eventId = eventId;
      change.timer = setTimeout(() => {
        if (pending.get(bedId) !== change) return;
        pending.delete(bedId);
        problem = { bedId, text: UNCONFIRMED };
        announce(`${bed.label}: ${UNCONFIRMED}`);
        scheduleRender();
      }, CONFIRM_WITHIN_MS);
    }
    scheduleRender();
  }

  // The bed as the board draws it: with its pending change, if one is on its way. An
  // occupied bed stays occupied: isolation is shown beside its occupancy.
  function shown(bed) {
    const change = pending.get(bed.bed_id);
    if (!change) return bed;
    if (bed.state === "occupied") {
      return { ...bed, status: change.choice.status, pending: change.choice.label };
    }
    return { ...bed, state: change.choice.state, pending: change.choice.label };
  }

  // What of this module a bed's card shows, as a string: the card is drawn again only
  // when it, or the bed, changes.
  function drawnWith(bedId) {
    return JSON.stringify([open === bedId, pending.has(bedId), problem?.bedId === bedId && problem.text]);
  }

  function control(bed) {
    const bedId = bed.bed_id;
    const choices = choicesFor(bed);
    const listId = `bed-choices-${bedId}`;
    const isOpen = open === bedId && choices.length > 0;
    const busy = pending.has(bedId);
    // Never disabled: a disabled button drops the keyboard's focus.
    const unchangeable = choices.length === 0;
    return el(
      "div",
      { class: "bed-change" },
      el(
        "button",
        {
          type: "button",
          class: "bed-toggle",
          "data-bed-toggle": bedId,
          "data-focus-key": `bed-toggle:${bedId}`,
          "aria-label": `Change state of ${bed.label}${busy ? " (saving)" : ""}`,
          "aria-expanded": isOpen ? "true" : "false",
          "aria-controls": isOpen ? listId : null,
          "aria-disabled": unchangeable ? "true" : null,
          title: unchangeable ? "Isolation is the only state an occupied bed takes" : null,
        },
        busy ? "Saving…" : "Change state",
      ),
      isOpen
        ? el(
            "ul",
            { id: listId, class: "bed-choices", "aria-label": `New state of ${bed.label}` },
            choices.map((choice) =>
              el(
                "li",
                {},
                el(
                  "button",
                  {
                    type: "button",
                    class: `bed-choice choice-${choice.state}`,
                    "data-bed-choice": choice.status,
                    "data-bed": bedId,
                    "data-focus-key": `bed-choice:${bedId}:${choice.status}`,
                  },
                  choice.label,
                ),
              ),
            ),
          )
        : null,
      problem?.bedId === bedId ? el("p", { class: "problem" }, problem.text) : null,
    );
  }

  // The last change made on this ward's board, with its undo while one can be made.
  function lastChange(wardId) {
    if (last === null || last.wardId !== wardId) return null;
    const confirmed = !pending.has(last.bedId);
    return el(
      "p",
      { class: "last-change" },
      `${last.label} set to ${last.choice.label}${confirmed ? "" : " (saving)"}. `,
      last.undo !== null && confirmed
        ? el(
            "button",
            { type: "button", "data-bed-undo": last.bedId, "data-focus-key": "bed-undo" },
            "Undo",
          )
        : null,
    );
  }

  function lastChangeDrawnWith(wardId) {
    return JSON.stringify([last?.wardId === wardId && last, last && pending.has(last.bedId)]);
  }

  // One listener for the whole board, whose cards are drawn again as beds change.
  function listen(root, bedOf) {
    // A live region, not a status role: the page's one status is its connection.
    spoken = el("p", { class: "visually-hidden", "aria-live": "polite", "aria-atomic": "true" });
    document.body.append(spoken);
    root.addEventListener("click", (event) => {
      const target = event.target.closest("button");
      if (!target) return;
      if (target.dataset.bedToggle) {
        if (target.getAttribute("aria-disabled") === "true") return;
        const bedId = target.dataset.bedToggle;
        open = open === bedId ? null : bedId;
        problem = null;
        const first = open ? choicesFor(bedOf(bedId))[0] : null;
        focusAfter = first ? `bed-choice:${bedId}:${first.status}` : `bed-toggle:${bedId}`;
        scheduleRender();
      } else if (target.dataset.bedChoice) {
        const bed = bedOf(target.dataset.bed);
        const choice = CHOICES.find((one) => one.status === target.dataset.bedChoice);
        if (bed && choice) set(bed, choice, false);
      } else if (target.dataset.bedUndo && last?.undo) {
        const bed = bedOf(last.bedId);
        const choice = CHOICES.find((one) => one.status === last.undo);
        last = null;
        if (bed && choice) set(bed, choice, true);
      }
    });
    root.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || open === null) return;
      focusAfter = `bed-toggle:${open}`;
      open = null;
      scheduleRender();
    });
  }

  // Where the keyboard's focus goes once the board is drawn anew: where the last action
  // sent it, or else back to the control that had it (``focused``, its focus key) if that
  // control was drawn again.
  function keepFocus(focused) {
    const key = focusAfter ?? focused;
    focusAfter = null;
    if (!key) return;
    const target = document.querySelector(`[data-focus-key="${CSS.escape(key)}"]`);
    if (target && target !== document.activeElement) target.focus();
  }

  // Signed out: nothing of this account's changes stays for whoever signs in next.
  function forget() {
    for (const change of pending.values()) clearTimeout(change.timer);
    pending.clear();
    recent.clear();
    open = null;
    last = null;
    problem = null;
    focusAfter = null;
    announce("");
  }

  return {
    heard,
    shown,
    drawnWith,
    control,
    lastChange,
    lastChangeDrawnWith,
    listen,
    keepFocus,
    forget,
  };
}
