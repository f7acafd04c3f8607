# A local stand-in for the official `prom/prometheus` image, made of Debian's
# prometheus binary (scripts/docker-build.sh stages rootfs/): same entrypoint,
# paths and user as the official image, busybox for wget in the healthcheck.
FROM scratch
# A tar, not COPY: ADD keeps its owners and modes (/data, /tmp 1777).
ADD rootfs.tar /
ENV PATH=/bin
USER 65534:65534
WORKDIR /prometheus
VOLUME ["/prometheus"]
EXPOSE 9090
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
