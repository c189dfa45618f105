// Stand-ins for the app that tests hand to views instead of the real IPC: one place, so a command or an event
// added on the Rust side needs no change in every test file.
import type { CommandError } from "../bindings/CommandError";
import type { CommandName, Commands, EventName, Events } from "../bindings/commands";
import type { OAuthStart } from "../bindings/OAuthStart";
import type { WorkspaceView } from "../bindings/WorkspaceView";
import type { Call, OnEvent } from "../ipc";

/** How a fake answers each command (a value, a promise, or a throw). */
export type Handlers = {
  [K in CommandName]: (args: Commands[K]["args"]) => Commands[K]["result"] | Promise<Commands[K]["result"]>;
};

/** A handler for a command the test does not expect to be called. */
export const unused = (): never => {
  throw new Error("not used");
};

/** What a fake app recorded. */
export interface FakeApp {
  call: Call;
  /** Every call so far: name and arguments, in order. */
  calls: [CommandName, unknown][];
  /** The names of the calls so far. */
  names: () => CommandName[];
  /** The arguments of every call to `name`, in order. */
  argsOf: <K extends CommandName>(name: K) => Commands[K]["args"][];
}

/**
 * A stand-in for the app: answers each command from `overrides` and records every call. A command without a
 * handler rejects, naming itself, so a test sees at once what it forgot to fake.
 */
export function fakeApp(overrides: Partial<Handlers> = {}): FakeApp {
  const calls: [CommandName, unknown][] = [];
  const call = async <K extends CommandName>(name: K, args: Commands[K]["args"]): Promise<Commands[K]["result"]> => {
    calls.push([name, args]);
    const handler = overrides[name] as Handlers[K] | undefined;
    await Promise.resolve();
    if (handler === undefined) throw new Error(`${name} is not faked in this test`);
    return handler(args);
  };
  const names = () => calls.map(([name]) => name);
  const argsOf = <K extends CommandName>(name: K) =>
    calls.filter(([called]) => called === name).map(([, args]) => args as Commands[K]["args"]);
  return { call, calls, names, argsOf };
}

/** The app's events, fired by the test. */
export interface FakeEvents {
  onEvent: OnEvent;
  /** Delivers `payload` to every listener of `name`. */
  emit: <K extends EventName>(name: K, payload: Events[K]) => void;
  /** How many listeners `name` has now. */
  listeners: (name: EventName) => number;
}

export function fakeEvents(): FakeEvents {
  const handlers = new Map<EventName, Set<(payload: never) => void>>();
  const onEvent = <K extends EventName>(name: K, handler: (payload: Events[K]) => void): Promise<() => void> => {
    const set = handlers.get(name) ?? new Set();
    handlers.set(name, set);
    const entry = handler as (payload: never) => void;
    set.add(entry);
    return Promise.resolve(() => {
      set.delete(entry);
    });
  };
  const emit = <K extends EventName>(name: K, payload: Events[K]) => {
    for (const handler of [...(handlers.get(name) ?? [])]) (handler as (payload: Events[K]) => void)(payload);
  };
  return { onEvent, emit, listeners: (name) => handlers.get(name)?.size ?? 0 };
}

/** Lets every pending promise (and the redraws after them) run. */
export const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** A promise the test resolves or rejects when it wants. */
export function deferred<T>() {
  let resolve: (value: T) => void = () => undefined;
  let reject: (reason: unknown) => void = () => undefined;
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
}

/** The app's error when a sign-in was cancelled (`finish_sign_in` rejects with it). */
export const SIGN_IN_CANCELLED: CommandError = {
  code: "app",
  message: "Sign in with Slack: the sign-in was cancelled",
};

