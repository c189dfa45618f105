import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { DeviceView } from "../bindings/DeviceView";
import type { PairingView } from "../bindings/PairingView";
import type { PhonesView } from "../bindings/PhonesView";
import { dateTime } from "../clock";
import { buttonNamed, byTestId, fakeApp, fakeEvents, type FakeEvents, type Handlers } from "../test/fake-app";
import { preferences, reach } from "../test/fixtures";
import {
  formatCountdown,
  mountPhones,
  parseQrSvg,
  REFRESH_MS,
  renderPhones,
  type PhonesActions,
  type PhonesState,
  type PhonesWindow,
} from "./phones";

const NOW = Date.parse("2025-03-01T10:00:00Z");

// What the qrcode crate writes (see pairing_view in crates/caret-app/src/phones/views.rs), cut short.
const QR_SVG =
  '<?xml version="1.0" standalone="yes"?><svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="264" ' +
  'height="264" viewBox="0 0 264 264" shape-rendering="crispEdges"><rect x="0" y="0" width="264" height="264" ' +
  'fill="#fff"/><path fill="#000" d="M32 32h8v8H32V32"/></svg>';

const pairing: PairingView = {
  link: "https://caret.local:47800/pair#secret",
  qr_svg: QR_SVG,
  short_code: "1234-5678",
  fingerprint: "AB:CD:EF:01",
  addresses: ["192.168.1.20"],
  port: 47800,
  expires_at: "2025-03-01T10:05:00Z",
};

const pixel: DeviceView = {
  id: "dev-1",
  name: "Ada's Pixel",
  paired_at_ms: Date.parse("2025-02-01T09:30:00Z"),
  last_seen_ms: Date.parse("2025-03-01T09:59:00Z"),
  online: true,
  revoked: false,
};

const view: PhonesView = {
  relay: {
    running: true,
    problem: null,
    port: 47800,
    addresses: ["192.168.1.20", "caret.local"],
    fingerprint: "AB:CD:EF:01",
    loopback_only: false,
  },
  reach,
  devices: [],
  pairing: null,
};

const state = (overrides: Partial<PhonesState> = {}): PhonesState => ({
  view,
  expired: null,
  actionError: null,
  loadError: null,
  clock: "h24",
  ...overrides,
});

const noActions: PhonesActions = {
  startPairing: vi.fn(),
  cancelPairing: vi.fn(),
  revoke: vi.fn(),
  openSettings: vi.fn(),
};


