// Typed IPC: every command's arguments and result come from src/bindings/commands.ts, which is generated from
// the Rust command list (src-tauri/src/ipc.rs). A call that does not match the Rust signature does not compile.
import { invoke } from "@tauri-apps/api/core";
import type { CommandName, Commands } from "./bindings/commands";
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
