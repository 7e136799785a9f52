"""`ros2-rerun-bridge`: replay bags, convert archives of them, bridge live DDS topics, inspect bags, check configs, run the demo.

Exit status: 0 done; 1 a failure during the work (a bag unreadable to its end, a file that stopped taking
data, nothing recorded; for `info`, a bag missing or damaged); 2 a usage or configuration error; 130 a replay interrupted by Ctrl-C or SIGTERM
(what it converted so far is in its file, complete). Ctrl-C is how `live` normally ends: status 0.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Sequence

from . import __version__

# Everything heavier (rerun-sdk, rosbags, cyclonedds: a second to import) is imported in the commands,
# after Ctrl-C and SIGTERM are handled: an interrupt during start-up then ends the run cleanly.

log = logging.getLogger("ros2_rerun_bridge")

DEFAULT_VIEWER_URL = "rerun+http://127.0.0.1:9876/proxy"
EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130  # 130 = 128 + SIGINT, as shells report it


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit status. Ctrl-C and SIGTERM are the bridge's while it runs, the caller's after."""
    callers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        return _command(argv)
    finally:
        for signum, handler in callers.items():
            signal.signal(signum, handler)


def console_main() -> None:
    """The `ros2-rerun-bridge` command: exits with the command's status, and by no signal once it is done."""
    sys.exit(_command())


def _command(argv: Sequence[str] | None = None) -> int:
    global _phase
    _phase = "start-up"
    signal.signal(signal.SIGTERM, _interrupt)
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:  # a shell's background job keeps ignoring Ctrl-C
        signal.signal(signal.SIGINT, _interrupt)
    try:
        args = _parser().parse_args(argv)
        args.verbosity = getattr(args, "verbosity", 0)  # neither -v nor -q (set_defaults would reach the commands' too)
        _configure_logging(args.verbosity)
        status = _run(args)
    except KeyboardInterrupt:
        log.warning("interrupted")
        status = EXIT_INTERRUPTED
    # The work is done, its file complete: a late Ctrl-C must not turn that into a signal exit.
    _phase = "done"
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # CPython: a KeyboardInterrupt that went through exec() of a string (dataclasses, namedtuples, rosbags'
    # generated deserializers) marks itself unhandled even when caught, and `python -m` then ends by SIGINT
    # instead of returning the status. Each exec() of a string clears that mark first.
    exec("")
    return status


def _run(args: argparse.Namespace) -> int:
    from .config import ConfigError
    from .sinks import OutputError, SinkError

    global _phase
    _phase = "work"
    try:
        return args.run(args)
    except (ConfigError, SinkError, OutputError) as err:
        for problem in str(err).splitlines():  # a config's problems: a line each
            log.error("%s", problem)
        return EXIT_USAGE


# Where main() is: "start-up" (parsing, imports: nothing written yet), "work" (the command runs), "setting up"
# (a session opens its recording), "done" (the last recording is closed and complete). Ctrl-C and SIGTERM end
# start-up at once, interrupt the work, wait for a session's set-up, and are ignored once the work is done.
_phase = "start-up"
_interrupt_pending = False  # an interrupt while a session was being set up


def _interrupt(signum: int, frame: object) -> None:
    global _interrupt_pending
    if _phase == "setting up":
        _interrupt_pending = True
        return
    if _phase == "start-up":
        # Leave now rather than raise: a KeyboardInterrupt raised inside an import can come out as another
        # exception (numpy's makes it an ImportError: a traceback) or make Python end by a signal, not 130.
        os.write(2, b"interrupted\n")
        os._exit(EXIT_INTERRUPTED)
    if _phase == "work":
        raise KeyboardInterrupt


def _configure_logging(verbosity: int) -> None:
    level = {-1: logging.ERROR, 0: logging.WARNING, 1: logging.INFO}[max(-1, min(verbosity, 1))]
    logging.basicConfig(level=level, format="%(levelname)s: %(message)s")
    log.setLevel(level)


