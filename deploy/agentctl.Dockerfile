# The control plane image: `agentctl serve`, static (musl) and stripped, on a distroless base.
#
#   docker build -f deploy/agentctl.Dockerfile -t agent-studio/agentctl .

ARG RUST_VERSION=1.95

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

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="agent-studio-agentctl" \
      org.opencontainers.image.description="Agent Studio control plane (agentctl serve)" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /agentctl /usr/local/bin/agentctl
ENV AGENTCTL_LISTEN=0.0.0.0:3000 \
    LOG_FORMAT=json
EXPOSE 3000
# distroless nonroot
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/agentctl"]
CMD ["serve"]
