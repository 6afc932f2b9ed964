// Changing one's own password, from every signed-in page's header. The server revokes
// every token of the account on success and signs out every other browser; this one
// stays logged in with the new token it answers (a page without a lasting login, none:
// it logs in again).

import { keepFresh, leavingFor, post, session, toLogin } from "./api.js";
import { errorText, t } from "./i18n.js";
import { el, flash } from "./ui.js";

export function openPasswordDialog() {
  const field = (id, key, autocomplete) =>
    el("div", { class: "field" }, el("label", { for: id }, t(key)), el("input", { id, name: id, type: "password", autocomplete, required: true }));
  const problem = el("p", { class: "error-line", role: "alert", hidden: true });
  const form = el(
    "form",
    { method: "dialog", id: "password-form", novalidate: true },
    el("h2", {}, t("password.title")),
    field("pw-current", "password.current", "current-password"),
    field("pw-new", "password.new", "new-password"),
    field("pw-confirm", "password.confirm", "new-password"),
    problem,
    el(
      "div",
      { class: "row" },
      el("button", { type: "submit", class: "primary" }, t("password.submit")),
      el("button", { type: "button", class: "ghost", onclick: () => dialog.close() }, t("password.cancel")),
    ),
  );
  const dialog = el("dialog", { class: "card", id: "password-dialog", "aria-labelledby": "password-title" }, form);
  form.querySelector("h2").id = "password-title";
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const current = form["pw-current"].value;
    const fresh = form["pw-new"].value;
    problem.hidden = true;
    if (fresh !== form["pw-confirm"].value) {
      problem.textContent = t("password.mismatch");
      problem.hidden = false;
      return;
    }
    leavingFor("passwordChanged"); // the server closes this page's socket as it answers
    let r;
    try {
      r = await post("/api/password", { current, new: fresh }, { quiet: true });
    } catch (e) {
      leavingFor(null);
      // The dialog's own words for its two refusals; anything else as every page says it.
      if (e.code === "forbidden") problem.textContent = t("password.wrongCurrent");
      else if (e.code === "bad_request" && !e.params.field) problem.textContent = t("password.policy");
      else problem.textContent = errorText(e);
      problem.hidden = false;
      return;
    }
    if (r.token) {
      // This browser stays logged in (the others are signed out): its new token, and the
      // live connection, closed by the change, resumes with it.
      const s = session.get();
      session.save({ token: r.token, expires_in: r.expires_in, user: s.user });
      leavingFor(null);
      keepFresh();
      dialog.close();
      flash(t("password.changed"));
      window.hubClient?.resume();
      return;
    }
    if (window.hubClient) window.hubClient.stop();
    toLogin("passwordChanged");
  });
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  form["pw-current"].focus();
}
