#!/usr/bin/env bash
# Regenerate orchestrator_pb2.py (+ .pyi) from orchestrator.proto; the output is committed, so only
# someone editing the .proto runs this. protoc comes from grpcio-tools, pinned so the generated code
# matches the protobuf runtime pinned in pyproject.toml (gencode 7.35 runs on runtime >= 7.35, < 8).
# It is installed in a throwaway virtualenv outside the repository, never in the project's own.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${ZKRAY_PROTOC_VENV:-$HOME/.cache/zkray/protoc-venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import grpc_tools" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "grpcio-tools==1.85.1"
fi
# Compiled from the repository root so the descriptor is registered as
# "zkray/orchestrator/orchestrator.proto": a bare "orchestrator.proto" could clash in the global pool.
cd "$here/../.."
"$venv/bin/python" -m grpc_tools.protoc -I. --python_out=. --pyi_out=. zkray/orchestrator/orchestrator.proto
echo "generated $here/orchestrator_pb2.py with $("$venv/bin/python" -m grpc_tools.protoc --version)"
