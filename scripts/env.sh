# Sourced by the project's scripts: picks a JDK 25 or newer for Maven and the CLI.
#
# JAVA_HOME is used when it is a JDK (with javac) of version 25 or newer. Otherwise (unset, not a
# directory, a JRE, or an older JDK) the usual places are searched: /usr/lib/jvm, /usr/java,
# /opt, SDKMAN (~/.sdkman/candidates/java), ~/.jdks, ~/.gradle/jdks, ~/.local/share/jdks, macOS's
# /Library/Java/JavaVirtualMachines and the java on PATH. A JDK whose major version is exactly 25
# is preferred, then the newest. When none fits, it says what it found and how to install one.
attn4j_jdk_required=25

# Major version of the JDK at $1 (from its release file, else by asking its java); empty if none.
attn4j_java_major() {
  local home="$1" v=""
  [ -x "$home/bin/java" ] || return 0
  if [ -f "$home/release" ]; then
    v=$(sed -n 's/^JAVA_VERSION="\([^"]*\)".*/\1/p' "$home/release" | head -n 1)
  fi
  if [ -z "$v" ]; then
    v=$("$home/bin/java" -XshowSettings:properties -version 2>&1 \
      | awk -F' = ' '/java.specification.version/ {print $2; exit}')
  fi
  v="${v#1.}"          # 1.8 -> 8
  echo "${v%%[!0-9]*}" # 25.0.3 -> 25, 26-ea -> 26
}

# "ok" when $1 is a JDK of the required version or newer, else why not.
attn4j_jdk_verdict() {
  local home="$1" major
  if [ ! -d "$home" ]; then echo "not a directory"; return; fi
  if [ ! -x "$home/bin/java" ]; then echo "no bin/java"; return; fi
  major=$(attn4j_java_major "$home")
  if [ -z "$major" ]; then echo "version unknown"; return; fi
  if [ ! -x "$home/bin/javac" ]; then echo "Java $major runtime without javac (a JRE, not a JDK)"; return; fi
  if [ "$major" -lt "$attn4j_jdk_required" ]; then echo "JDK $major, too old"; return; fi
  echo ok
}

attn4j_jdk_candidates() {
  local d java h="${HOME:-/nonexistent}"
  for d in /usr/lib/jvm/* /usr/java/* /opt/java/* /opt/jdk* /opt/*jdk* \
           "$h"/.sdkman/candidates/java/* "$h"/.jdks/* "$h"/.gradle/jdks/* "$h"/.local/share/jdks/* \
           /Library/Java/JavaVirtualMachines/*/Contents/Home; do
    [ -d "$d" ] && [ ! -L "$d" ] && echo "$d"
  done
  java=$(command -v java 2>/dev/null || true)
  if [ -n "$java" ]; then
    java=$(readlink -f "$java" 2>/dev/null || echo "$java")
    echo "${java%/bin/java}"
  fi
}

attn4j_find_jdk() {
  local given="${JAVA_HOME:-}" verdict best="" best_major=0 c major seen report=""
  seen=" $given "
  if [ -n "$given" ]; then
    verdict=$(attn4j_jdk_verdict "$given")
    if [ "$verdict" = ok ]; then
      return 0
    fi
    report="  JAVA_HOME=$given: $verdict"$'\n'
  fi
  while IFS= read -r c; do
    case "$seen" in *" $c "*) continue ;; esac
    seen="$seen$c "
    verdict=$(attn4j_jdk_verdict "$c")
    if [ "$verdict" = ok ]; then
      major=$(attn4j_java_major "$c")
      report="$report  $c: JDK $major"$'\n'
      # Exactly the required version first, then the newest.
      if [ -z "$best" ] || { [ "$major" -eq "$attn4j_jdk_required" ] && [ "$best_major" -ne "$attn4j_jdk_required" ]; } \
          || { [ "$best_major" -ne "$attn4j_jdk_required" ] && [ "$major" -gt "$best_major" ]; }; then
        best="$c"
        best_major="$major"
      fi
    else
      report="$report  $c: $verdict"$'\n'
    fi
  done < <(attn4j_jdk_candidates)
  if [ -n "$best" ]; then
    if [ -n "$given" ]; then
      echo "attn4j: JAVA_HOME=$given is not a JDK $attn4j_jdk_required+ ($(attn4j_jdk_verdict "$given")); using $best (JDK $best_major)" >&2
    fi
    export JAVA_HOME="$best"
    return 0
  fi
  {
    echo "attn4j needs a JDK $attn4j_jdk_required or newer, and found none."
    if [ -n "$report" ]; then
      echo "Looked at:"
      printf '%s' "$report"
    else
      echo "No JDK under /usr/lib/jvm, /usr/java, /opt, ~/.sdkman, ~/.jdks, ~/.gradle/jdks, and no java on PATH."
    fi
    echo "Install one, then run again (or set JAVA_HOME to it):"
    echo "  Debian or Ubuntu releases that package it (apt-cache policy openjdk-25-jdk-headless shows a version):"
    echo "    sudo apt-get install -y openjdk-25-jdk-headless"
    echo "  any Debian or Ubuntu, from Eclipse Temurin's apt repository (https://adoptium.net/installation/linux/):"
    echo "    sudo apt-get install -y wget apt-transport-https gpg"
    echo "    wget -qO - https://packages.adoptium.net/artifactory/api/gpg/key/public | gpg --dearmor | sudo tee /etc/apt/trusted.gpg.d/adoptium.gpg >/dev/null"
    echo "    echo \"deb https://packages.adoptium.net/artifactory/deb \$(. /etc/os-release; echo \$VERSION_CODENAME) main\" | sudo tee /etc/apt/sources.list.d/adoptium.list"
    echo "    sudo apt-get update && sudo apt-get install -y temurin-25-jdk"
    echo "  elsewhere: SDKMAN (sdk install java 25-tem) or https://adoptium.net"
  } >&2
  return 1
}

if attn4j_find_jdk; then
  export PATH="$JAVA_HOME/bin:$PATH"
else
  # Sourced from a script (set -e stops it) or from a shell (which stays open).
  return 1 2>/dev/null || exit 1
fi