# -- the command line -------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    from .config import ServeConfig

    # -v/-q are accepted before and after the command; SUPPRESS keeps a command's default from undoing the former.
    verbosity = argparse.ArgumentParser(add_help=False)
    verbosity.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=1, default=argparse.SUPPRESS,
                           help="also print informational messages (subscriptions, periodic statistics)")  # fmt: skip
    verbosity.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=-1, default=argparse.SUPPRESS,
                           help="print errors only (no warnings, no summary)")  # fmt: skip
    parser = argparse.ArgumentParser(prog="ros2-rerun-bridge", description=__doc__, parents=[verbosity],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, description=help, parents=[verbosity], formatter_class=_HelpFormatter)

    replay_cmd = command("replay", "convert rosbag2 recordings (folders, .db3, .mcap) into a recording")
    replay_cmd.add_argument("bags", nargs="+", type=Path, metavar="BAG", help="bag folders or .mcap/.db3 files")
    _add_config_and_sinks(replay_cmd, ServeConfig(), output_help=(
        "write this .rrd file (a folder: BAG_NAME.rrd in it); without any sink: BAG_NAME.rrd in the current folder"))
    _add_filters(replay_cmd)
    _add_fleet(replay_cmd)
    _add_compression(replay_cmd)
    replay_cmd.add_argument("--start", type=float, metavar="SEC", help="begin this many seconds into the bag")
    replay_cmd.add_argument("--end", type=float, metavar="SEC", help="stop this many seconds into the bag")
    replay_cmd.add_argument("--rate", type=float, metavar="X", help="play at X times real time (default: as fast as possible)")
    replay_cmd.add_argument("--no-progress", action="store_true", help="no progress bar (it shows on a terminal)")
    replay_cmd.add_argument("-f", "--force", action="store_true",
                            help="let the default output replace an existing file that is not a Rerun recording")  # fmt: skip
    replay_cmd.set_defaults(run=_run_replay)

    live_cmd = command("live", "bridge live ROS 2 topics over DDS (Cyclone DDS), without ROS installed, until Ctrl-C")
    _add_config_and_sinks(live_cmd, ServeConfig(), output_help="write this .rrd file")
    live_cmd.add_argument("--duration", type=float, metavar="SEC", help="stop after this long (default: until Ctrl-C)")
    _add_fleet(live_cmd)
    _add_compression(live_cmd)
    live_cmd.set_defaults(run=_run_live)

    info_cmd = command("info", "list a bag's topics and what each would become, without converting")
    info_cmd.add_argument("bags", nargs="+", type=Path, metavar="BAG", help="bag folders or .mcap/.db3 files")
    info_cmd.add_argument("-c", "--config", type=Path, help="YAML config (default: every camera and TF topic)")
    _add_filters(info_cmd)
    _add_fleet(info_cmd)
    _add_compression(info_cmd)
    info_cmd.set_defaults(run=_run_info)

    check_cmd = command("check-config", "validate a config file")
    check_cmd.add_argument("config", type=Path, help="YAML config file")
    check_cmd.set_defaults(run=_run_check_config)

    demo_cmd = command("demo", "synthesise an RGB-D bag and replay it into a recording")
    demo_cmd.add_argument("-o", "--output", type=Path, default=Path("demo.rrd"), help="recording to write")
    demo_cmd.add_argument("--bag", type=Path, default=Path("demo_bag"), help="where to write the bag")
    demo_cmd.add_argument("--frames", type=int, default=60, help="frames of the sequence")
    _add_compression(demo_cmd)
    demo_cmd.set_defaults(run=_run_demo)

    from .batch.command import add_convert_arguments, add_register_arguments, run_convert, run_register

    convert_cmd = command("convert", "convert every bag under folders into OUT_DIR, in parallel; bags already converted are skipped")
    add_convert_arguments(convert_cmd)
    convert_cmd.set_defaults(run=run_convert)
    register_cmd = command("register", "register recordings into a dataset of a Rerun catalog server (rerun server)")
    add_register_arguments(register_cmd)
    register_cmd.set_defaults(run=run_register)
    return parser


