"""Apps: bundles of objects and fields a workspace installs. ``builtin/`` holds the shipped ones."""
