// Filled in when the opinion and item endpoints land.
import { fill, notYet } from "./ui.js";

export async function mount() {
  for (const id of ["opinions", "items", "overdue"]) {
    const b = document.querySelector(`#${id} .body`);
    if (b && !b.childElementCount) fill(b, notYet(id));
  }
}
