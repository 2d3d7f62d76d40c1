"""The ladder predictor: (bitrate, VMAF) of a grid point from cheap title features."""
