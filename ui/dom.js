// Building the pages: text only ever goes in as text, never as markup, so nothing a feed
// or a user typed can run as script.

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// Bed 2 before Bed 10, as staff would list them; one collator, since building one for each
// comparison was most of the cost of sorting a county's wards.
const names = new Intl.Collator("en-GB", { numeric: true, sensitivity: "base" });
export const byName = (a, b) => names.compare(a, b);

// Puts ``nodes`` in ``parent`` in this order, leaving in place those already there: a
// board drawn anew on every change then lays out and paints only what changed, and the
// keyboard's focus stays on an element left in place.
export function reconcile(parent, nodes) {
  // Those going first, so that every node kept is already at its place when reached.
  const wanted = new Set(nodes);
  for (const child of [...parent.childNodes]) {
    if (!wanted.has(child)) child.remove();
  }
  nodes.forEach((node, index) => {
    const there = parent.childNodes[index] ?? null;
    if (there !== node) parent.insertBefore(node, there);
  });
}

// Pieces of a page kept between draws, each by its key with the inputs it was drawn
// from (a string): asked again with the same inputs, it is the same element.
export function keeper() {
  const kept = new Map();
  const keep = (key, inputs, draw) => {
    const before = kept.get(key);
    if (before?.inputs === inputs) return before.node;
    const node = draw();
    kept.set(key, { inputs, node });
    return node;
  };
  keep.clear = () => kept.clear();
  return keep;
}

const SVG = "http://www.w3.org/2000/svg";

// An SVG element, its text likewise put in as text.
export function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