describe("renderPhones", () => {
  it("has a labelled header and says what the window is for", () => {
    const page = renderPhones(state(), noActions, NOW);
    expect(page.getAttribute("aria-labelledby")).toBe("phones-title");
    expect(page.querySelector("#phones-title")?.textContent).toBe("Phones");
    expect(page.textContent).toContain("Phones send their Caret state to this desktop over your local network.");
  });

  it("shows a running relay's addresses, port and fingerprint", () => {
    const relay = byTestId(renderPhones(state(), noActions, NOW), "relay-status");
    expect(relay?.getAttribute("role")).toBeNull();
    expect(relay?.textContent).toContain("192.168.1.20, caret.local");
    expect(relay?.textContent).toContain("47800");
    expect(relay?.querySelector("code.fingerprint")?.textContent).toBe("AB:CD:EF:01");
    expect(relay?.textContent).not.toContain("Loopback only");
  });

  it("says when the relay only listens on loopback", () => {
    const loopback = { ...view, relay: { ...view.relay, addresses: ["127.0.0.1"], loopback_only: true } };
    const relay = byTestId(renderPhones(state({ view: loopback }), noActions, NOW), "relay-status");
    expect(relay?.textContent).toContain("Loopback only");
  });

  it("raises an alert with the reason when the relay is not running", () => {
    const down = {
      ...view,
      relay: { ...view.relay, running: false, problem: "port 47800 is taken", port: null, fingerprint: null },
    };
    const relay = byTestId(renderPhones(state({ view: down }), noActions, NOW), "relay-status");
    expect(relay?.getAttribute("role")).toBe("alert");
    expect(relay?.textContent).toContain("port 47800 is taken");
  });

  it("says beside the relay where phones can reach this computer, with a way to change it", () => {
    const openSettings = vi.fn();
    const page = renderPhones(state(), { ...noActions, openSettings }, NOW);
    const relaySection = page.querySelector('[aria-labelledby="relay-title"]');
    expect(relaySection?.querySelector('[data-testid="reach-explanation"]')?.textContent).toBe(reach.explanation);
    const change = buttonNamed(page, "Change in Settings");
    expect(change?.type).toBe("button");
    change?.click();
    expect(openSettings).toHaveBeenCalledOnce();
  });

  it("shows the explanation as the app words it, whatever the network", () => {
    const cafe = {
      ...reach,
      open_to_lan: false,
      network: "10.0.0.0/24 via 10.0.0.1",
      network_known: false,
      explanation:
        "This network (10.0.0.0/24 via 10.0.0.1) is not one where you paired a phone: the relay listens only on " +
        "this computer and announces nothing. Pair a phone here to let phones reach it on this network.",
    };
    const page = renderPhones(state({ view: { ...view, reach: cafe } }), noActions, NOW);
    expect(byTestId(page, "reach-explanation")?.textContent).toBe(cafe.explanation);
  });

  it("leaves out where phones can reach a relay that is not running", () => {
    const down = { ...view, relay: { ...view.relay, running: false, problem: "port taken", port: null } };
    const page = renderPhones(state({ view: down }), noActions, NOW);
    expect(byTestId(page, "reach")).toBeNull();
    expect(buttonNamed(page, "Change in Settings")).toBeUndefined();
  });

  it("offers to pair a phone when no pairing is open", () => {
    const startPairing = vi.fn();
    const page = renderPhones(state(), { ...noActions, startPairing }, NOW);
    expect(byTestId(page, "pairing-qr")).toBeNull();
    const pair = buttonNamed(page, "Pair a phone");
    expect(pair?.type).toBe("button");
    pair?.click();
    expect(startPairing).toHaveBeenCalledOnce();
  });

  it("shows the QR code, the short code, the countdown and the fingerprint of an open pairing", () => {
    const cancelPairing = vi.fn();
    const page = renderPhones(state({ view: { ...view, pairing } }), { ...noActions, cancelPairing }, NOW);
    const svg = byTestId(page, "pairing-qr")?.querySelector("svg");
    expect(svg?.namespaceURI).toBe("http://www.w3.org/2000/svg");
    expect(svg?.getAttribute("role")).toBe("img");
    expect(svg?.querySelector("path")?.getAttribute("d")).toBe("M32 32h8v8H32V32");
    expect(byTestId(page, "pairing-code")?.textContent).toBe("1234-5678");
    expect(page.textContent).toContain("Scan with the phone's camera, or type the code in caret-phone");
    expect(page.querySelector("[role=timer]")?.textContent).toBe("05:00");
    const pairingSection = page.querySelector(".pairing");
    expect(pairingSection?.textContent).toContain(
      "The phone page shows the same fingerprint when you accept its certificate.",
    );
    expect(pairingSection?.querySelector("code.fingerprint")?.textContent).toBe("AB:CD:EF:01");
    expect(buttonNamed(page, "Pair a phone")).toBeUndefined();
    buttonNamed(page, "Cancel")?.click();
    expect(cancelPairing).toHaveBeenCalledOnce();
  });

  it("puts pairing first, so an open pairing's QR code is in view as the window opens", () => {
    const headings = (page: HTMLElement) => [...page.querySelectorAll("h2")].map((heading) => heading.textContent);
    expect(headings(renderPhones(state({ view: { ...view, pairing } }), noActions, NOW))).toEqual([
      "Pairing",
      "Relay",
      "Devices",
    ]);
    // No phone can pair while the relay is down: why comes first.
    const down = { ...view, relay: { ...view.relay, running: false, problem: "port 47800 is taken" } };
    expect(headings(renderPhones(state({ view: down }), noActions, NOW))).toEqual(["Relay", "Pairing", "Devices"]);
  });

  it("shows Expired and Start again once the pairing's time is up", () => {
    const startPairing = vi.fn();
    const later = Date.parse(pairing.expires_at);
    const page = renderPhones(state({ view: { ...view, pairing } }), { ...noActions, startPairing }, later);
    expect(byTestId(page, "pairing-expired")?.textContent).toBe("Expired");
    expect(byTestId(page, "pairing-qr")).toBeNull();
    expect(byTestId(page, "pairing-code")).toBeNull();
    buttonNamed(page, "Start again")?.click();
    expect(startPairing).toHaveBeenCalledOnce();
  });

  it("lists devices with their dates, status and a Revoke button for those not revoked", () => {
    const revoke = vi.fn();
    const old: DeviceView = {
      ...pixel,
      id: "dev-2",
      name: "Old iPhone",
      last_seen_ms: null,
      online: false,
      revoked: true,
    };
    const idle: DeviceView = { ...pixel, id: "dev-3", name: "Tablet", last_seen_ms: null, online: false };
    const page = renderPhones(state({ view: { ...view, devices: [pixel, old, idle] } }), { ...noActions, revoke }, NOW);
    const headings = [...page.querySelectorAll("thead th")].map((th) => th.textContent);
    expect(headings).toEqual(["Name", "Paired at", "Last seen", "Status", "Actions"]);
    expect([...page.querySelectorAll("thead th")].every((th) => th.getAttribute("scope") === "col")).toBe(true);
    const rows = [...page.querySelectorAll('[data-testid="device-row"]')].map((tr) =>
      [...tr.querySelectorAll("th, td")].map((cell) => cell.textContent),
    );
    expect(rows).toEqual([
      ["Ada's Pixel", dateTime(pixel.paired_at_ms, "h24"), dateTime(pixel.last_seen_ms ?? 0, "h24"), "Online", "Revoke"],
      ["Old iPhone", dateTime(pixel.paired_at_ms, "h24"), "never", "Revoked", ""],
      ["Tablet", dateTime(pixel.paired_at_ms, "h24"), "never", "Offline", "Revoke"],
    ]);
    expect(page.querySelector("time")?.getAttribute("datetime")).toBe("2025-02-01T09:30:00.000Z");
    const buttons = [...page.querySelectorAll<HTMLButtonElement>('[data-testid="revoke"]')];
    expect(buttons.map((button) => button.getAttribute("aria-label"))).toEqual(["Revoke Ada's Pixel", "Revoke Tablet"]);
    buttons[1]?.click();
    expect(revoke).toHaveBeenCalledWith(idle);
  });

  it("says when no phone is paired", () => {
    const page = renderPhones(state(), noActions, NOW);
    expect(page.querySelector('[data-testid="device-row"]')).toBeNull();
    expect(page.textContent).toContain("No phone paired yet.");
  });

  it("shows errors in an alert", () => {
    const page = renderPhones(state({ actionError: "no keyring", loadError: "app gone" }), noActions, NOW);
    const alert = byTestId(page, "phones-error");
    expect(alert?.getAttribute("role")).toBe("alert");
    expect(alert?.textContent).toContain("no keyring");
    expect(alert?.textContent).toContain("app gone");
  });

  it("never turns text from the core into markup", () => {
    const evil = '<img src=x onerror="alert(1)">';
    const page = renderPhones(
      state({ view: { ...view, devices: [{ ...pixel, name: evil }], pairing: { ...pairing, short_code: evil } } }),
      noActions,
      NOW,
    );
    expect(page.querySelector("img")).toBeNull();
    expect(byTestId(page, "pairing-code")?.textContent).toBe(evil);
  });
});

