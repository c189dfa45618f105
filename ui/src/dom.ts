// A tiny element builder: text always goes through textContent, never innerHTML, so nothing from the core (an
// event title, a workspace name) can become markup.
type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return element;
}

/**
 * A button that remembers where focus was: views re-render on refresh, and `data-focus` lets them put
 * keyboard focus back on the same control afterwards (see `focusedKey` and `focusKey`).
 */
export function button(
  label: string,
  focusKey: string,
  onClick: () => void,
  attributes: Record<string, string> = {},
): HTMLButtonElement {
  const element = h("button", { type: "button", "data-focus": focusKey, ...attributes }, label);
  element.addEventListener("click", onClick);
  return element;
}

/** The `data-focus` key of the focused control inside `root`, if any. */
export function focusedKey(root: HTMLElement): string | null {
  const active = document.activeElement;
  return active instanceof HTMLElement && root.contains(active) ? (active.dataset.focus ?? null) : null;
}

/** Focuses the control inside `root` with this `data-focus` key, if it is there. */
export function focusKey(root: HTMLElement, key: string): void {
  for (const element of root.querySelectorAll<HTMLElement>("[data-focus]")) {
    if (element.dataset.focus === key) {
      element.focus();
      return;
    }
  }
}

/** Whether the focus is nowhere in particular (the control that held it was disabled or removed). */
export function focusLost(): boolean {
  const active = document.activeElement;
  return active === null || active === document.body;
}