def _add_config_and_sinks(command: argparse.ArgumentParser, serve: object, output_help: str) -> None:
    command.add_argument("-c", "--config", type=Path, help="YAML config: topics, entity paths, options, sinks")
    sinks = command.add_argument_group("sinks (any number; given here, they replace the config's)")
    # A string, not a Path: Path("out/") drops the slash that says "a folder".
    sinks.add_argument("-o", "--output", metavar="FILE.rrd", help=output_help)
    sinks.add_argument("--spawn", action="store_true", help="start a native viewer (needs a display) and stream to it")
    sinks.add_argument("--connect", nargs="?", const=DEFAULT_VIEWER_URL, metavar="URL",
                       help=f"stream to a viewer: a URL, HOST:PORT or PORT (no value: {DEFAULT_VIEWER_URL})")  # fmt: skip
    sinks.add_argument("--serve", action="store_true", help="serve the recording over gRPC, and a web viewer")
    sinks.add_argument("--grpc-port", type=_port, default=serve.grpc_port, help="with --serve")
    sinks.add_argument("--web-port", type=_port, default=serve.web_port, help="with --serve")
    sinks.add_argument("--bind", type=_ipv4, default=serve.bind,
                       help="with --serve: the IPv4 address both servers listen on (0.0.0.0: every interface)")  # fmt: skip
    command.add_argument("--application-id", help="Rerun application id (default: the config's, or ros2_rerun_bridge)")
    command.add_argument("--recording-id", help="Rerun recording id; the same id merges recordings in the viewer "
                                                "(default: the config's, or a new UUID)")  # fmt: skip


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port (1-65535)")
    return int(text)


def _ipv4(text: str) -> str:
    """As the config's `serve.bind`: IPv4, the only form both rerun-sdk's server and the web viewer take."""
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an IPv4 address, such as 0.0.0.0 or 127.0.0.1") from None


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Gives an option's default where there is one (not None, [] or False) and its help does not say it already."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, [], False) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _add_compression(command: argparse.ArgumentParser) -> None:
    from .conversion.options import VIDEO_CODECS, DepthCompression

    command.add_argument("--video", choices=VIDEO_CODECS, metavar="CODEC",
                         help=f"encode every colour image topic as video ({', '.join(VIDEO_CODECS)}; needs PyAV), with "
                              "default settings where the config gives a topic none")  # fmt: skip
    command.add_argument("--depth-compression", choices=[c.value for c in DepthCompression],
                         help="log 16-bit depth losslessly compressed, as PNG, RVL or the smaller of both per "
                              "frame (auto), or raw (none); unset, it is auto with --video (or the config's video), "
                              "raw without")  # fmt: skip
    command.add_argument("--rectify", action="store_true",
                         help="also log every image topic (raw or compressed) that has a CameraInfo rectified, at "
                              "ENTITY/rect (topics named *rect* are left alone)")  # fmt: skip
    command.add_argument("--low-latency", action="store_true",
                         help="with --video or the config's video: each frame's sample as soon as it is encoded, for "
                              "watching live (libx264/libx265 otherwise look ahead about 20 frames; about 9%% larger)")  # fmt: skip


def _with_compression(args: argparse.Namespace, config):
    """The config with the command line's --video and --depth-compression as its defaults for every topic."""
    from .conversion.options import DepthCompression, VideoOptions

    if args.video:
        config = replace(config, video=VideoOptions(codec=args.video))
    if args.depth_compression:
        config = replace(config, depth_compression=DepthCompression(args.depth_compression))
    if getattr(args, "rectify", False):
        from .conversion.options import RectifyOptions

        config = replace(config, rectify=RectifyOptions())
    if getattr(args, "low_latency", False):
        config = _low_latency(config)
    return config


def _low_latency(config):
    """The config with every video it asks for (config-wide and per topic) encoded with `low_latency`."""
    from .config import ConfigError

    if not config.videos:
        raise ConfigError("--low-latency: no video to encode (give --video, or a config with `video:`)")
    config = replace(config, video=config.video and replace(config.video, low_latency=True))
    return replace(config, topics={name: replace(options, video=options.video and replace(options.video, low_latency=True))
                                   for name, options in config.topics.items()})  # fmt: skip


