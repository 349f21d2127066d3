"""Pipelines from image folders to reconstructions, and the `mvdepth` command line.

A shared layer of stages, plain functions over plain data, that every command stands on:
`images` (reading), `intrinsics` (file, EXIF via `exif`, or a guess), `features` (SIFT),
`pairs` (which pairs to match), `matching` (`PairMatches`: descriptor matches, verification),
`flowmatches` (dense matches from a flow plug-in), `tracks` (one union-find over (image,
keypoint)), `depthmaps`, `evaluate` (errors against ground truth), `export` (cameras.json,
COLMAP, PLY), `timing` (`Timer`), `report_parts` and `seeds`. On it: `sfm` (structure from
motion), `multibody`, `stereo`, `plugins_cli` (flow and depth plug-ins), `synth` and `demo`;
`cli` parses the command line. Inside the stages an image is its index into the image list
(features, intrinsics, `PairMatches`); cameras are a dict image name -> `geom.camera.Camera`
of the registered images, as cameras.json holds them.
"""
