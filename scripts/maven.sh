# Sourced by the build scripts: runs the project's Maven wrapper of the current directory in batch
# mode, quiet, offline unless ATTN4J_MVN_OFFLINE=0, and holding the lock file ATTN4J_MVN_LOCK
# (default /tmp/attn4j-mvn.lock; "none": no lock, for callers that already hold it) so that two
# builds on one machine never run at once.
attn4j_mvn() {
  local flags=(-B -q)
  [ "${ATTN4J_MVN_OFFLINE:-1}" = "1" ] && flags+=(-o)
  local lock="${ATTN4J_MVN_LOCK:-/tmp/attn4j-mvn.lock}"
  if [ "$lock" != "none" ] && command -v flock >/dev/null; then
    flock "$lock" ./mvnw "${flags[@]}" "$@"
  else
    ./mvnw "${flags[@]}" "$@"
  fi
}