describe("parseQrSvg", () => {
  it("keeps the shapes of a well-formed SVG", () => {
    const svg = parseQrSvg(QR_SVG);
    expect(svg?.ownerDocument).toBe(document);
    expect(svg?.getAttribute("viewBox")).toBe("0 0 264 264");
    expect(svg?.querySelector("rect")?.getAttribute("fill")).toBe("#fff");
  });

  it("drops anything that could run or link", () => {
    const svg = parseQrSvg(
      '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script>' +
        '<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">hi</div></foreignObject>' +
        '<a href="https://example.com"><rect/></a><path d="M0 0" onclick="alert(3)" style="x"/></svg>',
    );
    expect(svg?.getAttribute("onload")).toBeNull();
    expect(svg?.querySelector("script, foreignObject, a, div")).toBeNull();
    expect(svg?.querySelector("path")?.getAttributeNames()).toEqual(["d"]);
  });

  it("refuses what is not an SVG document", () => {
    expect(parseQrSvg("")).toBeNull();
    expect(parseQrSvg('<svg xmlns="http://www.w3.org/2000/svg"><rect')).toBeNull();
    expect(parseQrSvg('<html xmlns="http://www.w3.org/1999/xhtml"/>')).toBeNull();
  });
});

describe("formatCountdown", () => {
  it("is mm:ss, rounded up, never negative", () => {
    expect(formatCountdown(300_000)).toBe("05:00");
    expect(formatCountdown(61_001)).toBe("01:02");
    expect(formatCountdown(1)).toBe("00:01");
    expect(formatCountdown(-5_000)).toBe("00:00");
  });
});

