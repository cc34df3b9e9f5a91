export { type CommandModule, commands } from "./registry.js";
