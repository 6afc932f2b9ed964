// The larger-text setting (大字), one per device: applied here, before the page is first
// drawn, so the text never jumps from one size to the other. Every page loads this file
// as a classic (blocking) script in its <head>; the switch in the header (ui.js
// textSizeSwitch) changes the setting. Kept across logins and logouts: it belongs to the
// person holding the device, not to an account.
try {
  if (localStorage.getItem("hub:text-size") === "large") document.documentElement.classList.add("large-text");
} catch {
  /* storage disabled: normal text */
}