/** "Sign in with Slack" as the app runs it, with the browser's side played by the test. */
export interface FakeSignIn {
  /** `begin_sign_in`, `finish_sign_in` and `cancel_sign_in`, to spread into `fakeApp`'s handlers. */
  handlers: Pick<Handlers, "begin_sign_in" | "finish_sign_in" | "cancel_sign_in">;
  /** The browser came back and the workspace is connected: the waiting `finish_sign_in` resolves. */
  connect: (workspace: WorkspaceView) => void;
  /** The browser came back without a workspace (declined, timed out, Slack refused): it rejects. */
  fail: (error: CommandError) => void;
  /** Whether a sign-in is in progress. */
  inProgress: () => boolean;
}

/**
 * A stand-in for the app's sign-in, shaped like crates/caret-app/src/slack/oauth.rs: `begin_sign_in` answers what
 * `begin` returns (or throws what it throws) and starts a flow, ending the one before; `finish_sign_in` waits
 * for the flow's outcome; `cancel_sign_in` ends the flow, and a waiting `finish_sign_in` rejects with
 * {@link SIGN_IN_CANCELLED}.
 */
export function fakeSignIn(begin: (clientId: string) => OAuthStart): FakeSignIn {
  let flow: ReturnType<typeof deferred<WorkspaceView>> | null = null;
  /** The id of the current flow, as the app numbers them. */
  let flowId = 0;
  const end = (outcome: (current: NonNullable<typeof flow>) => void) => {
    const current = flow;
    flow = null;
    if (current !== null) outcome(current);
    return current !== null;
  };
  return {
    handlers: {
      begin_sign_in: ({ clientId }) => {
        const start = { ...begin(clientId), flow_id: ++flowId };
        end((current) => {
          current.reject(SIGN_IN_CANCELLED);
        });
        const next = deferred<WorkspaceView>();
        // A flow nobody waits for may still end: that is not an unhandled rejection.
        next.promise.catch(() => undefined);
        flow = next;
        return start;
      },
      finish_sign_in: ({ flowId: wanted }) => {
        if (flow !== null && wanted !== flowId) {
          // eslint-disable-next-line @typescript-eslint/only-throw-error
          throw { code: "app", message: "Sign in with Slack: a newer sign-in replaced this one" };
        }
        if (flow === null) {
          // eslint-disable-next-line @typescript-eslint/only-throw-error
          throw { code: "app", message: "Sign in with Slack: no sign-in is in progress; start one first" };
        }
        return flow.promise;
      },
      cancel_sign_in: ({ flowId: wanted }) =>
        wanted === flowId &&
        end((current) => {
          current.reject(SIGN_IN_CANCELLED);
        }),
    },
    connect: (workspace) => {
      end((current) => {
        current.resolve(workspace);
      });
    },
    fail: (error) => {
      end((current) => {
        current.reject(error);
      });
    },
    inProgress: () => flow !== null,
  };
}

/** The element with this `data-testid`, if any. */
export const byTestId = (root: ParentNode, id: string) => root.querySelector<HTMLElement>(`[data-testid="${id}"]`);

/** Every element with this `data-testid`. */
export const allByTestId = (root: ParentNode, id: string) => [
  ...root.querySelectorAll<HTMLElement>(`[data-testid="${id}"]`),
];

/** The input with this `data-testid` (the test fails if there is none). */
export function inputByTestId(root: ParentNode, id: string): HTMLInputElement {
  const element = root.querySelector(`[data-testid="${id}"]`);
  if (!(element instanceof HTMLInputElement)) throw new Error(`no input with data-testid="${id}"`);
  return element;
}

/** The button whose text is exactly `label`. */
export const buttonNamed = (root: ParentNode, label: string) =>
  [...root.querySelectorAll("button")].find((button) => button.textContent === label);

/** Presses a key on `target` the way a browser reports it. */
export function press(target: EventTarget, key: string, init: KeyboardEventInit = {}): KeyboardEvent {
  const event = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...init });
  target.dispatchEvent(event);
  return event;
}

/** Types `value` into a field, as if the person did (one `input` event). */
export function typeInto(field: HTMLInputElement | HTMLTextAreaElement, value: string): void {
  field.value = value;
  field.dispatchEvent(new Event("input", { bubbles: true }));
}
