import { describe, expect, it } from "vitest";
import { describeError, isCommandError } from "./ipc";

describe("command errors", () => {
  it("recognises the shell's {code, message} error", () => {
    expect(isCommandError({ code: "app", message: "boom" })).toBe(true);
    expect(isCommandError({ code: 1, message: "boom" })).toBe(false);
    expect(isCommandError(null)).toBe(false);
    expect(isCommandError("boom")).toBe(false);
  });

  it("describes any thrown value for a person", () => {
    expect(describeError({ code: "app", message: "no keyring" })).toBe("no keyring");
    expect(describeError(new Error("network down"))).toBe("network down");
    expect(describeError("plain")).toBe("plain");
  });
});
