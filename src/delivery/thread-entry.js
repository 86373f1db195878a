// Worker threads do not inherit the TypeScript loader of the main thread, so the delivery thread registers it first.
import { register } from "tsx/esm/api";

register();
await import("./thread-main.ts");
