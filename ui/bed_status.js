// Ward staff set a bed's state from the ward board in two taps: the bed's button opens
// its choices and a choice sets it, as a two-tap change (changes.js). Every control is a
// button, so a keyboard alone does all of it.

import { el } from "./dom.js";

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

const FORBIDDEN = "This account may not set the state of beds on this ward.";

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

const toggleKey = (bedId) => `bed-toggle:${bedId}`;
const stateKey = (bedId) => `bed:${bedId}`;

// ``changes``: the board's two-tap changes (changes.js).
export function bedStatusChanges(changes) {
  function change(bed, choice, undo) {
    return {
      subject: `bed:${bed.bed_id}`,
      key: stateKey(bed.bed_id),
      wardId: bed.ward_id,
      what: bed.label,
      outcome: `set to ${choice.label}`,
      shown: choice,
      method: "POST",
      path: `api/v1/beds/${encodeURIComponent(bed.bed_id)}/status`,
      body: { status: choice.status },
      forbidden: FORBIDDEN,
      focus: toggleKey(bed.bed_id),
      undo,
    };
  }

  function set(bed, choice) {
    const back = CHOICES.find((one) => one.status === statusShowing(bed));
    changes.make(change(bed, choice, back ? change(bed, back, null) : null));
  }

  // The bed as the board draws it: with its pending change, if one is on its way. An
  // occupied bed stays occupied: isolation is shown beside its occupancy.
  function shown(bed) {
    const choice = changes.shown(stateKey(bed.bed_id));
    if (!choice) return bed;
    if (bed.state === "occupied") return { ...bed, status: choice.status, pending: choice.label };
    return { ...bed, state: choice.state, pending: choice.label };
  }

  const drawnWith = (bedId) => changes.drawnWith(toggleKey(bedId), [stateKey(bedId)]);

  function control(bed) {
    const bedId = bed.bed_id;
    const choices = choicesFor(bed);
    const listId = `bed-choices-${bedId}`;
    const isOpen = changes.isOpen(toggleKey(bedId)) && choices.length > 0;
    const busy = changes.isPending(stateKey(bedId));
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
          "data-focus-key": toggleKey(bedId),
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
      changes.problemLine([stateKey(bedId)]),
    );
  }

  // One listener for the whole board, whose cards are drawn again as beds change.
  function listen(root, bedOf) {
    root.addEventListener("click", (event) => {
      const target = event.target.closest("button");
      if (!target) return;
      if (target.dataset.bedToggle) {
        if (target.getAttribute("aria-disabled") === "true") return;
        const bedId = target.dataset.bedToggle;
        const first = choicesFor(bedOf(bedId))[0];
        changes.toggle(toggleKey(bedId), first ? `bed-choice:${bedId}:${first.status}` : null);
      } else if (target.dataset.bedChoice) {
        const bed = bedOf(target.dataset.bed);
        const choice = CHOICES.find((one) => one.status === target.dataset.bedChoice);
        if (bed && choice) set(bed, choice);
      }
    });
  }

  return { shown, drawnWith, control, listen };
}
