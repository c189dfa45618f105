import type { DeviceView } from "../bindings/DeviceView";
import type { PairingView } from "../bindings/PairingView";
import type { PhonesView } from "../bindings/PhonesView";
import type { ReachView } from "../bindings/ReachView";
import { clockChoice, dateTime, followClock, type TimeFormat } from "../clock";
import { button, focusKey, focusedKey, h } from "../dom";
import { describeError, type Call, type OnEvent } from "../ipc";
import { renderError } from "./settings";

/** How often the window asks again, so a phone that just paired appears and a used-up QR code goes away. */
export const REFRESH_MS = 2000;
/** How often the pairing countdown moves. */
export const TICK_MS = 1000;

/** Everything the Phones window shows at one moment. */
export interface PhonesState {
  view: PhonesView;
  /** A pairing window that ran out while it was shown: kept (without its QR code) so "Start again" stays. */
  expired: PairingView | null;
  /** Why the last button press failed. */
  actionError: string | null;
  /** Why the last refresh failed (what is shown may be out of date). */
  loadError: string | null;
  /** How times are written, as the person chose. */
  clock: TimeFormat;
}

/** What the window's buttons do. */
export interface PhonesActions {
  startPairing: () => void;
  cancelPairing: () => void;
  revoke: (device: DeviceView) => void;
  /** Opens Settings, where the person chooses which networks phones can reach this computer on. */
  openSettings: () => void;
}

/** The running Phones window. */
export interface PhonesWindow {
  /** Asks for the view again and shows it. */
  refresh: () => Promise<void>;
  /** Stops the timers (the window is going away). */
  stop: () => void;
}

const SVG_NS = "http://www.w3.org/2000/svg";
// Exactly what the QR renderer on the Rust side writes (qrcode's SVG: one rect, one path), and nothing that can
// run, load or link anything.
const SVG_ELEMENTS = new Set(["svg", "g", "rect", "path", "title", "desc"]);
const SVG_ATTRIBUTES = new Set([
  "xmlns",
  "version",
  "width",
  "height",
  "viewBox",
  "shape-rendering",
  "x",
  "y",
  "d",
  "fill",
  "fill-rule",
  "stroke",
  "stroke-width",
  "transform",
]);

/**
 * The QR code from the core as an `<svg>` element of this document, or null when it is not a well-formed SVG.
 * Parsed as XML, never given to innerHTML, and cut down to plain shapes.
 */
export function parseQrSvg(text: string): SVGSVGElement | null {
  const parsed = new DOMParser().parseFromString(text, "image/svg+xml");
  const root = parsed.documentElement;
  if (root.namespaceURI !== SVG_NS || root.localName !== "svg") return null;
  if (parsed.getElementsByTagName("parsererror").length > 0) return null;
  for (const element of [root, ...root.querySelectorAll("*")]) {
    if (element.namespaceURI !== SVG_NS || !SVG_ELEMENTS.has(element.localName)) {
      element.remove();
      continue;
    }
    for (const attribute of [...element.attributes]) {
      if (!SVG_ATTRIBUTES.has(attribute.name)) element.removeAttributeNode(attribute);
    }
  }
  const svg = document.importNode(root, true);
  return svg instanceof SVGSVGElement ? svg : null;
}

/** Milliseconds left in a pairing window (negative once it is over, NaN-safe: an unreadable date is over). */
export function remainingMs(pairing: PairingView, now: number): number {
  const end = Date.parse(pairing.expires_at);
  return Number.isNaN(end) ? 0 : end - now;
}

