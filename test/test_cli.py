"""The command line as a user meets it: `python -m bridge ...` in a process of its own, its exit status and output.

One test per defect found by a fuzzing run and a newcomer's trial (README: "Replaying bags", "Bad input"). Exit
status: 0 done, 1 a failure during the work, 2 a usage or configuration error, 130 interrupted. Bags are tiny and
runs that can go at once do (a CLI process costs one or two seconds of start-up); the runs that mostly wait (a
full disk's flush timeout, rerun-sdk's wait for a viewer that is not there, a silent DDS domain) start in the
background with the module's first test and are checked by their own.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from cli_process import running_bridge
from ports import free_port, wait_for_port
from recordings import T, camera_info_msg, image_msg, read_recording, write_bag

import bridge
from bridge.sinks.output import is_recording

REPO = Path(__file__).resolve().parents[1]
T0 = 1_700_000_000_000_000_000
PERIOD = 100_000_000  # 10 Hz
FRAMES = 3
RUN_TIMEOUT_S = 120


# -- running the command line --------------------------------------------------------------------------


def bridge_run(*args: str | Path, cwd: Path = REPO, env: dict[str, str | None] | None = None,
               timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess:
    """`python -m bridge ARGS` to its end (env: None unsets a variable); never a traceback, whatever the status."""
    environment = {**os.environ, "PYTHONPATH": str(REPO)}
    for name, value in (env or {}).items():
        if value is None:
            environment.pop(name, None)
        else:
            environment[name] = value
    result = subprocess.run([sys.executable, "-m", "bridge", *map(str, args)], cwd=cwd, env=environment,
                            capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip
    assert "Traceback" not in result.stderr, result.stderr
    return result


def at_once(*runs: Callable[[], subprocess.CompletedProcess]) -> list[subprocess.CompletedProcess]:
    """Independent runs side by side (most of a short run is start-up); their results in order."""
    with ThreadPoolExecutor(min(len(runs), 4)) as pool:
        return list(pool.map(lambda run: run(), runs))


def run(*args: str | Path, **kwargs) -> Callable[[], subprocess.CompletedProcess]:
    return lambda: bridge_run(*args, **kwargs)


def warnings_of(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("WARNING:")]


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (hidden ones too) by relative path, with its SHA-256."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}  # fmt: skip


def frame(i: int, shape: tuple[int, ...] = (24, 32, 3)) -> np.ndarray:
    return np.full(shape, i * 40, np.uint8)


def camera_bag(path: Path, frames: int = FRAMES) -> Path:
    messages = [("/cam", image_msg(frame(i), "rgb8", T0 + i * PERIOD), T0 + i * PERIOD) for i in range(frames)]
    return write_bag(path, messages)


def noise_bag(path: Path, frames: int = 10) -> Path:
    """About 2.3 MB that does not compress: random 320x240 rgb8 frames."""
    rng = np.random.default_rng(0)
    return write_bag(path, [("/cam", image_msg(rng.integers(0, 256, (240, 320, 3), np.uint8), "rgb8", T0 + i * PERIOD),
                             T0 + i * PERIOD) for i in range(frames)])  # fmt: skip


def frames_in(rrd: Path, entity: str = "/cam") -> list[bytes]:
    return [bytes(cell[0]) for cell in read_recording(rrd).column(f"{entity}:Image:buffer").to_pylist() if cell]


@pytest.fixture(scope="module")
def bag(tmp_path_factory) -> Path:
    """A tiny camera bag (3 rgb8 frames on /cam), shared: tests that could harm it use their own."""
    return camera_bag(tmp_path_factory.mktemp("shared") / "camera")


@pytest.fixture(scope="module")
def recording(tmp_path_factory, bag) -> Path:
    """A Rerun recording of `bag`, to copy."""
    rrd = tmp_path_factory.mktemp("recording") / "camera.rrd"
    result = bridge_run("replay", bag, "-o", rrd)
    assert result.returncode == 0, result.stderr
    return rrd


@contextmanager
def tmpfs(folder: Path, *options: str) -> Iterator[str | None]:
    """A small tmpfs mounted on `folder` (None instead when mounting is not permitted here), unmounted after."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(folder)],
                             capture_output=True, text=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        yield f"cannot mount a tmpfs here: {mounted.stderr.strip()}"
        return
    try:
        yield None
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


