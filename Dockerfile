# imagegate as a container image; deploy/compose.yaml runs two of them (README,
# "More than one node"). The development machines have no container runtime,
# so test/deploy/dockerfile.test.ts runs these steps itself in a fresh copy of
# the repository: every RUN below, the copies between the stages, then the
# ENTRYPOINT, the HEALTHCHECK and a SIGTERM. Keep to instructions it knows.

# ---- build: the TypeScript compiler and the native modules, with dev dependencies
# Debian, not Alpine: sharp's prebuilt binaries come as npm packages for glibc,
# and this image already has python3, make and g++ for better-sqlite3, so
# nothing is installed from outside the npm registry.
FROM node:20-bookworm AS build
WORKDIR /app
# better-sqlite3 is compiled here instead of fetched from GitHub releases
# (prebuild-install reads this), so the build needs only the npm registry
ENV npm_config_build_from_source=better-sqlite3
COPY package.json package-lock.json ./
# --ignore-scripts: the package's own prepare script (the TypeScript build)
# needs the sources, which come later so that this slow layer (the compile of
# better-sqlite3) is reused while only sources change; `npm rebuild` then runs
# the dependencies' install scripts, against the headers installed with this
# Node (node-gyp would otherwise download them), compiling on every core
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm_config_nodedir="$(dirname "$(dirname "$(command -v node)")")" JOBS=max npm rebuild
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
# the web console (console/) is bundled by scripts/build-console.mjs into
# dist/console, which the server serves at /console
COPY scripts/build-console.mjs ./scripts/
COPY console ./console
RUN npm run build
# what stays is the production tree of package-lock.json, the tree
# `npm ci --omit=dev` gives, with better-sqlite3 already built for this
# Debian release: the runtime image copies it and needs no compiler
RUN npm prune --omit=dev --no-audit --no-fund

# ---- runtime: Node 20 on the same Debian release, without build tools
FROM node:20-bookworm-slim AS runtime
# HOST: reachable from the load balancer, not only from inside the container
ENV HOST=0.0.0.0 PORT=8080 IMAGEGATE_DATA_DIR=/data
WORKDIR /app
# package.json makes dist/ ES modules ("type": "module") and gives --version;
# the lockfile records what node_modules holds, for image scanners
COPY --from=build /app/package.json /app/package-lock.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# the data dir belongs to the user the server runs as (a new named volume
# takes this ownership); 0700: it holds the SQLite database, keys and spools
RUN mkdir -p "$IMAGEGATE_DATA_DIR" \
 && chown 1000:1000 "$IMAGEGATE_DATA_DIR" \
 && chmod 0700 "$IMAGEGATE_DATA_DIR"
# the image's `node` user, by number so that Kubernetes' runAsNonRoot can
# check it; the application files stay root's and read-only to it
USER 1000:1000
VOLUME ["/data"]
EXPOSE 8080
# liveness only (GET /healthz); the load balancer asks /readyz. Node itself,
# since the slim image has no curl or wget.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/healthz`, { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# exec form: node is PID 1 and gets SIGTERM itself (no shell, no npm in
# between). No init is needed: `serve` handles SIGTERM and SIGINT (drain, then
# exit 0) and starts no child processes whose zombies would need reaping (the
# engine uses worker threads). A SIGTERM in the second or two of start-up,
# before those handlers exist, is ignored by PID 1; `docker stop` then kills
# after its grace period, with nothing in flight to lose.
ENTRYPOINT ["node", "dist/cli/bin.js"]
CMD ["serve"]
