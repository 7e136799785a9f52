"""ament_python package: builds with colcon in a ROS 2 workspace and with `pip install .` anywhere."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "ros2_rerun_bridge"

setup(
    name=PACKAGE,
    version="0.1.0",
    description="ROS 2 camera and depth streams into Rerun: live (rclpy or DDS) and from rosbag2 recordings",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["bridge", "bridge.*"]),
    package_data={"bridge.msgs": ["*.msg"]},  # the video message definitions live DDS decodes with
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
    ],
    install_requires=[
        "rerun-sdk>=0.41,<0.42",
        "rosbags>=0.11,<0.12",
        "apsw",  # rosbags' sqlite3 binding, also used directly to salvage damaged .db3 files (sources/db3_rows.py)
        "numpy>=1.21",
        "opencv-python-headless>=4.5",
        "pyarrow>=14",
        "PyYAML>=5.4",
        "tqdm>=4.60",
        "cyclonedds>=11,<12",
    ],
    extras_require={
        "video": ["av>=14"],  # encoding colour topics as video (PyAV's wheels bundle FFmpeg, libx264, libx265, SVT-AV1)
        "test": ["pytest>=7", "hypothesis>=6", "rerun-sdk[catalog]>=0.41,<0.42", "colcon-common-extensions", "av>=14"],
        "bench": ["matplotlib>=3.5"],  # the report's plot
        "ray": ["ray>=2.30"],  # convert --ray: one task per bag on a Ray cluster
    },
    entry_points={
        "console_scripts": [
            "ros2-rerun-bridge = bridge.cli:console_main",
            "bridge_node = bridge.node:main",
        ],
    },
)
