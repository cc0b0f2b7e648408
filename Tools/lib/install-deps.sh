# shellcheck shell=bash
# Installs the system packages vqcodec builds against. Sourced by Tools/setup and Tools/test; not run directly.
#
#   vq_install_deps   installs whatever is missing (apt-get update once, only then), silent when nothing is missing.
#
# Works as root or through sudo, and without a terminal (CI): DEBIAN_FRONTEND=noninteractive, -y, sudo -n.

VQ_APT_PACKAGES=(libhdf5-dev libzstd-dev libopenblas-dev libpng-dev zlib1g-dev hdf5-tools pkg-config webp libjpeg-turbo-progs)
# pkg-config names SwiftPM looks up for the system library targets in Package.swift.
VQ_PKG_CONFIG_MODULES=(hdf5 libzstd openblas libpng16 zlib)

vq_log() { printf '%s\n' "$*" >&2; }

# Prints the packages of VQ_APT_PACKAGES that dpkg does not report as installed, space-separated.
# "dpkg -s" also succeeds for removed packages whose config files remain, so the Status line is checked.
# (Captured first rather than piped into grep -q, which could SIGPIPE dpkg and trip pipefail.)
vq_missing_apt_packages() {
    local package missing=()
    for package in "${VQ_APT_PACKAGES[@]}"; do
        if ! grep -qx 'Status: install ok installed' <<<"$(dpkg -s "$package" 2>/dev/null)"; then
            missing+=("$package")
        fi
    done
    echo "${missing[*]}"
}

# Runs a command as root: directly when root, else through sudo (non-interactive without a terminal).
vq_run_as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        if [[ -t 0 ]]; then sudo "$@"; else sudo -n "$@"; fi
    else
        vq_log "error: not root and sudo is not available; run as root: $*"
        return 1
    fi
}

vq_install_deps() {
    if ! command -v dpkg >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        # Not Debian/Ubuntu: nothing to install automatically; check the libraries are at least visible.
        if ! pkg-config --exists "${VQ_PKG_CONFIG_MODULES[@]}" 2>/dev/null; then
            vq_log "warning: no apt-get here; install HDF5, zstd, OpenBLAS, libpng and pkg-config yourself"
            vq_log "         (pkg-config modules: ${VQ_PKG_CONFIG_MODULES[*]})"
        fi
        return 0
    fi

    local missing
    missing=$(vq_missing_apt_packages)
    if [[ -n $missing ]]; then
        vq_log "Installing system packages: $missing"
        local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=300)
        vq_run_as_root "${apt[@]}" update >/dev/null
        # shellcheck disable=SC2086  # $missing is a space-separated list of package names
        vq_run_as_root "${apt[@]}" install -y $missing >/dev/null
        missing=$(vq_missing_apt_packages)
        if [[ -n $missing ]]; then
            vq_log "error: still missing after apt-get install: $missing"
            return 1
        fi
    fi

    if ! pkg-config --exists "${VQ_PKG_CONFIG_MODULES[@]}"; then
        vq_log "error: pkg-config cannot find all of: ${VQ_PKG_CONFIG_MODULES[*]}"
        return 1
    fi
    if ! command -v swift >/dev/null 2>&1; then
        vq_log "error: swift is not on PATH; install a Swift 6 toolchain (https://www.swift.org/install/)"
        return 1
    fi
}

# OpenBLAS 0.3.21 does not recognise some newer Intel CPUs and falls back to slow SSE3 kernels. It reads
# OPENBLAS_CORETYPE only at load time, so scripts set it up front (the vqcodec command restarts itself
# with it when needed; see BLASCore in Sources/VQEngine).
vq_select_blas_core() {
    # The engine splits products over its own threads; OpenBLAS's idle workers would spin (ComputeThreads).
    [[ -n "${OPENBLAS_NUM_THREADS:-}" ]] || export OPENBLAS_NUM_THREADS=1
    [[ -n "${OPENBLAS_CORETYPE:-}" || ! -r /proc/cpuinfo ]] && return 0
    local flags
    flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "
    if [[ $flags == *" avx512f "* && $flags == *" avx512dq "* && $flags == *" avx512bw "* && $flags == *" avx512vl "* ]]; then
        export OPENBLAS_CORETYPE=SkylakeX
    elif [[ $flags == *" avx2 "* && $flags == *" fma "* ]]; then
        export OPENBLAS_CORETYPE=Haswell
    fi
}
