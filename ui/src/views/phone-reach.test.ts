import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PhoneReach } from "../bindings/PhoneReach";
import type { ReachView } from "../bindings/ReachView";
import {
  allByTestId,
  buttonNamed,
  byTestId,
  deferred,
  fakeApp,
  inputByTestId,
  settle,
  type Handlers,
} from "../test/fake-app";
import { office, reach } from "../test/fixtures";
import { mountPhoneReach, pairedText, type PhoneReachPanel } from "./phone-reach";

/** What the app says for each choice, on the home network of the fixture. */
const EXPLANATIONS: Record<PhoneReach, string> = {
  known_networks: reach.explanation,
  any_network: "Phones on any network this computer joins can reach it.",
  this_computer:
    "Phones can reach this computer only through a tunnel you set up (the relay listens on 127.0.0.1).",
};

const CHOICES: PhoneReach[] = ["known_networks", "any_network", "this_computer"];

const cafe: ReachView = {
  ...reach,
  open_to_lan: false,
  network: "10.0.0.0/24 via 10.0.0.1",
  network_known: false,
  explanation:
    "This network (10.0.0.0/24 via 10.0.0.1) is not one where you paired a phone: the relay listens only on this " +
    "computer and announces nothing. Pair a phone here to let phones reach it on this network.",
};

