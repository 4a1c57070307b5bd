#!/bin/sh
# Regenerates cdk.out/ (mamori's CDK test fixture) from app.js: installs the pinned aws-cdk-lib
# and constructs from the npm registry into node_modules/ (not committed) and runs the app.
# Asset folders (asset.*: Lambda handler code and the kubectl layer) are not kept.
set -eu
cd "$(dirname "$0")"
if [ -f package-lock.json ]; then npm ci --no-audit --no-fund; else npm install --no-audit --no-fund; fi
rm -rf cdk.out
# No telemetry, no version check: the synth must not need the network.
CDK_DISABLE_VERSION_CHECK=1 CDK_CLI_NOTICES=false node app.js
rm -rf cdk.out/asset.*
# CDK records stack traces with absolute paths in its metadata: make them relative.
sed -i "s|$(pwd)/|./|g" cdk.out/*.json
ls -l cdk.out
