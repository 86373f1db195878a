import type { TransformationConfig } from "../../config.ts";
import type { ConsumerId } from "../../ids.ts";
import type { RunOutcome } from "./sandbox.ts";

/** A consumer's saved transformation, which the sandbox thread compiles once per version. */
export interface SavedTransformation {
  consumerId: ConsumerId;
  version: number;
  code: string;
}

/** Messages between a TransformationRunner and its sandbox thread. */
export type SandboxRequest =
  /** Runs saved code (compiled once per version) or, without a consumer, code compiled for this run only. */
  | {
      type: "run";
      id: number;
      transformation: SavedTransformation | { code: string };
      url: string;
      body: string;
      /** When it may start at the latest (ms since the epoch); null: whenever its turn comes. */
      notAfter: number | null;
    }
  /** Compiles code and runs its top level, to check it before it is saved. */
  | { type: "check"; id: number; code: string };

export type SandboxReply = { type: "ready" } | { type: "ran"; id: number; outcome: RunOutcome } | { type: "checked"; id: number; problem: CodeProblem | null };

/** Why code cannot be saved: the engine's message, and the line it points at. */
export interface CodeProblem {
  message: string;
  line: number | null;
}

/** What a sandbox thread starts with: the limits, and two numbers it shares with its runner, the id of the request it runs and since when. */
export interface SandboxData {
  limits: TransformationConfig;
  running: SharedArrayBuffer;
}
