"""`convert`: an archive of real bags (mcap and sqlite3 folders, loose files, a split bag, a bag whose recorder was
killed, a corrupt one) under nested folders, converted with two worker processes, resumed, registered into a real
`rerun server` and queried back across segments through the catalog client; and the same through a local Ray cluster.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import rerun as rr
import yaml
from datafusion import col, lit
from datafusion import functions as F
from ports import free_port, wait_for_port
from recordings import camera_info_msg, column, image_msg, read_recording, tf_msg, write_bag

from bridge import __version__
from bridge.batch.discover import RECORDING_NAMESPACE, bridge_revision, find_bags
from bridge.batch.run import biggest_first
from bridge.cli import main

T0 = 1_700_000_000_000_000_000
PERIOD = 100_000_000
K = [20.0, 0, 16.0, 0, 21.0, 12.0, 0, 0, 1]

# bag name (relative path, as convert names it) -> (form, colour frames, depth frames)
ARCHIVE = {
    "site_a/2024-05-01/run_0": ("mcap", 3, 3),
    "site_a/2024-05-01/run_1": ("sqlite3", 4, 0),
    "site_a/2024-05-02/run_2": ("mcap", 5, 2),
    "site_a/loose_3.mcap": ("loose mcap", 2, 2),
    "site_a/loose_4.db3": ("loose db3", 3, 1),
    "site_b/deep/er/run_5": ("sqlite3", 6, 6),
    "site_b/deep/er/run_6": ("mcap", 2, 0),
    "site_b/deep/run_7": ("mcap", 4, 4),
    "site_b/split": ("split", 6, 4),
    "site_b/killed": ("killed", 3, 0),  # killed_0.mcap, no metadata.yaml
}
CORRUPT = "site_b/corrupt"
TIMEOUT = 120


def messages(colour: int, depth: int, offset: int = 0) -> list:
    out = [("/tf_static", tf_msg([("world", "camera_optical_frame", (0.0, 0.0, 1.0), (0.0, 0.0, 0.0, 1.0))], T0), T0)]
    for i in range(max(colour, depth)):
        ns = T0 + (offset + i) * PERIOD
        if i < colour:
            pixels = np.full((24, 32, 3), (offset + i) % 256, np.uint8)
            out.append(("/cam/color/image_raw", image_msg(pixels, "rgb8", ns), ns))
            out.append(("/cam/color/camera_info", camera_info_msg(K, 32, 24, ns), ns + 1))
        if i < depth:
            out.append(("/cam/depth/image_rect_raw", image_msg(np.full((24, 32), 1000 + i, np.uint16), "16UC1", ns), ns + 2))
    return out


def storage_file(folder: Path) -> Path:
    return next(p for p in folder.iterdir() if p.suffix in (".mcap", ".db3"))


def write_archive(root: Path) -> None:
    for name, (form, colour, depth) in ARCHIVE.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if form in ("mcap", "sqlite3"):
            write_bag(path, messages(colour, depth), form)
        elif form.startswith("loose"):
            bag = write_bag(root / f"tmp_{path.stem}", messages(colour, depth), form.split()[1].replace("db3", "sqlite3"))
            shutil.move(storage_file(bag), path)
            shutil.rmtree(bag)
        elif form == "killed":
            bag = write_bag(root / "tmp_killed", messages(colour, depth), "mcap")
            path.mkdir()
            shutil.move(storage_file(bag), path / "killed_0.mcap")
            shutil.rmtree(bag)
        else:
            write_split_bag(path, messages(colour, depth))
    corrupt = root / CORRUPT
    corrupt.mkdir(parents=True)
    (corrupt / "metadata.yaml").write_text("rosbag2_bagfile_information: {version: 8, storage_identifier: mcap}\n")
    (corrupt / "corrupt_0.mcap").write_bytes(np.random.default_rng(0).bytes(4096))
    (root / "site_a" / "notes.txt").write_text("not a bag\n")


def write_split_bag(folder: Path, msgs: list) -> None:
    """Two storage files with one metadata.yaml, as rosbag2 --max-bag-size leaves them."""
    static, rest = msgs[:1], msgs[1:]
    half = len(rest) // 2
    parts = [write_bag(folder.with_name(f"tmp_split_{i}"), static + part if i == 0 else part, "mcap")
             for i, part in enumerate([rest[:half], rest[half:]])]  # fmt: skip
    folder.mkdir()
    infos = [yaml.safe_load((p / "metadata.yaml").read_text())["rosbag2_bagfile_information"] for p in parts]
    files = [Path(shutil.move(storage_file(p), folder / f"split_{i}.mcap")) for i, p in enumerate(parts)]
    info = infos[0]
    info["relative_file_paths"] = [f.name for f in files]
    info["files"] = [{**i["files"][0], "path": f.name} for i, f in zip(infos, files)]
    info["message_count"] = sum(i["message_count"] for i in infos)
    counts = {t["topic_metadata"]["name"]: t for t in info["topics_with_message_count"]}
    for topic in infos[1]["topics_with_message_count"]:
        counts.setdefault(topic["topic_metadata"]["name"], {**topic, "message_count": 0})["message_count"] += topic["message_count"]
    info["topics_with_message_count"] = list(counts.values())
    (folder / "metadata.yaml").write_text(yaml.safe_dump({"rosbag2_bagfile_information": info}))
    for part in parts:
        shutil.rmtree(part)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    root = tmp_path_factory.mktemp("archive")
    write_archive(root / "bags")
    return root


@pytest.fixture(scope="module")
def first_run(archive):
    """The first conversion, with two workers: (status, stdout, stderr)."""
    out = archive / "out"
    result = subprocess.run([sys.executable, "-m", "bridge", "convert", "--no-progress", "--jobs", "2", archive / "bags", "-o", out],
                            capture_output=True, text=True, timeout=TIMEOUT)  # fmt: skip
    return result.returncode, result.stdout, result.stderr


def rows(stdout: str) -> dict[str, list[str]]:
    """The summary table: bag -> [frames, in, out, time, status]."""
    cells = [re.split(r"\s{2,}", line.strip()) for line in stdout.splitlines()]
    return {row[0]: row[1:] for row in cells if len(row) == 6 and row[0] != "bag"}


def outputs(out: Path) -> dict[str, int]:
    return {p.relative_to(out).as_posix(): p.stat().st_mtime_ns for p in out.rglob("*.rrd")}


def test_every_good_bag_converted_the_corrupt_one_reported(archive, first_run):
    status, stdout, stderr = first_run
    assert status == 1, stderr
    table = rows(stdout)
    assert set(table) == set(ARCHIVE) | {CORRUPT}, stdout
    for name, (_, colour, depth) in ARCHIVE.items():
        assert table[name][4] == "converted", stdout
        assert int(table[name][0]) == colour + depth, (name, stdout)
    assert table[CORRUPT][4] == "FAILED"
    # Without a progress bar (a log) each failure is said once, in the list at the end.
    assert stderr.count(f"{CORRUPT}: ") == 1 and "1 of 11 bags failed" in stderr, stderr
    assert set(outputs(archive / "out")) == {f"{name}.rrd" for name in ARCHIVE}
    assert not list((archive / "out").rglob("*.partial"))


@pytest.mark.parametrize("name", ["site_b/split", "site_a/loose_4.db3", "site_b/killed"])
def test_recordings_hold_every_frame(archive, first_run, name):
    _, colour, depth = ARCHIVE[name]
    table = read_recording(archive / "out" / f"{name}.rrd")
    assert len(column(table, "/cam/color/image_raw:Image:buffer")) == colour
    depth_column = "/cam/depth/image_rect_raw:DepthImage:buffer"
    assert (len(column(table, depth_column)) if depth_column in table.column_names else 0) == depth


def test_a_second_run_converts_nothing_and_touching_a_bag_reconverts_only_it(archive, first_run, capsys):
    out = archive / "out"
    before = outputs(out)
    status = main(["convert", "--no-progress", "-j", "1", str(archive / "bags"), "-o", str(out)])
    table = rows(capsys.readouterr().out)
    assert status == 1  # the corrupt bag, tried again
    assert {name for name, cells in table.items() if cells[4] == "up to date"} == set(ARCHIVE)
    assert outputs(out) == before

    touched = archive / "bags" / "site_b" / "split" / "split_1.mcap"
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 1_000_000_000))
    status = main(["convert", "--no-progress", "-j", "1", str(archive / "bags"), "-o", str(out)])
    table = rows(capsys.readouterr().out)
    assert {name for name, cells in table.items() if cells[4] == "converted"} == {"site_b/split"}
    after = outputs(out)
    assert {name for name in after if after[name] != before[name]} == {"site_b/split.rrd"}


def test_command_line_options_and_the_bridge_revision_decide_what_is_up_to_date(archive, first_run, capsys, tmp_path):
    """`--depth-compression` (like `--video`, `--rectify`) converts as `replay` does and is a setting of the outputs;
    an output stamped by another revision of the bridge is converted again."""
    convert = ["convert", "--no-progress", "-j", "1", str(archive / "bags" / "site_a" / "2024-05-01"), "-o", str(tmp_path)]
    depth = "/cam/depth/image_rect_raw"

    def statuses(*options: str) -> dict[str, str]:
        assert main([*convert, *options]) == 0
        return {name: cells[4] for name, cells in rows(capsys.readouterr().out).items()}

    assert statuses("--depth-compression", "png") == {"run_0": "converted", "run_1": "converted"}
    assert len(column(read_recording(tmp_path / "run_0.rrd"), f"{depth}:EncodedDepthImage:blob")) == 3
    assert statuses("--depth-compression", "png") == {"run_0": "up to date", "run_1": "up to date"}
    assert statuses() == {"run_0": "converted", "run_1": "converted"}
    assert len(column(read_recording(tmp_path / "run_0.rrd"), f"{depth}:DepthImage:buffer")) == 3

    stamp = tmp_path / ".run_0.rrd.json"
    record = json.loads(stamp.read_text())
    assert record["bridge_version"] == bridge_revision() and bridge_revision().startswith(f"{__version__}+")
    stamp.write_text(json.dumps({**record, "bridge_version": f"{__version__}+another"}))
    assert statuses() == {"run_0": "converted", "run_1": "up to date"}


def test_a_missing_video_encoder_is_a_usage_error_before_any_bag(archive, tmp_path, caplog, monkeypatch):
    monkeypatch.setitem(sys.modules, "av", None)  # as if PyAV were not installed
    assert main(["convert", "--no-progress", "--video", "h264", str(archive / "bags"), "-o", str(tmp_path / "out")]) == 2
    assert "video encoding needs PyAV" in caplog.text
    assert not (tmp_path / "out").exists()


def test_on_a_terminal_a_failure_shows_as_it_happens_and_in_the_list(archive, tmp_path):
    """With the progress bar (stderr a terminal), the failure is also shown when its bag ends, in the same words."""
    controller, terminal = pty.openpty()
    with subprocess.Popen([sys.executable, "-m", "bridge", "convert", archive / "bags" / CORRUPT, "-o", tmp_path],
                          stdout=subprocess.PIPE, stderr=terminal) as process:  # fmt: skip
        os.close(terminal)
        shown = b""
        while True:
            try:
                data = os.read(controller, 65536)
            except OSError:  # EIO: every process has closed the terminal
                break
            if not data:
                break
            shown += data
        os.close(controller)
        process.stdout.read()
    assert process.wait(TIMEOUT) == 1
    lines = [line.strip() for line in shown.decode().replace("\r", "\n").splitlines() if line.strip()]
    (failure,) = [line for line in lines if line.startswith("ERROR: corrupt: ")]
    assert lines[lines.index("ERROR: 1 of 1 bags failed:") + 1] == failure.removeprefix("ERROR: "), lines


def test_interrupted_before_any_bag_was_converted(tmp_path):
    """No table of no bags: the run says that it was interrupted before any, and leaves no recording."""
    bag = write_bag(tmp_path / "bags" / "stuck", messages(1, 1))
    storage = storage_file(bag)
    storage.unlink()
    os.mkfifo(storage)  # its worker blocks opening it: this bag never ends by itself
    out = tmp_path / "out"
    with subprocess.Popen([sys.executable, "-m", "bridge", "convert", "--no-progress", tmp_path / "bags", "-o", out],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:  # fmt: skip
        deadline = time.monotonic() + TIMEOUT
        while not (out / ".stuck.rrd.partial").exists():  # its worker has begun
            assert process.poll() is None, process.communicate()
            if time.monotonic() > deadline:
                process.kill()
                pytest.fail("its worker never began converting")
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130, stderr
    assert stdout == "" and stderr == "WARNING: interrupted before any bag was converted (run again to go on)\n"
    assert not list(out.iterdir())


def test_a_broken_link_or_a_pipe_named_like_a_bag_is_skipped_with_a_warning(archive, tmp_path, caplog):
    inputs = tmp_path / "bags"
    shutil.copytree(archive / "bags" / "site_a" / "2024-05-01" / "run_0", inputs / "run_0")
    (inputs / "gone.mcap").symlink_to(tmp_path / "nowhere.mcap")
    os.mkfifo(inputs / "pipe.db3")
    assert [job.name for job in find_bags([inputs], tmp_path / "out")] == ["run_0"]
    assert f"{inputs / 'gone.mcap'}: not a regular file" in caplog.text and f"{inputs / 'pipe.db3'}: not a regular file" in caplog.text


def test_the_biggest_bags_are_handed_out_first(archive):
    """So that the workers end together; the summary keeps the bags' path order."""
    jobs = find_bags([archive / "bags"], archive / "elsewhere")
    order = biggest_first(jobs)
    assert sorted(job.name for job in order) == sorted(job.name for job in jobs)
    assert [job.size for job in order] == sorted((job.size for job in jobs), reverse=True)
    assert order[0].size > order[-1].size


