import { afterEach, describe, expect, it, vi } from "vitest";
import { describeError, isCommandError, onEvent, subscribe, type OnEvent } from "./ipc";
import { fakeEvents, settle } from "./test/fake-app";

const listen = vi.hoisted(() => vi.fn());
vi.mock("@tauri-apps/api/event", () => ({ listen }));

afterEach(() => {
  listen.mockReset();
});

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

describe("onEvent", () => {
  it("listens to the named event and hands the handler only the payload", async () => {
    const unlisten = vi.fn();
    listen.mockResolvedValue(unlisten);
    const handler = vi.fn();
    const stop = await onEvent("sync-log", handler);
    expect(listen).toHaveBeenCalledOnce();
    expect(listen.mock.calls[0]?.[0]).toBe("sync-log");
    const deliver = listen.mock.calls[0]?.[1] as (event: { event: string; id: number; payload: number }) => void;
    deliver({ event: "sync-log", id: 7, payload: 42 });
    expect(handler).toHaveBeenCalledWith(42);
    stop();
    expect(unlisten).toHaveBeenCalledOnce();
  });
});

describe("subscribe", () => {
  it("delivers payloads until stopped", async () => {
    const events = fakeEvents();
    const seen: number[] = [];
    const stop = subscribe(events.onEvent, "sync-log", (id) => seen.push(id));
    await settle();
    events.emit("sync-log", 1);
    stop();
    events.emit("sync-log", 2);
    expect(seen).toEqual([1]);
    expect(events.listeners("sync-log")).toBe(0);
  });

  it("stops a listener that arrives after the stop", async () => {
    const unlisten = vi.fn();
    let resolve: (stop: () => void) => void = () => undefined;
    const slow: OnEvent = () =>
      new Promise((yes) => {
        resolve = yes;
      });
    const stop = subscribe(slow, "snapshot", vi.fn());
    stop();
    resolve(unlisten);
    await settle();
    expect(unlisten).toHaveBeenCalledOnce();
  });

  it("says why listening failed", async () => {
    const onError = vi.fn();
    const failing: OnEvent = () => Promise.reject(new Error("no event plugin"));
    subscribe(failing, "snapshot", vi.fn(), onError);
    await settle();
    expect(onError).toHaveBeenCalledWith(new Error("no event plugin"));
  });
});