# -- the runs that mostly wait, started with the module ---------------------------------------------------


class Early:
    """Slow, mostly idle runs (named after their test) that start before the first test and are waited for by theirs."""

    def __init__(self, tmp: Path, selected: set[str]):
        self.tmp = tmp
        self.pool = ThreadPoolExecutor(8)
        self.futures: dict[str, Future] = {}
        self.skips: dict[str, str] = {}
        self.mounts = []
        starts = {
            "test_a_full_disk_is_an_error_naming_the_file": self._full_disk,
            "test_connect_takes_host_port_and_a_port_and_the_file_gets_everything": self._connect,
            "test_live_with_nothing_published_writes_nothing": self._live,
        }
        for name, start in starts.items():
            if name in selected:
                start(name)

    def results(self, name: str) -> list:
        """What the runs started for test `name` returned."""
        if name in self.skips:
            pytest.skip(self.skips[name])
        return [future.result(timeout=300) for run, future in self.futures.items() if run.split("[")[0] == name]

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        for mount in reversed(self.mounts):
            mount.__exit__(None, None, None)

    def _full_disk(self, name: str) -> None:
        folder = self.tmp / "full"
        mount = tmpfs(folder, "size=1m")
        if (reason := mount.__enter__()) is not None:
            self.skips[name] = reason
            return
        self.mounts.append(mount)
        big = noise_bag(self.tmp / "noise")  # 2.3 MB, as fast as it goes: the file fills while it is written
        self.futures[name] = self.pool.submit(bridge_run, "replay", big, "-o", folder / "out.rrd")

    def _connect(self, name: str) -> None:
        # No viewer on the port: rerun-sdk waits about 5 s at start and at exit (README, Known limits).
        tiny = camera_bag(self.tmp / "connect_bag", frames=2)
        port = free_port()
        for rrd, target in ((self.tmp / "host_port.rrd", f"127.0.0.1:{port}"), (self.tmp / "port.rrd", str(port))):
            self.futures[f"{name}[{target}]"] = self.pool.submit(
                lambda rrd=rrd, target=target: (rrd, bridge_run("replay", tiny, "-o", rrd, "--connect", target)))

    def _live(self, name: str) -> None:
        if importlib.util.find_spec("cyclonedds") is None:
            self.skips[name] = "cyclonedds is not installed"
            return
        from test_live_dds import LOOPBACK_ONLY

        folder = self.tmp / "live"
        folder.mkdir()
        (folder / "cyclonedds.xml").write_text(LOOPBACK_ONLY)
        config = folder / "camera.yaml"
        config.write_text("topics:\n  /camera/image_raw:\n    kind: image\n")
        env = {"CYCLONEDDS_URI": (folder / "cyclonedds.xml").as_uri(), "ROS_DOMAIN_ID": str(random.randint(10, 200))}
        self.futures[name] = self.pool.submit(lambda: (folder, bridge_run(
            "live", "-c", config, "-o", folder / "out.rrd", "--duration", "6", env=env)))


@pytest.fixture(scope="module", autouse=True)
def early(request, tmp_path_factory) -> Iterator[Early]:
    runs = Early(tmp_path_factory.mktemp("early"), {item.originalname for item in request.session.items})
    try:
        yield runs
    finally:
        runs.close()


# -- 1. an input is never overwritten -------------------------------------------------------------------


def test_an_input_is_never_the_output(tmp_path, recording):
    rrd = Path(shutil.copy(recording, tmp_path / "x.rrd"))
    own = camera_bag(tmp_path / "bag")
    (tmp_path / "link.rrd").symlink_to(own / "metadata.yaml")
    storage = next(own.glob("*.mcap"))
    before_rrd, before_bag = rrd.read_bytes(), tree(own)

    results = at_once(
        run("replay", "x.rrd", cwd=tmp_path),  # a recording given as the bag: its default output is itself
        run("replay", rrd, "-o", rrd),
        run("replay", own, "-o", own / "metadata.yaml"),
        run("replay", own, "-o", own / "new.rrd"),
        run("replay", own, "-o", f"{own}/"),
        run("replay", storage, "-o", storage),
        run("replay", own, "-o", tmp_path / "link.rrd"),
    )
    for result in results:
        assert result.returncode != 0, result.args
        assert "wrote" not in result.stderr
        refused = r"^ERROR: .*(this is an input|inside the bag|not a rosbag2 bag)"
        assert re.search(refused, result.stderr, re.MULTILINE), result.stderr
    assert rrd.read_bytes() == before_rrd
    assert tree(own) == before_bag
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bag", "link.rrd", "x.rrd"]