def test_recording_ids_are_deterministic(archive, first_run):
    jobs = {job.name: job for job in find_bags([archive / "bags"], archive / "out")}
    job = jobs["site_b/split"]
    assert job.recording_id == str(uuid.uuid5(RECORDING_NAMESPACE, "site_b/split\nsplit_0.mcap,split_1.mcap"))
    assert len({job.recording_id for job in jobs.values()}) == len(jobs)
    assert find_bags([archive / "bags"], archive / "elsewhere")[0].recording_id == next(iter(jobs.values())).recording_id


@pytest.fixture(scope="module")
def catalog_server(tmp_path_factory):
    port = free_port()
    # `rerun` in the venv is a Python script that starts the server's binary: both in a process group of their own,
    # ended together (the script alone would leave the binary running).
    server = subprocess.Popen([str(Path(sys.executable).with_name("rerun")), "server", "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
    try:
        wait_for_port(port)
        yield f"rerun+http://127.0.0.1:{port}"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(3)  # it waits for clients to go
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        wait_for_port(port, up=False)


def test_registered_into_a_catalog_and_queried_across_segments(archive, first_run, catalog_server, capsys):
    status = main(["convert", "--no-progress", str(archive / "bags"), "-o", str(archive / "out"),
                   "--register", catalog_server, "--dataset", "fleet"])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 1 and f"registered {len(ARCHIVE)} of {len(ARCHIVE)} recordings into dataset 'fleet'" in err, err
    # Registered again (as after a re-conversion), the segments are replaced, not added.
    assert main(["register", catalog_server, str(archive / "out"), "--dataset", "fleet"]) == 0

    dataset = rr.catalog.CatalogClient(catalog_server).get_dataset("fleet")
    jobs = {job.name: job for job in find_bags([archive / "bags"], archive / "out")}
    segments = dataset.segment_table().select(
        col("rerun_segment_id"), col("property:ros2_bag:name"), col("property:ros2_bag:frames"),
        col("ros2_timestamp:start").cast(pa.int64()).alias("start"), col("ros2_timestamp:end").cast(pa.int64()).alias("end"),
    ).to_arrow_table().to_pylist()  # fmt: skip
    assert len(segments) == len(ARCHIVE)
    for segment in segments:
        name = segment["property:ros2_bag:name"][0]
        _, colour, depth = ARCHIVE[name]
        assert segment["rerun_segment_id"] == jobs[name].recording_id
        assert segment["property:ros2_bag:frames"] == [colour + depth]
        assert segment["start"] == T0
        assert segment["end"] == T0 + (max(colour, depth) - 1) * PERIOD

    # Frames per camera per recording, from the data itself.
    frames = dataset.reader(index="ros2_timestamp")
    images = [n for n in frames.schema().names if n.endswith((":Image:buffer", ":DepthImage:buffer"))]
    counts = frames.aggregate([col("rerun_segment_id")], [F.count(col(n)).alias(n.split(":")[0]) for n in images])
    by_segment = {row.pop("rerun_segment_id"): row for row in counts.to_arrow_table().to_pylist()}
    for name, (_, colour, depth) in ARCHIVE.items():
        assert by_segment[jobs[name].recording_id] == {"/cam/color/image_raw": colour, "/cam/depth/image_rect_raw": depth}

    # The recordings with a depth camera and data 0.45-0.55 s in.
    t0, t1 = (datetime.datetime.fromtimestamp((T0 + s) / 1e9, datetime.timezone.utc).replace(tzinfo=None)
              for s in (450_000_000, 550_000_000))  # fmt: skip
    hits = dataset.segment_table().filter(
        F.array_has(col("property:ros2_topics:topic"), lit("/cam/depth/image_rect_raw"))
        & (col("ros2_timestamp:start") <= lit(t1)) & (col("ros2_timestamp:end") >= lit(t0))
    ).select(col("property:ros2_bag:name")).to_arrow_table().to_pylist()  # fmt: skip
    expected = {n for n, (_, colour, depth) in ARCHIVE.items() if depth and max(colour, depth) > 5}
    assert {row["property:ros2_bag:name"][0] for row in hits} == expected


def test_files_that_are_not_recordings_are_named_and_the_others_registered(archive, first_run, catalog_server, tmp_path, caplog):
    """The server refuses a whole batch for one file that is not a recording (and leaves the dataset it created
    empty): each such file is named, the recordings go in, the status says that some did not."""
    good = archive / "out" / "site_a" / "loose_3.mcap.rrd"
    junk = tmp_path / "junk.rrd"
    junk.write_text("not a recording\n")
    cut = tmp_path / "cut.rrd"  # a copy cut short: its start is a recording's
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    port = catalog_server.rsplit(":", 1)[1]  # a bare port, as --connect takes one
    assert main(["register", port, str(good), str(junk), str(cut), "--dataset", "mixed"]) == 1
    problems = {r.getMessage().split(": ", 1)[0]: r.getMessage() for r in caplog.records if r.levelname == "ERROR"}
    assert set(problems) == {str(junk), str(cut)}, problems
    assert all(": not registered: not a Rerun recording (" in message for message in problems.values()), problems
    client = rr.catalog.CatalogClient(catalog_server)
    assert client.get_dataset("mixed").segment_table().to_arrow_table().num_rows == 1

    # Nothing left to register: no dataset created.
    assert main(["register", catalog_server, str(junk), str(cut), "--dataset", "nothing_valid"]) == 1
    assert "nothing_valid" not in {dataset.name for dataset in client.datasets()}


@pytest.mark.parametrize(("url", "problem"), [("http://127.0.0.1:51234", "Rerun takes no http:// URLs"),
                                              ("70000", "port '70000' is not from 1 to 65535")])  # fmt: skip
def test_a_catalog_address_is_checked_before_any_bag(archive, tmp_path, caplog, url, problem):
    out = tmp_path / "out"
    assert main(["convert", "--no-progress", str(archive / "bags"), "-o", str(out), "--register", url]) == 2
    assert f"{url!r} is not a catalog address ({problem}): expected rerun+http(s)://HOST:PORT" in caplog.text
    assert not out.exists()


@pytest.fixture
def ray_head():
    """A Ray cluster of its own (`ray start --head`, as users start one) with token authentication, Ray's default
    from 2.59 on, by a token of the test's: yields its address and the environment that holds the token."""
    ray = Path(sys.executable).with_name("ray")
    port, temp = free_port(), tempfile.mkdtemp(prefix="ray")  # short: Ray's sockets live under it (107 bytes at most)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": uuid.uuid4().hex * 2}
    subprocess.run([ray, "start", "--head", f"--port={port}", "--num-cpus=2", "--include-dashboard=false",
                    "--disable-usage-stats", f"--temp-dir={temp}"], env=env, check=True, capture_output=True, timeout=TIMEOUT)  # fmt: skip
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        subprocess.run([ray, "stop", "--force"], env=env, capture_output=True, timeout=TIMEOUT)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed (pip install -e '.[ray]')")
def test_ray_cluster_at_an_address_with_token_authentication(ray_head, archive, first_run):
    address, env = ray_head
    out = archive / "ray_address_out"
    command = [sys.executable, "-m", "bridge", "convert", "--no-progress", "--ray", address, archive / "bags", "-o", out]

    without_mode = {k: v for k, v in env.items() if k != "RAY_AUTH_MODE"}  # the token alone is not sent
    refused = subprocess.run(command, env=without_mode, capture_output=True, text=True, timeout=TIMEOUT)
    assert refused.returncode == 1
    assert f"cannot connect to the Ray cluster at {address}" in refused.stderr and "RAY_AUTH_MODE=token" in refused.stderr
    assert not any(out.rglob("*.rrd"))

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 1, done.stderr  # the corrupt bag
    assert {name for name, cells in rows(done.stdout).items() if cells[4] == "converted"} == set(ARCHIVE)
    assert set(outputs(out)) == set(outputs(archive / "out"))
    a, b = (read_recording(folder / "site_b" / "split.rrd") for folder in (archive / "out", out))
    assert column(a, "/cam/color/image_raw:Image:buffer") == column(b, "/cam/color/image_raw:Image:buffer")


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed (pip install -e '.[ray]')")
def test_ray_cluster_gives_the_same_outputs(archive, first_run, capsys, monkeypatch):
    import ray

    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")  # Ray would report its usage to its makers: nothing leaves here
    ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        status = main(["convert", "--no-progress", "--ray", str(archive / "bags"), "-o", str(archive / "ray_out")])
    finally:
        ray.shutdown()
    table = rows(capsys.readouterr().out)
    assert status == 1
    assert {name for name, cells in table.items() if cells[4] == "converted"} == set(ARCHIVE)
    assert table[CORRUPT][4] == "FAILED"
    assert set(outputs(archive / "ray_out")) == set(outputs(archive / "out"))
    for name in ("site_b/split", "site_a/loose_3.mcap"):
        a, b = (read_recording(archive / out / f"{name}.rrd") for out in ("out", "ray_out"))
        assert column(a, "/cam/color/image_raw:Image:buffer") == column(b, "/cam/color/image_raw:Image:buffer")
