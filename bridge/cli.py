"""`ros2-rerun-bridge`: replay bags, bridge live DDS topics, check configs, run the demo."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Iterator, Sequence

from tqdm.contrib.logging import logging_redirect_tqdm

from .config import BridgeConfig, ConfigError, ServeConfig, SinksConfig, load_config
from .core import Bridge
from .core.overrides import RecordingOverrides
from .replay import ReplayOptions, replay
from .sinks import Recording, SinkError
from .sinks.blueprint import configured_blueprint

log = logging.getLogger("ros2_rerun_bridge")

DEFAULT_VIEWER_URL = "rerun+http://127.0.0.1:9876/proxy"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it: scripts must not take a cut-short replay as done


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    log.setLevel(logging.INFO)
    try:
        return args.run(args)
    except (ConfigError, SinkError) as err:
        log.error("%s", err)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ros2-rerun-bridge", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="also print informational messages")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    replay_cmd = commands.add_parser("replay", help="convert rosbag2 recordings (folders, .db3, .mcap)")
    replay_cmd.add_argument("bags", nargs="+", type=Path, metavar="BAG")
    _add_config_and_sinks(replay_cmd)
    replay_cmd.add_argument("--include", action="append", default=[], metavar="REGEX", help="only topics matching")
    replay_cmd.add_argument("--exclude", action="append", default=[], metavar="REGEX", help="leave out topics matching")
    replay_cmd.add_argument("--start", type=float, metavar="SEC", help="begin this many seconds into the bag")
    replay_cmd.add_argument("--end", type=float, metavar="SEC", help="stop this many seconds into the bag")
    replay_cmd.add_argument("--rate", type=float, metavar="X", help="play at X times real time (default: as fast as possible)")
    replay_cmd.add_argument("--no-progress", action="store_true", help="no progress bar")
    replay_cmd.set_defaults(run=_run_replay)

    live_cmd = commands.add_parser("live", help="bridge live ROS 2 topics over DDS, without ROS installed")
    _add_config_and_sinks(live_cmd)
    live_cmd.add_argument("--duration", type=float, metavar="SEC", help="stop after this long (default: until Ctrl-C)")
    live_cmd.set_defaults(run=_run_live)

    check_cmd = commands.add_parser("check-config", help="validate a config file")
    check_cmd.add_argument("config", type=Path)
    check_cmd.set_defaults(run=_run_check_config)

    demo_cmd = commands.add_parser("demo", help="synthesise an RGB-D bag and replay it into demo.rrd")
    demo_cmd.add_argument("-o", "--output", type=Path, default=Path("demo.rrd"), help="recording to write (demo.rrd)")
    demo_cmd.add_argument("--bag", type=Path, default=Path("demo_bag"), help="where to write the bag (demo_bag)")
    demo_cmd.add_argument("--frames", type=int, default=60, help="frames of the sequence (60)")
    demo_cmd.set_defaults(run=_run_demo)
    return parser


def _add_config_and_sinks(command: argparse.ArgumentParser) -> None:
    command.add_argument("-c", "--config", type=Path, help="YAML config (topics, entity paths, options, sinks)")
    sinks = command.add_argument_group("sinks (any number; they replace the config's)")
    sinks.add_argument("-o", "--output", type=Path, metavar="FILE.rrd", help="write a recording file")
    sinks.add_argument("--spawn", action="store_true", help="start a native viewer and stream to it")
    sinks.add_argument("--connect", nargs="?", const=DEFAULT_VIEWER_URL, metavar="URL", help="stream to a viewer")
    sinks.add_argument("--serve", action="store_true", help="serve gRPC and a web viewer")
    sinks.add_argument("--grpc-port", type=int, default=ServeConfig.grpc_port, help="with --serve (9876)")
    sinks.add_argument("--web-port", type=int, default=ServeConfig.web_port, help="with --serve (9090)")
    sinks.add_argument("--bind", default=ServeConfig.bind, help="with --serve: the gRPC server's address (0.0.0.0)")
    command.add_argument("--application-id", help="Rerun application id")
    command.add_argument("--recording-id", help="Rerun recording id (same id: recordings merge in the viewer)")


def _config(args: argparse.Namespace, default_file: Path | None = None) -> BridgeConfig:
    """The config file (or the defaults) under the command line's sinks and ids."""
    config = RecordingOverrides(
        sinks=SinksConfig(
            file=args.output,
            spawn=args.spawn,
            connect=args.connect,
            serve=ServeConfig(args.grpc_port, args.web_port, args.bind) if args.serve else None,
        ),
        application_id=args.application_id,
        recording_id=args.recording_id,
    ).apply(load_config(args.config) if args.config else BridgeConfig())
    if not config.recording.sinks.any() and default_file is not None:
        config = config.with_sinks(SinksConfig(file=default_file))
    return config