# -- 2. the default output ----------------------------------------------------------------------------------


def test_default_output_replaces_a_recording_but_no_other_file_unless_forced(tmp_path, bag):
    earlier, text = tmp_path / "earlier", tmp_path / "text"
    earlier.mkdir(), text.mkdir()
    (text / "camera.rrd").write_text("my notes\n")

    def replace_a_recording() -> list[subprocess.CompletedProcess]:
        first = bridge_run("replay", bag, cwd=earlier)
        written = (earlier / "camera.rrd").read_bytes()
        return [first, bridge_run("replay", bag, cwd=earlier), written]

    def refuse_then_force() -> list[subprocess.CompletedProcess]:
        refused = bridge_run("replay", bag, cwd=text)
        kept = (text / "camera.rrd").read_text()
        return [refused, kept, bridge_run("replay", bag, "--force", cwd=text)]

    (first, second, written), (refused, kept, forced) = at_once(replace_a_recording, refuse_then_force)
    assert first.returncode == 0 and "wrote camera.rrd" in first.stderr, first.stderr
    assert is_recording(earlier / "camera.rrd")
    assert second.returncode == 0, second.stderr
    assert (earlier / "camera.rrd").read_bytes() != written  # replaced (another recording id)
    assert len(frames_in(earlier / "camera.rrd")) == FRAMES

    assert refused.returncode == 2
    assert "camera.rrd exists and is not a Rerun recording" in refused.stderr and "--force" in refused.stderr
    assert kept == "my notes\n"
    assert forced.returncode == 0, forced.stderr
    assert len(frames_in(text / "camera.rrd")) == FRAMES
    for folder in (earlier, text):
        assert sorted(p.name for p in folder.iterdir()) == ["camera.rrd"]  # no .camera.rrd.partial


# -- 3. a run that converts nothing writes nothing -------------------------------------------------------


def test_a_run_that_converts_nothing_writes_nothing(tmp_path):
    (tmp_path / "not_a_bag").mkdir()
    (tmp_path / "not_a_bag" / "notes.txt").write_text("hello\n")
    (tmp_path / "README.md").write_text("# a readme\n")
    write_bag(tmp_path / "chatter", [("/chatter", T["std_msgs/msg/String"](data=f"hi {i}"), T0 + i) for i in range(3)])
    before = tree(tmp_path)

    cases = [  # what is given as the bag, whether with -o (else the default output), what is said
        ("missing", True, "missing: no such file or directory"),
        ("missing", False, "missing: no such file or directory"),
        ("not_a_bag", False, "not_a_bag: not a rosbag2 bag"),
        ("README.md", False, "README.md: not a rosbag2 bag"),
        ("chatter", True, "chatter: no topic to bridge (topics: /chatter)"),
        ("chatter", False, "chatter: no topic to bridge (topics: /chatter)"),
    ]
    results = at_once(*(run("replay", given, *(("-o", "out.rrd") if output else ()), cwd=tmp_path)
                        for given, output, _ in cases))  # fmt: skip
    for (given, _, message), result in zip(cases, results):
        assert result.returncode == 1, (given, result.stderr)
        assert message in result.stderr, result.stderr
        assert "nothing was converted: no file written" in result.stderr
        assert "wrote" not in result.stderr
    assert tree(tmp_path) == before  # no .rrd, no .NAME.partial


def test_live_with_nothing_published_writes_nothing(early):
    ((folder, result),) = early.results("test_live_with_nothing_published_writes_nothing")
    assert result.returncode == 1, result.stderr
    assert "/camera/image_raw: no publisher" in result.stderr
    assert "nothing was converted: no file written" in result.stderr
    assert "wrote" not in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["camera.yaml", "cyclonedds.xml"]


# -- 4. where the output goes ----------------------------------------------------------------------------


