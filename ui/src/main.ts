import { getCurrentWindow } from "@tauri-apps/api/window";
import { call, describeError } from "./ipc";
import { mountPhones } from "./views/phones";
import { renderError, renderSettings } from "./views/settings";
import { mountWorkspaces } from "./views/workspaces";

async function main(root: HTMLElement): Promise<void> {
  // Each window shows the view named by its label (see WindowKind in crates/caret-app/src/action.rs).
  const label = getCurrentWindow().label;
  switch (label) {
    case "settings": {
      const info = await call("app_info", {});
      const workspaces = document.createElement("div");
      root.replaceChildren(renderSettings(info, workspaces));
      mountWorkspaces(workspaces, call);
      break;
    }
    case "phones": {
      const phones = mountPhones(root, call);
      window.addEventListener(
        "pagehide",
        () => {
          phones.stop();
        },
        { once: true },
      );
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
