# syntax=docker/dockerfile:1
# Build stage: install everything, compile TypeScript.
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY src ./src
RUN npx tsc -p tsconfig.json

# Runtime stage: production dependencies only, non-root user.
FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY sql ./sql
COPY templates ./templates
USER node
# The worker needs a database: set DATABASE_URL (docker-compose.yml does) and mount mailcase.yml.
ENV MAILCASE_CONFIG=/etc/mailcase/mailcase.yml
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s CMD ["node", "dist/src/cli.js", "cases", "list", "--limit", "1"]
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["run"]
