#!/usr/bin/env bash
# Fails if a file of the Raft core includes a header that does I/O, reads a
# clock or starts threads: the core must stay a pure, deterministic object.
set -euo pipefail
dir="${1:?usage: check_raft_purity.sh LIB_RAFT_DIR}"
forbidden='<(iostream|fstream|cstdio|stdio\.h|thread|mutex|shared_mutex|condition_variable|future|atomic|chrono|ctime|time\.h|unistd\.h|fcntl\.h|sys/[a-z_]+\.h|filesystem|semaphore|latch|barrier|stop_token|uv\.h|pthread\.h)>'
if grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]*${forbidden}" "$dir"/*.h "$dir"/*.cc; then
  echo "lib/raft must not include I/O, clock or thread headers (see above)" >&2
  exit 1
fi
echo "lib/raft is pure: $(ls "$dir"/*.h "$dir"/*.cc | wc -l) files checked"