def test_replay_dot_in_a_bag_folder_and_output_folders(tmp_path):
    own = camera_bag(tmp_path / "my_bag")
    existing = tmp_path / "existing"
    existing.mkdir()
    before = tree(own)

    dot, into_existing, into_new = at_once(
        run("replay", ".", cwd=own),
        run("replay", own, "-o", "existing", cwd=tmp_path),  # an existing folder, no slash: written into
        run("replay", own, "-o", "new/", cwd=tmp_path),  # a path ending in /: a folder
    )
    assert dot.returncode == 0, dot.stderr
    assert f"wrote {tmp_path / 'my_bag.rrd'}" in dot.stderr  # beside the bag: never inside it
    assert tree(own) == before
    assert len(frames_in(tmp_path / "my_bag.rrd")) == FRAMES
    for result, folder in ((into_existing, existing), (into_new, tmp_path / "new")):
        assert result.returncode == 0, result.stderr
        assert folder.is_dir() and sorted(p.name for p in folder.iterdir()) == ["my_bag.rrd"]
        assert len(frames_in(folder / "my_bag.rrd")) == FRAMES
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing", "my_bag", "my_bag.rrd", "new"]  # no hidden .rrd


def test_replay_on_a_terminal_shows_a_progress_bar_with_warnings_above_it(tmp_path):
    bag = write_bag(tmp_path / "bag", [("/cam", image_msg(frame(0), "rgb8", T0), T0),
                                       ("/cam", image_msg(frame(1), "rgb9", T0 + PERIOD), T0 + PERIOD),  # no such encoding
                                       ("/cam", image_msg(frame(2), "rgb8", T0 + 2 * PERIOD), T0 + 2 * PERIOD)])  # fmt: skip
    status, output = on_terminal("replay", bag, "-o", tmp_path / "out.rrd")
    assert status == 0, output
    lines = re.split(r"[\r\n]+", output)  # a terminal's lines, each bar drawn over the last from a carriage return
    bar = [line for line in lines if line.startswith("bag:")]
    assert bar and "3/3" in bar[-1] and "msg" in bar[-1], output
    assert "WARNING: /cam: unknown encoding 'rgb9'" in lines, output  # a line of its own, the bar cleared first
    assert len(frames_in(tmp_path / "out.rrd")) == 2


def on_terminal(*args: str | Path) -> tuple[int, str]:
    """`python -m bridge ARGS` with a pseudo-terminal as stdout and stderr, as a user's shell runs it."""
    main, child = os.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))  # 40 rows of 120 columns, not 0x0
    process = subprocess.Popen([sys.executable, "-m", "bridge", *map(str, args)], stdin=subprocess.DEVNULL,
                               stdout=child, stderr=child, env={**os.environ, "PYTHONPATH": str(REPO)})  # fmt: skip
    os.close(child)
    output = b""
    with contextlib.suppress(OSError):  # EIO once the child's side is closed
        while chunk := os.read(main, 65536):
            output += chunk
    os.close(main)
    return process.wait(timeout=RUN_TIMEOUT_S), output.decode(errors="replace")


# -- 5. a full disk ----------------------------------------------------------------------------------


def test_a_full_disk_is_an_error_naming_the_file(early, tmp_path):
    (result,) = early.results("test_a_full_disk_is_an_error_naming_the_file")
    out = early.tmp / "full" / "out.rrd"
    assert result.returncode == 1, result.stderr
    assert f"ERROR: {out}: the file stopped taking data (no space left on the disk of {out.parent}" in result.stderr
    assert "wrote" not in result.stderr


def test_a_full_disk_while_paced_and_dev_full(tmp_path, bag):
    big = noise_bag(tmp_path / "noise")
    with tmpfs(tmp_path / "full", "size=1m") as cannot:
        if cannot:
            pytest.skip(cannot)
        paced, dev_full = at_once(
            run("replay", big, "-o", tmp_path / "full" / "out.rrd", "--rate", "1"),  # the writer fails mid-replay
            run("replay", bag, "-o", "/dev/full"),
        )
    assert paced.returncode == 1, paced.stderr
    assert f"{tmp_path / 'full' / 'out.rrd'}: the file stopped taking data (no space left on the disk" in paced.stderr
    assert "wrote" not in paced.stderr
    assert dev_full.returncode != 0
    assert re.search(r"^ERROR: .*/dev/full.*No space left on device", dev_full.stderr, re.MULTILINE), dev_full.stderr
    assert "wrote" not in dev_full.stderr