/** `mm:ss`, rounded up so "00:00" only shows once the time is really up. */
export function formatCountdown(ms: number): string {
  const seconds = Math.max(0, Math.ceil(ms / 1000));
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(Math.floor(seconds / 60))}:${pad(seconds % 60)}`;
}

/** The pairing window the panel shows, live or run out. */
function shownPairing(state: PhonesState): PairingView | null {
  return state.view.pairing ?? state.expired;
}

function isExpired(state: PhonesState, now: number): boolean {
  const pairing = shownPairing(state);
  return pairing !== null && (state.view.pairing === null || remainingMs(pairing, now) <= 0);
}

/**
 * The Phones window: pairing a new phone, the relay, and the phones already paired. Pairing comes first, so that an
 * open pairing window's QR code, code and countdown are in view as the window opens; a relay that is not running
 * comes before it, as no phone can pair until it runs.
 */
export function renderPhones(state: PhonesState, actions: PhonesActions, now: number): HTMLElement {
  const relay = renderRelay(state.view, actions);
  const pairing = renderPairing(state, actions, now);
  return h(
    "section",
    { class: "phones", "aria-labelledby": "phones-title" },
    h(
      "header",
      {},
      h("h1", { id: "phones-title" }, "Phones"),
      h("p", { class: "lede" }, "Phones send their Caret state to this desktop over your local network."),
    ),
    renderProblems(state),
    ...(state.view.relay.running ? [pairing, relay] : [relay, pairing]),
    renderDevices(state.view.devices, actions, state.clock),
  );
}

function renderProblems(state: PhonesState): HTMLElement | null {
  if (state.actionError === null && state.loadError === null) return null;
  return h(
    "div",
    { class: "alert", role: "alert", "data-testid": "phones-error" },
    state.actionError !== null && h("p", {}, state.actionError),
    state.loadError !== null && h("p", {}, `Could not refresh this window: ${state.loadError}`),
  );
}

function row(term: string, value: Node | string): HTMLElement {
  return h("div", { class: "row" }, h("dt", {}, term), h("dd", {}, value));
}

function fingerprint(value: string): HTMLElement {
  return h("code", { class: "fingerprint" }, value);
}

function renderRelay(view: PhonesView, actions: PhonesActions): HTMLElement {
  const relay = view.relay;
  const status = relay.running
    ? h(
        "div",
        { class: "relay-status", "data-testid": "relay-status" },
        h("p", { class: "ok" }, "The relay is running."),
        h(
          "dl",
          {},
          row("Addresses", relay.addresses.length > 0 ? relay.addresses.join(", ") : "none"),
          row("Port", relay.port === null ? "unknown" : String(relay.port)),
          relay.fingerprint !== null && row("Certificate fingerprint", fingerprint(relay.fingerprint)),
        ),
        relay.loopback_only &&
          h(
            "p",
            { class: "note" },
            "Loopback only: the relay accepts connections from this computer only, " +
              "so phones on your network cannot reach it.",
          ),
      )
    : h(
        "div",
        { class: "alert", role: "alert", "data-testid": "relay-status" },
        h("p", { class: "alert-title" }, "The relay is not running, so phones cannot connect."),
        h("p", {}, relay.problem ?? "No reason was given."),
      );
  return h(
    "section",
    { "aria-labelledby": "relay-title" },
    h("h2", { id: "relay-title" }, "Relay"),
    status,
    // Where phones can reach a relay that is not running does not matter yet.
    relay.running && renderReach(view.reach, actions),
  );
}

function renderReach(reach: ReachView, actions: PhonesActions): HTMLElement {
  return h(
    "div",
    { class: "reach", "data-testid": "reach" },
    h("p", { "data-testid": "reach-explanation" }, reach.explanation),
    h("div", { class: "actions" }, button("Change in Settings", "change-reach", actions.openSettings)),
  );
}

function renderPairing(state: PhonesState, actions: PhonesActions, now: number): HTMLElement {
  const section = (...children: (Node | false)[]) =>
    h(
      "section",
      { class: "pairing", "aria-labelledby": "pairing-title" },
      h("h2", { id: "pairing-title", tabindex: "-1", "data-focus": "pairing" }, "Pairing"),
      ...children,
    );
  const pairing = shownPairing(state);
  if (pairing === null) {
    return section(
      h("p", {}, "Open caret-phone on the phone, then start pairing here."),
      h("div", { class: "actions" }, button("Pair a phone", "pair", actions.startPairing, { class: "primary" })),
    );
  }
  const cancel = button("Cancel", "cancel", actions.cancelPairing);
  if (isExpired(state, now)) {
    return section(
      h("p", { class: "expired", "data-testid": "pairing-expired" }, "Expired"),
      h("p", {}, "This pairing code can no longer be used."),
      h(
        "div",
        { class: "actions" },
        button("Start again", "start-again", actions.startPairing, { class: "primary" }),
        cancel,
      ),
    );
  }
  const qr = parseQrSvg(pairing.qr_svg);
  if (qr) {
    qr.setAttribute("role", "img");
    qr.setAttribute("aria-label", "QR code to pair a phone");
  }
  return section(
    h(
      "div",
      { class: "pairing-body" },
      h(
        "div",
        { class: "qr", "data-testid": "pairing-qr" },
        qr ?? h("p", {}, "The QR code could not be drawn: type the code instead."),
      ),
      h(
        "div",
        { class: "pairing-details" },
        h("p", { class: "pairing-code", "data-testid": "pairing-code" }, pairing.short_code),
        h("p", {}, "Scan with the phone's camera, or type the code in caret-phone."),
        h(
          "p",
          { class: "countdown" },
          "Expires in ",
          // A timer is not read out on every tick; the "Expired" panel that replaces it is.
          h(
            "span",
            { role: "timer", "aria-live": "off", "data-countdown": "" },
            formatCountdown(remainingMs(pairing, now)),
          ),
        ),
        h("p", {}, "The phone page shows the same fingerprint when you accept its certificate."),
        h("p", {}, fingerprint(pairing.fingerprint)),
        h("div", { class: "actions" }, cancel),
      ),
    ),
  );
}

/** "2025-03-01 15:42" (or "3:42 PM"), the date as the other windows write it. */
function time(ms: number, clock: TimeFormat): Node | string {
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) return "unknown";
  return h("time", { datetime: date.toISOString() }, dateTime(ms, clock));
}

function deviceStatus(device: DeviceView): [label: string, kind: string] {
  if (device.revoked) return ["Revoked", "revoked"];
  return device.online ? ["Online", "online"] : ["Offline", "offline"];
}

function renderDevices(devices: DeviceView[], actions: PhonesActions, clock: TimeFormat): HTMLElement {
  const heading = h("h2", { id: "devices-title", tabindex: "-1", "data-focus": "devices" }, "Devices");
  if (devices.length === 0) {
    const empty = h("p", { class: "empty" }, "No phone paired yet.");
    return h("section", { "aria-labelledby": "devices-title" }, heading, empty);
  }
  const column = (label: string) => h("th", { scope: "col" }, label);
  const deviceRow = (device: DeviceView) => {
    const [label, kind] = deviceStatus(device);
    return h(
      "tr",
      { "data-testid": "device-row" },
      h("th", { scope: "row" }, device.name),
      h("td", {}, time(device.paired_at_ms, clock)),
      h("td", {}, device.last_seen_ms === null ? "never" : time(device.last_seen_ms, clock)),
      h("td", {}, h("span", { class: `status status-${kind}` }, label)),
      h(
        "td",
        {},
        !device.revoked &&
          button(
            "Revoke",
            `revoke:${device.id}`,
            () => {
              actions.revoke(device);
            },
            { class: "danger", "data-testid": "revoke", "aria-label": `Revoke ${device.name}` },
          ),
      ),
    );
  };
  return h(
    "section",
    { "aria-labelledby": "devices-title" },
    heading,
    h(
      "table",
      { class: "devices", "aria-labelledby": "devices-title" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          column("Name"),
          column("Paired at"),
          column("Last seen"),
          column("Status"),
          h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")),
        ),
      ),
      h("tbody", {}, ...devices.map(deviceRow)),
    ),
  );
}



/**
 * Shows the Phones window in `root` and keeps it current: asks for the view every {@link REFRESH_MS}, moves the
 * countdown every {@link TICK_MS}, and draws again only when something changed (so a selection or the focus is not
 * lost every two seconds, and the live region is not read out again). Times follow the person's choice of clock
 * (asked once with `preferences`, then each `preferences` event).
 */
export function mountPhones(root: HTMLElement, call: Call, onEvent: OnEvent): PhonesWindow {
  let view: PhonesView | null = null;
  let expired: PairingView | null = null;
  let actionError: string | null = null;
  let loadError: string | null = null;
  let busy = false;
  let stopped = false;
  let requested = 0;
  let applied = 0;
  let inFlight = 0;
  let drawn = "";
  let focusNext: string | null = null;
  const clock = clockChoice();

  const render = (): void => {
    if (stopped) return;
    if (view === null) {
      if (loadError === null) return;
      const key = JSON.stringify(["error", loadError]);
      if (key !== drawn) root.replaceChildren(renderError(loadError));
      drawn = key;
      return;
    }
    const now = Date.now();
    const state: PhonesState = { view, expired, actionError, loadError, clock: clock.current() };
    const key = JSON.stringify([state, isExpired(state, now)]);
    if (key === drawn && focusNext === null) return;
    drawn = key;
    const target = focusNext ?? focusedKey(root);
    focusNext = null;
    root.replaceChildren(renderPhones(state, actions, now));
    if (target !== null) focusKey(root, target);
  };

  const accept = (next: PhonesView): void => {
    const before = view?.pairing ?? null;
    if (next.pairing !== null) expired = null;
    // Gone because its time ran out (not used up by a phone, nor cancelled): keep offering "Start again".
    else if (before !== null && remainingMs(before, Date.now()) <= 0) expired = before;
    view = next;
  };

  const refresh = async (): Promise<void> => {
    const request = ++requested;
    inFlight += 1;
    try {
      const next = await call("phones", {});
      if (stopped || request < applied) return;
      applied = request;
      accept(next);
      loadError = null;
    } catch (error) {
      if (stopped || request < applied) return;
      applied = request;
      loadError = describeError(error);
    } finally {
      inFlight -= 1;
    }
    render();
  };

  const act = async (focusAfter: string, work: () => Promise<void>): Promise<void> => {
    if (busy || stopped) return;
    busy = true;
    actionError = null;
    try {
      await work();
      focusNext = focusAfter;
    } catch (error) {
      actionError = describeError(error);
    } finally {
      busy = false;
    }
    await refresh();
  };

  const startPairing = async (): Promise<void> => {
    const pairing = await call("start_pairing", {});
    expired = null;
    if (view !== null) view = { ...view, pairing };
  };

  const actions: PhonesActions = {
    startPairing: () => void act("pairing", startPairing),
    cancelPairing: () =>
      void act("pair", async () => {
        await call("cancel_pairing", {});
        expired = null;
        if (view !== null) view = { ...view, pairing: null };
      }),
    openSettings: () =>
      void act("change-reach", async () => {
        await call("perform", { action: { type: "open_window", window: "settings" } });
      }),
    revoke: (device) => {
      if (busy || stopped) return;
      const question = `Revoke ${device.name}? It will no longer be able to send its state to this desktop.`;
      if (!window.confirm(question)) return;
      void act("devices", async () => {
        await call("revoke_device", { deviceId: device.id });
      });
    },
  };

  const tick = (): void => {
    if (view === null) return;
    render(); // draws again only if the pairing has just run out
    const pairing = view.pairing ?? expired;
    const timer = root.querySelector("[data-countdown]");
    if (pairing !== null && timer !== null) timer.textContent = formatCountdown(remainingMs(pairing, Date.now()));
  };

  const poll = window.setInterval(() => {
    if (inFlight === 0) void refresh();
  }, REFRESH_MS);
  const countdown = window.setInterval(tick, TICK_MS);
  void refresh();
  const stopClock = followClock(clock, onEvent, call);
  const stopWatch = clock.watch(render);

  return {
    refresh,
    stop: () => {
      stopped = true;
      window.clearInterval(poll);
      window.clearInterval(countdown);
      stopClock();
      stopWatch();
    },
  };
}
