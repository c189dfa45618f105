import type { MicrophoneView } from "../bindings/MicrophoneView";
import type { SourcesView } from "../bindings/SourcesView";
import { focusLost, h } from "../dom";
import { describeError, subscribe, type Call, type OnEvent } from "../ipc";

/** The running "What the desktop sees" section. */
export interface SourcesPanel {
  refresh: () => Promise<void>;
  /** Stops following the app's events. */
  stop: () => void;
}

/** What the microphone source does now, and whether that is a problem. */
export function microphoneText(view: MicrophoneView): [text: string, problem: boolean] {
  switch (view.state) {
    case "off":
      return ["Off.", false];
    case "watching":
      return [watchingText(view.microphone_in_use, view.camera_in_use), false];
    case "unavailable":
      return [`Not watching: ${view.reason}. Caret Desktop keeps trying (soon at first, then every 5 minutes).`, true];
  }
}

/** What is in use while watching: either of them means a call. */
function watchingText(microphone: boolean, camera: boolean): string {
  if (microphone && camera) return "A microphone and a camera are in use: you are in a call.";
  if (microphone) return "A microphone is in use: you are in a call.";
  if (camera) return "A camera is in use: you are in a call.";
  return "Watching: no microphone or camera in use.";
}

/** Whether the person turned the microphone source on (unavailable is on, waiting for PipeWire). */
function microphoneOn(view: SourcesView): boolean {
  return view.microphone.state !== "off";
}

/**
 * Settings' "What the desktop sees": the desktop's own sources, each off until the person turns it on, with what
 * it does now. The `sources` event keeps the line current (a microphone starting or stopping being in use, PipeWire
 * going away). The checkbox is drawn once and updated in place, so keyboard focus stays on it across updates.
 */
export function mountSources(container: HTMLElement, call: Call, onEvent: OnEvent): SourcesPanel {
  let view: SourcesView | null = null;
  /** The choice sent and not yet answered: the checkbox stays as the person set it while waiting. */
  let pending: boolean | null = null;
  /**
   * Bumped by every call and every event: a load's answer is shown only if nothing newer came meanwhile (an event
   * may say the microphone went into use after the load was answered but before its answer arrived).
   */
  let generation = 0;
  /** The message shown is about loading (a later view clears it; it leaves a failed change's message alone). */
  let loadFailed = false;

  const microphone = h("input", {
    type: "checkbox",
    id: "sources-microphone",
    "aria-describedby": "sources-microphone-hint sources-microphone-status",
    "data-testid": "sources-microphone",
  });
  const hint = h(
    "p",
    { class: "note", id: "sources-microphone-hint", "data-testid": "sources-microphone-hint" },
    "Watches which applications record from a microphone or read a camera (through PipeWire), never what they " +
      "hear. Only the status decided from it, under each workspace's policy, goes to Slack.",
  );
  // Read out when a call starts or ends, or the source stops working.
  const status = h("p", {
    class: "sources-status",
    id: "sources-microphone-status",
    "aria-live": "polite",
    "data-testid": "sources-microphone-status",
  });
  const messages = h("div", { role: "alert", class: "form-messages" });

  const say = (message: string | null) => {
    messages.replaceChildren(message === null ? "" : h("p", { class: "alert" }, message));
  };

  const show = () => {
    microphone.disabled = pending !== null || view === null;
    microphone.checked = pending ?? (view !== null && microphoneOn(view));
    if (view === null) return;
    const [text, problem] = microphoneText(view.microphone);
    status.textContent = text;
    status.className = problem ? "sources-status problem" : "sources-status";
  };

  /** Shows a view the app sent, clearing a failed load's message: the section works again. */
  const accept = (next: SourcesView) => {
    view = next;
    if (loadFailed) say(null);
    loadFailed = false;
  };

  const refresh = async (): Promise<void> => {
    // The answer to the change will say it all.
    if (pending !== null) return;
    const mine = ++generation;
    try {
      const next = await call("sources", {});
      if (mine === generation) accept(next);
    } catch (error) {
      if (mine !== generation) return;
      say(`Could not load what the desktop sees: ${describeError(error)}`);
      loadFailed = true;
    }
    show();
  };

  const setMicrophone = async (on: boolean): Promise<void> => {
    pending = on;
    ++generation;
    say(null);
    show();
    try {
      // The answer comes once the source started or failed to: it is the newest view, whatever came meanwhile.
      accept(await call("set_sources", { sources: { microphone: on } }));
    } catch (error) {
      // `view` is as it was, so the checkbox goes back.
      say(`Could not change what the desktop sees: ${describeError(error)}`);
    } finally {
      pending = null;
    }
    show();
    // Disabling the checkbox while waiting may have taken the focus away.
    if (focusLost()) microphone.focus();
  };

  microphone.addEventListener("change", () => {
    // Not ready or still waiting: the box goes back to what it showed.
    if (pending !== null || view === null) {
      show();
      return;
    }
    void setMicrophone(microphone.checked);
  });

  const stop = subscribe(onEvent, "sources", (next) => {
    ++generation;
    accept(next);
    show();
  });

  container.replaceChildren(
    h(
      "section",
      { class: "sources", "aria-labelledby": "sources-title" },
      h("h2", { id: "sources-title" }, "What the desktop sees"),
      h(
        "div",
        { class: "form-group" },
        h(
          "div",
          { class: "check" },
          microphone,
          h("label", { for: "sources-microphone" }, "Microphone: in a call while another application records"),
        ),
        hint,
        status,
      ),
      messages,
    ),
  );
  show();
  void refresh();
  return { refresh, stop };
}
