import { startPage } from "./ui.js";

const { client } = await startPage(["supervisor", "admin"], "page.supervisor");
client.start();
