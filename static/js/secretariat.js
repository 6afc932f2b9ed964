import { startPage } from "./ui.js";

const { client } = await startPage(["secretariat"], "page.secretariat");
client.start();
