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

// Bed 2 before Bed 10, as staff would list them.
export const byName = (a, b) => a.localeCompare(b, "en-GB", { numeric: true, sensitivity: "base" });