def _add_filters(command: argparse.ArgumentParser) -> None:
    command.add_argument("--include", action="append", default=[], metavar="REGEX",
                         help="only topics matching (in full, as rosbag2 does); repeatable")  # fmt: skip
    command.add_argument("--exclude", action="append", default=[], metavar="REGEX", help="leave out topics matching; repeatable")


def _add_fleet(command: argparse.ArgumentParser) -> None:
    command.add_argument("--namespace", dest="namespaces", action="append", default=[], metavar="NS",
                         help="a robot's ROS namespace (repeatable, replaces the config's `namespaces`): the config's "
                              "topics, /tf and /tf_static are bridged under each, at entity paths under /NS, with their "
                              "frames named NS/frame")  # fmt: skip
    command.add_argument("--shared-frame", dest="shared_frames", action="append", default=[], metavar="FRAME",
                         help="with namespaces: a frame every robot shares, left unprefixed, such as map (repeatable, "
                              "replaces the config's `shared_frames`)")  # fmt: skip
    command.add_argument("--keep-frame-names", action="store_true",
                         help="with namespaces: leave frame names as they are (the robots' frames are distinct "
                              "already), and bridge the global /tf and /tf_static as well")  # fmt: skip


# -- configuration from the command line -------------------------------------------------------------


def _config(args: argparse.Namespace):
    """The config file (or the defaults) under the command line's sinks, ids and topic filters."""
    from .config import BridgeConfig, ServeConfig, SinksConfig, load_config, parse_config, viewer_url

    config = load_config(args.config) if args.config else BridgeConfig()
    sinks = getattr(args, "output", None) is not None or any(getattr(args, a, None) for a in ("spawn", "connect", "serve"))
    if sinks or hasattr(args, "application_id"):
        from .core.overrides import RecordingOverrides  # with the bridge and rerun-sdk, which `convert` leaves to its workers

        config = RecordingOverrides(
            sinks=SinksConfig(
                file=Path(args.output) if args.output is not None else None,
                spawn=args.spawn,
                connect=viewer_url(args.connect) if args.connect else None,  # a URL, HOST:PORT or PORT
                serve=ServeConfig(args.grpc_port, args.web_port, args.bind) if args.serve else None,
            ),
            application_id=args.application_id,
            recording_id=args.recording_id,
        ).apply(config)
    # Checked as the config's own lists are, and named as options.
    filters = parse_config({"include": args.include, "exclude": args.exclude}) if hasattr(args, "include") else None
    if filters is not None:
        config = config.with_filters(filters.include, filters.exclude)
    if getattr(args, "namespaces", None):  # checked as the config's own list is
        config = replace(config, namespaces=parse_config({"namespaces": args.namespaces}).namespaces)
    if getattr(args, "shared_frames", None):
        config = replace(config, shared_frames=parse_config({"shared_frames": args.shared_frames}).shared_frames)
    if getattr(args, "keep_frame_names", False):
        config = replace(config, prefix_frames=False)
    return _with_compression(args, config) if hasattr(args, "video") else config


def _replay_output(args: argparse.Namespace, config) -> object:
    """The config with the replay's file sink settled: a default name, a folder filled in, inputs never overwritten."""
    from .config import ConfigError, SinksConfig
    from .sinks.output import is_recording

    name = (args.bags[0].resolve().name.rsplit(".", 1)[0] or "recording") + ".rrd"
    file = config.recording.sinks.file
    if not config.recording.sinks.any():
        file = Path(name)
        for bag in args.bags:  # `replay .` in a bag's folder: beside the bag, not in it
            if bag.is_dir() and Path.cwd().resolve().is_relative_to(bag.resolve()):
                file = bag.resolve().parent / name
                break
        if file.exists() and not file.is_dir() and not is_recording(file) and not args.force:
            raise ConfigError(f"{file} exists and is not a Rerun recording: name the output with -o, or replace it with --force")
        config = config.with_sinks(SinksConfig(file=file))
    elif file is not None and (file.is_dir() or (args.output or "").endswith(("/", os.sep))):
        file = file / name
        config = config.with_sinks(replace(config.recording.sinks, file=file))
    if file is not None:
        for bag in args.bags:
            if bag.exists() and file.exists() and file.resolve() == bag.resolve():
                raise ConfigError(f"{file}: this is an input; name another output with -o")
            if bag.is_dir() and file.resolve().is_relative_to(bag.resolve()):
                raise ConfigError(f"{file}: inside the bag {bag}; name an output outside it with -o")
    return config


