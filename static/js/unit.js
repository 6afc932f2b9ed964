import { startPage } from "./ui.js";

const { client } = await startPage(["unit"], "page.unit");
client.start();