# -- 6. outputs that cannot be written -------------------------------------------------------------------


def test_an_output_that_cannot_be_written_is_a_message(tmp_path, bag):
    (tmp_path / "a_file").write_text("x\n")
    with tmpfs(tmp_path / "read_only", "size=64k", "ro") as cannot:
        runs = [run("replay", bag, "-o", "/proc/nope.rrd"), run("replay", bag, "-o", tmp_path / "a_file" / "x.rrd")]
        if not cannot:
            runs.append(run("replay", bag, "-o", tmp_path / "read_only" / "out.rrd"))
        results = at_once(*runs)
        expected = ["/proc/nope.rrd: cannot write: No such file or directory",
                    f"{tmp_path / 'a_file' / 'x.rrd'}: cannot write: {tmp_path / 'a_file'} is a file, not a folder",
                    f"{tmp_path / 'read_only' / 'out.rrd'}: cannot write: Read-only file system"]  # fmt: skip
        for result, message in zip(results, expected):
            assert result.returncode == 2, result.stderr
            assert f"ERROR: {message}" in result.stderr
            assert "wrote" not in result.stderr
    assert not Path("/proc/nope.rrd").exists()


# -- 7. --include and --connect ----------------------------------------------------------------------------


def test_bad_include_and_connect_are_usage_errors(bag, tmp_path):
    include, exclude, url = at_once(
        run("replay", bag, "-o", tmp_path / "out.rrd", "--include", "["),
        run("info", bag, "--exclude", "("),
        run("replay", bag, "-o", tmp_path / "out.rrd", "--connect", "not a url"),
    )
    assert include.returncode == 2
    assert "ERROR: include: '[' is not a regular expression" in include.stderr
    assert exclude.returncode == 2
    assert "ERROR: exclude: '(' is not a regular expression" in exclude.stderr
    assert url.returncode == 2
    assert "'not a url' is not a viewer address" in url.stderr
    assert list(tmp_path.iterdir()) == []


def test_connect_takes_host_port_and_a_port_and_the_file_gets_everything(early):
    runs = early.results("test_connect_takes_host_port_and_a_port_and_the_file_gets_everything")
    assert len(runs) == 2
    for rrd, result in runs:
        assert result.returncode == 0, result.stderr
        assert f"wrote {rrd}" in result.stderr
        assert frames_in(rrd) == [frame(i).tobytes() for i in range(2)]
        assert re.search(r"WARNING: viewer rerun\+http://127\.0\.0\.1:\d+/proxy: nothing listens there now", result.stderr)


# -- 8. --start, --end, --rate -------------------------------------------------------------------------------


def test_start_end_and_rate_are_checked(bag, tmp_path):
    out = tmp_path / "out.rrd"
    cases = [
        (("--start", "3", "--end", "1"), "ERROR: --end 1 is not after --start 3"),
        (("--rate", "0"), "ERROR: --rate 0: must be more than 0"),
        (("--rate", "-1"), "ERROR: --rate -1: must be more than 0"),
        (("--start", "-1"), "ERROR: --start -1: seconds into the bag, at least 0"),
    ]
    results = at_once(*(run("replay", bag, "-o", out, *options) for options, _ in cases),
                      run("replay", bag, "-o", out, "--start", "100"),
                      run("replay", bag, "-o", out, "--start", "inf"),
                      run("replay", bag, "-o", tmp_path / "all.rrd", "--end", "inf"))  # fmt: skip
    for (options, message), result in zip(cases, results):
        assert result.returncode == 2, (options, result.stderr)
        assert message in result.stderr
    for past_the_end in results[len(cases):len(cases) + 2]:
        assert past_the_end.returncode == 1, past_the_end.stderr
        assert "nothing between --start and --end: the bag is 0.2 s long" in past_the_end.stderr
        assert "wrote" not in past_the_end.stderr
    assert results[-1].returncode == 0, results[-1].stderr  # --end inf: the whole bag
    assert sorted(p.name for p in tmp_path.iterdir()) == ["all.rrd"]


# -- 9. interrupts --------------------------------------------------------------------------------------


