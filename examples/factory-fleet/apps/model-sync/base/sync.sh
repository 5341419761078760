#!/bin/sh
# model-sync for ${cluster.name}: fetch the model bundle of the version this
# factory runs, verify it, and ask the local classifier to reload.
# In this file $${ is Flotilla's escape for a literal dollar-brace: shell
# expansions reach the shell untouched; only cluster.* variables are
# substituted when Flotilla renders the ConfigMap.
set -eu

MODEL_VERSION="${cluster.vars.modelVersion}"
STORE="$${MODEL_STORE:-https://models.central.acme-optics.example}"
DEST="$${MODEL_DIR:-/models}/$${MODEL_VERSION}"

mkdir -p "$${DEST}"
echo "model-sync: fetching $${MODEL_VERSION} for ${cluster.name} from $${STORE}"
curl -fsSL --retry 5 -o "$${DEST}/bundle.tar.zst" "$${STORE}/adc/$${MODEL_VERSION}/bundle.tar.zst"
curl -fsSL --retry 5 -o "$${DEST}/bundle.sha256" "$${STORE}/adc/$${MODEL_VERSION}/bundle.sha256"
(cd "$${DEST}" && sha256sum -c bundle.sha256)

# The classifier is not placed on a factory in maintenance: do not fail then.
curl -fsS -X POST "http://adc-inference.adc.svc.cluster.local:8080/v1/models/reload?version=$${MODEL_VERSION}" \
  || echo "model-sync: classifier not reachable, it will load $${MODEL_VERSION} at start-up"
