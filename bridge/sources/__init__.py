"""Where messages come from: rosbag2 recordings, DDS, and the synthetic demo."""
