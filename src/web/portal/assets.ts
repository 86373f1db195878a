import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";

const require = createRequire(import.meta.url);

/**
 * The only files the portal serves besides its pages: htmx and uPlot from
 * their installed packages, and the portal's own stylesheet and script
 * (src/web/assets, copied to dist/web/assets by the build). Nothing comes
 * from a CDN or the internet.
 */
const FILES: Record<string, string> = {
  "htmx.min.js": require.resolve("htmx.org/dist/htmx.min.js"),
  "uplot.min.js": require.resolve("uplot/dist/uPlot.iife.min.js"),
  "uplot.min.css": require.resolve("uplot/dist/uPlot.min.css"),
  "portal.css": fileURLToPath(new URL("../assets/portal.css", import.meta.url)),
  "portal.js": fileURLToPath(new URL("../assets/portal.js", import.meta.url)),
};

/**
 * The assets' URLs carry a hash of their contents, so browsers may keep them
 * for a year (immutable) and still get new ones after an upgrade.
 */
const VERSION = createHash("sha256")
  .update(
    Object.values(FILES)
      .map((path) => readFileSync(path))
      .join("\n"),
  )
  .digest("hex")
  .slice(0, 12);

export const ASSETS_PREFIX = `/portal/assets/${VERSION}`;

export type AssetName = keyof typeof FILES;
export const assetUrl = (name: AssetName): string => `${ASSETS_PREFIX}/${name}`;

export async function assetRoutes(app: FastifyInstance): Promise<void> {
  await app.register(fastifyStatic, { root: dirname(FILES["portal.css"]!), serve: false });
  app.get<{ Params: { name: string } }>(`${ASSETS_PREFIX}/:name`, async (request, reply) => {
    const path = Object.hasOwn(FILES, request.params.name) ? FILES[request.params.name]! : undefined;
    if (path === undefined) return reply.callNotFound();
    return reply.sendFile(basename(path), dirname(path), { maxAge: "365d", immutable: true });
  });
}