describe("mountPhones", () => {
  let root: HTMLElement;
  let current: PhonesView;
  let window_: PhonesWindow | null;
  const handlers: Partial<Handlers> = {
    phones: () => current,
    preferences: () => preferences,
    start_pairing: () => {
      const fresh = { ...pairing, expires_at: new Date(Date.now() + 300_000).toISOString() };
      current = { ...current, pairing: fresh };
      return fresh;
    },
    cancel_pairing: () => {
      current = { ...current, pairing: null };
      return null;
    },
    revoke_device: ({ deviceId }) => {
      current = {
        ...current,
        devices: current.devices.map((d) => (d.id === deviceId ? { ...d, revoked: true, online: false } : d)),
      };
      return true;
    },
  };

  let events: FakeEvents;
  const mount = (app = fakeApp(handlers)) => {
    window_ = mountPhones(root, app.call, events.onEvent);
    return app;
  };

  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(NOW);
    root = document.createElement("div");
    document.body.append(root);
    current = view;
    window_ = null;
    events = fakeEvents();
  });

  afterEach(() => {
    window_?.stop();
    root.remove();
    vi.restoreAllMocks();
    vi.useRealTimers();
  });

  it("shows the view from `phones` and asks again every two seconds", async () => {
    const app = mount();
    await vi.advanceTimersByTimeAsync(0);
    // The clock's choice is asked for once.
    expect(app.names()).toEqual(["phones", "preferences"]);
    expect(root.textContent).toContain("No phone paired yet.");

    current = { ...current, devices: [pixel] };
    await vi.advanceTimersByTimeAsync(REFRESH_MS);
    expect(app.names()).toEqual(["phones", "preferences", "phones"]);
    expect(root.querySelectorAll('[data-testid="device-row"]')).toHaveLength(1);
  });

  it("starts pairing, then shows the code; a used-up pairing disappears on the next refresh", async () => {
    const app = mount();
    await vi.advanceTimersByTimeAsync(0);
    buttonNamed(root, "Pair a phone")?.click();
    await vi.advanceTimersByTimeAsync(0);
    expect(app.names()).toEqual(["phones", "preferences", "start_pairing", "phones"]);
    expect(byTestId(root, "pairing-code")?.textContent).toBe("1234-5678");
    expect(byTestId(root, "pairing-qr")?.querySelector("svg")).not.toBeNull();

    // The phone uses the pairing window: it is gone from the view and the phone is in the list.
    current = { ...current, pairing: null, devices: [pixel] };
    await vi.advanceTimersByTimeAsync(REFRESH_MS);
    expect(byTestId(root, "pairing-qr")).toBeNull();
    expect(byTestId(root, "pairing-expired")).toBeNull();
    expect(buttonNamed(root, "Pair a phone")).toBeDefined();
    expect(root.querySelectorAll('[data-testid="device-row"]')).toHaveLength(1);
  });

  it("counts down every second, then shows Expired and Start again even after the app drops the pairing", async () => {
    current = { ...view, pairing };
    const app = mount();
    await vi.advanceTimersByTimeAsync(0);
    const timer = root.querySelector("[role=timer]");
    expect(timer?.textContent).toBe("05:00");
    await vi.advanceTimersByTimeAsync(1000);
    expect(root.querySelector("[role=timer]")?.textContent).toBe("04:59");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(root.querySelector("[role=timer]")?.textContent).toBe("03:59");

    // The app forgets expired pairings; the window keeps saying so.
    vi.setSystemTime(Date.parse(pairing.expires_at) - 500);
    current = { ...current, pairing: null };
    await vi.advanceTimersByTimeAsync(1000);
    await vi.advanceTimersByTimeAsync(REFRESH_MS);
    expect(byTestId(root, "pairing-expired")?.textContent).toBe("Expired");
    expect(byTestId(root, "pairing-qr")).toBeNull();

    const before = app.calls.length;
    buttonNamed(root, "Start again")?.click();
    await vi.advanceTimersByTimeAsync(0);
    expect(app.names().slice(before)).toEqual(["start_pairing", "phones"]);
    expect(byTestId(root, "pairing-expired")).toBeNull();
    expect(byTestId(root, "pairing-code")?.textContent).toBe("1234-5678");
  });

  it("cancels an open pairing", async () => {
    current = { ...view, pairing };
    const app = mount();
    await vi.advanceTimersByTimeAsync(0);
    buttonNamed(root, "Cancel")?.click();
    await vi.advanceTimersByTimeAsync(0);
    expect(app.calls.slice(2)).toEqual([
      ["cancel_pairing", {}],
      ["phones", {}],
    ]);
    expect(byTestId(root, "pairing-qr")).toBeNull();
    expect(document.activeElement).toBe(buttonNamed(root, "Pair a phone"));
  });

  it("opens Settings from Change in Settings", async () => {
    const app = mount(fakeApp({ ...handlers, perform: () => null }));
    await vi.advanceTimersByTimeAsync(0);
    buttonNamed(root, "Change in Settings")?.click();
    await vi.advanceTimersByTimeAsync(0);
    expect(app.calls.slice(2)).toEqual([
      ["perform", { action: { type: "open_window", window: "settings" } }],
      ["phones", {}],
    ]);
    expect(byTestId(root, "phones-error")).toBeNull();
  });

  it("revokes a device only once the person confirms", async () => {
    current = { ...view, devices: [pixel] };
    const confirm = vi.spyOn(window, "confirm").mockReturnValueOnce(false).mockReturnValueOnce(true);
    const app = mount();
    await vi.advanceTimersByTimeAsync(0);

    byTestId(root, "revoke")?.click();
    await vi.advanceTimersByTimeAsync(0);
    expect(confirm).toHaveBeenCalledOnce();
    expect(app.names()).not.toContain("revoke_device");

    byTestId(root, "revoke")?.click();
    await vi.advanceTimersByTimeAsync(0);
    expect(confirm).toHaveBeenCalledTimes(2);
    expect(confirm.mock.calls[1]?.[0]).toContain("Ada's Pixel");
    expect(app.calls.slice(-2)).toEqual([
      ["revoke_device", { deviceId: "dev-1" }],
      ["phones", {}],
    ]);
    expect(byTestId(root, "device-row")?.textContent).toContain("Revoked");
    expect(byTestId(root, "revoke")).toBeNull();
  });

  it("shows a failed call's message in an alert and keeps the window working", async () => {
    const app = mount(
      fakeApp({
        ...handlers,
        start_pairing: () => {
          // The shell rejects with a plain {code, message}, not an Error.
          // eslint-disable-next-line @typescript-eslint/only-throw-error
          throw { code: "relay", message: "the relay is not running" };
        },
      }),
    );
    await vi.advanceTimersByTimeAsync(0);
    const pair = buttonNamed(root, "Pair a phone");
    pair?.focus();
    pair?.click();
    await vi.advanceTimersByTimeAsync(0);
    expect(app.names()).toEqual(["phones", "preferences", "start_pairing", "phones"]);
    expect(byTestId(root, "phones-error")?.textContent).toContain("the relay is not running");
    expect(document.activeElement).toBe(buttonNamed(root, "Pair a phone"));
  });

  it("shows why the first load failed, then recovers", async () => {
    let fail = true;
    mount(
      fakeApp({
        ...handlers,
        phones: () => {
          if (fail) throw new Error("services not started");
          return current;
        },
      }),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(root.querySelector("[role=alert]")?.textContent).toContain("services not started");
    fail = false;
    await vi.advanceTimersByTimeAsync(REFRESH_MS);
    expect(root.querySelector("#phones-title")).not.toBeNull();
    expect(root.querySelector("[role=alert]")).toBeNull();
  });

  it("does not redraw when nothing changed, so focus stays put", async () => {
    current = { ...view, devices: [pixel] };
    mount();
    await vi.advanceTimersByTimeAsync(0);
    const revoke = byTestId(root, "revoke");
    revoke?.focus();
    await vi.advanceTimersByTimeAsync(REFRESH_MS * 3);
    expect(byTestId(root, "revoke")).toBe(revoke);
    expect(document.activeElement).toBe(revoke);

    // A change redraws, and the focus follows to the same button.
    current = { ...current, devices: [{ ...pixel, online: false }] };
    await vi.advanceTimersByTimeAsync(REFRESH_MS);
    expect(byTestId(root, "revoke")).not.toBe(revoke);
    expect(document.activeElement).toBe(byTestId(root, "revoke"));
  });

  it("writes the devices' times in the clock chosen, and again when the preferences change", async () => {
    current = { ...view, devices: [pixel] };
    const twelve = { ...preferences, preferences: { ...preferences.preferences, clock: "h12" as const } };
    mount(fakeApp({ ...handlers, preferences: () => twelve }));
    await vi.advanceTimersByTimeAsync(0);
    const times = () => [...root.querySelectorAll('[data-testid="device-row"] time')].map((time) => time.textContent);
    expect(times()).toEqual([dateTime(pixel.paired_at_ms, "h12"), dateTime(pixel.last_seen_ms ?? 0, "h12")]);
    expect(times()[0]).toMatch(/^\d{4}-\d{2}-\d{2} \d{1,2}:\d{2} [AP]M$/);
    events.emit("preferences", { ...preferences.preferences, clock: "h24" });
    expect(times()).toEqual([dateTime(pixel.paired_at_ms, "h24"), dateTime(pixel.last_seen_ms ?? 0, "h24")]);
    expect(times()[0]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
  });

  it("stops asking once stopped", async () => {
    const app = mount();
    await vi.advanceTimersByTimeAsync(0);
    window_?.stop();
    await vi.advanceTimersByTimeAsync(REFRESH_MS * 5);
    expect(app.names()).toEqual(["phones", "preferences"]);
    expect(events.listeners("preferences")).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
