# syntax=docker/dockerfile:1
# bird-operator image: `docker build -t ghcr.io/bird-operator/bird-operator:0.1.0 .`
# The Deployment in deploy/ runs it as `node dist/cli/main.js run ...` with user 65532 and a read-only root.

ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts are skipped: `prepare` would build before the sources are here; the build runs below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY crds ./crds
COPY openapi ./openapi
LABEL org.opencontainers.image.source="https://github.com/bird-operator/bird-operator" \
      org.opencontainers.image.description="Kubernetes operator for Bird phone numbers and alphanumeric senders" \
      org.opencontainers.image.licenses="Apache-2.0"
# The distroless "nonroot" uid: no passwd entry is needed, and Kubernetes' runAsNonRoot can verify a numeric user.
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["node", "dist/cli/main.js"]
CMD ["run"]
