# openclaw-edge: two commands do all the set-up (see README.md).
#   make run    system packages, build, and the local stack
#   make test   fmt check, clippy -D warnings, every test
#   make interop  the official OpenClaw CLI against our node (large download)
#   make interop-diff  the official gateway and our node answer the same frames; compared
#   make docker       the images; make docker-test  the Compose stack for real (docker/)
SHELL := /bin/bash
CARGO ?= cargo
# prometheus: its promtool checks /metrics and the alert rules in docker/prometheus.
# chromium: tests/tests/status_page.rs opens the edge's /status page in it (headless).
APT_PACKAGES := cmake redis-server nginx haproxy wrk curl nftables openssl prometheus chromium

.PHONY: run test deps build lint docker docker-test k8s-validate bench bench-ws bench-tls bench-gateway bench-ha chaos interop interop-diff clean

# Installs what is missing (Debian); a no-op when everything is there.
deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	  $$SUDO systemctl disable --now prometheus prometheus-node-exporter 2>/dev/null || true; \
	  $$SUDO pkill -x prometheus 2>/dev/null || true; \
	  $$SUDO pkill -x prometheus-node 2>/dev/null || true; \
	fi

# The shipped binaries, in target/dist/ (see [profile.dist] in Cargo.toml).
build: deps
	$(CARGO) build --profile dist --workspace --bins

run: deps build
	@scripts/run-stack.sh

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

# Unit tests of every crate, then the end-to-end tests against the shipped binaries.
test: deps lint build
	OPENCLAW_EDGE_BIN=$(CURDIR)/target/dist/openclaw-edge OPENCLAW_BIN=$(CURDIR)/target/dist/openclaw \
	  $(CARGO) test --release --workspace
	scripts/k8s-validate.sh

# The official OpenClaw CLI (npm, Node 24 from PyPI; ~900 MB in .interop/) against our node and the edge.
interop: deps build
	scripts/interop.sh

# The official OpenClaw gateway and our node side by side: the same frames to both
# (handshake, faults, every method with each official client's params, the
# official CLI's recorded frames), answers compared; then the official CLI's
# status, sessions and a TUI-style chat.send against our node, directly and via the edge.
interop-diff: deps build
	scripts/interop-diff.sh

bench: deps build
	BENCH_EDGE_BIN=$(CURDIR)/target/dist/openclaw-edge bash benches/load.sh

# WebSocket tunnels through the edge, nginx and HAProxy: memory per idle tunnel,
# round trips and bulk bytes per proxy CPU-second (benches/ws.sh, results in benches/RESULTS.md).
bench-ws: deps build
	$(CARGO) build --release -p openclaw-e2e --bin ws_bench
	BENCH_EDGE_BIN=$(CURDIR)/target/dist/openclaw-edge BENCH_WS_CLIENT=$(CURDIR)/target/release/ws_bench bash benches/ws.sh

# TLS termination through the edge, nginx and HAProxy: requests over kept-alive TLS and
# new handshakes per proxy CPU-second, ECDSA and RSA (benches/tls.sh, results in benches/RESULTS.md).
bench-tls: deps build
	BENCH_EDGE_BIN=$(CURDIR)/target/dist/openclaw-edge bash benches/tls.sh

# The gateway node beside the official OpenClaw gateway (if scripts/interop-cli.sh installed it).
bench-gateway: deps build
	$(CARGO) build --release -p openclaw-e2e --bin gateway_bench
	BENCH_GW_BIN=$(CURDIR)/target/dist/openclaw BENCH_GW_CLIENT=$(CURDIR)/target/release/gateway_bench bash benches/gateway.sh

# Failover: the lease's timings (20 graceful and 20 crash rounds), then what clients see
# through the edge, HAProxy and nginx while the leader stops, dies or hangs
# (benches/ha.sh, results in benches/RESULTS.md).
bench-ha: deps build
	$(CARGO) build --release -p openclaw-e2e --bin ha_bench --bin failover_bench
	OPENCLAW_BIN=$(CURDIR)/target/dist/openclaw OPENCLAW_EDGE_BIN=$(CURDIR)/target/dist/openclaw-edge bash benches/ha.sh

# The long randomized HA run: 120 faults (kill -9, SIGSTOP, Redis restarts,
# promote, graceful stops) checked by the invariant checker; OPENCLAW_CHAOS_SEED replays one.
chaos: deps build
	OPENCLAW_BIN=$(CURDIR)/target/dist/openclaw OPENCLAW_CHAOS_FAULTS=$${OPENCLAW_CHAOS_FAULTS:-120} \
	  $(CARGO) test --release -p openclaw-e2e --test gateway_chaos -- --nocapture

# Images from the binaries of `make build` (FROM scratch, non-root), plus local
# Redis/Prometheus stand-ins from Debian's binaries; starts dockerd if none runs.
docker: deps build
	scripts/docker-deps.sh
	scripts/docker-build.sh

# docker/compose.yaml for real: up --wait, chat through the edge, CLI in the
# stack, leader kill, graceful stop, Prometheus targets, clean down (< 5 min).
docker-test: deps build
	scripts/docker-test.sh

# docker/k8s/: every manifest strictly against Kubernetes 1.27-1.33, offline,
# and the kustomization rendered (also run by `make test`).
k8s-validate:
	scripts/k8s-validate.sh

clean:
	$(CARGO) clean
	rm -rf .run .interop
