"""The default layout: a 3D view of everything and one 2D view per image stream, so that an aligned depth image is
not drawn over its colour image (Rerun's heuristics put all images of one camera frame in one view)."""

from __future__ import annotations

import rerun.blueprint as rrb

from bridge.config import parse_config
from bridge.sinks.blueprint import configured_blueprint, default_blueprint


def test_one_2d_view_per_image_stream_beside_a_3d_view():
    layout = default_blueprint(["/camera/depth", "/camera/color"]).root_container
    view_3d, grid = layout.contents
    assert isinstance(view_3d, rrb.Spatial3DView) and view_3d.origin == "/"
    assert [(type(view), view.origin) for view in grid.contents] == [
        (rrb.Spatial2DView, "/camera/color"),
        (rrb.Spatial2DView, "/camera/depth"),
    ]


def test_without_images_only_the_3d_view():
    (view_3d,) = default_blueprint([]).root_container.contents
    assert isinstance(view_3d, rrb.Spatial3DView)


def test_a_live_config_lays_out_its_listed_image_topics():
    config = parse_config({"auto": False, "topics": {
        "/cam/color": {"kind": "image", "entity_path": "/color"},
        "/cam/depth/compressedDepth": {"kind": "compressed_depth"},
        "/cam/camera_info": {"kind": "camera_info"},
    }})  # fmt: skip
    _, grid = configured_blueprint(config).root_container.contents
    assert [view.origin for view in grid.contents] == ["/cam/depth/compressedDepth", "/color"]


def test_with_auto_the_topics_are_not_known_up_front():
    assert configured_blueprint(parse_config({})) is None


def test_views_are_named_by_what_tells_the_streams_apart():
    paths = ["/camera/color/image_raw", "/camera/color/image_raw/compressed", "/camera/depth/image_rect_raw"]
    _, grid = default_blueprint(paths).root_container.contents
    assert [view.name for view in grid.contents] == ["color/image_raw", "image_raw/compressed", "depth/image_rect_raw"]


def test_rectified_images_have_their_own_view_and_no_image_is_drawn_over_another():
    config = parse_config({"auto": False, "topics": {
        "/cam/image_raw": {"kind": "image", "rectify": True},
        "/cam/image_raw/compressed": {"kind": "compressed"},
        "/wide/image_raw": {"kind": "image", "rectify": {"entity_path": "/wide/image_rect"}},
    }})  # fmt: skip
    _, grid = configured_blueprint(config).root_container.contents
    views = {view.origin: [str(query) for query in view.contents] for view in grid.contents}
    assert views == {origin: ["+ $origin"] for origin in (
        "/cam/image_raw", "/cam/image_raw/compressed", "/cam/image_raw/rect", "/wide/image_raw", "/wide/image_rect")}
