# syntax=docker/dockerfile:1
# bird-operator image, for those with Docker: `docker build -t ghcr.io/bird-operator/bird-operator:0.1.0 .`
# Without a Docker daemon, `bash scripts/build-image.sh` builds the same image with umoci, reproducibly: both run the
# scripts in scripts/image/ and read scripts/image/image.env, and test/unit/dockerfile.test.ts fails when this file
# and image.env disagree on the image's user, entrypoint, environment, ports or labels.
# A distroless-style image: glibc, libstdc++ and CA certificates from Debian, the node binary from the npm package
# node-linux-<arch> at the version in .node-version, the app with production dependencies only, user 65532; no shell,
# no npm. The Deployment in deploy/ runs it with a read-only root filesystem.

ARG BUILD_IMAGE=node:22-bookworm-slim
ARG DEBIAN_IMAGE=debian:bookworm-slim

FROM ${BUILD_IMAGE} AS build
ARG TARGETARCH=amd64
WORKDIR /src
COPY package.json package-lock.json .node-version ./
# Scripts are skipped: `prepare` would build before the sources are here; the build runs below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY crds ./crds
COPY openapi ./openapi
COPY scripts/image ./scripts/image
RUN npx tsc -p tsconfig.build.json --outDir /out/dist \
 && sh scripts/image/stage-app.sh /src /out/dist /out/app
RUN arch="$(echo "$TARGETARCH" | sed 's/amd64/x64/')" \
 && npm pack --silent --pack-destination /tmp "node-linux-$arch@$(cat .node-version)" \
 && mkdir -p /tmp/node /out/node/bin /out/node/share \
 && tar -xzf /tmp/node-linux-"$arch"-*.tgz -C /tmp/node \
 && mv /tmp/node/package/bin/node /out/node/bin/node \
 && mv /tmp/node/package/LICENSE /out/node/share/LICENSE

FROM ${DEBIAN_IMAGE} AS rootfs
COPY scripts/image /scripts/image
COPY --from=build /out /out
RUN . /scripts/image/image.env \
 && mkdir /debs && cd /debs \
 && apt-get update -q \
 && apt-get download -q $DEBIAN_PACKAGES \
 && sh /scripts/image/assemble-rootfs.sh /rootfs /debs /out/node/bin/node /out/app

FROM scratch
ARG VERSION=0.1.0
ARG REVISION=unknown
COPY --from=rootfs /rootfs /
ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_ENV=production
USER 65532:65532
WORKDIR /app
EXPOSE 8080/tcp 8081/tcp
LABEL org.opencontainers.image.title="bird-operator" \
      org.opencontainers.image.source="https://github.com/bird-operator/bird-operator" \
      org.opencontainers.image.description="Kubernetes operator for Bird phone numbers and alphanumeric senders" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
ENTRYPOINT ["/usr/local/bin/node", "/app/dist/cli/main.js"]
CMD ["run"]
