// The login page: a username and password for a token kept in sessionStorage (this
// tab, this session) and a lasting login for this browser (an httpOnly cookie set by the
// hub), then the page for the user's role; a browser logged in already goes there at once.

import { PAGES, api, renew, session } from "./api.js";
import { applyI18n, errorText, t } from "./i18n.js";
import { mountLangSwitch, registerWorker, textSizeSwitch } from "./ui.js";

applyI18n();
registerWorker();
document.title = `${t("login.title")} · ${t("app.name")}`;
mountLangSwitch(document.getElementById("lang-slot"));
document.getElementById("lang-slot").append(textSizeSwitch());

const reason = new URLSearchParams(location.search).get("reason");
if (reason && ["expired", "deactivated", "loggedOut", "passwordChanged"].includes(reason)) {
  const p = document.getElementById("reason");
  p.textContent = t(`login.${reason}`);
  p.hidden = false;
  if (reason === "deactivated") p.className = "error-line";
}

// The demo password is shown only by a hub started with --demo (204 otherwise).
fetch("/api/login/demo")
  .then((r) => (r.status === 200 ? r.json() : null))
  .then((d) => {
    if (!d) return;
    const p = document.getElementById("demo");
    p.textContent = t("login.demo", { password: d.password });
    p.hidden = false;
  })
  .catch(() => {});


const form = document.getElementById("login");
const submit = document.getElementById("submit");
document.getElementById("username").focus();

form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const username = form.username.value.trim();
  const password = form.password.value;
  if (!username || !password) {
    (username ? form.password : form.username).focus();
    return;
  }
  submit.disabled = true;
  submit.textContent = t("login.busy");
  const problem = document.getElementById("errors");
  const say = (text) => problem.replaceChildren(Object.assign(document.createElement("p"), { className: "error-line", textContent: text }));
  problem.replaceChildren();
  try {
    enter(await api("POST", "/api/login", { username, password }, { quiet: true }), say);
  } catch (e) {
    if (e.code === "conflict" && e.params?.reason === "password_temporary") {
      chooseOwn(username, password);
      return;
    }
    form.password.value = "";
    form.password.focus();
    // One answer for an unknown user and a wrong password: the server does not tell them apart.
    say(e.code === "unauthorized" ? t("login.wrong") : errorText(e));
  } finally {
    submit.disabled = false;
    submit.textContent = t("login.submit");
  }
});

/** Logged in: to the page of the user's role. */
function enter(r, say) {
  const page = PAGES[r.user.role];
  if (!page) {
    say(t("login.noPage"));
    return;
  }
  session.save(r);
  location.replace(page);
}

// A temporary password (issued with the roster) logs nobody in: its holder chooses their
// own here, and is then logged in with it.
const first = document.getElementById("first");

function chooseOwn(username, temporary) {
  form.hidden = true;
  first.hidden = false;
  first.new.focus();
  const problem = document.getElementById("errors");
  const say = (text) => problem.replaceChildren(Object.assign(document.createElement("p"), { className: "error-line", textContent: text }));
  problem.replaceChildren();
  first.onsubmit = async (ev) => {
    ev.preventDefault();
    problem.replaceChildren();
    if (!first.new.value) return first.new.focus();
    if (first.new.value !== first.again.value) {
      say(t("login.mismatch"));
      first.again.focus();
      return;
    }
    const button = document.getElementById("first-submit");
    button.disabled = true;
    try {
      enter(await api("POST", "/api/login/first", { username, password: temporary, new: first.new.value }, { quiet: true }), say);
    } catch (e) {
      say(errorText(e));
      first.new.focus();
    } finally {
      button.disabled = false;
    }
  };
}

// Logged in already, in this tab or (the lasting login's cookie) in this browser: to the
// page. Asked after the form is wired, so that the form never waits for the answer.
if (!reason) {
  Promise.resolve(session.get() || renew()).then((existing) => {
    if (existing && PAGES[existing.user.role] && !submit.disabled) location.replace(PAGES[existing.user.role]);
  });
}