def _in_main(pid: int) -> bool:
    """Whether the bridge's main() has begun: it catches SIGTERM (Python itself does not)."""
    status = Path(f"/proc/{pid}/status").read_text()
    caught = int(re.search(r"^SigCgt:\s*([0-9a-f]+)", status, re.MULTILINE).group(1), 16)
    return bool(caught & (1 << (signal.SIGTERM - 1)))


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_during_start_up_is_clean(tmp_path, bag, signum):
    out = tmp_path / "out.rrd"
    with running_bridge("replay", bag, "-o", out) as process:
        began = time.monotonic()
        # ~0.3 s in, while the imports run; on a loaded machine, no sooner than main() (before it, Python's own
        # start-up is interrupted, which no code of the bridge can handle).
        while not _in_main(process.pid):
            assert process.poll() is None and time.monotonic() - began < 30
            time.sleep(0.01)
        time.sleep(max(0.0, 0.3 - (time.monotonic() - began)))
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted" in stderr
    assert list(tmp_path.iterdir()) == []  # no file, no .out.rrd.partial


def test_ctrl_c_after_wrote_keeps_status_0(tmp_path, bag):
    out = tmp_path / "out.rrd"
    with running_bridge("replay", bag, "-o", out) as process:
        seen = ""
        while "wrote" not in seen:
            line = process.stderr.readline()
            assert line, seen
            seen += line
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=60)
    assert process.returncode == 0, seen + rest
    assert "Traceback" not in rest
    assert len(frames_in(out)) == FRAMES


# -- 10. --spawn without a display ---------------------------------------------------------------------------


def test_spawn_without_a_display_says_what_to_do(tmp_path, bag):
    headless = {"DISPLAY": None, "WAYLAND_DISPLAY": None}
    alone, with_file = at_once(run("replay", bag, "--spawn", cwd=tmp_path, env=headless),
                               run("replay", bag, "--spawn", "-o", "out.rrd", cwd=tmp_path, env=headless))  # fmt: skip
    for result in (alone, with_file):
        (warning,) = warnings_of(result.stderr)
        assert "--spawn: no display here" in warning and "--serve" in warning and "-o" in warning
    assert alone.returncode == 2
    assert "nowhere to send the recording" in alone.stderr
    assert with_file.returncode == 0, with_file.stderr
    assert "wrote out.rrd" in with_file.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.rrd"]
    assert len(frames_in(tmp_path / "out.rrd")) == FRAMES


# -- 11. --serve on one address --------------------------------------------------------------------------


def _listening(psutil, ports: tuple[int, ...]) -> set[tuple[int, str]]:
    """(port, address) of each TCP socket listening on one of `ports`: psutil, or `ss` where psutil may not look."""
    try:
        return {(c.laddr.port, c.laddr.ip) for c in psutil.net_connections("tcp")
                if c.status == psutil.CONN_LISTEN and c.laddr.port in ports}  # fmt: skip
    except psutil.AccessDenied:
        lines = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout.splitlines()
        local = [line.split()[3].rsplit(":", 1) for line in lines]
        return {(int(port), address.strip("[]")) for address, port in local if int(port) in ports}


def test_serve_binds_both_servers_and_ctrl_c_ends_them(tmp_path, bag):
    psutil = pytest.importorskip("psutil")
    grpc_port, web_port = free_port(), free_port()
    serve = ("--serve", "--bind", "127.0.0.1", "--grpc-port", grpc_port, "--web-port", web_port)
    with running_bridge("replay", bag, "-o", tmp_path / "out.rrd", *serve) as process:
        seen = ""
        while "still serving" not in seen:
            line = process.stderr.readline()
            assert line, seen
            seen += line
        assert _listening(psutil, (grpc_port, web_port)) == {(grpc_port, "127.0.0.1"), (web_port, "127.0.0.1")}
        with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/", timeout=10) as page:
            assert page.status == 200
        children = psutil.Process(process.pid).children(recursive=True)
        assert any("rerun" in child.name() for child in children)
        process.send_signal(signal.SIGINT)
        _, rest = process.communicate(timeout=60)
    assert process.returncode == 0, seen + rest
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == []  # no `rerun --serve-web` left behind
    wait_for_port(web_port, up=False, timeout=10)
    wait_for_port(grpc_port, up=False, timeout=10)


# -- 12. one warning per topic and kind of problem ---------------------------------------------------------


