# syntax=docker/dockerfile:1
# mailcase: multi-stage build on Node 24 (Debian bookworm slim), running as the unprivileged `node` user.
# The image needs PostgreSQL at DATABASE_URL (docker-compose.yml runs one): the embedded PostgreSQL binaries are
# optional dependencies and are left out of the runtime stage. Checked by test/unit/compose.test.ts (no Docker
# engine runs where mailcase is developed).

# Build stage: every dependency, compile TypeScript to dist/.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json

# Runtime stage: production dependencies only (no dev, no optional: no embedded PostgreSQL), compiled code, SQL.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY sql ./sql
COPY templates ./templates
# `mailcase` on PATH (docker compose exec mailcase mailcase check); bin/mailcase.js runs dist/ (no src/ here).
RUN ln -s /app/bin/mailcase.js /usr/local/bin/mailcase
# data_dir (deploy/mailcase.example.yml sets /var/lib/mailcase) must be writable by the unprivileged user.
RUN mkdir -p /var/lib/mailcase /etc/mailcase && chown node:node /var/lib/mailcase
USER node
ENV MAILCASE_CONFIG=/etc/mailcase/mailcase.yml
# http.port of the mounted configuration (8080 in deploy/mailcase.example.yml); EXPOSE only documents it.
EXPOSE 8080
# /healthz on the http.port of the mounted configuration, whatever it is (src/commands/healthcheck.ts); with
# http off the container is unhealthy and `docker inspect` shows why (MC_HEALTH_FAILED: http is off in …).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["mailcase", "healthcheck"]
# SIGTERM (docker stop) is a graceful shutdown; keep the compose stop_grace_period above shutdown_timeout_seconds.
ENTRYPOINT ["mailcase"]
CMD ["run"]
