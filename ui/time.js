// Times and ages as the pages show them: local clock time, with the day only when it is
// not today.

// One formatter each: making one is most of the cost of formatting a time, and a board
// formats one for every frame it is sent.
const CLOCK = new Intl.DateTimeFormat("en-GB", { hour: "2-digit", minute: "2-digit" });
const DAY = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short" });

function clock(date) {
  return CLOCK.format(date);
}

export function dayAndClock(date) {
  const sameDay = date.toDateString() === new Date().toDateString();
  if (sameDay) return clock(date);
  return `${DAY.format(date)} ${clock(date)}`;
}

export function duration(ms) {
  const minutes = Math.max(0, Math.floor(ms / 60_000));
  if (minutes < 1) return "under a minute";
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} days`;
}

// The time as the server reads it: the log's clock (its latest tick, moved on by this
// computer's clock since) when it runs ahead of this computer's, as the simulator's does;
// this computer's otherwise.
export function logClock() {
  let at = null;
  let heardAt = 0;
  return {
    ticked(iso) {
      at = Date.parse(iso);
      heardAt = Date.now();
    },
    forget() {
      at = null;
    },
    now() {
      const wall = Date.now();
      return at === null ? wall : Math.max(wall, at + (wall - heardAt));
    },
  };
}

export function shortAge(ms) {
  const seconds = Math.max(0, Math.round(ms / 1000));
  if (seconds < 90) return `${seconds} s`;
  return duration(ms);
}