@contextmanager
def _bridge(config: BridgeConfig) -> Iterator[Bridge]:
    """A bridge whose recording is closed complete on a normal end, on Ctrl-C and on SIGTERM."""
    recording = Recording(config.recording)
    bridge = Bridge(config, recording)
    previous_sigterm = signal.signal(signal.SIGTERM, _interrupt)
    try:
        with logging_redirect_tqdm():
            yield bridge
    except KeyboardInterrupt:
        log.warning("interrupted: closing the recording")
    finally:
        recording.close()
        for line in bridge.summary():
            print(line, file=sys.stderr)
        if config.recording.sinks.file is not None:
            print(f"wrote {config.recording.sinks.file}", file=sys.stderr)
        signal.signal(signal.SIGTERM, previous_sigterm)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _run_replay(args: argparse.Namespace) -> int:
    config = _config(args, default_file=Path(args.bags[0].stem + ".rrd"))
    config = config.with_filters(tuple(args.include), tuple(args.exclude))
    options = ReplayOptions(args.start, args.end, args.rate, progress=False if args.no_progress else None)
    errors: list[str] | None = None  # stays None when interrupted
    with _bridge(config) as bridge:
        errors = replay(args.bags, bridge, options)
        if config.recording.sinks.serve is not None:
            _serve_until_interrupted()
    if errors is None:
        return EXIT_INTERRUPTED
    return 1 if errors else 0


def _serve_until_interrupted() -> None:
    """Keep the served recording up for viewers that connect after the replay ended."""
    log.warning("replay done: still serving the recording to viewers until Ctrl-C")
    threading.Event().wait()


def _run_live(args: argparse.Namespace) -> int:
    from .sources.dds import DdsError, domain_id_from_env, run_live  # cyclonedds is only needed here

    config = _config(args)
    domain_id = domain_id_from_env()  # a bad ROS_DOMAIN_ID is an error before any file is opened
    with _bridge(config) as bridge:
        if (layout := configured_blueprint(config)) is not None:
            bridge.recording.send_blueprint(layout)
        try:
            run_live(bridge, domain_id, duration=args.duration)
        except DdsError as err:
            log.error("%s", err)
            return 1
    if not any(stats.logged for stats in bridge.stats.values()):
        log.error("recorded nothing: no message of a bridged topic arrived")
        return 1
    return 0


def _run_check_config(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    print(f"{args.config}: valid ({len(config.topics)} topics configured, auto={'on' if config.auto else 'off'})")
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import write_demo_bag

    try:
        bag = write_demo_bag(args.bag, frames=args.frames)
    except (FileExistsError, ValueError) as err:  # an existing non-bag folder, or no frames
        log.error("%s", err)
        return 2
    config = BridgeConfig().with_sinks(SinksConfig(file=args.output))
    with _bridge(replace(config, recording=replace(config.recording, application_id="ros2_rerun_bridge_demo"))) as bridge:
        replay([bag], bridge)
    print(f"\nThe demo bag is {bag}; its recording is {args.output}. Open it with:\n    rerun {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
