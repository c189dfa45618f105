import { describe, expect, it } from "vitest";
import type { PreviewNow } from "../bindings/PreviewNow";
import type { PreviewRow } from "../bindings/PreviewRow";
import { allByTestId, byTestId } from "../test/fake-app";
import { previewOf } from "../test/fixtures";
import { commonExpiry, nowLine, renderPreview } from "./preview";

const cells = (row: HTMLElement) => [...row.querySelectorAll("th, td")].map((cell) => cell.textContent);
const rowFor = (root: HTMLElement, state: string) =>
  allByTestId(root, "preview-row").find((row) => row.dataset.state === state);
/** The microphone hears a call: what the tray says of it. */
const inCall: PreviewNow = {
  state: "in_call",
  source: "microphone",
  said: "In a call (microphone)",
  screen_locked: false,
  off_hours: null,
  away_status: false,
};
const nothing: PreviewNow = {
  state: null,
  source: null,
  said: "Nothing known now",
  screen_locked: false,
  off_hours: null,
  away_status: false,
};
/** The rows marked as the state speaking now. */
const marked = (root: HTMLElement) =>
  allByTestId(root, "preview-row")
    .filter((row) => row.classList.contains("now"))
    .map((row) => row.dataset.state);

describe("renderPreview", () => {
  it("shows the column of the policy in force: label, emoji and text, presence, and once when they go away", () => {
    const view = renderPreview({ preview: previewOf(), policy: "trusted", compare: false, error: null });
    const table = byTestId(view, "preview-table");
    expect(table?.dataset.policy).toBe("trusted");
    expect(table?.querySelector("caption")?.textContent).toBe("Under Trusted");
    expect([...view.querySelectorAll("thead th")].map((th) => th.textContent)).toEqual([
      "When you are",
      "Slack shows",
      "Presence",
    ]);
    // Every status here goes away the same way: said once, above the table, not on each row.
    expect(byTestId(view, "preview-expires")?.textContent).toBe(
      "It goes away: renewed while your phone says so; gone 30 min after it stops.",
    );
    const car = rowFor(view, "in_vehicle");
    expect(car && cells(car)).toEqual(["In a vehicle", "🚗 Driving", "DND"]);
    const available = rowFor(view, "available");
    expect(available && cells(available)).toEqual(["Available", "No status", ""]);
    const sleeping = rowFor(view, "sleeping");
    expect(sleeping && cells(sleeping)[2]).toBe("away DND");
    expect(byTestId(view, "preview-example")?.textContent).toBe(
      "Example event: “Quarterly planning”, 45 minutes from now.",
    );
  });

  it("marks the rows whose state pauses Slack's notifications, and only those", () => {
    const snoozing = (view: HTMLElement) =>
      allByTestId(view, "preview-row")
        .filter((row) => row.querySelector(".badge.badge-dnd") !== null)
        .map((row) => row.dataset.state);
    const trusted = renderPreview({ preview: previewOf(), policy: "trusted", compare: false, error: null });
    expect(snoozing(trusted)).toEqual(["in_vehicle", "sleeping"]);
    const badge = rowFor(trusted, "in_vehicle")?.querySelector(".badge-dnd");
    expect(badge?.textContent).toBe("DND");
    expect(badge?.getAttribute("title")).toBe("Slack notifications paused (Do Not Disturb)");
    // Beside "away", a pill each.
    const sleeping = rowFor(trusted, "sleeping")?.querySelectorAll("td")[1];
    expect([...(sleeping?.querySelectorAll(".badge") ?? [])].map((badge) => badge.className)).toEqual([
      "badge badge-away",
      "badge badge-dnd",
    ]);
    // The fixture's Default and Blocked pause nothing.
    for (const policy of ["default", "blocked"] as const) {
      const view = renderPreview({ preview: previewOf(), policy, compare: false, error: null });
      expect(view.querySelector(".badge-dnd")).toBeNull();
    }
  });

  it("marks a paused row in each policy's column that pauses it when comparing", () => {
    const preview = previewOf();
    // Busy pauses notifications under Default: every state shown as Busy does.
    const column = preview.policies.find((candidate) => candidate.policy === "default");
    for (const row of column?.rows ?? []) row.snooze = row.status !== null;
    const view = renderPreview({ preview, policy: "trusted", compare: true, error: null });
    const paused = (state: string) =>
      [...(rowFor(view, state)?.querySelectorAll("td") ?? [])].map((td) => td.querySelector(".badge-dnd") !== null);
    expect(paused("in_call")).toEqual([true, false, false, false]);
    expect(paused("in_vehicle")).toEqual([true, true, true, false]);
    expect(paused("available")).toEqual([false, false, false, false]);
    expect(rowFor(view, "in_vehicle")?.querySelector("td .preview-presence")?.textContent).toBe("DND");
  });

  it("shows a standard emoji as its picture with its code in the tooltip, a custom one as its code", () => {
    const preview = previewOf();
    const trusted = preview.policies.find((column) => column.policy === "trusted");
    const walking: PreviewRow = {
      state: "walking",
      label: "Walking",
      status: { text: "Out for a walk", emoji: ":acme-walk:", expires: "soon" },
      presence: "auto",
      snooze: false,
    };
    trusted?.rows.push(walking);
    const view = renderPreview({ preview, policy: "trusted", compare: false, error: null });
    const call = rowFor(view, "in_call")?.querySelector(".emoji");
    expect(call?.textContent).toBe("📞");
    expect(call?.getAttribute("title")).toBe(":telephone_receiver:");
    expect(call?.getAttribute("aria-label")).toBe("telephone receiver");
    const custom = rowFor(view, "walking")?.querySelector(".emoji");
    expect(custom?.textContent).toBe(":acme-walk:");
    expect(custom?.getAttribute("title")).toBe(":acme-walk:");
    // No emoji, no picture and no code.
    expect(rowFor(view, "available")?.querySelector(".emoji")).toBeNull();
  });

  it("says under a status when it goes away if that differs from the rest", () => {
    const view = renderPreview({ preview: previewOf(), policy: "vip", compare: false, error: null });
    const meeting = rowFor(view, "event");
    expect(meeting?.querySelector(".preview-expires")?.textContent).toBe("It goes away: ends at 14:45");
    expect(meeting && cells(meeting)[1]).toBe("📆 Quarterly planning (until 14:45)It goes away: ends at 14:45");
    expect(rowFor(view, "in_call")?.querySelector(".preview-expires")).toBeNull();
    expect(byTestId(view, "preview-expires")?.textContent).toBe(
      "It goes away: renewed while your phone says so; gone 30 min after it stops.",
    );
  });

  it("finds the way most statuses go away, if two or more share it", () => {
    const status = (expires: string) => ({ text: "Busy", emoji: "", expires });
    const row = (expires: string | null): PreviewRow => ({
      state: "busy",
      label: "Busy",
      status: expires === null ? null : status(expires),
      presence: "auto",
      snooze: false,
    });
    expect(commonExpiry([row("a"), row("b"), row("b"), row(null)])).toBe("b");
    expect(commonExpiry([row("a"), row("b")])).toBeNull();
    expect(commonExpiry([row(null), row(null)])).toBeNull();
    expect(commonExpiry([])).toBeNull();
  });

  it("shows nothing but No status while blocked", () => {
    const view = renderPreview({ preview: previewOf(), policy: "blocked", compare: false, error: null });
    expect(byTestId(view, "preview-table")?.dataset.policy).toBe("blocked");
    const shown = allByTestId(view, "preview-row").map((row) => row.querySelector("td")?.textContent);
    expect(new Set(shown)).toEqual(new Set(["No status"]));
    expect(byTestId(view, "preview-expires")).toBeNull();
  });

  it("compares all four policies, marking the one in force", () => {
    const view = renderPreview({ preview: previewOf(), policy: "vip", compare: true, error: null });
    expect(byTestId(view, "preview-table")?.dataset.policy).toBe("all");
    expect([...view.querySelectorAll("thead th")].map((th) => th.textContent)).toEqual([
      "When you are",
      "Default",
      "Trusted",
      "VIP (now)",
      "Blocked",
    ]);
    const meeting = rowFor(view, "event");
    const texts = [...(meeting?.querySelectorAll("td") ?? [])].map(
      (td) => td.querySelector(".preview-status, .preview-none")?.textContent,
    );
    expect(texts).toEqual([
      "⛔ Busy",
      "📆 In a meeting",
      "📆 Quarterly planning (until 14:45)",
      "No status",
    ]);
    expect(meeting?.querySelectorAll("td")[2]?.className).toBe("current");
  });

  it("says which input speaks now and where it comes from, above the table", () => {
    const view = renderPreview({ preview: previewOf({ now: inCall }), policy: "trusted", compare: false, error: null });
    const line = byTestId(view, "preview-now");
    expect(line?.textContent).toBe("Now: In a call (microphone)");
    expect(line?.compareDocumentPosition(byTestId(view, "preview-table") as Node)).toBe(
      Node.DOCUMENT_POSITION_FOLLOWING,
    );
  });

  it("says when nothing is known now", () => {
    const preview = previewOf({ now: nothing });
    const view = renderPreview({ preview, policy: "trusted", compare: false, error: null });
    expect(byTestId(view, "preview-now")?.textContent).toBe(
      "Now: nothing known (no phone, nothing chosen, no source sees anything).",
    );
    expect(marked(view)).toEqual([]);
  });

  it("says a locked screen shows you away, except under Blocked, which shares nothing", () => {
    const locked = { ...inCall, screen_locked: true };
    const under = (policy: "vip" | "blocked", now: PreviewNow) =>
      byTestId(renderPreview({ preview: previewOf({ now }), policy, compare: false, error: null }), "preview-now")
        ?.textContent;
    expect(under("vip", locked)).toBe("Now: In a call (microphone) · screen locked: away in Slack");
    expect(under("blocked", locked)).toBe("Now: In a call (microphone) · screen locked (Blocked shares nothing)");
    expect(nowLine({ ...nothing, screen_locked: true }, "default")).toBe(
      "Now: nothing known (no phone, nothing chosen, no source sees anything) · screen locked: away in Slack.",
    );
  });

  it("says off work shows you away, and “Off for the day” under Trusted and VIP when asked for", () => {
    const offWork = { ...inCall, off_hours: { back_at: "2025-03-04T08:00:00Z", show_status: false } };
    const withStatus = { ...inCall, off_hours: { back_at: null, show_status: true } };
    expect(nowLine(offWork, "default")).toBe("Now: In a call (microphone) · off work: away in Slack");
    expect(nowLine(offWork, "vip")).toBe("Now: In a call (microphone) · off work: away in Slack");
    expect(nowLine(offWork, "blocked")).toBe("Now: In a call (microphone) · off work (Blocked shares nothing)");
    // Default shows only the presence; Blocked, nothing at all.
    expect(nowLine(withStatus, "default")).toBe("Now: In a call (microphone) · off work: away in Slack");
    expect(nowLine(withStatus, "blocked")).toBe("Now: In a call (microphone) · off work (Blocked shares nothing)");
    for (const policy of ["trusted", "vip"] as const) {
      expect(nowLine(withStatus, policy)).toBe(
        "Now: In a call (microphone) · off work: away in Slack, “Off for the day” where nothing else is shown",
      );
    }
    expect(nowLine({ ...nothing, off_hours: withStatus.off_hours }, "trusted")).toBe(
      "Now: nothing known (no phone, nothing chosen, no source sees anything) · off work: away in Slack, " +
        "“Off for the day” where nothing else is shown.",
    );
  });

  it("says a locked screen and the end of the working day together, once", () => {
    const both = { ...inCall, screen_locked: true, off_hours: { back_at: null, show_status: true } };
    const view = renderPreview({ preview: previewOf({ now: both }), policy: "vip", compare: false, error: null });
    expect(byTestId(view, "preview-now")?.textContent).toBe(
      "Now: In a call (microphone) · screen locked, off work: away in Slack, “Off for the day” where nothing " +
        "else is shown",
    );
    expect(nowLine(both, "default")).toBe("Now: In a call (microphone) · screen locked, off work: away in Slack");
    expect(nowLine(both, "blocked")).toBe(
      "Now: In a call (microphone) · screen locked, off work (Blocked shares nothing)",
    );
  });

  it("says “Away from the desk” under Trusted and VIP while locked, when the app says it may show", () => {
    const awayNow = { ...nothing, screen_locked: true, away_status: true };
    for (const policy of ["trusted", "vip"] as const) {
      expect(nowLine(awayNow, policy)).toBe(
        "Now: nothing known (no phone, nothing chosen, no source sees anything) · screen locked: away in Slack, " +
          "“Away from the desk” where nothing else is shown.",
      );
    }
    // Default shows only that you are away; Blocked, nothing at all.
    expect(nowLine(awayNow, "default")).toBe(
      "Now: nothing known (no phone, nothing chosen, no source sees anything) · screen locked: away in Slack.",
    );
    expect(nowLine(awayNow, "blocked")).toBe(
      "Now: nothing known (no phone, nothing chosen, no source sees anything) · screen locked (Blocked shares nothing).",
    );
    // Only where nothing else is shown: a call keeps its status, which the line says first.
    const view = renderPreview({
      preview: previewOf({ now: { ...inCall, screen_locked: true, away_status: true } }),
      policy: "vip",
      compare: false,
      error: null,
    });
    expect(byTestId(view, "preview-now")?.textContent).toBe(
      "Now: In a call (microphone) · screen locked: away in Slack, “Away from the desk” where nothing else is shown",
    );
  });

  it("says nothing of “Away from the desk” unless the screen is locked and the app says it may show", () => {
    // Option off, or a status the person chose speaking: the app sends no away status.
    expect(nowLine({ ...inCall, screen_locked: true }, "trusted")).toBe(
      "Now: In a call (microphone) · screen locked: away in Slack",
    );
    // Unlocked: nothing about the desk at all, whatever the flag says.
    expect(nowLine({ ...inCall, away_status: true }, "trusted")).toBe("Now: In a call (microphone)");
    const offWork = { back_at: null, show_status: false };
    expect(nowLine({ ...inCall, off_hours: offWork, away_status: true }, "vip")).toBe(
      "Now: In a call (microphone) · off work: away in Slack",
    );
  });

  it("says “Off for the day” rather than “Away from the desk” when off work and locked, as the app shows", () => {
    const both = {
      ...inCall,
      screen_locked: true,
      away_status: true,
      off_hours: { back_at: "2025-03-04T08:00:00Z", show_status: true },
    };
    for (const policy of ["trusted", "vip"] as const) {
      expect(nowLine(both, policy)).toBe(
        "Now: In a call (microphone) · screen locked, off work: away in Slack, “Off for the day” where nothing " +
          "else is shown",
      );
    }
    expect(nowLine(both, "default")).toBe("Now: In a call (microphone) · screen locked, off work: away in Slack");
    expect(nowLine(both, "blocked")).toBe(
      "Now: In a call (microphone) · screen locked, off work (Blocked shares nothing)",
    );
    // Off work without “Off for the day”: the locked screen's status fills the gap.
    const withoutOffStatus = { ...both, off_hours: { back_at: null, show_status: false } };
    expect(nowLine(withoutOffStatus, "vip")).toBe(
      "Now: In a call (microphone) · screen locked, off work: away in Slack, “Away from the desk” where nothing " +
        "else is shown",
    );
  });

  it("marks the row of the state speaking now", () => {
    const view = renderPreview({ preview: previewOf({ now: inCall }), policy: "trusted", compare: false, error: null });
    expect(marked(view)).toEqual(["in_call"]);
    const call = rowFor(view, "in_call");
    expect(call && cells(call)).toEqual(["In a call (now)", "📞 In a call", ""]);
    expect(call?.querySelector("th .now-mark")?.textContent).toBe(" (now)");
    expect(view.querySelectorAll(".now-mark")).toHaveLength(1);
  });

  it("marks the row of the state speaking now when comparing, beside the policy in force", () => {
    const view = renderPreview({ preview: previewOf({ now: inCall }), policy: "vip", compare: true, error: null });
    expect(marked(view)).toEqual(["in_call"]);
    expect(rowFor(view, "in_call")?.querySelector("th")?.textContent).toBe("In a call (now)");
    expect(view.querySelectorAll("tbody .now-mark")).toHaveLength(1);
    // The policy in force keeps its own mark.
    expect(view.querySelector("thead .current-mark")?.textContent).toBe(" (now)");
  });

  it("marks nothing and says nothing of now when the app does not say", () => {
    for (const compare of [false, true]) {
      const view = renderPreview({ preview: previewOf(), policy: "trusted", compare, error: null });
      expect(byTestId(view, "preview-now")).toBeNull();
      expect(marked(view)).toEqual([]);
      expect(view.querySelector("tbody .now-mark")).toBeNull();
      expect(rowFor(view, "in_call")?.querySelector("th")?.textContent).toBe("In a call");
    }
  });

  it("says why the settings cannot be saved, and when the preview failed", () => {
    const view = renderPreview({
      preview: previewOf({ problem: "the In a call text is empty" }),
      policy: "trusted",
      compare: false,
      error: "invalid args",
    });
    expect(byTestId(view, "preview-problem")?.textContent).toBe(
      "These settings cannot be saved yet: the In a call text is empty",
    );
    expect(byTestId(view, "preview-problem")?.closest("[role=alert]")).not.toBeNull();
    expect(byTestId(view, "preview-error")?.textContent).toBe("The preview could not be updated: invalid args");
    // The last good preview stays.
    expect(byTestId(view, "preview-table")).not.toBeNull();
  });

  it("says it is loading before the first answer", () => {
    const view = renderPreview({ preview: null, policy: "trusted", compare: false, error: null });
    expect(view.textContent).toBe("Loading…");
  });

  it("never turns text into markup", () => {
    const evil = '<img src=x onerror="alert(1)">';
    const preview = previewOf({ example_event: evil, problem: evil });
    const first = preview.policies[1]?.rows[2];
    if (first?.status) first.status.text = evil;
    const view = renderPreview({ preview, policy: "trusted", compare: false, error: evil });
    expect(view.querySelector("img")).toBeNull();
    expect(view.textContent).toContain(evil);
  });
});