def test_one_warning_for_200_short_images(tmp_path):
    messages = []
    for i in range(200):
        good = image_msg(frame(1, (4, 8, 3)), "rgb8", T0 + i * 1000)
        short = T["sensor_msgs/msg/Image"](header=good.header, height=4, width=8, encoding="rgb8", is_bigendian=0,
                                           step=24, data=good.data[:-(1 + i % 95)])  # fmt: skip
        messages.append(("/cam/short", short, T0 + i * 1000))
    messages.append(("/cam/ok", image_msg(frame(1), "rgb8", T0), T0))
    bag = write_bag(tmp_path / "bag", messages)
    result = bridge_run("replay", bag, "-o", tmp_path / "out.rrd")
    assert result.returncode == 0, result.stderr
    (warning,) = warnings_of(result.stderr)
    assert warning.startswith("WARNING: /cam/short: data is ")
    assert "/cam/short: 200 received, 0 logged, 200 failed" in result.stderr
    assert "/cam/ok: 1 received, 1 logged" in result.stderr


# -- 13. --version, -v, -q ------------------------------------------------------------------------------


def test_version_verbose_and_quiet(tmp_path, bag):
    version, quiet, verbose, plain, quiet_before = at_once(
        run("--version"),
        run("replay", bag, "-o", tmp_path / "quiet.rrd", "-q"),
        run("replay", bag, "-o", tmp_path / "verbose.rrd", "-v"),
        run("replay", bag, "-o", tmp_path / "plain.rrd"),
        run("-q", "replay", bag, "-o", tmp_path / "quiet_before.rrd"),
    )
    assert version.returncode == 0
    assert version.stdout.strip() == f"ros2-rerun-bridge {bridge.__version__}"
    for result in (quiet, quiet_before):
        assert result.returncode == 0, result.stderr
        assert result.stdout == "" and result.stderr == ""  # no summary, no `wrote`
    assert verbose.returncode == 0
    bridging = r"^INFO: .*camera: .*bridging 1 of 1 topics \(3 messages\): /cam -> /cam$"
    assert re.search(bridging, verbose.stderr, re.MULTILINE), verbose.stderr
    assert plain.returncode == 0
    assert "INFO" not in plain.stderr and "/cam: 3 received, 3 logged" in plain.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plain.rrd", "quiet.rrd", "quiet_before.rrd", "verbose.rrd"]


# -- 14. info --------------------------------------------------------------------------------------------


