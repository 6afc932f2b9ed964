// The browsers (devices) signed in to one's account, from every signed-in page's header:
// each named by its browser and system, when it logged in and was last used; any other
// one can be signed out here (it refreshes no more and its pages go to the login page).

import { get, post } from "./api.js";
import { t, when } from "./i18n.js";
import { chip, el, fill, flash } from "./ui.js";

const BROWSERS = [
  [/MicroMessenger\//, () => t("devices.wechat")],
  [/Edg\//, () => "Edge"],
  [/Firefox\//, () => "Firefox"],
  [/Chrom(e|ium)\//, () => "Chrome"],
  [/Safari\//, () => "Safari"],
];
const SYSTEMS = [
  [/Android/, "Android"],
  [/iPhone|iPad/, "iOS"],
  [/Windows/, "Windows"],
  [/Mac OS X/, "macOS"],
  [/Linux/, "Linux"],
];

/** A device's name in words from its browser's User-Agent ("Chrome · Android"). */
export function deviceName(agent) {
  const browser = BROWSERS.find(([re]) => re.test(agent))?.[1]() ?? t("devices.unknown");
  const system = SYSTEMS.find(([re]) => re.test(agent))?.[1];
  return system ? `${browser} · ${system}` : browser;
}

export async function openDevicesDialog() {
  const list = el("ul", { class: "list", id: "devices-list" });
  const dialog = el(
    "dialog",
    { class: "card", id: "devices-dialog", "aria-labelledby": "devices-title" },
    el("h2", { id: "devices-title" }, t("devices.title")),
    el("p", { class: "meta" }, t("devices.hint")),
    list,
    el("div", { class: "row" }, el("button", { type: "button", class: "ghost", onclick: () => dialog.close() }, t("common.close"))),
  );
  const draw = async () => {
    let r;
    try {
      r = await get("/api/devices");
    } catch {
      return; // the error is shown
    }
    fill(
      list,
      r.devices.map((d) => {
        const out = el("button", { type: "button", class: "danger" }, t("devices.signOut"));
        out.addEventListener("click", async () => {
          out.disabled = true;
          try {
            await post(`/api/devices/${d.id}/sign-out`);
            flash(t("devices.signedOut"));
          } finally {
            draw();
          }
        });
        return el(
          "li",
          { "data-device": d.id, "data-current": String(d.current) },
          el("strong", {}, deviceName(d.agent)),
          d.current ? chip(t("devices.current"), "ok") : null,
          el("div", { class: "meta" }, t("devices.used", { since: when(d.created_at), last: when(d.last_used_at) })),
          d.current ? null : out,
        );
      }),
    );
  };
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  await draw();
}