def _check_replay_range(args: argparse.Namespace) -> None:
    from .config import ConfigError

    if args.rate is not None and not args.rate > 0:
        raise ConfigError(f"--rate {args.rate:g}: must be more than 0 (1 is real time)")
    for option, value in (("--start", args.start), ("--end", args.end)):
        if value is not None and not value >= 0:
            raise ConfigError(f"{option} {value:g}: seconds into the bag, at least 0")
    if args.start is not None and args.end is not None and args.end <= args.start:
        raise ConfigError(f"--end {args.end:g} is not after --start {args.start:g}")


# -- the commands ---------------------------------------------------------------------------------------


def _run_replay(args: argparse.Namespace) -> int:
    from .replay import ReplayOptions, replay

    _check_replay_range(args)
    config = _replay_output(args, _config(args))
    options = ReplayOptions(args.start, args.end, args.rate, progress=False if args.no_progress else None)
    errors: list[str] | None = None  # stays None when interrupted mid-replay
    with _Session(config, args.verbosity, last=True) as session:
        errors = replay(args.bags, session.bridge, options)
        if config.recording.sinks.serve is not None and session.bridge.logged_anything:
            log.warning("replay done: still serving the recording to viewers until Ctrl-C")
            threading.Event().wait()
    if errors is None:
        return EXIT_INTERRUPTED
    return session.status(EXIT_FAILED if errors else 0)


def _run_live(args: argparse.Namespace) -> int:
    from .sinks.blueprint import configured_blueprint
    from .sources.dds import DdsError, domain_id_from_env, run_live

    config = _config(args)
    domain_id = domain_id_from_env()  # a bad ROS_DOMAIN_ID is an error before any file is opened
    with _Session(config, args.verbosity, last=True) as session:
        if (layout := configured_blueprint(config)) is not None:
            session.bridge.recording.send_blueprint(layout)
        try:
            run_live(session.bridge, domain_id, duration=args.duration)
        except DdsError as err:
            log.error("%s", err)
            session.failed = True
    return session.status(0)  # Ctrl-C is how a live session ends


def _run_info(args: argparse.Namespace) -> int:
    """Each bag described, as a replay would take it: a bag a replay would fail on (missing, damaged) fails here."""
    from .bag_info import describe_bag
    from .replay import warn_unseen_topics
    from .sources.bag import BagError
    from .streams import check_encoders

    config = _config(args)
    check_encoders(config)  # as the replay refuses a video encoder that is missing
    status = 0
    for path in args.bags:
        try:
            info = describe_bag(path, config)
        except BagError as err:
            log.error("%s", err)
            status = EXIT_FAILED
            continue
        if info.damaged:
            status = EXIT_FAILED
        try:
            print(info.text)
        except BrokenPipeError:  # the reader stopped reading (`info BAG | head`): describe no more
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nor fail flushing stdout at exit
            return status
        warn_unseen_topics(config, info.topics)
    return status


def _run_check_config(args: argparse.Namespace) -> int:
    from .config import load_config

    config = load_config(args.config)
    fleet = f", namespaces {' '.join(config.namespaces)}" if config.namespaces else ""
    print(f"{args.config}: valid ({len(config.topics)} topics configured, auto={'on' if config.auto else 'off'}{fleet})")
    return 0


