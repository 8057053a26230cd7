# The control plane image: `agentctl serve`, static (musl) and stripped, on Node's slim image: agents'
# `packages.npm` are pinned by running npm when a version is made (issue 15), so the image needs npm.
#
#   docker build -f deploy/agentctl.Dockerfile -t agent-studio/agentctl .

ARG RUST_VERSION=1.95
ARG NODE_VERSION=20

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
RUN rustup target add x86_64-unknown-linux-musl
ENV CC_x86_64_unknown_linux_musl=gcc \
    CARGO_TERM_COLOR=never
COPY Cargo.toml Cargo.lock ./
COPY protocol protocol
COPY supervisor supervisor
COPY fake-anthropic fake-anthropic
COPY control-plane control-plane
COPY migrations migrations
RUN cargo build --release --locked --target x86_64-unknown-linux-musl -p control-plane \
    && cp target/x86_64-unknown-linux-musl/release/agentctl /agentctl

FROM node:${NODE_VERSION}-bookworm-slim
LABEL org.opencontainers.image.title="agent-studio-agentctl" \
      org.opencontainers.image.description="Agent Studio control plane (agentctl serve)" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /agentctl /usr/local/bin/agentctl
ENV AGENTCTL_LISTEN=0.0.0.0:3000 \
    LOG_FORMAT=json \
    NPM_CONFIG_UPDATE_NOTIFIER=false
EXPOSE 3000
# An unprivileged user without a passwd entry (distroless' nonroot uid); npm gets a private HOME per run.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/agentctl"]
CMD ["serve"]