def test_info_lists_topics_and_what_each_becomes(tmp_path):
    k = [20.0, 0, 16.0, 0, 21.0, 12.0, 0, 0, 1]
    messages = []
    for i in range(FRAMES):
        at = T0 + i * PERIOD
        messages += [("/cam/color", image_msg(frame(i), "rgb8", at), at),
                     ("/cam/depth", image_msg(np.full((24, 32), 1000, np.uint16), "16UC1", at), at + 1),
                     ("/cam/info", camera_info_msg(k, 32, 24, at), at + 2),
                     ("/chatter", T["std_msgs/msg/String"](data="hi"), at + 3)]  # fmt: skip
    bag = write_bag(tmp_path / "bag", messages)
    config = tmp_path / "camera.yaml"
    config.write_text("topics:\n  /cam/depth:\n    kind: depth\n    entity_path: /camera/depth\n"
                      "  /cam/info:\n    entity_path: /camera/info\n")  # fmt: skip
    half = tmp_path / "half.mcap"  # a recorder killed halfway
    data = next(bag.glob("*.mcap")).read_bytes()
    half.write_bytes(data[: len(data) // 2])
    plain, configured, excluded, missing, damaged = at_once(
        run("info", bag), run("info", bag, "-c", config), run("info", bag, "--exclude", "/cam/info"),
        run("info", tmp_path / "missing"), run("info", half),
    )

    def row(result, topic: str) -> list[str]:
        (line,) = [line for line in result.stdout.splitlines() if line.split()[:1] == [topic]]
        return re.split(r"\s{2,}", line.strip())

    for result in (plain, configured, excluded):
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"{bag}: 4 topics, 12 messages")
    # Image topics without a configured kind: as their first message's encoding decides.
    assert row(plain, "/cam/color") == ["/cam/color", "sensor_msgs/msg/Image", "3", "/cam/color: Image (rgb8, 32x24)"]
    assert row(plain, "/cam/depth")[3] == "/cam/depth: DepthImage (16UC1, 32x24)"
    assert row(plain, "/cam/info") == ["/cam/info", "sensor_msgs/msg/CameraInfo", "3", "/cam/info: Pinhole"]
    assert row(plain, "/chatter") == ["/chatter", "std_msgs/msg/String", "3", "- not bridged (not a camera or TF type)"]
    assert row(configured, "/cam/depth")[2:] == ["3", "/camera/depth: DepthImage (16UC1, 32x24)"]
    assert row(configured, "/cam/info")[2:] == ["3", "/camera/info: Pinhole"]
    assert row(excluded, "/cam/info")[2:] == ["3", "- not bridged (include/exclude)"]
    assert row(excluded, "/cam/color")[3] == "/cam/color: Image (rgb8, 32x24)"
    assert missing.returncode == 1
    assert f"ERROR: {tmp_path / 'missing'}: no such file or directory" in missing.stderr
    assert damaged.returncode == 1 and damaged.stderr == ""  # as a replay of it would end; said in the description
    assert damaged.stdout.splitlines()[1].startswith(f"  damaged: {half}: truncated (recorder killed?) after ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bag", "camera.yaml", "half.mcap"]  # a dry run


# -- 15. the demo -----------------------------------------------------------------------------------------


def test_the_demo_runs_clean_and_says_how_to_open_it(tmp_path):
    result = bridge_run("demo", "--frames", "5", "-o", "demo.rrd", "--bag", "demo_bag", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr and "WARNING" not in result.stdout
    last = result.stdout.strip().splitlines()[-2:]
    assert last[0].endswith("Open it with:"), result.stdout
    executable, opened = last[1].split()
    assert opened == "demo.rrd" and is_recording(tmp_path / "demo.rrd")
    assert shutil.which(executable) or Path(executable).is_file(), executable


# -- 16. max_pixels per topic ---------------------------------------------------------------------------


def test_max_pixels_per_topic_skips_larger_frames_with_one_warning(tmp_path):
    messages = []
    for i in range(6):
        at = T0 + i * PERIOD
        side = 8 if i % 2 == 0 else 16  # 64 pixels, then 256
        messages += [("/cam/a", image_msg(frame(i, (side, side, 3)), "rgb8", at), at),
                     ("/cam/b", image_msg(frame(i, (16, 16, 3)), "rgb8", at), at + 1)]  # fmt: skip
    bag = write_bag(tmp_path / "bag", messages)
    config = tmp_path / "limits.yaml"
    config.write_text("topics:\n  /cam/a:\n    max_pixels: 100\n")
    result = bridge_run("replay", bag, "-c", config, "-o", tmp_path / "out.rrd")
    assert result.returncode == 0, result.stderr
    (warning,) = warnings_of(result.stderr)
    assert warning.startswith("WARNING: /cam/a: ") and "100 pixels" in warning
    assert "/cam/a: 6 received, 3 logged, 3 failed" in result.stderr
    assert "/cam/b: 6 received, 6 logged" in result.stderr
    assert frames_in(tmp_path / "out.rrd", "/cam/a") == [frame(i, (8, 8, 3)).tobytes() for i in (0, 2, 4)]


def test_a_python_caller_gets_its_signal_handlers_back():
    """main() handles Ctrl-C and SIGTERM while a command runs; a test or script calling it keeps its own after."""
    from bridge.cli import main

    def own(signum, frame):
        pass

    before = signal.signal(signal.SIGINT, own), signal.signal(signal.SIGTERM, own)
    try:
        assert main(["check-config", str(REPO / "config" / "rgbd_camera.yaml")]) == 0
        assert signal.getsignal(signal.SIGINT) is own and signal.getsignal(signal.SIGTERM) is own
    finally:
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])


@pytest.mark.parametrize(("option", "value", "says"), [
    ("--grpc-port", "99999", "'99999' is not a port (1-65535)"),
    ("--web-port", "web", "'web' is not a port (1-65535)"),
    ("--bind", "1.2.3.999", "'1.2.3.999' is not an IPv4 address"),
])  # fmt: skip
def test_server_options_are_checked_before_anything_starts(tmp_path, capsys, option, value, says):
    from bridge.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["replay", str(tmp_path / "bag"), "--serve", option, value, "-o", str(tmp_path / "out.rrd")])
    assert exit_.value.code == 2
    assert f"argument {option}: {says}" in capsys.readouterr().err