def _run_demo(args: argparse.Namespace) -> int:
    from .config import BridgeConfig, SinksConfig
    from .demo import demo_topics, write_demo_bag
    from .replay import replay

    try:
        bag = write_demo_bag(args.bag, frames=args.frames)
    except (FileExistsError, ValueError) as err:  # an existing non-bag folder, or no frames
        log.error("%s", err)
        return EXIT_USAGE
    config = _with_compression(args, BridgeConfig(topics=demo_topics()).with_sinks(SinksConfig(file=args.output)))
    config = replace(config, recording=replace(config.recording, application_id="ros2_rerun_bridge_demo"))
    errors: list[str] | None = None  # stays None when interrupted mid-replay
    with _Session(config, args.verbosity, last=True) as session:
        errors = replay([bag], session.bridge)
    if errors is None:
        return EXIT_INTERRUPTED
    status = session.status(EXIT_FAILED if errors else 0)
    if status == 0 and args.verbosity >= 0:
        print(f"\nThe demo bag is {bag}; its recording is {args.output}. Open it with:\n    {_rerun_command()} {args.output}")
    return status


def _rerun_command() -> str:
    """How to start Rerun's viewer from here: `rerun` when on PATH, else the one installed beside this Python."""
    import shutil

    beside = Path(sys.executable).with_name("rerun")
    on_path = shutil.which("rerun")
    return "rerun" if on_path and (not beside.exists() or Path(on_path).resolve() == beside.resolve()) else str(beside)


class _Session:
    """A bridge and its recording, closed complete on a normal end, on Ctrl-C and on SIGTERM.

    The recording's file is kept only when something was converted into it.
    """

    def __init__(self, config, verbosity: int, last: bool = False):
        from .startup import keep_pandas_out_of_pyarrow
        from .streams import check_encoders

        keep_pandas_out_of_pyarrow()  # before the first Rerun row is built
        check_encoders(config)  # before any sink opens: a missing encoder writes no file
        self.config = config
        self.verbosity = verbosity
        self.last = last  # the command's last: once it is closed, the work is done
        self.interrupted = False
        self.failed = False

    def __enter__(self) -> _Session:
        """Open the recording (its file, servers, viewers): an interrupt meanwhile waits until it can be closed."""
        global _phase, _interrupt_pending
        from .core import Bridge
        from .sinks import Recording
        from .startup import freeze_objects

        phase, _phase, _interrupt_pending = _phase, "setting up", False
        try:
            self.bridge = Bridge(self.config, Recording(self.config.recording))
            freeze_objects()  # what the imports made stays till the end: no collection need walk it again
        finally:
            _phase = phase
        if _interrupt_pending:  # not left half open (a .NAME.partial behind): closed as an interrupted run
            self.__exit__(KeyboardInterrupt, None, None)
            raise KeyboardInterrupt
        if self.verbosity >= 0:
            for where in self.bridge.recording.served:
                print(f"serving: {where}", file=sys.stderr)
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, traceback: object) -> bool:
        if kind is KeyboardInterrupt:
            self.interrupted = True
            log.warning("interrupted: closing the recording")
        recording = self.bridge.recording
        self.bridge.close()
        recording.close(keep_file=self.bridge.logged_anything)
        if self.last:
            global _phase
            _phase = "done"  # a Ctrl-C from now on (as `wrote` is printed) must not make it a signal exit
        if self.verbosity >= 0:
            for line in self.bridge.summary():
                print(line, file=sys.stderr)
        file = self.config.recording.sinks.file
        if recording.failure is not None:
            log.error("%s: the file stopped taking data (%s): it holds only what was written before",
                      file, recording.failure)  # fmt: skip
        elif not self.bridge.logged_anything:
            log.error("nothing was converted%s", ": no file written" if file is not None else "")
        elif file is not None and self.verbosity >= 0:
            print(f"wrote {file}", file=sys.stderr)
        return kind is KeyboardInterrupt

    def status(self, otherwise: int) -> int:
        """The exit status: a failure of the recording or of the run first, then `otherwise`."""
        if self.failed or self.bridge.recording.failure is not None or not self.bridge.logged_anything:
            return EXIT_FAILED
        return otherwise
