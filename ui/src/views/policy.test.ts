import { describe, expect, it, vi } from "vitest";
import type { PolicySetting } from "../bindings/PolicySetting";
import { inputByTestId } from "../test/fake-app";
import { createPolicyControl, effectiveOf, expectedPolicy, isApplied, selectedOption } from "./policy";

const NOW = Date.parse("2025-03-01T10:00:00Z");
const trusted: PolicySetting = { sharing: "trusted", blocked: null };

describe("policy helpers", () => {
  it("picks the radio for the policy in force", () => {
    expect(selectedOption(trusted, "trusted")).toBe("trusted");
    expect(selectedOption({ sharing: "vip", blocked: { until: null } }, "blocked")).toBe("block");
    expect(selectedOption({ sharing: "vip", blocked: { until: "2025-03-01T11:00:00Z" } }, "blocked")).toBe(
      "block-hour",
    );
    // A block that ran out no longer counts.
    expect(selectedOption({ sharing: "vip", blocked: { until: "2025-03-01T09:00:00Z" } }, "vip")).toBe("vip");
  });

  it("expects what a choice does: sharing ends a block, a block keeps the sharing policy", () => {
    const blocked = expectedPolicy(trusted, { kind: "block_for", minutes: 60 }, NOW);
    expect(blocked).toEqual({ sharing: "trusted", blocked: { until: "2025-03-01T11:00:00.000Z" } });
    expect(effectiveOf(blocked, NOW)).toBe("blocked");
    expect(effectiveOf(blocked, NOW + 61 * 60_000)).toBe("trusted");
    expect(expectedPolicy(blocked, { kind: "vip" }, NOW)).toEqual({ sharing: "vip", blocked: null });
    expect(expectedPolicy(blocked, { kind: "resume" }, NOW)).toEqual(trusted);
    expect(expectedPolicy(trusted, { kind: "block_until_resumed" }, NOW)).toEqual({
      sharing: "trusted",
      blocked: { until: null },
    });
  });

  it("tells whether a choice took effect", () => {
    expect(isApplied(trusted, { kind: "trusted" })).toBe(true);
    expect(isApplied(trusted, { kind: "vip" })).toBe(false);
    expect(isApplied({ ...trusted, blocked: { until: null } }, { kind: "block_until_resumed" })).toBe(true);
    expect(isApplied({ ...trusted, blocked: { until: null } }, { kind: "block_for", minutes: 60 })).toBe(false);
    expect(isApplied(trusted, { kind: "resume" })).toBe(true);
  });
});

describe("createPolicyControl", () => {
  it("is a labelled radio group that reports each choice", () => {
    const choose = vi.fn();
    const control = createPolicyControl("ws-1", choose);
    control.update(trusted, "trusted");
    document.body.append(control.element);
    const radio = (id: string) => inputByTestId(control.element, id);
    expect(control.element.tagName).toBe("FIELDSET");
    expect(control.element.querySelector("legend")?.textContent).toBe("What this workspace may see");
    expect(radio("policy-trusted").checked).toBe(true);
    const labels = ["policy-default", "policy-trusted", "policy-vip", "policy-block-hour", "policy-block"].map(
      (id) => radio(id).labels?.[0]?.querySelector(".policy-label")?.textContent,
    );
    expect(labels).toEqual(["Default", "Trusted", "VIP", "Blocked for 1 hour", "Blocked until resumed"]);
    expect(new Set(["policy-default", "policy-vip", "policy-block"].map((id) => radio(id).name)).size).toBe(1);

    radio("policy-vip").click();
    expect(choose).toHaveBeenLastCalledWith({ kind: "vip" });
    radio("policy-block-hour").click();
    expect(choose).toHaveBeenLastCalledWith({ kind: "block_for", minutes: 60 });
    radio("policy-block").click();
    expect(choose).toHaveBeenLastCalledWith({ kind: "block_until_resumed" });
    control.element.remove();
  });

  it("offers Resume sharing only while blocked, and says until when", () => {
    const choose = vi.fn();
    const control = createPolicyControl("ws-1", choose);
    const resume = control.element.querySelector<HTMLButtonElement>('[data-testid="policy-resume"]');
    control.update(trusted, "trusted");
    expect(resume?.closest<HTMLElement>(".policy-blocked")?.hidden).toBe(true);

    control.update({ sharing: "vip", blocked: { until: null } }, "blocked");
    expect(inputByTestId(control.element, "policy-block").checked).toBe(true);
    expect(resume?.closest<HTMLElement>(".policy-blocked")?.hidden).toBe(false);
    expect(control.element.textContent).toContain("Sharing is blocked until you resume it; then VIP applies again.");
    resume?.click();
    expect(choose).toHaveBeenCalledWith({ kind: "resume" });

    const until = new Date(2025, 2, 1, 15, 5).toISOString();
    control.update({ sharing: "default", blocked: { until } }, "blocked");
    expect(inputByTestId(control.element, "policy-block-hour").checked).toBe(true);
    expect(control.element.textContent).toContain("Sharing is blocked until 15:05; then Default applies again.");
    expect(control.element.textContent).toContain("Shows nothing until 15:05, then goes back to the policy above.");
  });

  it("writes the end of a block in the clock chosen, again when it changes", () => {
    const control = createPolicyControl("ws-1", vi.fn());
    control.update({ sharing: "trusted", blocked: { until: new Date(2025, 2, 1, 0, 30).toISOString() } }, "blocked");
    expect(control.element.textContent).toContain("Sharing is blocked until 00:30;");
    control.setClock("h12");
    expect(control.element.textContent).toContain("Sharing is blocked until 12:30 AM;");
    expect(control.element.textContent).toContain("Shows nothing until 12:30 AM, then");
    control.setClock("h24");
    expect(control.element.textContent).toContain("Sharing is blocked until 00:30;");
  });

  it("shows an error in an alert", () => {
    const control = createPolicyControl("ws-1", vi.fn());
    control.setError("no keyring");
    expect(control.element.querySelector("[role=alert]")?.textContent).toBe("no keyring");
    control.setError(null);
    expect(control.element.querySelector("[role=alert]")?.textContent).toBe("");
  });
});
