// Pure helpers of the template editor. The states, their labels and built-in looks are not here: they come
// from the app (the `template_catalog` command), never copied from Rust.
import type { DndRule } from "./bindings/DndRule";
import type { StateKind } from "./bindings/StateKind";
import type { StateTemplate } from "./bindings/StateTemplate";
import type { TemplateState } from "./bindings/TemplateState";
import type { WorkspaceSettings } from "./bindings/WorkspaceSettings";

export function sameTemplate(a: StateTemplate, b: StateTemplate): boolean {
  return a.text === b.text && a.emoji === b.emoji && (a.detailed_text ?? null) === (b.detailed_text ?? null);
}

/** The template in force for a state: the user's, or the built-in. */
export function templateOf(settings: WorkspaceSettings, entry: TemplateState): StateTemplate {
  return settings.templates[entry.state] ?? entry.builtin;
}

/** A copy of `settings` with `next` as the state's template; an override equal to the built-in is dropped. */
export function withTemplate(
  settings: WorkspaceSettings,
  entry: TemplateState,
  next: StateTemplate | null,
): WorkspaceSettings {
  const templates: WorkspaceSettings["templates"] = {};
  for (const [state, template] of Object.entries(settings.templates) as [StateKind, StateTemplate][]) {
    if (state !== entry.state) templates[state] = template;
  }
  if (next !== null && !sameTemplate(next, entry.builtin)) templates[entry.state] = next;
  return { ...settings, templates };
}

/** Whether a state pauses Slack's notifications (Do Not Disturb): the user's rule, or the built-in. */
export function dndOf(settings: WorkspaceSettings, entry: TemplateState): DndRule {
  return settings.dnd[entry.state] ?? entry.builtin_dnd;
}

/** A copy of `settings` with `rule` as the state's Do Not Disturb rule; a rule equal to the built-in is dropped. */
export function withDnd(settings: WorkspaceSettings, entry: TemplateState, rule: DndRule): WorkspaceSettings {
  const dnd: WorkspaceSettings["dnd"] = {};
  for (const [state, kept] of Object.entries(settings.dnd) as [StateKind, DndRule][]) {
    if (state !== entry.state) dnd[state] = kept;
  }
  if (rule !== entry.builtin_dnd) dnd[entry.state] = rule;
  return { ...settings, dnd };
}

/** A JSON text of the settings with keys in a fixed order, to tell whether two settings are the same. */
export function settingsKey(settings: WorkspaceSettings): string {
  return JSON.stringify(settings, (_key, value: unknown) => {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return value;
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) sorted[key] = (value as Record<string, unknown>)[key];
    return sorted;
  });
}
