import { afterEach, describe, expect, it, vi } from "vitest";
import { clipboardCopy } from "./clipboard";

describe("clipboardCopy", () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("writes the text with the asynchronous clipboard", async () => {
    const writeText = vi.fn(() => Promise.resolve());
    vi.stubGlobal("navigator", { clipboard: { writeText } });
    await clipboardCopy("display_information: …");
    expect(writeText).toHaveBeenCalledExactlyOnceWith("display_information: …");
  });

  it("fails when the webview has no clipboard", async () => {
    vi.stubGlobal("navigator", {});
    await expect(clipboardCopy("text")).rejects.toThrow("no clipboard here");
  });

  it("fails when the clipboard refuses", async () => {
    vi.stubGlobal("navigator", { clipboard: { writeText: () => Promise.reject(new Error("not allowed")) } });
    await expect(clipboardCopy("text")).rejects.toThrow("not allowed");
  });
});
