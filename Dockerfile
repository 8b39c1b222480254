# syntax=docker/dockerfile:1
# The pamform container image: a static (musl) binary built from this checkout, alone in a
# distroless image that runs as a non-root user. For Kubernetes CronJobs and other
# schedulers: mount the configuration directory at /work (writable: pamform keeps its state
# and lock there) and pass the command, such as `drift` or `plan`.
#
#   docker build --build-arg PAMFORM_COMMIT="$(git rev-parse --short HEAD)" -t pamform .
#   docker run --rm -v "$PWD/pam:/work" pamform drift

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-alpine AS builder
# musl's static C library for ring's C and assembly code. Not pinned: Alpine drops old
# package versions, and the Rust image's tag already fixes the Alpine release.
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
# build.rs names this commit in `pamform --version` (.git is not sent to the builder).
ARG PAMFORM_COMMIT=unknown
ENV PAMFORM_COMMIT=${PAMFORM_COMMIT}
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked --release --bin pamform \
    && cp target/release/pamform /usr/local/bin/pamform \
    && /usr/local/bin/pamform --version

# Only the binary: no shell, no package manager. The nonroot variant runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=builder /usr/local/bin/pamform /usr/local/bin/pamform
USER 65532:65532
WORKDIR /work
ENTRYPOINT ["/usr/local/bin/pamform"]
CMD ["--help"]
