import { getCurrentWindow } from "@tauri-apps/api/window";
import type { WorkspaceView } from "./bindings/WorkspaceView";
import { clipboardCopy } from "./clipboard";
import { clockChoice, followClock } from "./clock";
import { call, describeError, onEvent } from "./ipc";
import { mountPhones } from "./views/phones";
import { mountPhoneReach } from "./views/phone-reach";
import { mountPicker } from "./views/picker";
import { mountPreferences } from "./views/preferences";
import { placeWorkspaceSettings, renderError, renderSettings } from "./views/settings";
import { mountSources } from "./views/sources";
import { mountSyncLog } from "./views/sync-log";
import { mountWorkspaceSettings } from "./views/workspace-settings";
import { mountWorkspaces } from "./views/workspaces";

/** Runs `stop` when the window goes away, so no listener outlives its page. */
function onPageHide(stop: () => void): void {
  window.addEventListener("pagehide", stop, { once: true });
}

async function main(root: HTMLElement): Promise<void> {
  // Each window shows the view named by its label (see WindowKind in crates/caret-app/src/action.rs).
  const label = getCurrentWindow().label;
  switch (label) {
    case "settings": {
      const info = await call("app_info", {});
      const workspaces = document.createElement("div");
      const workspaceSettings = document.createElement("div");
      const preferences = document.createElement("div");
      const phoneReach = document.createElement("div");
      const sources = document.createElement("div");
      // A workspace's policy and preview first, as most people opening Settings have one connected; connecting
      // comes first once the list shows none is (placeWorkspaceSettings).
      root.replaceChildren(renderSettings(info, workspaceSettings, workspaces, preferences, phoneReach, sources));
      // How the window writes times: the Preferences section loads the choice and saves it; the event brings
      // a change made elsewhere.
      const clock = clockChoice();
      onPageHide(followClock(clock, onEvent));
      let list: ReturnType<typeof mountWorkspaces> | null = null;
      const settings = mountWorkspaceSettings(workspaceSettings, call, onEvent, {
        // Connected or disconnected elsewhere (the CLI): the list asks again and passes it on.
        onStale: () => void list?.refresh(),
        clock,
      });
      const listed = (next: WorkspaceView[]) => {
        settings.setWorkspaces(next);
        placeWorkspaceSettings(workspaces, workspaceSettings, next.some((workspace) => workspace.connected));
      };
      list = mountWorkspaces(workspaces, call, listed, clipboardCopy, clock);
      const preferencesPanel = mountPreferences(preferences, call, clipboardCopy, clock, onEvent);
      const reach = mountPhoneReach(phoneReach, call);
      const sourcesPanel = mountSources(sources, call, onEvent, clock);
      onPageHide(settings.stop);
      onPageHide(preferencesPanel.stop);
      onPageHide(reach.stop);
      onPageHide(sourcesPanel.stop);
      break;
    }
    case "phones": {
      const phones = mountPhones(root, call, onEvent);
      onPageHide(phones.stop);
      break;
    }
    case "sync-log": {
      const log = mountSyncLog(root, call, onEvent);
      onPageHide(log.stop);
      break;
    }
    case "picker": {
      document.body.classList.add("picker-window");
      // Closing hides it: the shell keeps the window for the next opening (src-tauri/src/picker.rs).
      const picker = mountPicker(root, call, onEvent, () => getCurrentWindow().close());
      onPageHide(picker.stop);
      break;
    }
    default:
      root.replaceChildren(renderError(`No view for window "${label}".`));
  }
}

const root = document.getElementById("app");
if (root) {
  main(root).catch((error: unknown) => {
    root.replaceChildren(renderError(describeError(error)));
  });
}
