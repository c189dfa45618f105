// Typed IPC: every command's arguments and result come from src/bindings/commands.ts, which is generated from
// the Rust command list (src-tauri/src/ipc.rs). A call that does not match the Rust signature does not compile.
import { invoke } from "@tauri-apps/api/core";
import { listen } from "@tauri-apps/api/event";
import type { CommandName, Commands, EventName, Events } from "./bindings/commands";
import type { CommandError } from "./bindings/CommandError";

export async function call<K extends CommandName>(
  name: K,
  args: Commands[K]["args"],
): Promise<Commands[K]["result"]> {
  return invoke<Commands[K]["result"]>(name, args);
}

/** The shape of `call`, so a view can take it as a parameter and a test can hand it a fake. */
export type Call = typeof call;

/** Whether a rejected call carries the shell's `{code, message}` error. */
export function isCommandError(error: unknown): error is CommandError {
  return (
    typeof error === "object" &&
    error !== null &&
    typeof (error as Record<string, unknown>).code === "string" &&
    typeof (error as Record<string, unknown>).message === "string"
  );
}

/** A message a person can read, whatever was thrown. */
export function describeError(error: unknown): string {
  if (isCommandError(error)) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * Calls `handler` with the payload of every `name` event the app sends this window (see `Events` in
 * bindings/commands.ts). Resolves to the function that stops listening.
 */
export async function onEvent<K extends EventName>(
  name: K,
  handler: (payload: Events[K]) => void,
): Promise<() => void> {
  return listen<Events[K]>(name, (event) => {
    handler(event.payload);
  });
}

/** The shape of `onEvent`, so a view can take it as a parameter and a test can fire fake events. */
export type OnEvent = typeof onEvent;

/**
 * Listens with `onEvent` and returns a plain function that stops listening, whether or not the listener was
 * already in place (a window can go away before `listen` answers). `onError` hears why listening failed.
 */
export function subscribe<K extends EventName>(
  listenTo: OnEvent,
  name: K,
  handler: (payload: Events[K]) => void,
  onError: (error: unknown) => void = () => undefined,
): () => void {
  let stopped = false;
  let unlisten: (() => void) | null = null;
  listenTo(name, (payload) => {
    if (!stopped) handler(payload);
  }).then(
    (stop) => {
      if (stopped) stop();
      else unlisten = stop;
    },
    (error: unknown) => {
      if (!stopped) onError(error);
    },
  );
  return () => {
    stopped = true;
    unlisten?.();
    unlisten = null;
  };
}
