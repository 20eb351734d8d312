# Sourced by the project's scripts: picks a JDK 25 for Maven and the CLI.
# Honours JAVA_HOME when it already points at 25 or newer.
attn4j_java_version() {
  "$1/bin/java" -XshowSettings:properties -version 2>&1 | awk -F' = ' '/java.specification.version/ {print $2}'
}
if [ -z "${JAVA_HOME:-}" ] || [ "$(attn4j_java_version "$JAVA_HOME" 2>/dev/null | cut -d. -f1)" -lt 25 ] 2>/dev/null; then
  for candidate in /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk /usr/lib/jvm/java-25-openjdk-amd64; do
    if [ -x "$candidate/bin/java" ]; then
      export JAVA_HOME="$candidate"
      break
    fi
  done
fi
if [ -z "${JAVA_HOME:-}" ] || [ ! -x "$JAVA_HOME/bin/java" ]; then
  echo "attn4j needs JDK 25: set JAVA_HOME to a JDK 25 installation" >&2
  exit 1
fi
export PATH="$JAVA_HOME/bin:$PATH"
