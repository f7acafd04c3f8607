#!/usr/bin/env bash
# `make k8s-validate` (part of `make test`): every manifest in docker/k8s/
# against the Kubernetes API schemas of 1.27 to 1.33, strictly (unknown fields
# and wrong types fail), offline; then the kustomization rendered with
# `kubectl kustomize` and validated the same way. kubernetes-validate (PyPI)
# is installed into docker/.venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
K8S=docker/k8s
VERSIONS=${K8S_VERSIONS:-"1.27.0 1.28.0 1.29.0 1.30.0 1.31.0 1.32.0 1.33.0"}
VENV=docker/.venv
KV=$VENV/bin/kubernetes-validate
KV_VERSION=1.37.0

if ! "$KV" --version >/dev/null 2>&1; then
  command -v python3 >/dev/null 2>&1 || { echo "k8s-validate: python3 is missing (apt-get install python3 python3-venv)"; exit 1; }
  rm -rf "$VENV"
  if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
    SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )
    echo "k8s-validate: installing python3-venv"
    $SUDO apt-get install -y -qq python3-venv >/dev/null 2>&1 || { echo "k8s-validate: python3 -m venv fails and python3-venv could not be installed"; exit 1; }
    rm -rf "$VENV"; python3 -m venv "$VENV"
  fi
  echo "k8s-validate: installing kubernetes-validate $KV_VERSION into $VENV"
  "$VENV/bin/pip" install -q "kubernetes-validate==$KV_VERSION" ||
    { echo "k8s-validate: pip install kubernetes-validate==$KV_VERSION failed (is PyPI reachable?)"; exit 1; }
fi

files=()
for f in "$K8S"/*.yaml; do
  [ "$(basename "$f")" = kustomization.yaml ] || files+=("$f")
done

# kubectl for the rendering: the one on the machine, or Debian's package.
if ! command -v kubectl >/dev/null 2>&1; then
  SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )
  for p in kubectl kubernetes-client; do
    if apt-cache policy "$p" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
      echo "k8s-validate: installing $p (for kubectl kustomize)"
      $SUDO apt-get install -y -qq "$p" >/dev/null 2>&1 || true
      command -v kubectl >/dev/null 2>&1 && break
    fi
  done
fi
rendered=""
if command -v kubectl >/dev/null 2>&1 && kubectl kustomize --help >/dev/null 2>&1; then
  mkdir -p docker/.build
  rendered=docker/.build/k8s-rendered.yaml
  kubectl kustomize "$K8S" > "$rendered" || { echo "FAIL  kubectl kustomize $K8S"; exit 1; }
  echo "ok    kubectl kustomize $K8S: $(grep -c '^kind:' "$rendered") resources"
else
  echo "skip  kubectl kustomize $K8S: no kubectl with kustomize here (apt-get install kubectl), raw manifests only"
fi

# One process per version, side by side (each loads its own schemas).
mkdir -p docker/.build/k8s-validate
for v in $VERSIONS; do
  ( "$KV" --strict --quiet -k "$v" "${files[@]}" $rendered > "docker/.build/k8s-validate/$v.log" 2>&1
    echo $? > "docker/.build/k8s-validate/$v.rc" ) &
done
wait
rc=0
for v in $VERSIONS; do
  if [ "$(cat "docker/.build/k8s-validate/$v.rc")" = 0 ]; then
    echo "ok    kubernetes-validate --strict -k $v: ${#files[@]} files${rendered:+ + rendered kustomization}"
  else
    echo "FAIL  kubernetes-validate --strict -k $v"; cat "docker/.build/k8s-validate/$v.log"; rc=1
  fi
done
exit $rc
