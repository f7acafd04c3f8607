# openclaw (gateway node + operator CLI) from the binary `make build` produced:
# scripts/docker-build.sh stages rootfs/ (the binary, the shared libraries ldd
# lists, busybox for the healthcheck, the default config, /data, /tmp) and
# builds this. For a build from source, see docker/Dockerfile.
FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="openclaw-gateway" \
      org.opencontainers.image.description="openclaw: OpenClaw gateway node (WebSocket protocol, sessions, HA) and its operator CLI" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/openclaw/openclaw-edge"
# A tar, not COPY: ADD keeps its owners and modes (/data, /tmp 1777).
ADD rootfs.tar /
ENV PATH=/usr/local/bin:/bin \
    HOME=/data \
    OPENCLAW_STATE_DIR=/data \
    OPENCLAW_CONFIG_PATH=/etc/openclaw/openclaw.json \
    OPENCLAW_GATEWAY_PORT=18789
USER 65532:65532
VOLUME ["/data"]
EXPOSE 18789
# Liveness over plain HTTP, no token needed (`openclaw gateway health` asks the
# same over the protocol, with the token).
HEALTHCHECK --interval=5s --timeout=2s --start-period=5s --retries=3 \
  CMD ["/bin/busybox", "sh", "-c", "wget -q -O /dev/null http://127.0.0.1:${OPENCLAW_GATEWAY_PORT}/health"]
# PID 1 is the node itself: SIGTERM makes it not ready, releases the lease if
# it leads, closes clients with `shutdown`, finishes agent runs (<= 15 s).
ENTRYPOINT ["/usr/local/bin/openclaw"]
CMD ["gateway", "run"]
