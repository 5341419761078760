#!/usr/bin/env bash
# Builds the test control-plane binaries (kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl, etcd, kwok) from the Go module proxy into a versioned
# folder. Each binary is skipped when already present, so a second run is instant.
set -euo pipefail

dest=${1:?usage: build-test-binaries.sh DEST_DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

need=()
for b in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
	[ -x "$dest/$b" ] || need+=("k8s.io/kubernetes/cmd/$b")
done
if [ ${#need[@]} -gt 0 ]; then
	echo ">> building ${need[*]##*/} from k8s.io/kubernetes (first time only: about 7 minutes on 2 cores, please wait)"
	# Stamp the version, as the release build does, so that clusters report
	# v1.37.2 (not v0.0.0-master) to discovery, kubectl and heartbeats.
	ver="v$(basename "$dest")"
	vpkg=k8s.io/component-base/version
	ldflags="-s -w -X $vpkg.gitVersion=$ver -X $vpkg.gitMajor=1 -X $vpkg.gitMinor=37 -X $vpkg.gitTreeState=clean"
	(cd "$root/hack/tools/kube" && CGO_ENABLED=0 go build -trimpath -ldflags="$ldflags" -o "$dest/" "${need[@]}")
fi
if [ ! -x "$dest/etcd" ]; then
	echo ">> building etcd from go.etcd.io/etcd/server/v3 (first time only: about 30 seconds)"
	(cd "$root/hack/tools/etcd" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$dest/etcd" go.etcd.io/etcd/server/v3)
fi
if [ ! -x "$dest/kwok" ]; then
	echo ">> building kwok from sigs.k8s.io/kwok (first time only: about 1 minute)"
	(cd "$root/hack/tools/kwok" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$dest/kwok" sigs.k8s.io/kwok/cmd/kwok)
fi
echo ">> test control-plane binaries ready in $dest"
