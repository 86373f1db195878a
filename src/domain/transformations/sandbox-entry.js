// The sandbox thread's start when the server runs from source: worker threads do not inherit the main thread's TypeScript loader.
import { register } from "tsx/esm/api";

register();
await import("./sandbox-thread.ts");
