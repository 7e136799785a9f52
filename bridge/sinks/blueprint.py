"""The default layout sent with a recording: a 3D view of everything, and a 2D view per image stream.

Without it, Rerun's heuristics put every image of one camera frame in one 2D
view: an aligned depth image is drawn over the colour image, whose colours then
look wrong.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import rerun.blueprint as rrb

from ..config import KIND_TYPES, BridgeConfig, TopicKind
from ..conversion.namespaces import robot_view_name, split_topic
from ..core.routes import configured_topics, plan_route

_IMAGE_KINDS = {kind for kind in TopicKind if KIND_TYPES[kind].endswith(("/Image", "/CompressedImage", "/CompressedVideo", "/FFMPEGPacket"))}


def default_blueprint(image_entities: Iterable[str], namespaces: Sequence[str] = ()) -> rrb.Blueprint:
    """The layout; `namespaces` are a fleet's robots, whose names head their views."""
    # Each view shows its own entity only: what is logged under it (image_raw/compressed and image_raw/rect, with
    # views of their own; a depth image's registered depth and cloud, in other frames) would be drawn over it.
    images = [rrb.Spatial2DView(name=view_name(path, namespaces), origin=path, contents=["+ $origin"])
              for path in sorted(image_entities)]  # fmt: skip
    views = [rrb.Spatial3DView(name="3D", origin="/", contents="/**")]
    if images:  # a column of up to three views, each as wide as it can be; more go into a grid
        views.append(rrb.Grid(*images, grid_columns=1 if len(images) <= 3 else None))
    return rrb.Blueprint(rrb.Horizontal(*views), collapse_panels=True)


def view_name(entity_path: str, namespaces: Sequence[str] = ()) -> str:
    """The last two parts of an entity path: short enough for a view's title, and what tells streams apart
    (`color/image_raw`, `image_raw/compressed`, `depth/image_rect_raw`); in a fleet, after the robot's name
    (`robot1: color/image_raw`)."""
    placed = split_topic(entity_path, namespaces)
    if placed is None:
        return "/".join(entity_path.strip("/").split("/")[-2:])
    return robot_view_name(placed.namespace, view_name(placed.name))


def configured_blueprint(config: BridgeConfig) -> rrb.Blueprint | None:
    """The layout of a live session whose image topics the config lists; None with `auto`, whose topics come later."""
    if config.auto:
        return None
    routes = [plan_route(config, topic, KIND_TYPES[options.kind])
              for topic, (_, options) in configured_topics(config).items() if options.kind in _IMAGE_KINDS]  # fmt: skip
    return default_blueprint((path for route in routes if route is not None for path in route.image_entity_paths), config.namespaces)