describe("mountPhoneReach", () => {
  let root: HTMLElement;
  let current: ReachView;
  let panel: PhoneReachPanel | null;

  const handlers: Partial<Handlers> = {
    reach: () => current,
    set_phone_reach: ({ choice }) => {
      current = {
        ...current,
        choice,
        open_to_lan: choice !== "this_computer",
        explanation: EXPLANATIONS[choice],
      };
      return current;
    },
    forget_networks: ({ id }) => {
      current = {
        ...current,
        known_networks: id === null ? [] : current.known_networks.filter((entry) => entry.id !== id),
      };
      return current;
    },
  };

  const mount = (app = fakeApp(handlers)) => {
    panel?.stop();
    panel = mountPhoneReach(root, app.call);
    return app;
  };
  const radio = (choice: PhoneReach) => inputByTestId(root, `reach-${choice}`);
  const checked = () => CHOICES.filter((choice) => radio(choice).checked);
  const text = (id: string) => byTestId(root, id)?.textContent;
  const alert = () => root.querySelector(".phone-reach > [role=alert]")?.textContent;

  beforeEach(() => {
    root = document.createElement("div");
    document.body.append(root);
    current = reach;
    panel = null;
  });

  afterEach(() => {
    panel?.stop();
    root.remove();
  });

  it("is a fieldset whose legend names it, with a labelled, explained radio per choice", async () => {
    mount();
    await settle();
    const fieldset = root.querySelector("fieldset");
    expect(fieldset?.querySelector("legend")?.textContent).toBe("Phones can reach this computer");
    expect(root.querySelector("section")?.getAttribute("aria-labelledby")).toBe("reach-title");
    const labels = CHOICES.map((choice) => radio(choice).labels?.[0]?.querySelector(".reach-label")?.textContent);
    expect(labels).toEqual([
      "On networks where you paired a phone Recommended",
      "On any network",
      "From this computer only",
    ]);
    const hints = CHOICES.map((choice) => {
      const hintId = radio(choice).getAttribute("aria-describedby") ?? "";
      return root.querySelector(`#${hintId}`)?.textContent;
    });
    expect(hints).toEqual([
      "And anywhere while a pairing window is open. Elsewhere (a café's Wi-Fi) phones cannot reach it and " +
        "nothing is announced.",
      "The relay listens on every network this computer joins.",
      "Phones need a tunnel (adb reverse, SSH).",
    ]);
    expect(new Set(CHOICES.map((choice) => radio(choice).name)).size).toBe(1);
    expect(CHOICES.every((choice) => fieldset?.contains(radio(choice)))).toBe(true);
  });

  it("shows the default choice, this known network, that phones can reach it now, and the app's explanation", async () => {
    const app = mount();
    await settle();
    expect(app.calls).toEqual([["reach", {}]]);
    expect(checked()).toEqual(["known_networks"]);
    expect(root.querySelector("fieldset")?.disabled).toBe(false);
    expect(text("reach-network")).toBe("This network: 192.168.1.0/24 via 192.168.1.1 (you paired a phone here).");
    expect(text("reach-now")).toBe("Right now phones on this network can reach this computer.");
    expect(text("reach-explanation")).toBe(reach.explanation);
    expect(byTestId(root, "reach-forced")?.hidden).toBe(true);
    expect(root.querySelector("fieldset")?.hasAttribute("aria-describedby")).toBe(false);
  });

  it.each(CHOICES)("checks the radio of %s and shows what it means", async (choice) => {
    current = { ...reach, choice, open_to_lan: choice !== "this_computer", explanation: EXPLANATIONS[choice] };
    mount();
    await settle();
    expect(checked()).toEqual([choice]);
    expect(text("reach-explanation")).toBe(EXPLANATIONS[choice]);
    expect(text("reach-now")).toBe(
      choice === "this_computer"
        ? "Right now phones on this network cannot reach this computer."
        : "Right now phones on this network can reach this computer.",
    );
  });

  it("says when this network is not a known one, and when it cannot be recognised", async () => {
    current = cafe;
    mount();
    await settle();
    expect(text("reach-network")).toBe("This network: 10.0.0.0/24 via 10.0.0.1.");
    expect(text("reach-now")).toBe("Right now phones on this network cannot reach this computer.");
    expect(text("reach-explanation")).toBe(cafe.explanation);

    current = { ...cafe, network: null };
    await panel?.refresh();
    expect(text("reach-network")).toBe("This network cannot be recognised.");
  });

  it("disables the radios, keeping the choice, when CARET_RELAY_LOOPBACK=1 keeps the relay on this computer", async () => {
    current = {
      ...reach,
      choice: "any_network",
      forced_local: true,
      open_to_lan: false,
      explanation:
        "Phones can reach this computer only through a tunnel: CARET_RELAY_LOOPBACK=1 keeps the relay on 127.0.0.1.",
    };
    const app = mount();
    await settle();
    const fieldset = root.querySelector("fieldset");
    expect(fieldset?.disabled).toBe(true);
    expect(CHOICES.every((choice) => radio(choice).matches(":disabled"))).toBe(true);
    expect(checked()).toEqual(["any_network"]);
    const note = byTestId(root, "reach-forced");
    expect(note?.hidden).toBe(false);
    expect(note?.textContent).toContain("CARET_RELAY_LOOPBACK=1 keeps the relay on this computer");
    expect(fieldset?.getAttribute("aria-describedby")).toBe(note?.id);
    radio("this_computer").click();
    await settle();
    expect(app.names()).toEqual(["reach"]);
  });

  it("changes the choice and shows the app's answer", async () => {
    const app = mount();
    await settle();
    radio("any_network").click();
    await settle();
    expect(app.calls.slice(1)).toEqual([["set_phone_reach", { choice: "any_network" }]]);
    expect(checked()).toEqual(["any_network"]);
    expect(text("reach-explanation")).toBe(EXPLANATIONS.any_network);

    radio("this_computer").click();
    await settle();
    expect(app.argsOf("set_phone_reach").at(-1)).toEqual({ choice: "this_computer" });
    expect(text("reach-now")).toBe("Right now phones on this network cannot reach this computer.");
    expect(alert()).toBe("");
  });

  it("keeps the picked radio while waiting, with the choices disabled, then gives the focus back", async () => {
    const answer = deferred<ReachView>();
    mount(fakeApp({ ...handlers, set_phone_reach: () => answer.promise }));
    await settle();
    radio("any_network").focus();
    radio("any_network").click();
    await settle();
    expect(checked()).toEqual(["any_network"]);
    expect(root.querySelector("fieldset")?.disabled).toBe(true);
    answer.resolve({ ...reach, choice: "any_network", explanation: EXPLANATIONS.any_network });
    await settle();
    expect(root.querySelector("fieldset")?.disabled).toBe(false);
    expect(checked()).toEqual(["any_network"]);
    expect(document.activeElement).toBe(radio("any_network"));
  });

  it("puts the previous choice back and says why when the change fails", async () => {
    const app = mount(
      fakeApp({
        ...handlers,
        set_phone_reach: () => {
          // The shell rejects with a plain {code, message}, not an Error.
          // eslint-disable-next-line @typescript-eslint/only-throw-error
          throw { code: "preferences", message: "cannot write preferences.json" };
        },
      }),
    );
    await settle();
    radio("this_computer").focus();
    radio("this_computer").click();
    await settle();
    expect(app.argsOf("set_phone_reach")).toEqual([{ choice: "this_computer" }]);
    expect(checked()).toEqual(["known_networks"]);
    expect(alert()).toBe("Could not change where phones can reach this computer: cannot write preferences.json");
    expect(text("reach-explanation")).toBe(reach.explanation);
    expect(document.activeElement).toBe(radio("known_networks"));

    // The next change that works clears the message.
    const working = mount();
    await settle();
    radio("any_network").click();
    await settle();
    expect(working.argsOf("set_phone_reach")).toEqual([{ choice: "any_network" }]);
    expect(alert()).toBe("");
  });

  it("lists the known networks with the date each was paired and a Forget button", async () => {
    current = { ...reach, known_networks: [...reach.known_networks, office] };
    mount();
    await settle();
    const rows = allByTestId(root, "known-network").map((item) => [
      item.querySelector(".known-network-label")?.textContent,
      item.querySelector(".known-network-paired")?.textContent,
      item.querySelector("button")?.textContent,
      item.querySelector("button")?.getAttribute("aria-label"),
    ]);
    expect(rows).toEqual([
      [
        "192.168.1.0/24 via 192.168.1.1",
        pairedText(Date.parse("2025-02-01T09:30:00Z")),
        "Forget",
        "Forget 192.168.1.0/24 via 192.168.1.1",
      ],
      ["10.20.0.0/16 via 10.20.0.1", pairedText(office.paired_at_ms), "Forget", "Forget 10.20.0.0/16 via 10.20.0.1"],
    ]);
    expect(pairedText(office.paired_at_ms)).toMatch(/^paired .*2025/);
  });

  it("forgets one network by its id", async () => {
    current = { ...reach, known_networks: [...reach.known_networks, office] };
    const app = mount();
    await settle();
    const forget = allByTestId(root, "known-network")[1]?.querySelector("button");
    forget?.focus();
    forget?.click();
    await settle();
    expect(app.argsOf("forget_networks")).toEqual([{ id: "8d41e6a2c590" }]);
    expect(allByTestId(root, "known-network").map((item) => item.querySelector("span")?.textContent)).toEqual([
      "192.168.1.0/24 via 192.168.1.1",
    ]);
    // The button went away with its network: the focus goes to the list's heading, not to the page.
    expect(document.activeElement?.id).toBe("known-networks-title");
  });

  it("offers Forget all only when there are several, and forgets them all with no id", async () => {
    const app = mount();
    await settle();
    expect(buttonNamed(root, "Forget all")).toBeUndefined();

    current = { ...reach, known_networks: [...reach.known_networks, office] };
    await panel?.refresh();
    buttonNamed(root, "Forget all")?.click();
    await settle();
    expect(app.argsOf("forget_networks")).toEqual([{ id: null }]);
    expect(allByTestId(root, "known-network")).toEqual([]);
    expect(text("known-networks")).toContain(
      "No known networks yet: pairing a phone makes the network it is on known.",
    );
  });

  it("says why forgetting failed and keeps the list", async () => {
    mount(
      fakeApp({
        ...handlers,
        forget_networks: () => {
          throw new Error("the relay is not running");
        },
      }),
    );
    await settle();
    buttonNamed(root, "Forget")?.click();
    await settle();
    expect(alert()).toBe("Could not forget the network: the relay is not running");
    expect(allByTestId(root, "known-network")).toHaveLength(1);
  });

  it("says why it could not load, with the choices disabled", async () => {
    mount(
      fakeApp({
        reach: () => {
          throw new Error("services not started");
        },
      }),
    );
    await settle();
    expect(alert()).toBe("Could not load where phones can reach this computer: services not started");
    expect(root.querySelector("fieldset")?.disabled).toBe(true);
    expect(checked()).toEqual([]);
  });

  it("keeps a failed change's message when the window asks again, and clears a failed load's", async () => {
    let loads = 0;
    const app = fakeApp({
      ...handlers,
      reach: () => {
        loads += 1;
        if (loads === 1) throw new Error("services not started");
        return current;
      },
      set_phone_reach: () => {
        throw new Error("cannot write preferences.json");
      },
    });
    mount(app);
    await settle();
    expect(alert()).toContain("services not started");
    await panel?.refresh();
    expect(alert()).toBe("");

    radio("any_network").click();
    await settle();
    expect(alert()).toContain("cannot write preferences.json");
    await panel?.refresh();
    expect(alert()).toContain("cannot write preferences.json");
  });

  it("asks again when the window comes back to the front, until stopped", async () => {
    const app = mount();
    await settle();
    current = cafe;
    window.dispatchEvent(new Event("focus"));
    await settle();
    expect(app.names()).toEqual(["reach", "reach"]);
    expect(text("reach-explanation")).toBe(cafe.explanation);

    panel?.stop();
    window.dispatchEvent(new Event("focus"));
    await settle();
    expect(app.names()).toEqual(["reach", "reach"]);
  });

  it("keeps the focus on a radio across a refresh", async () => {
    mount();
    await settle();
    radio("known_networks").focus();
    await panel?.refresh();
    expect(document.activeElement).toBe(radio("known_networks"));
  });

  it("never turns text from the core into markup", async () => {
    const evil = '<img src=x onerror="alert(1)">';
    current = { ...reach, network: evil, explanation: evil, known_networks: [{ ...office, label: evil }] };
    mount();
    await settle();
    expect(root.querySelector("img")).toBeNull();
    expect(text("reach-explanation")).toBe(evil);
  });
});
