# A local stand-in for the official `redis` image, made of Debian's
# redis-server (scripts/docker-build.sh stages rootfs/): used where no registry
# is reachable (make docker-test). Same command line and healthcheck as the
# official image in docker/compose.yaml.
FROM scratch
# A tar, not COPY: ADD keeps its owners and modes (/data, /tmp 1777).
ADD rootfs.tar /
ENV PATH=/usr/local/bin:/bin
USER 999:999
WORKDIR /data
VOLUME ["/data"]
EXPOSE 6379
CMD ["redis-server"]
