# Shared by the Perf scripts (sourced, not run): installs perf when missing, checks that it
# can sample here, finds the built keel-bench.
export PATH="/opt/swift/usr/bin:$PATH"

perf_install() {
    command -v perf >/dev/null 2>&1 && return 0
    echo "$script_name: perf is missing; installing linux-perf" >&2
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq linux-perf >/dev/null
    command -v perf >/dev/null 2>&1 || { echo "$script_name: installing linux-perf gave no perf command" >&2; exit 2; }
}

# Says why perf cannot work here (paranoid level, no permission, no perf_event in the
# kernel or the VM) and exits non-zero, rather than leaving the user with an empty graph.
perf_refuse() {
    local what=$1 detail=$2
    local paranoid
    paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo "absent")
    {
        echo "$script_name: perf cannot $what on this machine."
        echo "  kernel.perf_event_paranoid = $paranoid (need <= 1 for a non-root user to profile other processes,"
        echo "  -1 for everything; as root: sysctl kernel.perf_event_paranoid=-1), running as uid $(id -u)."
        echo "  perf said: $detail"
    } >&2
    exit 3
}

# keel-bench, built in release when no build exists yet: $KEEL_BENCH, else .build/release,
# else .build/debug.
keel_bench_binary() {
    if [ -n "${KEEL_BENCH:-}" ]; then echo "$KEEL_BENCH"; return; fi
    if [ ! -x .build/release/keel-bench ] && [ ! -x .build/debug/keel-bench ]; then
        swift build -c release --product keel-bench >&2
    fi
    if [ -x .build/release/keel-bench ]; then echo "$PWD/.build/release/keel-bench"; else echo "$PWD/.build/debug/keel-bench"; fi
}

# A command to profile: `keel` and `keel-bench` mean the built ones unless they are on PATH.
resolve_command() {
    local name=$1
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return; fi
    for dir in .build/release .build/debug; do
        if [ -x "$dir/$name" ]; then echo "$PWD/$dir/$name"; return; fi
    done
    echo "$name"
}
