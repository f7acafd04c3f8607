# openclaw-edge from the binary `make build` produced (no registry needed):
# scripts/docker-build.sh stages rootfs/ (the binary, the shared libraries ldd
# lists, busybox for the healthcheck, /etc/passwd, /tmp) and builds this.
# For a build from source, see docker/Dockerfile.
FROM scratch
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="openclaw-edge" \
      org.opencontainers.image.description="openclaw-edge: reverse proxy / load balancer in front of OpenClaw gateway nodes" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.source="https://github.com/openclaw/openclaw-edge"
# A tar, not COPY: ADD keeps its owners and modes (/data, /tmp 1777).
ADD rootfs.tar /
ENV PATH=/usr/local/bin:/bin
# 65532: the conventional "nonroot" user; nothing in the image needs root.
USER 65532:65532
EXPOSE 8080 9901
# The edge's own listener answers (any HTTP status counts: the upstreams may
# all be down, which the edge itself reports on /status, not by dying).
HEALTHCHECK --interval=5s --timeout=2s --start-period=5s --retries=3 \
  CMD ["/bin/busybox", "sh", "-c", "wget -S -O /dev/null http://127.0.0.1:8080/health 2>&1 | grep -q HTTP/"]
# PID 1 is the edge itself: SIGTERM drains (exits once nothing is in flight,
# at the latest after grace_period), SIGHUP reloads the config.
ENTRYPOINT ["/usr/local/bin/openclaw-edge"]
CMD ["-c", "/etc/openclaw-edge/edge.yaml"]
